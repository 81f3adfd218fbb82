//! A measurement, not a check of speed (run it in release): 50,000
//! `course.created` events committed at once, delivered to a loopback
//! receiver by the server's dispatcher; prints how long until the last one
//! arrived. It asserts only that each arrived once, in order.
//!
//! `cargo test --release -p coursebridge-ingest --test webhooks_speed -- --ignored --nocapture`
//! (`WEBHOOK_EVENTS` changes the count).

use std::time::{Duration, Instant};

use ingest_server::config::{Config, Delivery};
use ingest_server::delivery::webhooks::manage::{self, CreateRequest};
use ingest_server::server;
use receiver::{Receiver, delivered_seqs};
use store::{CourseUpsert, Store};
use testkit::{Engine, TestDatabase};

mod common;
mod receiver;

/// `n` courses of `ub-acme` and their `course.created` events, in one transaction.
async fn add_courses(store: &Store, n: usize) {
    let now = ingest_server::clock::now_ms();
    let courses: Vec<CourseUpsert> = (0..n)
        .map(|k| CourseUpsert {
            external_id: format!("c{k}"),
            fields: store::CourseFields {
                name: format!("Course {k}"),
                ..store::CourseFields::default()
            },
            archived: false,
            content_hash: "h".into(),
            field_hashes: "{}".into(),
            source_hash: "s".into(),
        })
        .collect();
    let mut tx = store.begin().await.expect("begin");
    let ids = tx
        .upsert_courses("ub-acme", now, &courses)
        .await
        .expect("courses");
    let changes: Vec<records::CourseChange> = courses
        .iter()
        .map(|c| {
            records::CourseChange::new(ids[&c.external_id], lms_delivery::EventType::CourseCreated)
        })
        .collect();
    records::append_course_events(&mut tx, &changes, now)
        .await
        .expect("events");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
async fn fifty_thousand_events_sqlite() {
    fifty_thousand(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement on PostgreSQL (COURSEBRIDGE_TEST_POSTGRES_URL): run it in release with --ignored --nocapture"]
async fn fifty_thousand_events_postgres() {
    fifty_thousand(Engine::Postgres).await;
}

async fn fifty_thousand(engine: Engine) {
    let n: usize = std::env::var("WEBHOOK_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let db = TestDatabase::create(engine, "hookspeed").await;
    let store = db.open().await;
    common::seed_ub(&store, &[]).await;
    let rx = Receiver::start().await;
    let delivery = Delivery {
        allow_http: true,
        allow_private_networks: true,
        ..Delivery::default()
    };
    let created = manage::create(
        &store,
        &delivery,
        &CreateRequest {
            url: rx.url("speed"),
            event_types: vec!["course.*".into()],
            ..CreateRequest::default()
        },
    )
    .await
    .expect("subscribe");
    rx.expect_secret("speed", &created.secret);
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        delivery,
        ..Config::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let t = Instant::now();
    add_courses(&store, n).await;
    let committed = t.elapsed();
    let until = Instant::now() + Duration::from_secs(600);
    while rx.count("speed") < n {
        assert!(Instant::now() < until, "not all delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = t.elapsed();
    let hits = rx.hits("speed");
    println!(
        "{engine:?}: {n} events committed in {:.2} s; all delivered {:.2} s after the commit ({:.0} events/s)",
        committed.as_secs_f64(),
        (all - committed).as_secs_f64(),
        n as f64 / (all - committed).as_secs_f64()
    );
    assert_eq!(delivered_seqs(&hits).len(), n);
    assert!(hits.iter().all(|h| h.verified));
    server.stop().await.expect("stop");
    store.close().await;
    db.remove().await;
}
