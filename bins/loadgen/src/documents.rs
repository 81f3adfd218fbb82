//! The State resource under load (bins/loadgen/documents.sh,
//! docs/PERFORMANCE.md): K connections PUT, or GET, State documents of
//! `agents` learners × `states` state ids on the load course for T seconds;
//! statements-like output (documents/s, latency percentiles).
//!
//! PUTs speak xAPI 1.0.3 without preconditions (the State resource permits
//! it there), each a new ~200-byte JSON document, so every one is written
//! and synced; GETs read documents a PUT phase left (a 404 counts as an
//! error).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::json;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Put,
    Get,
}

/// The activity the documents belong to.
const ACTIVITY: &str = "http%3A%2F%2Fudemy.com%2Fcourse%2F1";

fn path(base: &str, learner: u64, state: u64) -> String {
    // `{"mbox":"mailto:learnerN@example.com"}`, percent-encoded.
    format!(
        "{base}/xapi/activities/state?activityId={ACTIVITY}\
         &agent=%7B%22mbox%22%3A%22mailto%3Alearner{learner}%40example.com%22%7D&stateId=s{state}"
    )
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: &str,
    client_id: &str,
    secret: &str,
    mode: Mode,
    concurrency: usize,
    seconds: u64,
    agents: u64,
    states: u64,
) -> Result<(), String> {
    let (client, auth) = super::measure::client_and_auth(concurrency, client_id, secret)?;
    let base = url.trim_end_matches('/').to_owned();
    let (stop, errors) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (client, auth, stop, errors, base) = (
            client.clone(),
            auth.clone(),
            stop.clone(),
            errors.clone(),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n: u64 = uuid::Uuid::new_v4().as_u64_pair().0 ^ t as u64;
            let mut written: u64 = 0;
            while !stop.load(Relaxed) {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let (learner, state) = ((n >> 33) % agents, (n >> 13) % states);
                let url = path(&base, learner, state);
                let rb = match mode {
                    Mode::Put => {
                        written += 1;
                        client
                            .put(&url)
                            .header("Content-Type", "application/json")
                            .body(format!(
                                r#"{{"bookmark":"page-{written}","progress":{},"suspend_data":"{}","writer":{t}}}"#,
                                (n >> 40) % 100,
                                "x".repeat(120)
                            ))
                    }
                    Mode::Get => client.get(&url),
                };
                let sent = Instant::now();
                let r = rb
                    .header("Authorization", &auth)
                    .header("X-Experience-API-Version", "1.0.3")
                    .send()
                    .await;
                super::measure::record(r, sent, &mut latencies, &errors).await;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Relaxed);
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "mode": format!("{mode:?}").to_lowercase(),
            "concurrency": concurrency,
            "seconds": (elapsed * 10.0).round() / 10.0,
            "requests": all.len(),
            "errors": errors.load(Relaxed),
            "documents_per_sec": (all.len() as f64 / elapsed).round(),
            "latency_ms": super::measure::latency_ms(&mut all),
        })
    );
    Ok(())
}
