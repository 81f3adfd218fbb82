//! Concurrency on the Document resources (xAPI Communication 3.1), on SQLite
//! and PostgreSQL (four group writers there), under 1.0.3 and 2.0.0:
//! ETags, If-Match / If-None-Match with 412, the rule for a write without
//! either, and races — of writers holding the same ETag exactly one wins.

mod lrs_env;

use lrs_env::{Answer, Env, agent, on, on_config, q};
use reqwest::Method;
use serde_json::json;

const ACTIVITY: &str = "http://example.com/activities/course-1";
const VERSIONS: [&str; 2] = ["1.0.3", "2.0.0"];

fn profile(id: &str) -> String {
    format!(
        "/xapi/activities/profile?activityId={}&profileId={}",
        q(ACTIVITY),
        q(id)
    )
}

fn state(id: &str) -> String {
    format!(
        "/xapi/activities/state?activityId={}&agent={}&stateId={}",
        q(ACTIVITY),
        agent("race@example.com"),
        q(id)
    )
}

async fn write(
    env: &Env,
    method: Method,
    path: &str,
    version: &str,
    precondition: Option<(&str, &str)>,
    body: serde_json::Value,
) -> Answer {
    let mut r = env.req(method.clone(), path, &env.os, Some(version));
    if let Some((h, v)) = precondition {
        r = r.header(h, v);
    }
    if method != Method::DELETE {
        r = r.json(&body);
    }
    r.send().await
}

async fn current(env: &Env, path: &str, version: &str) -> Option<(String, serde_json::Value)> {
    let a = env
        .req(Method::GET, path, &env.os, Some(version))
        .send()
        .await;
    (a.status == 200).then(|| (a.etag(), a.json()))
}

async fn preconditions_are_checked(env: Env) -> Env {
    for v in VERSIONS {
        for path in [profile(&format!("p-{v}")), state(&format!("s-{v}"))] {
            // If-Match on a document that does not exist: 412.
            let a = write(
                &env,
                Method::PUT,
                &path,
                v,
                Some(("If-Match", "\"0000\"")),
                json!({"n": 0}),
            )
            .await;
            assert_eq!(a.status, 412, "{v} {path}: {}", a.json());
            assert!(current(&env, &path, v).await.is_none());
            // Created only if absent.
            let a = write(
                &env,
                Method::PUT,
                &path,
                v,
                Some(("If-None-Match", "*")),
                json!({"n": 1}),
            )
            .await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            let (etag, _) = current(&env, &path, v).await.expect("stored");
            // Exists now: If-None-Match: * fails, for PUT and POST.
            for m in [Method::PUT, Method::POST] {
                let a = write(
                    &env,
                    m.clone(),
                    &path,
                    v,
                    Some(("If-None-Match", "*")),
                    json!({"n": 2}),
                )
                .await;
                assert_eq!(a.status, 412, "{v} {m} {path}: {}", a.json());
            }
            // If-None-Match with the current ETag fails; with another it passes.
            let a = write(
                &env,
                Method::PUT,
                &path,
                v,
                Some(("If-None-Match", &etag)),
                json!({"n": 2}),
            )
            .await;
            assert_eq!(a.status, 412, "{v}: {}", a.json());
            // A stale If-Match fails for PUT, POST and DELETE; nothing changes.
            for m in [Method::PUT, Method::POST, Method::DELETE] {
                let a = write(
                    &env,
                    m.clone(),
                    &path,
                    v,
                    Some(("If-Match", "\"stale\"")),
                    json!({"n": 3}),
                )
                .await;
                assert_eq!(a.status, 412, "{v} {m} {path}: {}", a.json());
                assert!(!a.error().is_empty());
            }
            assert_eq!(
                current(&env, &path, v).await.expect("kept").1,
                json!({"n": 1})
            );
            // The current ETag (also in a list, also `*`) passes.
            let a = write(
                &env,
                Method::PUT,
                &path,
                v,
                Some(("If-Match", &format!("\"x\", {etag}"))),
                json!({"n": 4}),
            )
            .await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            let a = write(
                &env,
                Method::POST,
                &path,
                v,
                Some(("If-Match", "*")),
                json!({"m": 5}),
            )
            .await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            assert_eq!(
                current(&env, &path, v).await.expect("kept").1,
                json!({"n": 4, "m": 5})
            );
            let (etag, _) = current(&env, &path, v).await.expect("stored");
            let a = write(
                &env,
                Method::DELETE,
                &path,
                v,
                Some(("If-Match", &etag)),
                json!(null),
            )
            .await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            assert!(current(&env, &path, v).await.is_none());
        }
    }
    env
}

