//! Webhooks, the rules that protect the server and its neighbours, on SQLite
//! and on PostgreSQL (the latter with `--ignored`):
//! - without `[delivery] allow_private_networks`, a receiver at an internal
//!   address is refused at creation (literal IPs) or at the connection (a
//!   host name resolving to one), and never receives anything;
//!
//! Waits are polls with a deadline; no sleep is an assertion.

use ingest_server::config::Delivery;
use receiver::delivered_seqs;
use receiver::env::{Env, WAIT, delivery, on_with, seqs};
use serde_json::{Value, json};

mod common;
mod receiver;

testkit::both!(
    internal_addresses_are_refused_at_creation,
    on_with,
    strict()
);
testkit::both!(
    a_name_resolving_to_loopback_is_never_reached,
    on_with,
    strict()
);
testkit::both!(private_networks_when_allowed, on_with, delivery());

/// The test harness's settings, but private networks not allowed (the default).
fn strict() -> Delivery {
    Delivery {
        allow_private_networks: false,
        ..delivery()
    }
}

/// The receiver's `path` on `localhost` (a host name) instead of 127.0.0.1.
fn by_name(env: &Env, path: &str) -> String {
    env.rx.url(path).replace("127.0.0.1", "localhost")
}

async fn internal_addresses_are_refused_at_creation(env: Env) -> Env {
    let port = env.rx.base.rsplit(':').next().expect("port").to_owned();
    for url in [
        env.rx.url("x"),
        format!("http://10.1.2.3:{port}/x"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::1]:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        "http://100.64.0.1/x".to_owned(),
        format!("http://2130706433:{port}/x"),
    ] {
        let (s, r) = env
            .post(
                "/api/v1/webhooks",
                &json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        assert_eq!(s, 400, "{url}: {r}");
        let msg = r["error"].as_str().expect("error");
        assert!(msg.starts_with("url:"), "{url}: {msg}");
        assert!(msg.contains("allow_private_networks"), "{url}: {msg}");
    }
    let (_, list) = env.get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]), "nothing created");
    env
}

async fn a_name_resolving_to_loopback_is_never_reached(mut env: Env) -> Env {
    // A host name is accepted at creation: what it resolves to is checked at
    // every connection (it may change after creation: DNS rebinding).
    let (s, r) = env
        .post(
            "/api/v1/webhooks",
            &json!({"url": by_name(&env, "rebind"), "event_types": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    env.add_courses(1).await;
    let head = env.head().await;
    let w = env
        .wait_webhook(&id, |w| w["failures"].as_i64().unwrap_or(0) >= 2)
        .await;
    assert_eq!(w["delivered_through"], json!(head - 1), "{w}");
    let attempts = env.attempts(&id).await;
    assert!(attempts.len() >= 2, "{attempts:?}");
    for a in &attempts {
        assert_eq!(a["seq"], json!(head), "{a}");
        assert_eq!(a["status"], Value::Null, "{a}");
        assert_eq!(
            a["error"],
            json!("url: resolves only to private addresses"),
            "{a}"
        );
    }
    assert_eq!(env.rx.all_hits(), 0, "the receiver was reached");
    env
}

async fn private_networks_when_allowed(mut env: Env) -> Env {
    let (s, r) = env
        .post(
            "/api/v1/webhooks",
            &json!({"url": by_name(&env, "named"), "event_types": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    env.rx
        .expect_secret("named", r["secret"].as_str().expect("secret"));
    env.add_courses(2).await;
    let head = env.head().await;
    let hits = env
        .rx
        .wait_for("named", WAIT, |h| delivered_seqs(h).len() == 2)
        .await;
    assert_eq!(seqs(&hits), vec![head - 1, head]);
    assert!(hits.iter().all(|h| h.verified));
    env
}
