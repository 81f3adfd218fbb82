//! The group writer alone, without HTTP: how long the single SQLite writer
//! spends per statement, the number that bounds the server's throughput
//! (docs/PERFORMANCE.md). The database and the statements are the load
//! generator's (`loadgen::seed`: 1,000 learners, one Udemy Business course;
//! `loadgen::statement_text`: Udemy "progressed" statements, here each for a
//! random learner), prepared and derived beforehand (the server does both in
//! the request, not in the writer), then written group by group through
//! `ingest_server::writer::write_batches` on the writer's direct connection. Each
//! group is answered after the log's sync, as in the server; there the sync
//! overlaps the next group, here the next group waits for it, so the wall
//! time per statement includes one fsync per group and the writer's CPU per
//! statement is the number to compare.
//!
//! Two group shapes, as the server sees them under load: 4 requests of 100
//! statements (batched POSTs) and 32 requests of 1 (single POSTs).
//!
//! Run: `cargo bench -p coursebridge-loadgen --bench write_path`
//! (`WRITE_PATH_STATEMENTS=200000` for a longer run; `WRITE_PATH_CONN=pool`
//! to write through sqlx's connections instead of the direct one;
//! `WRITE_PATH_LOG_BYTES=1` to print the log written per statement instead
//! of checkpointing, with `WRITE_PATH_KEEP=1` to keep the database and a copy
//! of the log, `log.wal`, for counting pages per table.)

use std::sync::Arc;
use std::time::Instant;

use ingest_server::writer::{WriteConn, write_batches};
use records::{IntegrationRules, Prepared};
use store::Store;

const LEARNERS: u32 = 1_000;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// The load generator's database (`loadgen::seed`) and its integration's rules.
async fn setup(path: &str) -> (Store, Arc<IntegrationRules>) {
    let store = Store::open(path).await.expect("open the store");
    let seeded = loadgen::seed(&store, LEARNERS).await.expect("seed");
    let rules = Arc::new(records::rules_for(&seeded.integration).expect("rules"));
    (store, rules)
}

/// The load generator's statement for a random learner, prepared as a
/// request would.
fn prepared(rng: &mut u64, authority: &xapi_model::Actor, rules: &IntegrationRules) -> Prepared {
    let r = xorshift(rng);
    let learner = u32::try_from(r % u64::from(LEARNERS)).expect("below LEARNERS");
    let raw = loadgen::statement_text(learner, (r % 1000) as f64 / 1000.0, uuid::Uuid::new_v4());
    let statement = xapi_model::parse_statement(raw.as_bytes()).expect("a valid statement");
    records::prepare(
        statement,
        raw,
        time::OffsetDateTime::now_utc(),
        uuid::Uuid::new_v4(),
        authority,
        "1.0.3",
    )
    .and_then(|p| p.derive(rules))
    .expect("prepare")
}

async fn run(shape: &str, requests: usize, per_request: usize, total: usize) {
    let dir = std::env::temp_dir().join(format!("cb-write-path-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.db");
    let (store, rules) = setup(path.to_str().expect("utf-8 path")).await;
    let mut conn = match std::env::var("WRITE_PATH_CONN").as_deref() {
        Ok("pool") => WriteConn::Store(store.clone()),
        _ => WriteConn::open(&store),
    };
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let authority = xapi_model::actor_from_value(serde_json::json!(
        {"account": {"homePage": "https://lms.example", "name": "wh_load"}}
    ))
    .expect("authority");
    let per_group = requests * per_request;
    let groups = total.div_ceil(per_group);
    let mut work: Vec<Vec<(Arc<IntegrationRules>, Vec<Prepared>)>> = (0..groups)
        .map(|_| {
            (0..requests)
                .map(|_| {
                    (
                        rules.clone(),
                        (0..per_request)
                            .map(|_| prepared(&mut rng, &authority, &rules))
                            .collect(),
                    )
                })
                .collect()
        })
        .collect();
    // The store's background checkpointer runs as in the server (unless
    // WRITE_PATH_LOG_BYTES is set: then the log is left to grow, and its
    // length per statement is printed).
    let log_bytes = std::env::var_os("WRITE_PATH_LOG_BYTES").is_some();
    if !log_bytes {
        ingest_server::writer::spawn_checkpointer(store.clone());
    }
    let started = Instant::now();
    let cpu_before = thread_cpu_seconds();
    let mut stored = 0usize;
    for group in work.drain(..) {
        for result in write_batches(&mut conn, group).await {
            stored += result.expect("the group is stored").len();
        }
    }
    let elapsed = started.elapsed();
    let cpu = thread_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    drop(conn);
    if log_bytes {
        let wal = std::fs::metadata(dir.join("bench.db-wal")).map_or(0, |m| m.len());
        println!(
            "{shape:<20} log: {:.0} bytes/statement",
            wal as f64 / stored as f64
        );
        if std::env::var_os("WRITE_PATH_KEEP").is_some() {
            let _ = std::fs::copy(dir.join("bench.db-wal"), dir.join("log.wal"));
        }
    }
    store.close().await;
    if std::env::var_os("WRITE_PATH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept {}", dir.display());
    }
    println!(
        "{shape:<20} {stored:>7} statements {:>6.2} s {:>7.0} statements/s {:>6.1} µs/statement, writer CPU {}",
        elapsed.as_secs_f64(),
        stored as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / stored as f64,
        cpu.map_or("unknown".into(), |c| format!(
            "{:.1} µs/statement",
            c * 1e6 / stored as f64
        )),
    );
}

/// This thread's CPU time (user + system) from procfs, where there is one.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may contain spaces): state is 3rd.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let total: usize = std::env::var("WRITE_PATH_STATEMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // The writer runs on this thread (as on its own thread in the server);
    // the checkpointer and sqlx's tasks on the runtime's workers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        run("groups of 4 × 100", 4, 100, total).await;
        run("groups of 32 × 1", 32, 1, total / 4).await;
    });
}