/// A write without If-Match or If-None-Match: a PUT of a new profile
/// document is a 400 (XAPI-00273, 00287, 00293), a PUT onto an existing
/// document a 409, except State under 1.0.3 (Communication 3.1: "The
/// State Resource will permit PUT, POST and DELETE requests without
/// concurrency headers"), which 2.0.0 no longer exempts; POST and DELETE
/// pass in both versions.
async fn a_write_without_preconditions(env: Env) -> Env {
    for v in VERSIONS {
        for (path, put_conflicts) in [
            (profile(&format!("bare-{v}")), true),
            (state(&format!("bare-{v}")), v == "2.0.0"),
        ] {
            // Nothing there yet: a bare PUT creates a State document; a
            // profile document must be PUT with If-None-Match: * (400).
            let a = write(&env, Method::PUT, &path, v, None, json!({"n": 1})).await;
            if path.contains("/profile") {
                assert_eq!(a.status, 400, "{v} {path}: {}", a.json());
                assert!(a.error().contains("If-None-Match"), "{}", a.error());
                assert!(current(&env, &path, v).await.is_none());
                let a = write(
                    &env,
                    Method::PUT,
                    &path,
                    v,
                    Some(("If-None-Match", "*")),
                    json!({"n": 1}),
                )
                .await;
                assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            } else {
                assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            }
            let a = write(&env, Method::PUT, &path, v, None, json!({"n": 2})).await;
            if put_conflicts {
                assert_eq!(a.status, 409, "{v} {path}: {}", a.json());
                assert!(
                    a.error().contains("If-Match"),
                    "the answer says what to do: {}",
                    a.error()
                );
                assert_eq!(
                    current(&env, &path, v).await.expect("kept").1,
                    json!({"n": 1})
                );
            } else {
                assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            }
            let a = write(&env, Method::POST, &path, v, None, json!({"m": 3})).await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            // A GET whose If-None-Match names the current ETag: 304.
            let (etag, _) = current(&env, &path, v).await.expect("stored");
            let a = env
                .req(Method::GET, &path, &env.os, Some(v))
                .header("If-None-Match", &etag)
                .send()
                .await;
            assert_eq!(a.status, 304, "{v} {path}");
            assert_eq!(a.etag(), etag);
            let a = write(&env, Method::DELETE, &path, v, None, json!(null)).await;
            assert_eq!(a.status, 204, "{v} {path}: {}", a.json());
            assert!(current(&env, &path, v).await.is_none());
        }
    }
    env
}

/// With `[documents] require_preconditions`, the client rules too: under
/// 2.0.0, 428 for a profile POST without either header and a profile DELETE
/// without If-Match; State is not held to them.
async fn strict_preconditions_answer_428(env: Env) -> Env {
    for v in VERSIONS {
        let path = profile(&format!("strict-{v}"));
        let a = write(&env, Method::PUT, &path, v, None, json!({"n": 1})).await;
        assert_eq!(
            a.status,
            400,
            "{v}: a bare profile PUT is a 400 in both modes: {}",
            a.json()
        );
        assert!(
            current(&env, &path, v).await.is_none(),
            "{v}: nothing stored"
        );
        let a = write(
            &env,
            Method::PUT,
            &path,
            v,
            Some(("If-None-Match", "*")),
            json!({"n": 1}),
        )
        .await;
        assert_eq!(a.status, 204, "{v}: {}", a.json());
        let post = write(&env, Method::POST, &path, v, None, json!({"m": 2})).await;
        let delete = write(&env, Method::DELETE, &path, v, None, json!(null)).await;
        if v == "2.0.0" {
            assert_eq!(post.status, 428, "{v}: {}", post.json());
            assert_eq!(delete.status, 428, "{v}: {}", delete.json());
            assert_eq!(
                current(&env, &path, v).await.expect("kept").1,
                json!({"n": 1})
            );
        } else {
            assert_eq!(post.status, 204, "{v}: {}", post.json());
            assert_eq!(delete.status, 204, "{v}: {}", delete.json());
        }
        let s = state(&format!("strict-{v}"));
        let a = write(&env, Method::PUT, &s, v, None, json!({"n": 1})).await;
        assert_eq!(a.status, 204, "{v}: State is not held to the client rules");
    }
    env
}

