//! The SCORM Cloud results flows — postbacks, refresh, overrides, reset and
//! delete — against the fake SCORM Cloud, on API V1 and V2, on SQLite and
//! (with `--ignored`) PostgreSQL.

use fake_scorm_cloud::v2_ops;
use scorm_flows::registrations::{self, Assignment};
use scorm_flows::results::{self, Applied};
use scorm_flows::{ApiVersion, ScormError};
use serde_json::json;
use stats_rules::Override;

mod env;

use env::*;

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod postbacks_are_authenticated_idempotent_and_order_safe, on);
async fn postbacks_are_authenticated_idempotent_and_order_safe(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let reg = assigned(&env, &settings, &remote, "u-1").await;
    let id = reg.registration_id.clone();
    let pb = env
        .fake
        .registration(&id)
        .and_then(|r| r.postback)
        .expect("postback");
    let form = |xml: &str, password: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", xml)
            .append_pair("username", &id)
            .append_pair("password", password)
            .finish()
    };
    let post = |body: String| {
        let store = env.store.clone();
        async move {
            results::accept_postback(
                &store,
                Some("application/x-www-form-urlencoded"),
                None,
                body.as_bytes(),
                time::OffsetDateTime::now_utc(),
            )
            .await
        }
    };
    env.fake
        .update(&id, "incomplete", "unknown", None, 120.0)
        .expect("update");
    let early = env.report(&id);
    env.fake
        .update(&id, "complete", "passed", Some(88.0), 600.0)
        .expect("update");
    let late = env.report(&id);
    // wrong password: refused, nothing stored
    let err = post(form(&late, "wrong")).await.expect_err("refused");
    assert!(err.to_string().contains("do not match"), "{err}");
    // the complete report first …
    let (_, applied) = post(form(&late, &pb.password)).await.expect("postback");
    let Applied::Recorded { stats } = applied else {
        panic!("expected recorded, got {applied:?}")
    };
    assert!(stats.completed);
    assert_eq!(stats.score, Some(88.0));
    assert_eq!(stats.time_spent_ms, Some(600_000));
    // … the same again is harmless, the older one delivered late is ignored
    assert_eq!(
        post(form(&late, &pb.password)).await.expect("dup").1,
        Applied::Unchanged
    );
    assert_eq!(
        post(form(&early, &pb.password)).await.expect("old").1,
        Applied::Stale
    );
    let view = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        view.result.as_ref().map(|r| r.total_time_secs),
        Some(Some(600.0))
    );
    assert_eq!(
        view.statistics.as_ref().map(|s| s["score"].clone()),
        Some(json!(88.0))
    );
    // a report about another registration, with this one's credentials: refused
    let other = assigned(&env, &settings, &remote, "u-2").await;
    env.fake
        .update(
            &other.registration_id,
            "complete",
            "failed",
            Some(10.0),
            50.0,
        )
        .expect("update");
    let foreign = env.report(&other.registration_id);
    assert!(matches!(
        post(form(&foreign, &pb.password)).await,
        Err(ScormError::Forbidden(_))
    ));
    // httpbasic delivery, without the <rsp> wrapper
    let (_, settings_b, remote_b) = env.setup("at-assignment", "httpbasic").await;
    let _ = (settings_b, remote_b);
    let (content_type, inner) = match env.api {
        ApiVersion::V1 => (
            "text/xml",
            late.split_once("<rsp stat=\"ok\">")
                .and_then(|(_, r)| r.strip_suffix("</rsp>"))
                .expect("wrapped"),
        ),
        // V2's httpbasic postbacks are the JSON itself
        ApiVersion::V2 => ("application/json", late.as_str()),
    };
    let auth = format!("Basic {}", base64_encode(&format!("{id}:{}", pb.password)));
    let (_, applied) = results::accept_postback(
        &env.store,
        Some(content_type),
        Some(&auth),
        inner.as_bytes(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("httpbasic");
    assert_eq!(
        applied,
        Applied::Unchanged,
        "same state as the form delivery"
    );
    env
}

fn base64_encode(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod refresh_and_override_share_the_result_path, on);
async fn refresh_and_override_share_the_result_path(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let reg = assigned(&env, &settings, &remote, "u-1").await;
    let id = reg.registration_id.clone();
    // the postback was lost: a refresh fetches the state
    env.fake
        .update(&id, "incomplete", "unknown", Some(40.0), 300.0)
        .expect("update");
    let applied = results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh");
    assert!(matches!(applied, Applied::Recorded { .. }), "{applied:?}");
    assert_eq!(
        results::refresh(&env.store, &remote, &id)
            .await
            .expect("again"),
        Applied::Unchanged
    );
    // a reset arrives through refresh, which is authoritative
    env.fake
        .update(&id, "unknown", "unknown", None, 0.0)
        .expect("reset");
    assert!(matches!(
        results::refresh(&env.store, &remote, &id)
            .await
            .expect("after reset"),
        Applied::Recorded { .. }
    ));
    // --all-stale: everything SCORM Cloud knows that is older than the bound
    let other = assigned(&env, &settings, &remote, "u-2").await;
    env.fake
        .update(
            &other.registration_id,
            "complete",
            "passed",
            Some(95.0),
            900.0,
        )
        .expect("update");
    let refreshed = results::refresh_stale(&env.store, &remote, &settings, 0, 100)
        .await
        .expect("stale");
    let ids: Vec<&str> = refreshed.iter().map(|r| r.registration.as_str()).collect();
    assert!(ids.contains(&other.registration_id.as_str()), "{ids:?}");
    assert!(refreshed.iter().all(|r| r.result.is_ok()), "{refreshed:?}");
    let v = results::view(&env.store, &other.registration_id)
        .await
        .expect("view");
    assert_eq!(
        v.statistics.as_ref().map(|s| s["completed"].clone()),
        Some(json!(true))
    );
    // an administrator forces completion and a score
    let stats = results::set_override(
        &env.store,
        &id,
        &Override {
            complete: true,
            success: Some(true),
            score: Some(100.0),
            by: "admin@acme.example".into(),
            reason: Some("completed on paper".into()),
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("override");
    assert!(stats.completed && stats.overridden.is_some());
    assert_eq!(stats.score, Some(100.0));
    let v = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        v.overridden.as_ref().map(|o| o.by.as_str()),
        Some("admin@acme.example")
    );
    // the override holds against later reports
    env.fake
        .update(&id, "incomplete", "failed", Some(20.0), 400.0)
        .expect("update");
    let Applied::Recorded { stats } = results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh")
    else {
        panic!("recorded")
    };
    assert_eq!((stats.completed, stats.score), (true, Some(100.0)));
    assert!(
        results::set_override(
            &env.store,
            &id,
            &Override {
                complete: false,
                success: None,
                score: Some(101.0),
                by: "a".into(),
                reason: None
            },
            time::OffsetDateTime::now_utc()
        )
        .await
        .is_err()
    );
    env
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod reset_and_delete_reach_both_sides, on);
async fn reset_and_delete_reach_both_sides(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let id = assigned(&env, &settings, &remote, "u-1")
        .await
        .registration_id;
    env.fake
        .update(&id, "complete", "passed", Some(80.0), 300.0)
        .expect("update");
    results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh");
    // reset: SCORM Cloud clears the progress; its state is stored at once
    let applied = registrations::reset(&env.store, &remote, &id)
        .await
        .expect("reset");
    assert!(matches!(applied, Applied::Recorded { .. }), "{applied:?}");
    let op = env.op(
        "rustici.registration.resetRegistration",
        v2_ops::RESET_REGISTRATION,
    );
    assert!(
        env.fake.calls().iter().any(|c| c == op),
        "{:?}",
        env.fake.calls()
    );
    let remote_reg = env.fake.registration(&id).expect("still there");
    assert_eq!(remote_reg.complete, "unknown");
    let view = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        view.result.map(|r| r.total_time_secs),
        Some(Some(0.0)),
        "the reset state is stored"
    );
    // delete: gone from SCORM Cloud and here; assigning again makes a new one
    registrations::delete(&env.store, &remote, &id)
        .await
        .expect("delete");
    assert!(env.fake.registration(&id).is_none());
    assert!(matches!(
        results::view(&env.store, &id).await,
        Err(ScormError::NotFound(_))
    ));
    let again = assigned(&env, &settings, &remote, "u-1").await;
    assert_ne!(again.registration_id, id);
    assert!(env.fake.registration(&again.registration_id).is_some());

    // a registration not in SCORM Cloud (its creation refused): nothing to
    // reset; deleted here only
    env.fake.fail_next(env.create_op(), 503, "busy");
    let kept = registrations::assign(
        &env.store,
        &remote,
        &settings,
        &Assignment {
            course_id: "course-1".into(),
            learner: "u-9".into(),
            first_name: "Lazy".into(),
            last_name: "Learner".into(),
            registration_id: Some("reg-9".into()),
            ..Assignment::default()
        },
    )
    .await;
    assert!(kept.is_err(), "{kept:?}");
    let err = registrations::reset(&env.store, &remote, "reg-9")
        .await
        .expect_err("not there");
    assert!(matches!(err, ScormError::Conflict(_)), "{err}");
    registrations::delete(&env.store, &remote, "reg-9")
        .await
        .expect("deleted here");
    assert!(matches!(
        results::view(&env.store, "reg-9").await,
        Err(ScormError::NotFound(_))
    ));
    let err = registrations::reset(&env.store, &remote, "no-such-registration")
        .await
        .expect_err("unknown");
    assert!(matches!(err, ScormError::NotFound(_)), "{err}");
    env
}
