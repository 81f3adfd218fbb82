//! `coursebridge-loadgen`: measures `coursebridge-ingest serve`.
//!
//! 1. `setup --database D --learners N`: a Udemy Business integration, one
//!    course, N learners with mapped emails, webhook credentials (printed).
//! 2. `run --url U --client-id C --secret S --concurrency K --seconds T [--batch B]`:
//!    K connections post statements (single or batches of B) for T seconds;
//!    prints statements/s and request latency p50/p90/p99/max.
//!
//! 3. `receive --listen A --secret whsec_… --expect N`: a webhook receiver
//!    that verifies signatures; prints when N distinct events arrived.
//! 4. `read-feed --url U --client-id C --secret S [--limit L]`: reads the
//!    change feed to its head; prints events/s.
//! 5. `documents --mode put|get --url U --client-id C --secret S …`: State
//!    documents PUT or read for T seconds; prints documents/s and latency.
//!
//! Statements are Udemy-style progress statements for random learners, so each
//! one is validated, stored, matched and folded into statistics: the full path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod delivery;
mod documents;
mod measure;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "coursebridge-loadgen",
    about = "Load generator for coursebridge-ingest"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Prepare a database: integration `load`, course `c-1`, learners, credentials.
    Setup {
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 1000)]
        learners: u32,
    },
    /// Post statements and measure.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        secret: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Statements per request (1 = single-statement POSTs).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 1000)]
        learners: u32,
    },
    /// Receive webhooks (verifying signatures) until N distinct events arrived.
    Receive {
        #[arg(long, default_value = "127.0.0.1:18099")]
        listen: String,
        /// The subscription's secret (`whsec_…`).
        #[arg(long)]
        secret: String,
        #[arg(long)]
        expect: usize,
    },
    /// Read the change feed from the start to its head.
    ReadFeed {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        secret: String,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// PUT or GET State documents and measure.
    Documents {
        #[arg(long, value_enum)]
        mode: documents::Mode,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        secret: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Learners whose documents are written or read.
        #[arg(long, default_value_t = 1000)]
        agents: u64,
        /// State ids per learner.
        #[arg(long, default_value_t = 10)]
        states: u64,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match rt.block_on(async {
        match cli.command {
            Cmd::Setup { database, learners } => setup(&database, learners).await,
            Cmd::Receive {
                listen,
                secret,
                expect,
            } => delivery::run_receiver(&listen, &secret, expect).await,
            Cmd::ReadFeed {
                url,
                client_id,
                secret,
                limit,
            } => delivery::run_feed_reader(&url, &client_id, &secret, limit).await,
            Cmd::Documents {
                mode,
                url,
                client_id,
                secret,
                concurrency,
                seconds,
                agents,
                states,
            } => {
                documents::run(
                    &url,
                    &client_id,
                    &secret,
                    mode,
                    concurrency,
                    seconds,
                    agents,
                    states,
                )
                .await
            }
            Cmd::Run {
                url,
                client_id,
                secret,
                concurrency,
                seconds,
                batch,
                learners,
            } => {
                run(
                    url,
                    client_id,
                    secret,
                    concurrency,
                    seconds,
                    batch,
                    learners,
                )
                .await
            }
        }
    }) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coursebridge-loadgen: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn setup(database: &str, learners: u32) -> Result<(), String> {
    let store = store::Store::open(database)
        .await
        .map_err(|e| e.to_string())?;
    let seeded = loadgen::seed(&store, learners).await?;
    println!(
        "{}",
        json!({"client_id": "wh_load", "secret": seeded.secret})
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    url: String,
    client_id: String,
    secret: String,
    concurrency: usize,
    seconds: u64,
    batch: usize,
    learners: u32,
) -> Result<(), String> {
    let (client, auth) = measure::client_and_auth(concurrency, &client_id, &secret)?;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let endpoint = format!("{}/xapi/statements", url.trim_end_matches('/'));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for t in 0..concurrency {
        let (client, auth, stop, errors, endpoint) = (
            client.clone(),
            auth.clone(),
            stop.clone(),
            errors.clone(),
            endpoint.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            // A random start for each task: every run sends new ids, also
            // against a database that earlier runs filled.
            let mut n: u64 = uuid::Uuid::new_v4().as_u64_pair().0 ^ t as u64;
            while !stop.load(Relaxed) {
                // Ids from the task's own generator (a v4 UUID's layout):
                // `Uuid::new_v4` asks the kernel for randomness each time.
                let mut next = || {
                    let mut step = || {
                        n = n
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        n
                    };
                    let (hi, lo, pick) = (step(), step(), step());
                    let id = uuid::Builder::from_random_bytes(
                        (u128::from(hi) << 64 | u128::from(lo)).to_be_bytes(),
                    )
                    .into_uuid();
                    loadgen::statement_text(
                        (pick >> 33) as u32 % learners,
                        ((pick >> 20) % 100) as f64 / 100.0,
                        id,
                    )
                };
                let body = if batch == 1 {
                    next()
                } else {
                    let mut body = String::with_capacity(batch * 480);
                    body.push('[');
                    for i in 0..batch {
                        if i > 0 {
                            body.push(',');
                        }
                        body.push_str(&next());
                    }
                    body.push(']');
                    body
                };
                let sent = Instant::now();
                let r = client
                    .post(&endpoint)
                    .header("Authorization", &auth)
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                measure::record(r, sent, &mut latencies, &errors).await;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let requests = all.len();
    println!(
        "{}",
        json!({
            "concurrency": concurrency,
            "batch": batch,
            "seconds": (elapsed * 10.0).round() / 10.0,
            "requests": requests,
            "errors": errors.load(Relaxed),
            "statements_per_sec": ((requests * batch) as f64 / elapsed).round(),
            "requests_per_sec": (requests as f64 / elapsed).round(),
            "latency_ms": measure::latency_ms(&mut all),
        })
    );
    Ok(())
}
