//! What the load lines share: the HTTP client and credentials, counting an
//! answer, and the latency summary printed.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// A client keeping `concurrency` connections, and the `Authorization` value.
pub fn client_and_auth(
    concurrency: usize,
    client_id: &str,
    secret: &str,
) -> Result<(reqwest::Client, String), String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    Ok((client, auth))
}

/// Counts an answer: its latency when it succeeded, an error otherwise (the
/// first few printed).
pub async fn record(
    r: reqwest::Result<reqwest::Response>,
    sent: Instant,
    latencies: &mut Vec<Duration>,
    errors: &AtomicU64,
) {
    match r {
        Ok(r) if r.status().is_success() => {
            let _ = r.bytes().await;
            latencies.push(sent.elapsed());
        }
        Ok(r) => {
            if errors.fetch_add(1, Relaxed) < 5 {
                eprintln!(
                    "HTTP {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
            }
        }
        Err(e) => {
            if errors.fetch_add(1, Relaxed) < 5 {
                eprintln!("request failed: {e}");
            }
        }
    }
}

/// p50/p90/p99/max in ms of the latencies (sorted here).
pub fn latency_ms(all: &mut [Duration]) -> Value {
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    json!({"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)})
}
