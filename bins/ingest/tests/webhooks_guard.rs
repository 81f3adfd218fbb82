//! Webhooks, the rules that protect the server and its neighbours, on SQLite
//! and on PostgreSQL (the latter with `--ignored`):
//! - without `[delivery] allow_private_networks`, a receiver at an internal
//!   address is refused at creation (literal IPs) or at the connection (a
//!   host name resolving to one), and never receives anything;
//! - a subscription failing for its whole retry window (`give_up_after_ms`)
//!   is disabled, and a success within it starts the window again.
//!
//! Waits are polls with a deadline; no sleep is an assertion.

use ingest_server::config::Delivery;
use receiver::delivered_seqs;
use receiver::env::{Env, WAIT, delivery, on_with, seqs};
use receiver::{Hit, Reply};
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
testkit::both!(disabled_after_the_whole_window, on_with, window_ms(1_500));
testkit::both!(
    a_success_starts_the_window_again,
    on_with,
    window_ms(600_000)
);

/// The test harness's settings, but private networks not allowed (the default).
fn strict() -> Delivery {
    Delivery {
        allow_private_networks: false,
        ..delivery()
    }
}

/// Short retries, and a retry window of `ms`.
fn window_ms(ms: i64) -> Delivery {
    Delivery {
        give_up_after_ms: Some(ms),
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

async fn disabled_after_the_whole_window(mut env: Env) -> Env {
    env.rx.script("down", vec![Reply::Status(500); 10_000]);
    let id = env.subscribe("down", json!({})).await;
    env.add_courses(1).await;
    let head = env.head().await;
    let w = env.wait_webhook(&id, |w| w["enabled"] == false).await;
    let reason = w["disabled_reason"].as_str().expect("reason");
    assert!(reason.contains("whole retry window"), "{reason}");
    assert_eq!(w["delivered_through"], json!(head - 1), "{w}");
    assert!(w["disabled_at"].is_string(), "{w}");

    let attempts = env.attempts(&id).await;
    assert!(
        attempts.len() >= 2,
        "retried before giving up: {attempts:?}"
    );
    for (a, n) in attempts.iter().zip(1..) {
        assert_eq!(
            (a["seq"].clone(), a["attempt"].clone(), a["status"].clone()),
            (json!(head), json!(n), json!(500)),
            "{a}"
        );
    }
    assert!(
        reason.contains(&format!("({} failed attempts)", attempts.len())),
        "{reason}"
    );
    assert_eq!(w["failures"], json!(attempts.len()), "{w}");
    let hits: Vec<Hit> = env.rx.hits("down");
    assert_eq!(hits.len(), attempts.len());
    assert!(hits.iter().all(|h| h.verified && h.seq == head));

    env
}

/// An RFC 3339 time of the API. (Compared as times: the API writes the
/// fraction without trailing zeros, `…47.1Z` for `…47.100Z`, so the text
/// does not sort — comparing text made this test fail one run in ten.)
fn time_of(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

async fn a_success_starts_the_window_again(mut env: Env) -> Env {
    env.rx.script("flap", vec![Reply::Status(500); 10_000]);
    let id = env.subscribe("flap", json!({})).await;
    env.add_courses(1).await;
    let head = env.head().await;
    let failing = env
        .wait_webhook(&id, |w| w["failures"].as_i64().unwrap_or(0) >= 2)
        .await;
    let first_since = time_of(&failing["failing_since"]);

    // The receiver comes back: delivered, and the failures are forgotten.
    env.rx.script("flap", vec![]);
    let w = env
        .wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    assert_eq!(
        (w["failures"].clone(), w["failing_since"].clone()),
        (json!(0), Value::Null),
        "{w}"
    );
    assert_eq!(w["enabled"], true);
    let success = env
        .attempts(&id)
        .await
        .into_iter()
        .find(|a| a["status"] == 200)
        .expect("the successful attempt");

    // It fails again: the window starts at the new failure, not the first.
    env.rx.script("flap", vec![Reply::Status(500); 10_000]);
    env.add_courses(1).await;
    let head = env.head().await;
    let w = env
        .wait_webhook(&id, |w| w["failures"].as_i64().unwrap_or(0) >= 1)
        .await;
    let second_since = time_of(&w["failing_since"]);
    assert!(second_since > first_since, "{w}");
    assert!(second_since >= time_of(&success["at"]), "{w} {success}");
    assert_eq!(w["delivered_through"], json!(head - 1), "{w}");
    assert_eq!(w["enabled"], true, "{w}");
    env
}
