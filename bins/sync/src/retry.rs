//! Retries with exponential backoff and jitter on 408, 425, 429, 5xx and
//! transport errors, honouring `Retry-After`, within a bounded total time.

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, Response, StatusCode};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first try.
    pub max_total: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("{url}: gave up after {tries} tries in {secs} s: {last}")]
    GaveUp {
        url: String,
        tries: u32,
        secs: u64,
        last: String,
    },
    #[error("{0}")]
    Protocol(String),
}

pub fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(r: &Response, now: time::OffsetDateTime) -> Option<Duration> {
    let v = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(v, &f).ok()?.assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

fn jitter(d: Duration) -> Duration {
    // 50 %–150 % of the delay, from the OS random source (through uuid v4).
    let r = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + r)
}

/// Sends `build()` until it succeeds, fails with a non-retryable status, or the
/// policy's time is up. Returns the successful response.
pub async fn send(
    policy: &RetryPolicy,
    url: &str,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, FetchError> {
    let start = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let (last, wait) = match build().timeout(policy.request_timeout).send().await {
            Ok(r) if r.status().is_success() => return Ok(r),
            Ok(r) if retryable(r.status()) => {
                let wait = retry_after(&r, time::OffsetDateTime::now_utc());
                (format!("HTTP {}", r.status().as_u16()), wait)
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                return Err(FetchError::Status {
                    url: url.to_owned(),
                    status,
                    body,
                });
            }
            Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => (e.to_string(), None),
            Err(e) => {
                return Err(FetchError::Transport {
                    url: url.to_owned(),
                    detail: e.to_string(),
                });
            }
        };
        let backoff = policy
            .base
            .saturating_mul(2u32.saturating_pow(tries.saturating_sub(1).min(16)))
            .min(policy.max_delay);
        let delay = wait
            .unwrap_or_else(|| jitter(backoff))
            .min(policy.max_delay.max(wait.unwrap_or_default()));
        if start.elapsed() + delay > policy.max_total {
            return Err(FetchError::GaveUp {
                url: url.to_owned(),
                tries,
                secs: start.elapsed().as_secs(),
                last,
            });
        }
        tracing::warn!(url, tries, delay_ms = delay.as_millis() as u64, reason = %last, "retrying");
        tokio::time::sleep(delay).await;
    }
}
