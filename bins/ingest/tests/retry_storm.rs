//! Identical retries never see a 5xx: twelve connections re-post
//! overlapping batches of the same statements, each shuffled differently
//! (issue 32, item 2: on PostgreSQL two groups inserting the same ids in
//! different orders deadlocked). Every request is answered 200 and every
//! statement is stored once. On both engines.

mod common;

use base64::Engine as _;
use common::{progressed, seed_ub, ub_credential};
use ingest_server::config::Config;
use ingest_server::server;
use serde_json::Value;
use testkit::{Engine, TestDatabase};

const STATEMENTS: usize = 40;
const CONNECTIONS: usize = 12;
const REQUESTS_EACH: usize = 15;

async fn identical_retries_never_fail(engine: Engine) {
    let db = TestDatabase::create(engine, "retry-storm").await;
    let store = db.open().await;
    let emails: Vec<String> = (0..8).map(|i| format!("l{i}@example.com")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    seed_ub(&store, &refs).await;
    let secret = ub_credential(&store, "wh_ub").await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("wh_ub:{secret}"))
    );
    let running = server::start(
        store.clone(),
        Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..Config::default()
        },
    )
    .await
    .expect("start");
    let url = format!("http://{}/xapi/statements", running.addr);
    let statements: Vec<Value> = (0..STATEMENTS)
        .map(|i| {
            progressed(
                &format!("7c0c0c52-0000-4000-8000-{i:012}"),
                Some(&emails[i % emails.len()]),
                (i % 10) as f64 / 10.0,
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (client, url, auth, statements) = (
            client.clone(),
            url.clone(),
            auth.clone(),
            statements.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            // A small generator of our own: each connection its own order.
            let mut n: u64 = 0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1);
            let mut next = move || {
                n ^= n << 13;
                n ^= n >> 7;
                n ^= n << 17;
                n
            };
            for _ in 0..REQUESTS_EACH {
                // 20 of the 40, overlapping with every other request, shuffled.
                let mut picks: Vec<usize> = (0..STATEMENTS).collect();
                for i in (1..picks.len()).rev() {
                    picks.swap(i, (next() % (i as u64 + 1)) as usize);
                }
                let batch: Vec<&Value> = picks[..20].iter().map(|&i| &statements[i]).collect();
                let r = client
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_string(&batch).expect("json"))
                    .send()
                    .await
                    .expect("post");
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                statuses.push((status, body));
            }
            statuses
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        for (status, body) in t.await.expect("task") {
            if status != 200 {
                failures.push(format!("{status}: {body}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
    let mut tx = store.read().await.expect("read");
    for s in &statements {
        let id = s["id"].as_str().expect("id");
        assert!(
            tx.statement(id).await.expect("read").is_some(),
            "{id} stored"
        );
    }
    drop(tx);
    running.stop().await.expect("stop");
    store.close().await;
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    fn identical_retries_never_fail_sqlite,
    identical_retries_never_fail_postgres = identical_retries_never_fail()
);
