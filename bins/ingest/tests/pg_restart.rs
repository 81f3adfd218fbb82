//! PostgreSQL goes down under load and comes back: while it is down the real
//! server answers every statement request 503 with the reason and
//! `Retry-After` — never a 2xx for a statement it could not write, never a
//! 500 — and it recovers by itself once the database is back: no restart,
//! every acknowledged statement stored, the statistics equal a replay.
//!
//! The test runs a PostgreSQL cluster of its own (`.ci/postgres.sh` with its
//! own directory), stopped with an immediate shutdown (its processes end as
//! in a crash) and started again on the same port. It runs with the other
//! PostgreSQL variants (`--ignored`, COURSEBRIDGE_TEST_POSTGRES_URL set).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::Store;

mod common;

use common::served::{
    KillOnDrop, LEARNERS, assert_nothing_lost, free_port, progressed, seed, serve, wait_ready,
};

/// A PostgreSQL cluster of this test's own, removed when dropped.
struct Cluster {
    dir: PathBuf,
    url: String,
}

fn postgres_sh(dir: &Path, command: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/postgres.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(command)
        .env("COURSEBRIDGE_PG_DIR", dir)
        .env("COURSEBRIDGE_PG_SYNCHRONOUS_COMMIT", "on")
        .output()
        .expect("run .ci/postgres.sh");
    assert!(
        out.status.success(),
        "postgres.sh {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("cb-pg-restart-{}", uuid::Uuid::new_v4()));
        let url = postgres_sh(&dir, "start");
        Cluster { dir, url }
    }
    fn halt(&self) {
        postgres_sh(&self.dir, "halt");
    }
    fn resume(&self) {
        postgres_sh(&self.dir, "resume");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        postgres_sh(&self.dir, "stop");
    }
}

/// Waits (at most a minute) until `done`; a sender that stopped early has
/// panicked (its message is above), and fails the wait at once.
async fn wait_for(what: &str, senders: &[tokio::task::JoinHandle<()>], done: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            !senders.iter().any(tokio::task::JoinHandle::is_finished),
            "a sender stopped while waiting for {what} (its panic is above)"
        );
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Default)]
struct Tally {
    acknowledged: Mutex<Vec<String>>,
    refused: AtomicUsize,
    /// Acknowledged after the database came back.
    after: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set COURSEBRIDGE_TEST_POSTGRES_URL and run with --ignored (CI does)"]
async fn a_restarted_postgres_is_answered_503_and_the_server_recovers() {
    assert!(
        std::env::var_os(testkit::POSTGRES_URL_ENV).is_some(),
        "the PostgreSQL variants run with {} set",
        testkit::POSTGRES_URL_ENV
    );
    let cluster = Cluster::start();
    let secret = seed(&cluster.url).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = KillOnDrop(serve(&cluster.url, port));
    wait_ready(&client, &base).await;

    let tally = Arc::new(Tally::default());
    let (stop, back) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut senders = Vec::new();
    for t in 0..4usize {
        let (client, base, secret) = (client.clone(), base.clone(), secret.clone());
        let (tally, stop, back) = (tally.clone(), stop.clone(), back.clone());
        senders.push(tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(Relaxed) {
                let ids: Vec<String> = (0..10).map(|_| uuid::Uuid::new_v4().to_string()).collect();
                let batch: Vec<serde_json::Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let n = (t * 5 + round + i) % LEARNERS;
                        progressed(id, n, ((round * 10 + i) % 100) as f64 / 100.0)
                    })
                    .collect();
                let r = client
                    .post(format!("{base}/xapi/statements"))
                    .basic_auth("wh_ub", Some(&secret))
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(serde_json::Value::Array(batch).to_string())
                    .send()
                    .await
                    .expect("the server keeps answering while the database is down");
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                let body = r.text().await.expect("body");
                match status {
                    200 => {
                        tally.acknowledged.lock().expect("lock").extend(ids);
                        if back.load(Relaxed) {
                            tally.after.fetch_add(1, Relaxed);
                        }
                    }
                    503 => {
                        assert!(retry_after, "a 503 says when to retry: {body}");
                        assert!(body.contains("database"), "{body}");
                        tally.refused.fetch_add(1, Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => panic!("the database being down is a 503, not {other}: {body}"),
                }
                round += 1;
            }
        }));
    }
    wait_for("load", &senders, || {
        tally.acknowledged.lock().expect("lock").len() >= 500
    })
    .await;
    cluster.halt();
    wait_for("refusals", &senders, || tally.refused.load(Relaxed) >= 8).await;
    let ready = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503, "not ready while the database is down");
    cluster.resume();
    back.store(true, Relaxed);
    wait_for("recovery", &senders, || tally.after.load(Relaxed) >= 50).await;
    stop.store(true, Relaxed);
    for s in senders {
        s.await.expect("sender");
    }
    let ready = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert!(ready.status().is_success(), "ready again");
    server.0.kill().expect("stop");
    server.0.wait().expect("reaped");
    eprintln!(
        "pg_restart: {} statements acknowledged ({} batches after the restart), {} batches refused with 503",
        tally.acknowledged.lock().expect("lock").len(),
        tally.after.load(Relaxed),
        tally.refused.load(Relaxed)
    );

    let store = Store::open(&cluster.url).await.expect("reopen");
    let acknowledged = tally.acknowledged.lock().expect("lock").clone();
    assert_nothing_lost(&store, &acknowledged).await;
    store.close().await;
}
