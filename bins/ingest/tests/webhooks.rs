//! Webhooks end to end, over real HTTP on loopback, on SQLite and on
//! PostgreSQL (the latter with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL):
//! the server's dispatcher delivers to the receiver of `tests/receiver`,
//! which verifies every signature with its own implementation. Waits are
//! polls with a deadline; no sleep is an assertion.

use std::time::Duration;

use receiver::env::{Env, WAIT, on, seqs};
use receiver::{Receiver, Reply, delivered_seqs};
use serde_json::{Value, json};

mod common;
mod receiver;

testkit::both!(signed_deliveries_in_seq_order, on);
testkit::both!(retries_on_errors_and_timeouts_then_success, on);
testkit::both!(gone_disables_and_enable_resumes, on);
testkit::both!(redirects_are_not_followed, on);
testkit::both!(redelivery_from_a_seq, on);
testkit::both!(bad_input_names_the_field, on);
testkit::both!(the_cli_manages_subscriptions, on);
testkit::both!(a_subscription_behind_retention_is_disabled, on);

async fn signed_deliveries_in_seq_order(mut env: Env) -> Env {
    let all = env.subscribe("all", json!({})).await;
    let stats = env
        .subscribe(
            "stats",
            json!({"event_types": ["statistic.*"], "integration": "ub-acme"}),
        )
        .await;
    env.add_courses(3).await;
    let statement = common::progressed(
        &uuid::Uuid::new_v4().to_string(),
        Some("ada@example.com"),
        0.5,
    );
    let (s, r) = env
        .send(
            env.client
                .post(format!("{}/xapi/statements", env.base))
                .header("Authorization", &env.provider)
                .header("X-Experience-API-Version", "1.0.3")
                .header("Content-Type", "application/json")
                .body(statement.to_string()),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    env.add_courses(2).await;
    let head = env.head().await;
    assert!(head >= 6, "five course events and a statistic: {head}");

    let hits = env
        .rx
        .wait_for("all", WAIT, |h| delivered_seqs(h).len() == head as usize)
        .await;
    assert_eq!(
        seqs(&hits),
        (1..=head).collect::<Vec<_>>(),
        "in seq order, once each"
    );
    for h in &hits {
        assert!(h.verified, "signature of {}", h.webhook_id);
        assert!(
            h.user_agent.starts_with("coursebridge/"),
            "{}",
            h.user_agent
        );
        assert_eq!(h.content_type, "application/json");
        assert_eq!(h.body["id"], json!(h.webhook_id));
    }
    let types: Vec<&str> = hits
        .iter()
        .map(|h| h.body["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types.iter().filter(|t| **t == "course.created").count(), 5);
    let statistic_seqs: Vec<i64> = hits
        .iter()
        .filter(|h| h.body["type"] == "statistic.updated")
        .map(|h| h.seq)
        .collect();
    assert!(!statistic_seqs.is_empty(), "{types:?}");
    let statistic = hits.iter().find(|h| h.body["type"] == "statistic.updated");
    let data = &statistic.expect("statistic").body["data"];
    assert_eq!(data["learner"], "u-0", "{data}");
    assert_eq!(data["course"], "1565838", "{data}");

    // The filtered subscription gets the statistic events only, in order.
    env.wait_webhook(&stats, |w| w["delivered_through"] == json!(head))
        .await;
    let stat_hits = env.rx.hits("stats");
    assert_eq!(seqs(&stat_hits), statistic_seqs);
    assert!(stat_hits.iter().all(|h| h.verified));

    // Every attempt is listed; the secret never is.
    env.wait_webhook(&all, |w| w["delivered_through"] == json!(head))
        .await;
    let attempts = env.attempts(&all).await;
    assert_eq!(attempts.len(), head as usize);
    for (a, seq) in attempts.iter().zip(1..) {
        assert_eq!(
            (a["seq"].clone(), a["status"].clone()),
            (json!(seq), json!(200)),
            "{a}"
        );
        assert_eq!(a["attempt"], 1);
    }
    let (s, list) = env.get("/api/v1/webhooks").await;
    assert_eq!(s, 200);
    assert_eq!(list["webhooks"].as_array().expect("list").len(), 2);
    assert!(!list.to_string().contains("whsec_"), "{list}");
    env
}

async fn retries_on_errors_and_timeouts_then_success(mut env: Env) -> Env {
    env.rx.script(
        "flaky",
        vec![
            Reply::Status(500),
            Reply::Status(503),
            Reply::Hang(Duration::from_millis(1500)),
        ],
    );
    let id = env.subscribe("flaky", json!({})).await;
    env.add_courses(2).await;
    let head = env.head().await;
    let hits = env
        .rx
        .wait_for("flaky", WAIT, |h| delivered_seqs(h).len() == 2)
        .await;
    assert_eq!(
        seqs(&hits),
        vec![head - 1, head - 1, head - 1, head - 1, head]
    );
    assert!(hits.iter().all(|h| h.verified));
    assert!(hits[..4].iter().all(|h| h.webhook_id == hits[0].webhook_id));

    let w = env
        .wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    assert_eq!(w["failures"], 0, "{w}");
    assert_eq!(w["enabled"], true);
    let attempts = env.attempts(&id).await;
    let summary: Vec<(Value, Value, Value)> = attempts
        .iter()
        .map(|a| (a["seq"].clone(), a["attempt"].clone(), a["status"].clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(head - 1), json!(1), json!(500)),
            (json!(head - 1), json!(2), json!(503)),
            (json!(head - 1), json!(3), Value::Null),
            (json!(head - 1), json!(4), json!(200)),
            (json!(head), json!(1), json!(200)),
        ]
    );
    let timeout = attempts[2]["error"].as_str().expect("error");
    assert!(timeout.starts_with("timeout"), "{timeout}");
    assert!(
        attempts[0]["error"]
            .as_str()
            .expect("error")
            .starts_with("HTTP 500")
    );
    assert!(attempts[3]["error"].is_null());
    // Operators see it in /metrics: three failed attempts, two deliveries.
    assert_eq!(
        (
            metric(&env, "coursebridge_webhook_failed_attempts_total").await,
            metric(&env, "coursebridge_webhook_deliveries_total").await
        ),
        (3, 2)
    );
    // Each delivery's lag (from the event's creation) is observed once.
    assert_eq!(
        metric(&env, "coursebridge_webhook_delivery_lag_seconds_count").await,
        2
    );
    env
}

/// A counter of `/metrics`.
async fn metric(env: &Env, name: &str) -> u64 {
    let text = env
        .client
        .get(format!("{}/metrics", env.base))
        .header("Authorization", &env.lms)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

async fn gone_disables_and_enable_resumes(mut env: Env) -> Env {
    env.rx.script("gone", vec![Reply::Status(410)]);
    let id = env.subscribe("gone", json!({})).await;
    env.add_courses(1).await;
    let head = env.head().await;
    let w = env.wait_webhook(&id, |w| w["enabled"] == false).await;
    let reason = w["disabled_reason"].as_str().expect("reason");
    assert!(reason.contains("410"), "{reason}");
    assert_eq!(w["delivered_through"], json!(head - 1), "{w}");
    let attempts = env.attempts(&id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 410);
    assert_eq!(
        metric(&env, "coursebridge_webhook_subscriptions_disabled_total").await,
        1
    );

    let (s, w) = env
        .post(&format!("/api/v1/webhooks/{id}/enable"), &json!({}))
        .await;
    assert_eq!((s, w["enabled"].clone()), (200, json!(true)), "{w}");
    let hits = env
        .rx
        .wait_for("gone", WAIT, |h| delivered_seqs(h) == [head])
        .await;
    assert_eq!(seqs(&hits), vec![head, head]);
    assert_eq!(hits[0].webhook_id, hits[1].webhook_id);
    env
}

async fn redirects_are_not_followed(mut env: Env) -> Env {
    let elsewhere = Receiver::start().await;
    env.rx
        .script("moved", vec![Reply::Redirect(elsewhere.url("target")); 2]);
    let id = env.subscribe("moved", json!({})).await;
    env.add_courses(1).await;
    let head = env.head().await;
    let hits = env
        .rx
        .wait_for("moved", WAIT, |h| delivered_seqs(h) == [head])
        .await;
    assert_eq!(hits.len(), 3, "two redirects, then a 200");
    assert_eq!(elsewhere.all_hits(), 0, "a redirect was followed");
    env.wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    let attempts = env.attempts(&id).await;
    assert_eq!(attempts[0]["status"], 302);
    let error = attempts[0]["error"].as_str().expect("error");
    assert!(error.contains("not followed"), "{error}");
    env
}

async fn redelivery_from_a_seq(mut env: Env) -> Env {
    let id = env.subscribe("re", json!({})).await;
    env.add_courses(4).await;
    let head = env.head().await;
    let first = env
        .rx
        .wait_for("re", WAIT, |h| delivered_seqs(h).len() == 4)
        .await;
    env.wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    let (s, w) = env
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &json!({"from_seq": head - 2}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    let again = env.rx.wait_for("re", WAIT, |h| h.len() == 7).await;
    assert_eq!(seqs(&again[4..]), vec![head - 2, head - 1, head]);
    for (a, b) in again[4..].iter().zip(&first[1..]) {
        assert_eq!(a.webhook_id, b.webhook_id, "the same id on redelivery");
        assert!(a.verified);
    }
    // Created from a seq: that event and the later ones.
    let late = env.subscribe("late", json!({"from_seq": head - 1})).await;
    let hits = env
        .rx
        .wait_for("late", WAIT, |h| delivered_seqs(h).len() == 2)
        .await;
    assert_eq!(seqs(&hits), vec![head - 1, head]);
    env.wait_webhook(&late, |w| w["delivered_through"] == json!(head))
        .await;
    env
}

async fn bad_input_names_the_field(env: Env) -> Env {
    let url = env.rx.url("x");
    let cases = [
        (
            json!({"url": "ftp://lms.example/", "event_types": ["*"]}),
            "url:",
        ),
        (json!({"url": "not a url", "event_types": ["*"]}), "url:"),
        (
            json!({"url": url, "event_types": ["course.deleted"]}),
            "event_types:",
        ),
        (json!({"url": url, "event_types": []}), "event_types:"),
        (
            json!({"url": url, "event_types": ["*"], "integration": "nope"}),
            "integration:",
        ),
        (
            json!({"url": url, "event_types": ["*"], "integration": "a b"}),
            "integration:",
        ),
        (
            json!({"url": url, "event_types": ["*"], "from_seq": 0}),
            "from_seq:",
        ),
        (
            json!({"url": url, "event_types": ["*"], "from_seq": 99}),
            "from_seq:",
        ),
        (
            json!({"url": url, "event_types": ["*"], "description": "d".repeat(501)}),
            "description:",
        ),
    ];
    for (body, field) in cases {
        let (s, r) = env.post("/api/v1/webhooks", &body).await;
        assert_eq!(s, 400, "{body}: {r}");
        let msg = r["error"].as_str().expect("error");
        assert!(msg.starts_with(field), "{body}: {msg}");
    }
    for (body, word) in [
        (json!({"event_types": ["*"]}), "url"),
        (
            json!({"url": url, "event_types": ["*"], "secret": "whsec_x"}),
            "secret",
        ),
    ] {
        let (s, r) = env.post("/api/v1/webhooks", &body).await;
        assert_eq!(s, 400, "{body}: {r}");
        assert!(r["error"].as_str().expect("error").contains(word), "{r}");
    }
    let id = env.subscribe("x", json!({})).await;
    let (s, r) = env
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &json!({"from": 1}),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(r["error"].as_str().expect("error").contains("from"), "{r}");
    let (s, r) = env
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &json!({"from_seq": 0}),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(r["error"].as_str().expect("error").starts_with("from_seq:"));
    let (s, r) = env
        .get(&format!("/api/v1/webhooks/{id}/attempts?limit=0"))
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(r["error"].as_str().expect("error").starts_with("limit:"));
    let (s, _) = env.get("/api/v1/webhooks/sub_nope").await;
    assert_eq!(s, 404);
    let (s, _) = env
        .post("/api/v1/webhooks/sub_nope/disable", &json!({}))
        .await;
    assert_eq!(s, 404);
    let r = env
        .client
        .get(format!("{}/api/v1/webhooks", env.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    env
}

/// Runs the binary's `webhooks` command on this database; (exit code, stdout, stderr).
fn cli(env: &Env, args: &[&str]) -> (i32, String, String) {
    let config = env.dir.join("cli.toml");
    std::fs::write(
        &config,
        "[delivery]\nallow_http = true\nallow_private_networks = true\n",
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .arg("--config")
        .arg(&config)
        .args(["--database", &env.db_url, "webhooks"])
        .args(args)
        .env("COURSEBRIDGE_LOG", "error")
        .output()
        .expect("run the command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_cli_manages_subscriptions(mut env: Env) -> Env {
    let url = env.rx.url("cli");
    let (code, _, err) = cli(
        &env,
        &["create", "--url", &url, "--events", "course.deleted"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("event_types:"), "{err}");
    let (code, out, err) = cli(
        &env,
        &[
            "create",
            "--url",
            &url,
            "--events",
            "course.*,statistic.updated",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created["event_types"],
        json!(["course.*", "statistic.updated"])
    );
    env.rx
        .expect_secret("cli", created["secret"].as_str().expect("secret"));

    let (code, out, _) = cli(&env, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&id) && out.contains("enabled"), "{out}");
    assert!(!out.contains("whsec_"), "{out}");

    env.add_courses(1).await;
    let head = env.head().await;
    let hits = env
        .rx
        .wait_for("cli", WAIT, |h| delivered_seqs(h) == [head])
        .await;
    assert!(hits[0].verified);
    env.wait_webhook(&id, |w| w["delivered_through"] == json!(head))
        .await;
    let (code, out, _) = cli(&env, &["attempts", &id, "--json"]);
    assert_eq!(code, 0);
    let attempts: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(attempts[0]["status"], 200, "{attempts}");

    let (code, _, err) = cli(&env, &["redeliver", &id, "--from", &head.to_string()]);
    assert_eq!(code, 0, "{err}");
    env.rx.wait_for("cli", WAIT, |h| h.len() == 2).await;

    let (code, _, _) = cli(&env, &["disable", &id]);
    assert_eq!(code, 0);
    let (_, w) = env.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["enabled"], false, "{w}");
    let (code, _, _) = cli(&env, &["enable", &id]);
    assert_eq!(code, 0);
    let (_, w) = env.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(w["enabled"], true, "{w}");
    let (code, _, err) = cli(&env, &["disable", "sub_nope"]);
    assert_eq!(code, 2, "{err}");
    env
}

async fn a_subscription_behind_retention_is_disabled(mut env: Env) -> Env {
    let id = env.subscribe("behind", json!({})).await;
    let (s, _) = env
        .post(&format!("/api/v1/webhooks/{id}/disable"), &json!({}))
        .await;
    assert_eq!(s, 200);
    // The events, pruned (retention as it would be a month later).
    env.add_courses(2).await;
    let head = env.head().await;
    let mut tx = env.store.begin().await.expect("begin");
    tx.prune_events(ingest_server::clock::now_ms() + 31 * 86_400_000, 1_000)
        .await
        .expect("prune");
    tx.commit().await.expect("commit");
    let (s, w) = env
        .post(&format!("/api/v1/webhooks/{id}/enable"), &json!({}))
        .await;
    assert_eq!((s, w["enabled"].clone()), (200, json!(true)), "{w}");
    let w = env.wait_webhook(&id, |w| w["enabled"] == false).await;
    let reason = w["disabled_reason"].as_str().expect("reason");
    assert!(reason.contains("pruned"), "{reason}");
    assert!(env.rx.hits("behind").is_empty());
    // Redelivery from before the pruned events is refused, naming the field.
    let (s, r) = env
        .post(
            &format!("/api/v1/webhooks/{id}/redeliver"),
            &json!({"from_seq": head}),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(r["error"].as_str().expect("error").starts_with("from_seq:"));
    env
}
