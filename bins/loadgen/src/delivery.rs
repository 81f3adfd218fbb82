//! The delivery side's measurements: a webhook receiver that verifies every
//! signature and reports when the expected number of distinct events has
//! arrived, and a change-feed reader that reads the whole feed and reports
//! events per second (bins/loadgen/delivery.sh, docs/PERFORMANCE.md).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use lms_delivery::Secret;

struct Received {
    ids: HashSet<String>,
    deliveries: u64,
    bad_signatures: u64,
    out_of_order: u64,
    last_seq: i64,
    first_at: Option<Instant>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
    expect: usize,
}

type Shared = Arc<(Secret, Mutex<Received>)>;

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, ts, sig) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let ok = lms_delivery::verify(&s.0, &id, &ts, &sig, &body, now, 300).is_ok();
    let seq = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["seq"].as_i64())
        .unwrap_or(-1);
    let Ok(mut r) = s.1.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    r.deliveries += 1;
    r.first_at.get_or_insert_with(Instant::now);
    if !ok {
        r.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if seq <= r.last_seq && !r.ids.contains(&id) {
        r.out_of_order += 1;
    }
    r.last_seq = r.last_seq.max(seq);
    r.ids.insert(id);
    if r.ids.len() >= r.expect
        && let Some(done) = r.done.take()
    {
        let _ = done.send(());
    }
    StatusCode::NO_CONTENT
}

/// `receive`: serves until `expect` distinct events arrived; prints a JSON
/// line with the counts and the time from the first delivery to the last.
pub async fn run_receiver(listen: &str, secret: &str, expect: usize) -> Result<(), String> {
    let secret = Secret::parse(secret).map_err(|e| e.to_string())?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let shared: Shared = Arc::new((
        secret,
        Mutex::new(Received {
            ids: HashSet::with_capacity(expect),
            deliveries: 0,
            bad_signatures: 0,
            out_of_order: 0,
            last_seq: 0,
            first_at: None,
            done: Some(done_tx),
            expect,
        }),
    ));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("{listen}: {e}"))?;
    eprintln!("receiver listening on http://{listen}/hook");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let _ = done_rx.await;
    let r = shared.1.lock().map_err(|_| "lock".to_owned())?;
    let elapsed = r.first_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let done_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    println!(
        "{}",
        serde_json::json!({
            "events": r.ids.len(),
            "deliveries": r.deliveries,
            "bad_signatures": r.bad_signatures,
            "out_of_order": r.out_of_order,
            "first_to_last_s": (elapsed * 1000.0).round() / 1000.0,
            "done_unix_ms": done_unix_ms,
            "events_per_s": (r.ids.len() as f64 / elapsed.max(1e-9)).round(),
        })
    );
    server.abort();
    Ok(())
}

/// `read-feed`: reads `/api/v1/events` from after=0 to the head in pages of
/// `limit`; prints events, pages and events per second.
pub async fn run_feed_reader(
    url: &str,
    client_id: &str,
    secret: &str,
    limit: u32,
) -> Result<(), String> {
    let client = reqwest::Client::new();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    let start = Instant::now();
    let (mut after, mut events, mut pages, mut bytes) = (0i64, 0u64, 0u64, 0u64);
    loop {
        let r = client
            .get(format!(
                "{}/api/v1/events?after={after}&limit={limit}",
                url.trim_end_matches('/')
            ))
            .header("Authorization", &auth)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        bytes += body.len() as u64;
        let page: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let n = page["events"].as_array().map_or(0, Vec::len) as u64;
        pages += 1;
        events += n;
        after = page["next_after"].as_i64().unwrap_or(after);
        if n == 0 || after >= page["last_seq"].as_i64().unwrap_or(0) {
            break;
        }
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "events": events,
            "pages": pages,
            "mib": (bytes as f64 / 1048576.0 * 10.0).round() / 10.0,
            "seconds": (s * 1000.0).round() / 1000.0,
            "events_per_s": (events as f64 / s.max(1e-9)).round(),
        })
    );
    Ok(())
}