/// Writers that all read the same ETag, at once: exactly one wins, the others
/// get 412, and the document is the winner's.
async fn of_writers_with_one_etag_exactly_one_wins(env: Env) -> Env {
    const WRITERS: usize = 12;
    for v in VERSIONS {
        for path in [profile(&format!("race-{v}")), state(&format!("race-{v}"))] {
            // Creation: `If-None-Match: *` from every writer.
            let created = futures_join(&env, &path, v, None).await;
            assert_eq!(
                created.iter().filter(|(s, _)| *s == 204).count(),
                1,
                "{v} {path}: {created:?}"
            );
            assert!(
                created.iter().all(|(s, _)| *s == 204 || *s == 412),
                "{v}: {created:?}"
            );
            let (etag, _) = current(&env, &path, v).await.expect("created");
            // Replacement: `If-Match` with the ETag every writer read.
            let replaced = futures_join(&env, &path, v, Some(&etag)).await;
            let winners: Vec<_> = replaced.iter().filter(|(s, _)| *s == 204).collect();
            assert_eq!(winners.len(), 1, "{v} {path}: {replaced:?}");
            assert_eq!(
                replaced.iter().filter(|(s, _)| *s == 412).count(),
                WRITERS - 1,
                "{v}: {replaced:?}"
            );
            let (_, doc) = current(&env, &path, v).await.expect("kept");
            assert_eq!(
                doc["writer"],
                json!(winners[0].1),
                "{v}: the document is the winner's"
            );
        }
    }
    async fn futures_join(env: &Env, path: &str, v: &str, etag: Option<&str>) -> Vec<(u16, usize)> {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..WRITERS {
            let client = env.client.clone();
            let url = format!("{}{path}", env.base);
            let (auth, v) = (env.os.clone(), v.to_owned());
            let replacing = etag.is_some();
            let (h, value) = match etag {
                Some(e) => ("If-Match", e.to_owned()),
                None => ("If-None-Match", "*".to_owned()),
            };
            tasks.spawn(async move {
                let r = client
                    .put(url)
                    .header("Authorization", auth)
                    .header("X-Experience-API-Version", v)
                    .header(h, value)
                    .header("Content-Type", "application/json")
                    // The round in the body: a PUT of the very same bytes
                    // keeps the ETag (it is the content's hash), and another
                    // writer holding it would rightly pass.
                    .body(json!({"writer": n, "replacing": replacing}).to_string())
                    .send()
                    .await
                    .expect("put");
                (r.status().as_u16(), n)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            out.push(r.expect("task"));
        }
        out
    }
    env
}

/// A write of one document and the multiple-document DELETE of its scope,
/// at once: they serialize. The write holds the ETag read before either ran,
/// so whatever the order the document is gone afterwards (deleted after the
/// write, or the write refused with 412 after the delete).
async fn a_write_and_a_delete_of_its_scope_serialize(env: Env) -> Env {
    for round in 0..15 {
        let v = if round % 2 == 0 { "1.0.3" } else { "2.0.0" };
        let path = state(&format!("scope-{round}"));
        let a = write(
            &env,
            Method::PUT,
            &path,
            v,
            Some(("If-None-Match", "*")),
            json!({"n": 0}),
        )
        .await;
        assert_eq!(a.status, 204, "{}", a.json());
        let (etag, _) = current(&env, &path, v).await.expect("created");
        let scope = format!(
            "/xapi/activities/state?activityId={}&agent={}",
            q(ACTIVITY),
            agent("race@example.com")
        );
        let (put, delete) = tokio::join!(
            write(
                &env,
                Method::PUT,
                &path,
                v,
                Some(("If-Match", &etag)),
                json!({"n": round})
            ),
            write(&env, Method::DELETE, &scope, v, None, json!(null)),
        );
        assert_eq!(delete.status, 204, "{}", delete.json());
        assert!(
            put.status == 204 || put.status == 412,
            "{}: {}",
            put.status,
            put.json()
        );
        assert!(
            current(&env, &path, v).await.is_none(),
            "round {round}: the write ({}) came back after the delete of its scope",
            put.status
        );
    }
    env
}

testkit::both!(preconditions_are_checked, on);
testkit::both!(a_write_and_a_delete_of_its_scope_serialize, on);
testkit::both!(a_write_without_preconditions, on);
testkit::both!(strict_preconditions_answer_428, on_config, |c| c
    .documents
    .require_preconditions =
    true);
testkit::both!(of_writers_with_one_etag_exactly_one_wins, on);
