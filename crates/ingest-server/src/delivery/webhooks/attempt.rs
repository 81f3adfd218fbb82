//! One HTTP attempt: the envelope POSTed with its Standard Webhooks headers,
//! no redirect followed, the answer read (a little of it) so that the
//! connection is kept for the next one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lms_delivery::Secret;

use super::guard;

/// The most of an answer's body read (the rest is dropped with the connection).
const BODY_READ: usize = 64 * 1024;
/// The most of an answer's body quoted in an attempt's error.
const BODY_QUOTED: usize = 200;

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// How long the attempt took, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong (never the secret, the signature or the body we sent).
    pub error: Option<String>,
}

/// The client every attempt of this process goes through: connections kept
/// alive, no redirect followed (a receiver's 3xx is a failed attempt),
/// `timeout` for the whole attempt (connect, send, the answer and its body),
/// host names resolved to public addresses only unless `allow_private`
/// ([`guard::PublicOnly`]), and no proxy from the environment (the
/// connection goes to the address checked, not to a proxy that would
/// resolve the name again).
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(guard::PublicOnly { allow_private }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("coursebridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// POSTs `body` (the envelope) to `url`, signed for `msg_id` now — unless
/// `url`'s host is a non-public IP address and `allow_private` is false:
/// then no connection is made and the attempt fails with the reason.
pub async fn post(
    client: &reqwest::Client,
    allow_private: bool,
    url: &str,
    secret: &Secret,
    msg_id: &str,
    body: String,
) -> AttemptResult {
    if let Some(why) = guard::refused_literal(url, allow_private) {
        return AttemptResult {
            status: None,
            latency_ms: 0,
            error: Some(why),
        };
    }
    let timestamp = crate::clock::now().unix_timestamp();
    let signature = lms_delivery::sign(secret, msg_id, timestamp, body.as_bytes());
    let start = Instant::now();
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let result = match sent {
        Ok(mut answer) => {
            let status = answer.status();
            let location = answer
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(|l| l.chars().take(BODY_QUOTED).collect::<String>());
            let mut text = Vec::new();
            let mut read_error = None;
            loop {
                match answer.chunk().await {
                    Ok(Some(c)) if text.len() < BODY_READ => text.extend_from_slice(&c),
                    Ok(Some(_)) | Ok(None) => break,
                    Err(e) => {
                        read_error = Some(error_text(&e));
                        break;
                    }
                }
            }
            let error = if status.is_success() {
                None
            } else if status.is_redirection() {
                Some(format!(
                    "HTTP {}: redirects are not followed (location: {})",
                    status.as_u16(),
                    location.as_deref().unwrap_or("none")
                ))
            } else {
                let quoted: String = String::from_utf8_lossy(&text)
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(BODY_QUOTED)
                    .collect();
                Some(format!("HTTP {}: {quoted}", status.as_u16()))
            };
            // A 2xx whose body broke off is still an answer: the receiver
            // took the event. Any other answer's read error is noted.
            let error = match (error, read_error) {
                (Some(e), Some(r)) => Some(format!("{e} (reading the answer: {r})")),
                (e, _) => e,
            };
            (Some(status.as_u16()), error)
        }
        Err(e) => (None, Some(error_text(&e))),
    };
    AttemptResult {
        status: result.0,
        latency_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
        error: result.1,
    }
}

/// A transport error in words, without the URL (which the attempt's
/// subscription names already) and with its causes; the resolver's refusal
/// of internal addresses as it is ([`guard::PrivateOnly`]).
fn error_text(e: &reqwest::Error) -> String {
    if guard::is_private_only(e) {
        return guard::PrivateOnly.to_string();
    }
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}
