//! A receiver that never answers holds one dispatcher place, nothing else:
//! while it holds a delivery open, statements are stored and answered, a
//! catalog change commits, and both are in the change feed. Shown as
//! behaviour (the receiver still holds the first request when every check
//! has passed), on SQLite and on PostgreSQL (the latter with `--ignored`).
//! A slow receiver with a backlog gives its dispatcher place up after its
//! turn (`turn_ms`), between two events, so that others get theirs.
//! Stopping the server abandons a held delivery and releases its lease.
//! Waits are polls with a deadline; no sleep is an assertion.

use std::time::{Duration, Instant};

use ingest_server::config::Delivery;
use receiver::Reply;
use receiver::delivered_seqs;
use receiver::env::{Env, WAIT, delivery, on_with, seqs};
use serde_json::{Value, json};

mod common;
mod receiver;

testkit::both!(
    a_held_delivery_blocks_neither_ingest_nor_catalog_changes,
    on_with,
    patient()
);

testkit::both!(
    a_slow_receiver_gives_its_place_up_between_events,
    on_with,
    one_place()
);

testkit::both!(stopping_releases_the_leases, on_with, patient());

/// One dispatcher place, given up after a turn of 300 ms.
fn one_place() -> Delivery {
    Delivery {
        max_parallel: 1,
        turn_ms: Some(300),
        ..delivery()
    }
}

/// The harness's settings, with an attempt timeout far longer than the test.
fn patient() -> Delivery {
    Delivery {
        timeout_secs: 120,
        ..delivery()
    }
}

/// Polls `done` until it holds, or panics after [`WAIT`].
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "not reached: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// POSTs `n` statements of ada's progress in one request; their ids.
async fn post_batch(env: &Env, n: usize) -> Vec<String> {
    let batch: Vec<Value> = (0..n)
        .map(|k| {
            common::progressed(
                &uuid::Uuid::new_v4().to_string(),
                Some("ada@example.com"),
                0.1 + 0.1 * k as f64,
            )
        })
        .collect();
    let (s, r) = env
        .send(
            env.client
                .post(format!("{}/xapi/statements", env.base))
                .header("Authorization", &env.provider)
                .header("X-Experience-API-Version", "1.0.3")
                .header("Content-Type", "application/json")
                .body(Value::Array(batch).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let ids = r.as_array().expect("ids");
    assert_eq!(ids.len(), n, "{r}");
    ids.iter()
        .map(|i| i.as_str().expect("id").to_owned())
        .collect()
}

async fn a_held_delivery_blocks_neither_ingest_nor_catalog_changes(mut env: Env) -> Env {
    env.rx.script("held", vec![Reply::Hold]);
    let id = env.subscribe("held", json!({})).await;
    env.add_courses(1).await;
    let first = env.head().await;
    until("the first delivery held open", || env.rx.held() == 1).await;

    // Ingest: every batch answered and stored.
    let mut stored = Vec::new();
    for _ in 0..4 {
        stored.extend(post_batch(&env, 3).await);
    }
    let (s, r) = env
        .send(
            env.client
                .get(format!(
                    "{}/xapi/statements?statementId={}",
                    env.base, stored[0]
                ))
                .header("Authorization", &env.provider)
                .header("X-Experience-API-Version", "1.0.3"),
        )
        .await;
    assert_eq!((s, r["id"].clone()), (200, json!(stored[0])), "{r}");

    // The catalog side: a change committed in a store transaction.
    env.add_courses(2).await;
    let head = env.head().await;

    // Both are in the change feed, in order, nothing missing.
    let (s, page) = env
        .get(&format!("/api/v1/events?after={first}&limit=1000"))
        .await;
    assert_eq!(s, 200, "{page}");
    let events = page["events"].as_array().expect("events");
    let listed: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(listed, ((first + 1)..=head).collect::<Vec<_>>());
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("course.created"), 2, "{page}");
    assert!(count("statistic.updated") >= 1, "{page}");

    // All of that while the receiver still holds the first request, the
    // only one it got, and the subscription has not moved.
    assert!(!env.rx.released());
    assert_eq!(env.rx.held(), 1, "the held request ended early");
    assert_eq!(env.rx.count("held"), 1);
    let (_, w) = env.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["delivered_through"], json!(first - 1), "{w}");

    // Released: the held one is answered 200 and the rest follow, in order.
    env.rx.release();
    let hits = env
        .rx
        .wait_for("held", WAIT, |h| h.last().is_some_and(|h| h.seq == head))
        .await;
    assert_eq!(seqs(&hits), (first..=head).collect::<Vec<_>>());
    assert_eq!(
        delivered_seqs(&hits),
        ((first + 1)..=head).collect::<Vec<_>>()
    );
    assert!(hits.iter().all(|h| h.verified));
    env.wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    env
}

async fn a_slow_receiver_gives_its_place_up_between_events(mut env: Env) -> Env {
    // Every answer is a 200, each after 100 ms (well within the timeout).
    env.rx.delay("slow", Duration::from_millis(100));
    let slow = env.subscribe("slow", json!({})).await;
    env.add_courses(40).await;
    let head = env.head().await;
    until("the slow one started", || env.rx.count("slow") >= 1).await;
    // Another subscription becomes due while the slow one holds the only place.
    let fast = env.subscribe("fast", json!({"from_seq": head - 39})).await;
    let fast_hits = env
        .rx
        .wait_for("fast", WAIT, |h| delivered_seqs(h).len() == 40)
        .await;
    // It got the place before the slow one was through its backlog.
    assert!(
        env.rx.count("slow") < 40,
        "the slow subscription kept the only place until it was done"
    );
    assert_eq!(seqs(&fast_hits), ((head - 39)..=head).collect::<Vec<_>>());
    // And the slow one resumes where it stopped: each event once, in order.
    let slow_hits = env
        .rx
        .wait_for("slow", WAIT, |h| delivered_seqs(h).len() == 40)
        .await;
    assert_eq!(seqs(&slow_hits), ((head - 39)..=head).collect::<Vec<_>>());
    assert!(!env.rx.overlapped());
    for id in [slow, fast] {
        env.wait_webhook(&id, |w| w["delivered_through"] == json!(head))
            .await;
    }
    env
}

async fn stopping_releases_the_leases(mut env: Env) -> Env {
    env.rx.script("stop", vec![Reply::Hold]);
    let id = env.subscribe("stop", json!({})).await;
    env.add_courses(1).await;
    let head = env.head().await;
    until("the delivery held open", || env.rx.held() == 1).await;
    let leased = {
        let mut tx = env.store.read().await.expect("read");
        tx.webhook(&id).await.expect("webhook").expect("exists")
    };
    assert!(leased.lease_owner.is_some(), "{leased:?}");

    // What `Running::stop` does after the HTTP server has stopped.
    env.server.app.stop_delivery().await;
    let w = {
        let mut tx = env.store.read().await.expect("read");
        tx.webhook(&id).await.expect("webhook").expect("exists")
    };
    assert_eq!(
        (w.lease_owner.clone(), w.lease_until_ms),
        (None, None),
        "{w:?}"
    );
    assert!(w.enabled, "{w:?}");
    assert_eq!(
        w.delivered_through,
        head - 1,
        "the held event is not delivered"
    );
    assert_eq!(w.failures, 0, "an abandoned attempt is no failure: {w:?}");
    // The held request was abandoned: the receiver saw the connection go.
    until("the held request dropped", || env.rx.held() == 0).await;
    assert!(!env.rx.released());
    env
}
