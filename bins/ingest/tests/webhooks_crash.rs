//! Webhook delivery across failures, on SQLite and on PostgreSQL:
//! - the real server process is killed (SIGKILL) in the middle of a delivery
//!   and restarted: every committed event still arrives (at least once: the
//!   ones since the last recorded progress again, with the same
//!   `webhook-id`), in order within each process's run;
//! - two server instances on one database deliver every event to each
//!   subscription exactly once between them, in order, never two requests
//!   at once for one subscription (the receiver watches for overlap).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ingest_server::config::{Config, Delivery};
use ingest_server::delivery::webhooks::manage::{self, CreateRequest};
use ingest_server::server;
use receiver::env::add_courses;
use receiver::{Hit, Receiver, delivered_seqs};
use store::Store;
use testkit::{Engine, TestDatabase};

mod common;
mod receiver;

const WAIT: Duration = Duration::from_secs(60);

fn delivery() -> Delivery {
    Delivery {
        poll_ms: 20,
        allow_http: true,
        allow_private_networks: true,
        timeout_secs: 1,
        retry_first_ms: Some(50),
        retry_max_secs: 1,
        ..Delivery::default()
    }
}

async fn head(store: &Store) -> i64 {
    ingest_server::delivery::sequence(store)
        .await
        .expect("sequence");
    let mut tx = store.read().await.expect("read");
    tx.outbox_state().await.expect("state").last_seq
}

/// A subscription to `path` of the receiver, from the first event on.
async fn subscribe(store: &Store, rx: &Receiver, path: &str) -> String {
    let created = manage::create(
        store,
        &delivery(),
        &CreateRequest {
            url: rx.url(path),
            event_types: vec!["*".into()],
            from_seq: Some(1),
            ..CreateRequest::default()
        },
    )
    .await
    .expect("subscribe");
    rx.expect_secret(path, &created.secret);
    created.webhook.id
}

/// Waits until the subscription's recorded progress reaches `through`.
async fn wait_recorded(store: &Store, id: &str, through: i64) {
    let until = Instant::now() + WAIT;
    loop {
        let w = store
            .read()
            .await
            .expect("read")
            .webhook(id)
            .await
            .expect("webhook")
            .expect("exists");
        if w.delivered_through == through {
            return;
        }
        assert!(Instant::now() < until, "progress stuck: {w:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn seqs(hits: &[Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.seq).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server process, killed when dropped (a failing test leaves none behind).
struct Server(Child);

impl Server {
    /// SIGKILL, and reaped.
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &str, config: &std::path::Path) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
            .arg("--config")
            .arg(config)
            .args(["--database", db, "serve", "--listen"])
            .arg(format!("127.0.0.1:{}", free_port()))
            .env("COURSEBRIDGE_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server"),
    )
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn a_killed_server_loses_no_event,
    a_killed_server_loses_no_event_postgres = kill_mid_delivery()
);

async fn kill_mid_delivery(engine: Engine) {
    const EVENTS: usize = 1500;
    let db = TestDatabase::create(engine, "hookcrash").await;
    let store = db.open().await;
    common::seed_ub(&store, &[]).await;
    let rx = Receiver::start().await;
    // Slow enough to be killed in the middle.
    rx.delay("crash", Duration::from_millis(2));
    let id = subscribe(&store, &rx, "crash").await;
    add_courses(&store, 0, EVENTS).await;
    let head = head(&store).await;
    assert_eq!(head, EVENTS as i64);
    store.close().await;

    let config = db.dir().join("serve.toml");
    std::fs::write(
        &config,
        "[delivery]\npoll_ms = 20\nallow_http = true\nallow_private_networks = true\ntimeout_secs = 1\nretry_first_ms = 50\n",
    )
    .expect("config");
    let mut first = serve(db.url(), &config);
    rx.wait_for("crash", WAIT, |h| h.len() >= 300).await;
    first.kill();
    let at_kill = rx.hits("crash").len();
    assert!(at_kill < EVENTS, "killed after the end: {at_kill}");

    let mut second = serve(db.url(), &config);
    let hits = rx
        .wait_for("crash", WAIT, |h| delivered_seqs(h).len() == EVENTS)
        .await;
    let store = db.open().await;
    wait_recorded(&store, &id, head).await;
    second.kill();
    store.close().await;

    // Every event, signed, under one id whatever the attempt.
    let mut ids = std::collections::HashMap::new();
    for h in &hits {
        assert!(h.verified, "signature of {}", h.webhook_id);
        let first_id = ids.entry(h.seq).or_insert_with(|| h.webhook_id.clone());
        assert_eq!(*first_id, h.webhook_id, "seq {} under two ids", h.seq);
    }
    assert_eq!(ids.len(), EVENTS);
    // In order within each run: 1, 2, …, k, then from a recorded point j ≤ k + 1 on.
    let s = seqs(&hits);
    let split = (1..s.len())
        .find(|&i| s[i] != s[i - 1] + 1)
        .unwrap_or(s.len());
    assert_eq!(s[0], 1);
    let (run1, run2) = s.split_at(split);
    if let Some(&restart) = run2.first() {
        assert!(
            restart <= run1[run1.len() - 1] + 1,
            "an event skipped: {s:?}"
        );
        assert!(restart > 1, "progress recorded before the kill was lost");
        assert!(
            run2.windows(2).all(|w| w[1] == w[0] + 1),
            "out of order after the restart: {run2:?}"
        );
    }
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    fn two_instances_deliver_each_event_once_in_order,
    two_instances_deliver_each_event_once_in_order_postgres = two_instances()
);

async fn two_instances(engine: Engine) {
    const PATHS: [&str; 3] = ["p0", "p1", "p2"];
    let db = TestDatabase::create(engine, "hooktwo").await;
    let store_a = db.open().await;
    common::seed_ub(&store_a, &[]).await;
    let rx = Receiver::start().await;
    let mut ids = Vec::new();
    for p in PATHS {
        rx.delay(p, Duration::from_millis(1));
        ids.push(subscribe(&store_a, &rx, p).await);
    }
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        delivery: delivery(),
        ..Config::default()
    };
    let a = server::start(store_a.clone(), config.clone())
        .await
        .expect("a");
    let store_b = db.open().await;
    let b = server::start(store_b.clone(), config).await.expect("b");

    // Events arrive while both deliver.
    let mut added = 0;
    for round in 0..6 {
        let store = if round % 2 == 0 { &store_a } else { &store_b };
        add_courses(store, added, 150).await;
        added += 150;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let head = head(&store_a).await;
    assert_eq!(head, added as i64);
    for (p, id) in PATHS.iter().zip(&ids) {
        rx.wait_for(p, WAIT, |h| delivered_seqs(h).len() == added)
            .await;
        wait_recorded(&store_a, id, head).await;
        let hits = rx.hits(p);
        assert_eq!(
            seqs(&hits),
            (1..=head).collect::<Vec<_>>(),
            "{p}: each event once, in order"
        );
        assert!(hits.iter().all(|h| h.verified));
    }
    assert!(
        !rx.overlapped(),
        "two requests in flight at once for one subscription"
    );
    a.stop().await.expect("stop a");
    b.stop().await.expect("stop b");
    store_a.close().await;
    store_b.close().await;
    db.remove().await;
}
