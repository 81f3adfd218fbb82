//! The xAPI Document resources over HTTP — State, Activity Profile, Agent
//! Profile — on SQLite and PostgreSQL, under xAPI 1.0.3 and 2.0.0: storing
//! and reading documents (JSON and binary), ids lists with `since`, JSON
//! merging on POST, deletes, limits, bad parameters, tenancy, restarts.
//! Concurrency (ETags and preconditions) is `documents_concurrency.rs`.

mod lrs_env;

use lrs_env::{Answer, Env, MAX_DOCUMENT, agent, on, q};
use reqwest::Method;
use serde_json::json;
use sha1::{Digest, Sha1};

const ACTIVITY: &str = "http://example.com/activities/course-1";
const VERSIONS: [&str; 2] = ["1.0.3", "2.0.0"];

fn state_path(email: &str, state_id: Option<&str>, extra: &str) -> String {
    let mut p = format!(
        "/xapi/activities/state?activityId={}&agent={}",
        q(ACTIVITY),
        agent(email)
    );
    if let Some(id) = state_id {
        p.push_str(&format!("&stateId={}", q(id)));
    }
    p.push_str(extra);
    p
}

fn sha1_etag(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    format!(
        "\"{}\"",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

async fn put(env: &Env, path: &str, version: &str, body: &serde_json::Value) -> Answer {
    env.req(Method::PUT, path, &env.os, Some(version))
        .header("If-None-Match", "*")
        .json(body)
        .send()
        .await
}

async fn get(env: &Env, path: &str, version: &str) -> Answer {
    env.req(Method::GET, path, &env.os, Some(version))
        .send()
        .await
}

async fn state_round_trip(env: Env) -> Env {
    for v in VERSIONS {
        let email = format!("ada-{v}@example.com");
        let path = state_path(&email, Some("bookmark"), "");
        let body = json!({"page": 3, "note": "ünïcode"});
        let a = put(&env, &path, v, &body).await;
        assert_eq!(a.status, 204, "{v}: {}", a.json());
        assert_eq!(a.header("x-experience-api-version"), Some(v));
        let stored_etag = a.etag();

        let a = get(&env, &path, v).await;
        assert_eq!(a.status, 200, "{v}");
        assert_eq!(a.json(), body, "{v}: the document as stored");
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(
            a.etag(),
            sha1_etag(&a.body),
            "{v}: the ETag is the SHA-1 of the content"
        );
        assert_eq!(a.etag(), stored_etag, "{v}");
        assert!(
            a.header("last-modified")
                .is_some_and(|l| l.ends_with(" GMT"))
        );
        assert_eq!(a.header("x-experience-api-version"), Some(v));

        // HEAD: the same headers, no body.
        let h = env.req(Method::HEAD, &path, &env.os, Some(v)).send().await;
        assert_eq!(h.status, 200);
        assert!(h.body.is_empty());
        assert_eq!(h.etag(), stored_etag);

        // Another agent, another registration, another activity: other documents.
        for other in [
            state_path("grace@example.com", Some("bookmark"), ""),
            state_path(
                &email,
                Some("bookmark"),
                &format!("&registration={}", uuid::Uuid::new_v4()),
            ),
            format!(
                "/xapi/activities/state?activityId={}&agent={}&stateId=bookmark",
                q("http://example.com/activities/other"),
                agent(&email)
            ),
        ] {
            assert_eq!(get(&env, &other, v).await.status, 404, "{v}: {other}");
        }
        // The agent's email is one person whatever its case.
        let upper = state_path(
            &email.to_uppercase().replace("MAILTO", "mailto"),
            Some("bookmark"),
            "",
        );
        assert_eq!(get(&env, &upper, v).await.json(), body, "{v}");

        // Replaced by a PUT with the right If-Match.
        let a = env
            .req(Method::PUT, &path, &env.os, Some(v))
            .header("If-Match", &stored_etag)
            .json(&json!({"page": 4}))
            .send()
            .await;
        assert_eq!(a.status, 204, "{}", a.json());
        assert_eq!(
            get(&env, &path, v).await.json(),
            json!({"page": 4}),
            "{v}: replaced, not merged"
        );

        // Deleted.
        let a = env
            .req(Method::DELETE, &path, &env.os, Some(v))
            .send()
            .await;
        assert_eq!(a.status, 204, "{}", a.json());
        assert_eq!(get(&env, &path, v).await.status, 404);
    }
    env
}

async fn ids_lists_and_since(env: Env) -> Env {
    for v in VERSIONS {
        let email = format!("ids-{v}@example.com");
        let registration = uuid::Uuid::new_v4().to_string();
        let reg = format!("&registration={registration}");
        for id in ["a", "b"] {
            assert_eq!(
                put(
                    &env,
                    &state_path(&email, Some(id), ""),
                    v,
                    &json!({"id": id})
                )
                .await
                .status,
                204
            );
        }
        assert_eq!(
            put(&env, &state_path(&email, Some("c"), &reg), v, &json!({}))
                .await
                .status,
            204
        );
        let list = get(&env, &state_path(&email, None, ""), v).await;
        assert_eq!(list.status, 200, "{}", list.json());
        let mut ids: Vec<String> = serde_json::from_value(list.json()).expect("ids");
        ids.sort();
        assert_eq!(ids, ["a", "b"], "{v}: the documents without registration");
        let with_reg = get(&env, &state_path(&email, None, &reg), v).await.json();
        assert_eq!(with_reg, json!(["c"]), "{v}: the registration's documents");

        // since: only what changed after it.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let a = env
            .req(
                Method::PUT,
                &state_path(&email, Some("b"), ""),
                &env.os,
                Some(v),
            )
            .header(
                "If-Match",
                &get(&env, &state_path(&email, Some("b"), ""), v)
                    .await
                    .etag(),
            )
            .json(&json!({"id": "b", "again": true}))
            .send()
            .await;
        assert_eq!(a.status, 204);
        let changed = get(
            &env,
            &state_path(&email, None, &format!("&since={}", q(&since))),
            v,
        )
        .await;
        assert_eq!(changed.json(), json!(["b"]), "{v}: changed since {since}");
        assert!(changed.header("last-modified").is_some());

        // The multiple-document DELETE: the scope's documents, not the registration's.
        let a = env
            .req(
                Method::DELETE,
                &state_path(&email, None, ""),
                &env.os,
                Some(v),
            )
            .send()
            .await;
        assert_eq!(a.status, 204, "{}", a.json());
        assert_eq!(
            get(&env, &state_path(&email, None, ""), v).await.json(),
            json!([])
        );
        assert_eq!(
            get(&env, &state_path(&email, None, &reg), v).await.json(),
            json!(["c"])
        );
    }
    env
}

async fn post_merges_json_objects(env: Env) -> Env {
    for v in VERSIONS {
        let path = state_path(&format!("merge-{v}@example.com"), Some("progress"), "");
        let post = |body: serde_json::Value| {
            env.req(Method::POST, &path, &env.os, Some(v))
                .json(&body)
                .send()
        };
        // Nothing stored: the posted object is stored.
        assert_eq!(post(json!({"a": 1, "b": {"x": 1}})).await.status, 204);
        // Merged at the top level; the posted value wins.
        let a = post(json!({"b": {"y": 2}, "c": 3})).await;
        assert_eq!(a.status, 204, "{}", a.json());
        let got = get(&env, &path, v).await;
        assert_eq!(got.json(), json!({"a": 1, "b": {"y": 2}, "c": 3}), "{v}");
        assert_eq!(
            got.etag(),
            a.etag(),
            "{v}: the POST answers the merged document's ETag"
        );

        // Not JSON, or not an object: 400, nothing changed.
        for (ct, body) in [
            ("application/json", b"[1, 2]".to_vec()),
            ("application/json", b"{not json".to_vec()),
            ("text/plain", b"{\"d\": 4}".to_vec()),
        ] {
            let a = env
                .req(Method::POST, &path, &env.os, Some(v))
                .bytes(ct, body.clone())
                .send()
                .await;
            assert_eq!(
                a.status,
                400,
                "{v}: {ct} {}",
                String::from_utf8_lossy(&body)
            );
            assert!(!a.error().is_empty());
        }
        assert_eq!(
            get(&env, &path, v).await.json(),
            json!({"a": 1, "b": {"y": 2}, "c": 3})
        );

        // Nothing stored: whatever is posted is stored as a PUT would
        // (XAPI-00233, 00280, 00310), JSON or not.
        for (n, (ct, body)) in [
            ("text/plain", b"1".to_vec()),
            ("application/x-www-form-urlencoded", b"true".to_vec()),
        ]
        .into_iter()
        .enumerate()
        {
            let fresh = state_path(
                &format!("merge-{v}@example.com"),
                Some(&format!("fresh-{n}")),
                "",
            );
            let a = env
                .req(Method::POST, &fresh, &env.os, Some(v))
                .bytes(ct, body.clone())
                .send()
                .await;
            assert_eq!(a.status, 204, "{v}: {ct}: {}", a.json());
            let got = get(&env, &fresh, v).await;
            assert_eq!(got.body, body);
            assert_eq!(got.header("content-type"), Some(ct));
        }

        // A merge past the size limit: 413, nothing changed.
        let big = state_path(&format!("merge-{v}@example.com"), Some("big"), "");
        let half = "x".repeat(MAX_DOCUMENT / 2);
        let a = env
            .req(Method::POST, &big, &env.os, Some(v))
            .json(&json!({"a": half}))
            .send()
            .await;
        assert_eq!(a.status, 204, "{}", a.json());
        let a = env
            .req(Method::POST, &big, &env.os, Some(v))
            .json(&json!({"b": half}))
            .send()
            .await;
        assert_eq!(a.status, 413, "{v}: {}", a.json());
        assert!(a.error().contains("merged"), "{}", a.error());
        assert_eq!(get(&env, &big, v).await.json(), json!({"a": half}));

        // A binary document is not merged into.
        let bin = state_path(&format!("merge-{v}@example.com"), Some("binary"), "");
        let a = env
            .req(Method::PUT, &bin, &env.os, Some(v))
            .bytes("application/octet-stream", vec![0, 159, 146, 150])
            .send()
            .await;
        assert_eq!(a.status, 204);
        let a = env
            .req(Method::POST, &bin, &env.os, Some(v))
            .json(&json!({"a": 1}))
            .send()
            .await;
        assert_eq!(a.status, 400, "{v}: {}", a.json());
        assert!(a.error().contains("stored"), "{}", a.error());
    }
    env
}

async fn binary_documents_keep_bytes_and_type(env: Env) -> Env {
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    for v in VERSIONS {
        let path = format!(
            "/xapi/activities/profile?activityId={}&profileId={}",
            q(ACTIVITY),
            q(&format!("thumbnail-{v}"))
        );
        let a = env
            .req(Method::PUT, &path, &env.os, Some(v))
            .header("If-None-Match", "*")
            .bytes("image/png", content.clone())
            .send()
            .await;
        assert_eq!(a.status, 204, "{}", a.json());
        let a = get(&env, &path, v).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body, content, "{v}: the bytes as stored");
        assert_eq!(a.header("content-type"), Some("image/png"));
        assert_eq!(a.etag(), sha1_etag(&content));
    }
    env
}

async fn profiles_by_profile_id(env: Env) -> Env {
    for v in VERSIONS {
        let activity_profile = |id: Option<&str>| {
            format!(
                "/xapi/activities/profile?activityId={}{}",
                q(&format!("{ACTIVITY}/{v}")),
                id.map(|i| format!("&profileId={}", q(i)))
                    .unwrap_or_default()
            )
        };
        let agent_profile = |id: Option<&str>| {
            format!(
                "/xapi/agents/profile?agent={}{}",
                agent(&format!("profile-{v}@example.com")),
                id.map(|i| format!("&profileId={}", q(i)))
                    .unwrap_or_default()
            )
        };
        for path in [
            &activity_profile as &dyn Fn(Option<&str>) -> String,
            &agent_profile,
        ] {
            for id in ["p1", "p2"] {
                let a = put(&env, &path(Some(id)), v, &json!({"profile": id})).await;
                assert_eq!(a.status, 204, "{v}: {}", a.json());
            }
            let mut ids: Vec<String> =
                serde_json::from_value(get(&env, &path(None), v).await.json()).expect("ids");
            ids.sort();
            assert_eq!(ids, ["p1", "p2"], "{v}: {}", path(None));
            assert_eq!(
                get(&env, &path(Some("p1")), v).await.json(),
                json!({"profile": "p1"})
            );
            let etag = get(&env, &path(Some("p2")), v).await.etag();
            let a = env
                .req(Method::DELETE, &path(Some("p2")), &env.os, Some(v))
                .header("If-Match", &etag)
                .send()
                .await;
            assert_eq!(a.status, 204, "{}", a.json());
            assert_eq!(get(&env, &path(None), v).await.json(), json!(["p1"]));
            // A profile DELETE names its profile.
            let a = env
                .req(Method::DELETE, &path(None), &env.os, Some(v))
                .send()
                .await;
            assert_eq!(a.status, 400, "{v}: {}", path(None));
            assert!(a.error().contains("profileId"), "{}", a.error());
        }
    }
    env
}

async fn bad_requests_are_refused_naming_the_parameter(env: Env) -> Env {
    let good = state_path("bad@example.com", Some("s"), "");
    for v in VERSIONS {
        for (path, param) in [
            (
                format!(
                    "/xapi/activities/state?agent={}&stateId=s",
                    agent("bad@example.com")
                ),
                "activityId",
            ),
            (
                format!(
                    "/xapi/activities/state?activityId={}&stateId=s",
                    q(ACTIVITY)
                ),
                "agent",
            ),
            (format!("{good}&colour=red"), "colour"),
            (format!("{good}&stateId=t"), "stateId"),
            (
                state_path("bad@example.com", Some("s"), "&registration=not-a-uuid"),
                "registration",
            ),
            (
                format!(
                    "/xapi/activities/state?activityId=not%20an%20iri&agent={}&stateId=s",
                    agent("bad@example.com")
                ),
                "activityId",
            ),
            (
                format!(
                    "/xapi/activities/state?activityId={}&agent={}&stateId=s",
                    q(ACTIVITY),
                    q("{\"mbox\": \"ada@example.com\"}")
                ),
                "agent",
            ),
            (
                format!(
                    "/xapi/activities/state?activityId={}&agent={}&stateId=s",
                    q(ACTIVITY),
                    q("{not json")
                ),
                "agent",
            ),
            (format!("/xapi/agents/profile?agent={}", q("{}")), "agent"),
        ] {
            let a = env.req(Method::GET, &path, &env.os, Some(v)).send().await;
            assert_eq!(a.status, 400, "{v}: {path}: {}", a.json());
            assert!(
                a.error().contains(param),
                "{v}: {path}: {} does not name {param}",
                a.error()
            );
            assert_eq!(a.header("x-experience-api-version"), Some(v));
        }
        // What no index can hold, or no engine store, as a key: 400.
        for (path, param) in [
            (
                state_path("bad@example.com", Some("nul\u{0}id"), ""),
                "stateId",
            ),
            (
                state_path("bad@example.com", Some(&"x".repeat(601)), ""),
                "stateId",
            ),
            (
                format!(
                    "/xapi/activities/state?activityId={}&agent={}&stateId=s",
                    q(&format!("http://example.com/{}", "a".repeat(1000))),
                    agent("bad@example.com")
                ),
                "activityId",
            ),
        ] {
            let a = env
                .req(Method::PUT, &path, &env.os, Some(v))
                .json(&json!({}))
                .send()
                .await;
            assert_eq!(a.status, 400, "{v}: {}", a.json());
            assert!(a.error().contains(param), "{}", a.error());
        }
        // A PUT needs its id.
        let a = env
            .req(
                Method::PUT,
                &state_path("bad@example.com", None, ""),
                &env.os,
                Some(v),
            )
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(a.status, 400);
        assert!(a.error().contains("stateId"), "{}", a.error());
        // JSON that is not JSON.
        let a = env
            .req(Method::PUT, &good, &env.os, Some(v))
            .bytes("application/json", b"{\"a\": ".to_vec())
            .send()
            .await;
        assert_eq!(a.status, 400, "{}", a.json());
        // Too large: 413, nothing stored.
        let a = env
            .req(Method::PUT, &good, &env.os, Some(v))
            .bytes("application/octet-stream", vec![7; MAX_DOCUMENT + 1])
            .send()
            .await;
        assert_eq!(a.status, 413, "{}", a.json());
        assert_eq!(get(&env, &good, v).await.status, 404);
    }
    // No version: 400, answered as the latest version.
    let a = env.req(Method::GET, &good, &env.os, None).send().await;
    assert_eq!(a.status, 400);
    assert!(
        a.error().contains("X-Experience-API-Version"),
        "{}",
        a.error()
    );
    assert_eq!(a.header("x-experience-api-version"), Some("2.0.0"));
    // No credentials: 401.
    let a = env
        .req(Method::GET, &good, "Basic eDp5", Some("1.0.3"))
        .send()
        .await;
    assert_eq!(a.status, 401);
    env
}

async fn integrations_do_not_share_documents(env: Env) -> Env {
    let path = state_path("tenant@example.com", Some("s"), "");
    let a = put(&env, &path, "1.0.3", &json!({"owner": "os"})).await;
    assert_eq!(a.status, 204);
    let as_ub = |m: Method| env.req(m, &path, &env.ub, Some("1.0.3"));
    assert_eq!(
        as_ub(Method::GET).send().await.status,
        404,
        "another integration's document is not there"
    );
    assert_eq!(
        env.req(
            Method::GET,
            &state_path("tenant@example.com", None, ""),
            &env.ub,
            Some("1.0.3")
        )
        .send()
        .await
        .json(),
        json!([])
    );
    assert_eq!(as_ub(Method::DELETE).send().await.status, 204);
    assert_eq!(
        env.req(
            Method::DELETE,
            &state_path("tenant@example.com", None, ""),
            &env.ub,
            Some("1.0.3")
        )
        .send()
        .await
        .status,
        204
    );
    // Its own document under the same key, created as new.
    let a = as_ub(Method::PUT)
        .header("If-None-Match", "*")
        .json(&json!({"owner": "ub"}))
        .send()
        .await;
    assert_eq!(a.status, 204, "{}", a.json());
    assert_eq!(
        get(&env, &path, "1.0.3").await.json(),
        json!({"owner": "os"}),
        "untouched"
    );
    assert_eq!(
        as_ub(Method::GET).send().await.json(),
        json!({"owner": "ub"})
    );
    env
}

async fn documents_survive_a_restart(env: Env) -> Env {
    let path = state_path("durable@example.com", Some("s"), "");
    assert_eq!(
        put(&env, &path, "2.0.0", &json!({"kept": true}))
            .await
            .status,
        204
    );
    let env = env.restart().await;
    let a = get(&env, &path, "2.0.0").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"kept": true}));
    env
}

testkit::both!(state_round_trip, on);
testkit::both!(ids_lists_and_since, on);
testkit::both!(post_merges_json_objects, on);
testkit::both!(binary_documents_keep_bytes_and_type, on);
testkit::both!(profiles_by_profile_id, on);
testkit::both!(bad_requests_are_refused_naming_the_parameter, on);
testkit::both!(integrations_do_not_share_documents, on);
testkit::both!(documents_survive_a_restart, on);
