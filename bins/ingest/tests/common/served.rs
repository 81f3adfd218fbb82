//! A real server process on a seeded database, for the suites that kill,
//! starve or cut it off: `ub-acme` with [`LEARNERS`] learners and a
//! credential, the binary started on a port, its statistics read back.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::Store;

pub const LEARNERS: usize = 20;

/// `ub-acme` with its course, [`LEARNERS`] learners and a credential.
pub async fn seed(path: &str) -> String {
    let store = Store::open(path).await.expect("open");
    let emails: Vec<String> = (0..LEARNERS)
        .map(|n| format!("learner{n}@example.com"))
        .collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    super::seed_ub(&store, &emails).await;
    let secret = super::ub_credential(&store, "wh_ub").await;
    store.close().await;
    secret
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A served process killed when dropped (a failing test leaves none behind).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn serve(db: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .args(["--database", db, "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("COURSEBRIDGE_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not get ready");
}

/// A progress statement of learner `n` with this id and score.
pub fn progressed(id: &str, n: usize, scaled: f64) -> Value {
    super::progressed(id, Some(&format!("learner{n}@example.com")), scaled)
}

/// The statistics that matter, by (course, learner), without `updated_ms`.
pub async fn statistics(store: &Store) -> BTreeMap<(i64, i64), Value> {
    let mut tx = store.read().await.expect("read");
    let items = tx
        .list_stats(&store::StatsFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("stats");
    items
        .into_iter()
        .map(|i| {
            let r = i.row;
            (
                (r.course_id, r.learner_id),
                json!([
                    r.progress,
                    r.completed,
                    r.result,
                    r.score,
                    r.time_spent_ms,
                    r.first_activity_ms,
                    r.last_activity_ms,
                    r.completed_at_ms,
                    r.attempts
                ]),
            )
        })
        .collect()
}

/// Every acknowledged statement is stored, and the statistics are what a
/// replay of the stored log computes.
pub async fn assert_nothing_lost(store: &Store, acknowledged: &[String]) {
    {
        let mut tx = store.read().await.expect("read");
        for id in acknowledged {
            assert!(
                tx.statement(id).await.expect("lookup").is_some(),
                "statement {id} was acknowledged and is lost"
            );
        }
    }
    let live = statistics(store).await;
    let rules = records::rules_for(&super::ub_integration()).expect("rules");
    records::replay(store, |_| Ok(rules.clone()), super::T0)
        .await
        .expect("replay");
    assert_eq!(statistics(store).await, live, "statistics equal a replay");
}
