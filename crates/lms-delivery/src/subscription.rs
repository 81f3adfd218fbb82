//! The checks on what a webhook subscription is created with. Each error
//! names the field and the rule. [`is_public`] is also the rule the
//! dispatcher applies to every address it connects to (a receiver named by a
//! host name is checked when it is resolved, not only at creation).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::events::TypeFilter;

/// A subscription as asked for, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub url: Url,
    pub types: TypeFilter,
    /// Only this integration's events, when set.
    pub integration: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSubscription {
    #[error("url: {0}")]
    Url(String),
    #[error(
        "event_types: {0:?} is not an event type (course.created, course.updated, course.archived, course.reactivated, statistic.updated, course.*, statistic.* or *)"
    )]
    EventType(String),
    #[error("event_types: at least one event type or pattern is required")]
    NoEventTypes,
    #[error("integration: {0}")]
    Integration(String),
    #[error("description: at most 500 characters")]
    Description,
}

/// What the operator allows receiver URLs to be (`[delivery]` settings).
/// The default is the secure one: https only, public addresses only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain `http` URLs are accepted (receivers on a private network).
    pub allow_http: bool,
    /// Receivers at non-public addresses (loopback, private, link-local, …,
    /// see [`is_public`]) are accepted.
    pub allow_private_networks: bool,
}

