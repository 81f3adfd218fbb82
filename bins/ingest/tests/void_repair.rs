//! A crash between a PostgreSQL group's commit and its voiding check (issue
//! 32, item 1) left a target unvoided and counted; the next start repairs
//! it: the target is voided, its learner's statistics rebuilt. The crash's
//! state is made by hand (the target's flag cleared and its statistics
//! refolded), then a server starts on it. On both engines.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{fixture, seed_ub, ub_credential};
use ingest_server::config::Config;
use ingest_server::server;
use serde_json::{Value, json};
use testkit::{Engine, TestDatabase};

const TARGET: &str = "8d0c0c52-0000-4000-8000-000000000001";

async fn post(client: &reqwest::Client, base: &str, auth: &str, body: &Value) -> u16 {
    client
        .post(format!("{base}/xapi/statements"))
        .header("Authorization", auth)
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

async fn completed(store: &store::Store, course: i64, learner: i64) -> bool {
    let mut tx = store.read().await.expect("read");
    tx.stats_for(course, learner)
        .await
        .expect("stats")
        .is_some_and(|s| s.completed)
}

async fn an_interrupted_void_is_repaired_at_start(engine: Engine) {
    let db = TestDatabase::create(engine, "void-repair").await;
    let store = db.open().await;
    seed_ub(&store, &["ada@example.com"]).await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("wh_ub:{}", ub_credential(&store, "wh_ub").await))
    );
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    let client = reqwest::Client::new();
    let mut target = fixture("udemy-course-completed-mbox");
    target["id"] = json!(TARGET);
    target["actor"] = json!({"mbox": "mailto:ada@example.com"});
    let void = json!({"actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                      "object": {"objectType": "StatementRef", "id": TARGET}});
    let running = server::start(store.clone(), config.clone())
        .await
        .expect("start");
    let base = format!("http://{}", running.addr);
    assert_eq!(post(&client, &base, &auth, &target).await, 200);
    assert_eq!(post(&client, &base, &auth, &void).await, 200);
    running.stop().await.expect("stop");

    // The state a crash in the window leaves: the target not marked, and
    // counted in its learner's statistics.
    let (course, learner) = {
        let mut tx = store.read().await.expect("read");
        let s = tx.statement(TARGET).await.expect("read").expect("stored");
        assert!(s.voided);
        (s.course_id.expect("course"), s.learner_id.expect("learner"))
    };
    store
        .execute_admin(&format!(
            "UPDATE statements SET voided = 0 WHERE id = '{TARGET}'"
        ))
        .await
        .expect("unmark");
    {
        let integration = {
            let mut tx = store.read().await.expect("read");
            tx.integration("ub-acme")
                .await
                .expect("read")
                .expect("exists")
        };
        let rules = records::rules_for(&integration).expect("rules");
        let mut tx = store.begin().await.expect("begin");
        records::refold(&mut tx, &rules, course, learner, common::T0)
            .await
            .expect("refold");
        tx.commit().await.expect("commit");
    }
    assert!(
        completed(&store, course, learner).await,
        "the crash's state"
    );

    // The next start repairs it.
    let running = server::start(store.clone(), config).await.expect("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    while completed(&store, course, learner).await {
        assert!(Instant::now() < deadline, "not repaired at start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tx = store.read().await.expect("read");
    assert!(
        tx.statement(TARGET)
            .await
            .expect("read")
            .expect("stored")
            .voided
    );
    assert!(tx.unvoided_targets().await.expect("read").is_empty());
    drop(tx);
    running.stop().await.expect("stop");
    store.close().await;
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    fn an_interrupted_void_is_repaired_at_start_sqlite,
    an_interrupted_void_is_repaired_at_start_postgres = an_interrupted_void_is_repaired_at_start()
);
