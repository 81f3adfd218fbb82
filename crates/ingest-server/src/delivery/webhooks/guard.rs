//! Server-side request forgery protection: the dispatcher connects only to
//! public addresses (`lms_delivery::is_public`) unless the operator sets
//! `[delivery] allow_private_networks = true`. A literal IP address is
//! checked at creation and again before each attempt (the setting may have
//! changed since); a host name is checked where it is resolved, by the HTTP
//! client's resolver ([`PublicOnly`]), so that a name that resolves to a
//! public address at creation and to an internal one later (DNS rebinding)
//! is refused at the connection.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The resolver found only non-public addresses for the receiver's host.
#[derive(Debug, thiserror::Error)]
#[error("url: resolves only to private addresses")]
pub struct PrivateOnly;

/// Resolves with the system resolver (tokio's `lookup_host`) and drops every
/// non-public address unless `allow_private`; an error when none remains.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly {
    /// Keep non-public addresses too (`[delivery] allow_private_networks`).
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = keep(found, allow_private)?;
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The addresses that may be connected to, or [`PrivateOnly`] when there
/// were some and none may.
fn keep(found: Vec<SocketAddr>, allow_private: bool) -> Result<Vec<SocketAddr>, PrivateOnly> {
    if allow_private || found.is_empty() {
        return Ok(found);
    }
    let kept: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| lms_delivery::is_public(a.ip()))
        .collect();
    if kept.is_empty() {
        return Err(PrivateOnly);
    }
    Ok(kept)
}

/// Why an attempt at `url` must not be made (before any connection): its
/// host is a non-public IP address and private networks are not allowed.
pub fn refused_literal(url: &str, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    let ip = lms_delivery::subscription::literal_ip(&parsed)?;
    (!lms_delivery::is_public(ip))
        .then(|| format!("url: {}", lms_delivery::subscription::not_public(ip)))
}

/// Whether a transport error was [`PrivateOnly`] (somewhere in its causes).
pub fn is_private_only(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<PrivateOnly>() {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().expect("address")).collect()
    }

    #[test]
    fn internal_addresses_are_dropped() {
        let mixed = addrs(&["127.0.0.1:0", "93.184.216.34:0", "[fe80::1]:0"]);
        assert_eq!(
            keep(mixed.clone(), false).expect("one public"),
            addrs(&["93.184.216.34:0"])
        );
        assert_eq!(keep(mixed.clone(), true).expect("all"), mixed);
        let internal = addrs(&["127.0.0.1:0", "[::1]:0", "169.254.169.254:0"]);
        assert!(keep(internal.clone(), false).is_err());
        assert_eq!(keep(internal.clone(), true).expect("allowed"), internal);
    }

    #[test]
    fn literal_hosts_are_checked_before_connecting() {
        for url in [
            "http://127.0.0.1:9/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest",
        ] {
            let why = refused_literal(url, false).expect(url);
            assert!(why.starts_with("url: "), "{why}");
            assert_eq!(refused_literal(url, true), None);
        }
        assert_eq!(refused_literal("https://93.184.216.34/x", false), None);
        assert_eq!(refused_literal("https://localhost/x", false), None);
    }

    #[tokio::test]
    async fn localhost_resolves_only_to_private_addresses() {
        let r = PublicOnly {
            allow_private: false,
        };
        let name: Name = "localhost".parse().expect("name");
        let e = r.resolve(name).await.err().expect("refused");
        assert!(is_private_only(e.as_ref()), "{e}");
        assert_eq!(e.to_string(), "url: resolves only to private addresses");
        let open = PublicOnly {
            allow_private: true,
        };
        let found: Vec<SocketAddr> = open
            .resolve("localhost".parse().expect("name"))
            .await
            .expect("resolved")
            .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }
}