/// Whether `ip` is a public unicast address, one a webhook may be sent to
/// without `allow_private_networks`. Not public: unspecified (`0.0.0.0/8`,
/// `::`), loopback (`127/8`, `::1`), private (RFC 1918, `fc00::/7`),
/// link-local (`169.254/16` — cloud metadata services live there —,
/// `fe80::/10`), shared address space (CGNAT, `100.64/10`), multicast,
/// broadcast and the reserved `240/4`, the IETF protocol block
/// (`192.0.0/24`), benchmarking (`198.18/15`), documentation ranges,
/// site-local `fec0::/10` and discard-only `100::/64`. IPv6 addresses that
/// carry an IPv4 address (mapped `::ffff:0:0/96`, compatible `::/96`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network", incl. 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are judged by it.
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        if s[5] == 0 && s[6] == 0 {
            // `::`, `::1` and the rest of `::/112`: unspecified, loopback, unassigned.
            return false;
        }
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // SIIT-translated ::ffff:0:a.b.c.d.
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    let blocked = (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (tunnels to anywhere)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || s[..4] == [0x100, 0, 0, 0]; // discard-only 100::/64
    !blocked
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Checks a receiver URL: absolute `http` or `https` with a host, no user
/// name or password (secrets in URLs end up in logs), no fragment, at most
/// 2,000 characters, and — unless `policy` allows them — neither plain
/// `http` nor a non-public IP address as the host. (A host name is not
/// resolved here: the dispatcher checks the addresses it resolves to at
/// every connection.)
pub fn check_url(text: &str, policy: UrlPolicy) -> Result<Url, InvalidSubscription> {
    let bad = |why: &str| InvalidSubscription::Url(why.to_owned());
    if text.len() > 2000 {
        return Err(bad("at most 2,000 characters"));
    }
    let url = Url::parse(text.trim()).map_err(|e| bad(&format!("not an absolute URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(bad(
                "must be https (plain http is refused unless the server allows it: [delivery] allow_http)",
            ));
        }
        _ => return Err(bad("must be an http or https URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry a user name or password (the signature authenticates us)",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    if let Some(ip) = literal_ip(&url) {
        if !policy.allow_private_networks && !is_public(ip) {
            return Err(InvalidSubscription::Url(not_public(ip)));
        }
    }
    Ok(url)
}

/// The host of `url` when it is an IP address (written in any form the URL
/// standard accepts, e.g. `http://2130706433/` is 127.0.0.1).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// Why a non-public address is refused (after `url: `).
pub fn not_public(ip: IpAddr) -> String {
    format!(
        "{ip} is not a public address (loopback, private, link-local and other internal ranges are refused unless the server allows them: [delivery] allow_private_networks)"
    )
}

impl NewSubscription {
    /// Checks every field of a new subscription.
    pub fn check(
        url: &str,
        event_types: &[String],
        integration: Option<&str>,
        description: Option<&str>,
        policy: UrlPolicy,
    ) -> Result<NewSubscription, InvalidSubscription> {
        let url = check_url(url, policy)?;
        if event_types.is_empty() {
            return Err(InvalidSubscription::NoEventTypes);
        }
        let types = TypeFilter::new(event_types).map_err(InvalidSubscription::EventType)?;
        let integration = match integration.map(str::trim) {
            None | Some("") => None,
            Some(i)
                if i.len() <= 200
                    && i.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Some(i.to_owned())
            }
            Some(_) => {
                return Err(InvalidSubscription::Integration(
                    "an integration id: letters, digits, '-', '_' and '.', at most 200".into(),
                ));
            }
        };
        let description = match description {
            Some(d) if d.chars().count() > 500 => return Err(InvalidSubscription::Description),
            d => d.map(str::to_owned),
        };
        Ok(NewSubscription {
            url,
            types,
            integration,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_valid_subscription_is_accepted() {
        let s = NewSubscription::check(
            "https://lms.example.com/hooks/coursebridge?x=1",
            &types(&["course.*"]),
            Some("os-acme"),
            None,
            UrlPolicy::default(),
        )
        .expect("valid");
        assert_eq!(s.url.host_str(), Some("lms.example.com"));
        assert_eq!(s.integration.as_deref(), Some("os-acme"));
    }

    #[test]
    fn each_rule_names_its_field() {
        let check = |url: &str, t: &[&str], i: Option<&str>| {
            NewSubscription::check(url, &types(t), i, None, UrlPolicy::default())
                .expect_err("refused")
                .to_string()
        };
        assert!(
            check("lms.example.com/hook", &["*"], None).starts_with("url: not an absolute URL")
        );
        assert!(check("ftp://lms.example.com/", &["*"], None).starts_with("url: must be an http"));
        assert!(check("http://lms.example.com/", &["*"], None).starts_with("url: must be https"));
        assert!(check("https://u:p@lms.example.com/", &["*"], None).contains("user name"));
        assert!(check("https://lms.example.com/#x", &["*"], None).contains("fragment"));
        assert!(check("https://lms.example.com/", &[], None).starts_with("event_types: at least"));
        assert!(
            check("https://lms.example.com/", &["course.deleted"], None)
                .starts_with("event_types: \"course.deleted\"")
        );
        assert!(check("https://lms.example.com/", &["*"], Some("a b")).starts_with("integration:"));
        let open = UrlPolicy {
            allow_http: true,
            allow_private_networks: true,
        };
        assert!(
            NewSubscription::check("http://127.0.0.1:9/", &types(&["*"]), None, None, open).is_ok()
        );
    }

    #[test]
    fn public_and_internal_addresses() {
        let table: &[(&str, bool)] = &[
            // IPv4
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("93.184.216.34", true),
            ("100.63.255.255", true),
            ("100.128.0.0", true),
            ("172.15.255.255", true),
            ("172.32.0.0", true),
            ("192.169.0.1", true),
            ("169.253.255.255", true),
            ("223.255.255.255", true),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("10.0.0.1", false),
            ("10.255.255.255", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("169.254.0.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("192.0.0.8", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            // IPv6
            ("2606:4700:4700::1111", true),
            ("2001:4860:4860::8888", true),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::808:808", true),
            ("2002:808:808::1", true),
            ("::", false),
            ("::1", false),
            ("fc00::1", false),
            ("fd12:3456:789a::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("ff05::2", false),
            ("2001:db8::1", false),
            ("100::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.1.2.3", false),
            ("::ffff:169.254.169.254", false),
            ("::127.0.0.1", false),
            ("64:ff9b::a00:1", false),
            ("2002:a00:1::1", false),
            ("2002:7f00:1::", false),
            ("::ffff:0:127.0.0.1", false),
            ("::ffff:0:8.8.8.8", true),
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("64:ff9b:1::a00:1", false),
            ("192.88.99.1", false),
            ("2001:4860:4860::8888", true),
        ];
        for (text, public) in table {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(is_public(ip), *public, "{text}");
        }
    }

    #[test]
    fn internal_literal_hosts_are_refused_unless_allowed() {
        let https = UrlPolicy::default();
        let private = UrlPolicy {
            allow_http: false,
            allow_private_networks: true,
        };
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3:8443/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[fe80::1]/hook",
            "https://2130706433/hook", // 127.0.0.1, as the URL standard reads it
            "https://0x7f.1/hook",
            "https://100.64.1.1/hook",
            "https://0.0.0.0/hook",
        ] {
            let e = check_url(url, https).expect_err(url).to_string();
            assert!(e.starts_with("url: "), "{url}: {e}");
            assert!(e.contains("allow_private_networks"), "{url}: {e}");
            assert!(check_url(url, private).is_ok(), "{url}");
        }
        // Public literals and host names (resolved at delivery) are accepted.
        for url in [
            "https://93.184.216.34/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://localhost/hook",
            "https://lms.example.com/hook",
        ] {
            assert!(check_url(url, https).is_ok(), "{url}");
        }
    }
}
