//! The LRS resources' request rules over HTTP, on SQLite and PostgreSQL:
//! 1.0.3's alternate request syntax on every resource, methods not served
//! (405), the version header on every resource, HEAD, `since` on the
//! profile ids lists, merges on the profile resources, parameters that
//! differ only in case, `Last-Modified` after an update, and the Person's
//! `mbox_sha1sum` and `openid`.

mod lrs_env;

use lrs_env::{Env, agent, on, q};
use reqwest::Method;
use serde_json::json;

const ACTIVITY: &str = "http://example.com/activities/course-1";

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.finish().into_bytes()
}

fn agent_json(email: &str) -> String {
    json!({"mbox": format!("mailto:{email}")}).to_string()
}

async fn the_alternate_syntax_on_every_resource(env: Env) -> Env {
    let state = |method: &str| format!("/xapi/activities/state?method={method}");
    let fields = |auth: &str, version: &str| {
        vec![
            ("Authorization".to_owned(), auth.to_owned()),
            ("X-Experience-API-Version".to_owned(), version.to_owned()),
            ("activityId".to_owned(), ACTIVITY.to_owned()),
            ("agent".to_owned(), agent_json("alt@example.com")),
            ("stateId".to_owned(), "bookmark".to_owned()),
        ]
    };
    let send = |path: String, extra: Vec<(String, String)>| {
        let body = form(
            &extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        );
        env.req(Method::POST, &path, "", None)
            .bytes("application/x-www-form-urlencoded", body)
            .send()
    };
    // PUT, GET, POST (merge), DELETE, each a form POST.
    let mut put = fields(&env.os, "1.0.3");
    put.push(("content".into(), json!({"page": 1}).to_string()));
    let a = send(state("PUT"), put).await;
    assert_eq!(a.status, 204, "{}", a.json());
    assert_eq!(a.header("x-experience-api-version"), Some("1.0.3"));
    let mut post = fields(&env.os, "1.0.3");
    post.push(("content".into(), json!({"note": "x"}).to_string()));
    assert_eq!(send(state("POST"), post).await.status, 204);
    let a = send(state("GET"), fields(&env.os, "1.0.3")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"page": 1, "note": "x"}));
    assert!(a.header("etag").is_some());
    assert_eq!(
        send(state("DELETE"), fields(&env.os, "1.0.3")).await.status,
        204
    );
    assert_eq!(
        send(state("GET"), fields(&env.os, "1.0.3")).await.status,
        404
    );

    // The profiles, Agents and Activities.
    let profile = vec![
        ("Authorization".to_owned(), env.os.clone()),
        ("X-Experience-API-Version".to_owned(), "1.0.3".to_owned()),
        ("activityId".to_owned(), ACTIVITY.to_owned()),
        ("profileId".to_owned(), "p".to_owned()),
        ("If-None-Match".to_owned(), "*".to_owned()),
        ("content".to_owned(), json!({"p": 1}).to_string()),
    ];
    let a = send("/xapi/activities/profile?method=PUT".into(), profile).await;
    assert_eq!(a.status, 204, "{}", a.json());
    let person = vec![
        ("Authorization".to_owned(), env.os.clone()),
        ("X-Experience-API-Version".to_owned(), "1.0.3".to_owned()),
        ("agent".to_owned(), agent_json("alt@example.com")),
    ];
    let a = send("/xapi/agents?method=GET".into(), person.clone()).await;
    assert_eq!(a.status, 200, "{}", a.json());
    assert_eq!(a.json()["mbox"], json!(["mailto:alt@example.com"]));
    let mut activity = person.clone();
    activity[2] = ("activityId".to_owned(), ACTIVITY.to_owned());
    let a = send("/xapi/activities?method=GET".into(), activity).await;
    assert_eq!(a.status, 200, "{}", a.json());
    assert_eq!(a.json()["id"], ACTIVITY);
    // The agent profile by form too.
    let agent_profile = vec![
        ("Authorization".to_owned(), env.os.clone()),
        ("X-Experience-API-Version".to_owned(), "1.0.3".to_owned()),
        ("agent".to_owned(), agent_json("alt@example.com")),
    ];
    let a = send("/xapi/agents/profile?method=GET".into(), agent_profile).await;
    assert_eq!((a.status, a.json()), (200, json!([])));

    // Refused: under 2.0.0, another query parameter, another method.
    let a = send(state("GET"), fields(&env.os, "2.0.0")).await;
    assert_eq!(a.status, 400);
    assert!(a.error().contains("2.0"), "{}", a.error());
    let a = send(
        format!("{}&stateId=x", state("GET")),
        fields(&env.os, "1.0.3"),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = send(state("PATCH"), fields(&env.os, "1.0.3")).await;
    assert_eq!(a.status, 400, "{}", a.json());
    assert!(a.error().contains("method"), "{}", a.error());
    let a = send("/xapi/agents?method=PUT".into(), person).await;
    assert_eq!(a.status, 400);
    env
}

async fn methods_versions_and_head_on_every_resource(env: Env) -> Env {
    let paths = [
        format!(
            "/xapi/activities/state?activityId={}&agent={}&stateId=s",
            q(ACTIVITY),
            agent("h@example.com")
        ),
        format!(
            "/xapi/activities/profile?activityId={}&profileId=p",
            q(ACTIVITY)
        ),
        format!(
            "/xapi/agents/profile?agent={}&profileId=p",
            agent("h@example.com")
        ),
        format!("/xapi/agents?agent={}", agent("h@example.com")),
        format!("/xapi/activities?activityId={}", q(ACTIVITY)),
    ];
    for path in &paths {
        // No version: 400, answered with the latest version.
        let a = env.req(Method::GET, path, &env.os, None).send().await;
        assert_eq!(a.status, 400, "{path}");
        assert_eq!(
            a.header("x-experience-api-version"),
            Some("2.0.0"),
            "{path}"
        );
        let a = env
            .req(Method::GET, path, &env.os, Some("3.0.0"))
            .send()
            .await;
        assert_eq!(a.status, 400, "{path}");
    }
    // Stored for the HEADs below.
    for path in &paths[..3] {
        let a = env
            .req(Method::PUT, path, &env.os, Some("2.0.0"))
            .header("If-None-Match", "*")
            .json(&json!({"h": 1}))
            .send()
            .await;
        assert_eq!(a.status, 204, "{path}: {}", a.json());
    }
    for v in ["1.0.3", "2.0.0"] {
        for path in &paths {
            let get = env.req(Method::GET, path, &env.os, Some(v)).send().await;
            let head = env.req(Method::HEAD, path, &env.os, Some(v)).send().await;
            assert_eq!((get.status, head.status), (200, 200), "{v} {path}");
            assert!(head.body.is_empty());
            for h in [
                "content-type",
                "etag",
                "last-modified",
                "x-experience-api-version",
            ] {
                assert_eq!(get.header(h), head.header(h), "{v} {path}: {h}");
            }
        }
        // Agents and Activities are read-only: 405, with the version header.
        for path in &paths[3..] {
            for m in [Method::PUT, Method::DELETE, Method::POST] {
                let a = env
                    .req(m.clone(), path, &env.os, Some(v))
                    .json(&json!({}))
                    .send()
                    .await;
                assert_eq!(a.status, 405, "{v} {m} {path}");
                assert!(
                    a.header("x-experience-api-version").is_some(),
                    "{v} {m} {path}"
                );
            }
        }
    }
    env
}

async fn profile_ids_lists_and_merges(env: Env) -> Env {
    for (base, doc_param) in [
        (
            format!(
                "/xapi/activities/profile?activityId={}",
                q(&format!("{ACTIVITY}/ids"))
            ),
            "profileId",
        ),
        (
            format!("/xapi/agents/profile?agent={}", agent("ids@example.com")),
            "profileId",
        ),
    ] {
        let one = |id: &str| format!("{base}&{doc_param}={id}");
        let put = |id: String, body: serde_json::Value| {
            env.req(Method::PUT, &id, &env.os, Some("1.0.3"))
                .header("If-None-Match", "*")
                .json(&body)
                .send()
        };
        assert_eq!(put(one("first"), json!({"a": 1})).await.status, 204);
        let first = env
            .req(Method::GET, &one("first"), &env.os, Some("1.0.3"))
            .send()
            .await;
        let first_modified = first
            .header("last-modified")
            .expect("Last-Modified")
            .to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time");
        assert_eq!(put(one("second"), json!({"b": 2})).await.status, 204);
        let a = env
            .req(
                Method::GET,
                &format!("{base}&since={}", q(&since)),
                &env.os,
                Some("1.0.3"),
            )
            .send()
            .await;
        assert_eq!(a.json(), json!(["second"]), "{base}");
        // since is for the ids list of a GET only, and must be a timestamp.
        for bad in [
            format!("{base}&since=yesterday"),
            format!("{}&since={}", one("first"), q(&since)),
        ] {
            let a = env
                .req(Method::GET, &bad, &env.os, Some("1.0.3"))
                .send()
                .await;
            assert_eq!(a.status, 400, "{bad}: {}", a.json());
            assert!(a.error().contains("since"), "{}", a.error());
        }
        let a = env
            .req(
                Method::DELETE,
                &format!("{}&since={}", one("first"), q(&since)),
                &env.os,
                Some("1.0.3"),
            )
            .send()
            .await;
        assert_eq!(a.status, 400);
        // A parameter differing only in case is another (unknown) parameter.
        let a = env
            .req(
                Method::GET,
                &format!("{base}&ProfileId=first"),
                &env.os,
                Some("1.0.3"),
            )
            .send()
            .await;
        assert_eq!(a.status, 400);
        assert!(a.error().contains("ProfileId"), "{}", a.error());

        // POST merges on profiles too, and refuses what is not an object.
        let post = |body: Vec<u8>, ct: &'static str| {
            env.req(Method::POST, &one("first"), &env.os, Some("2.0.0"))
                .bytes(ct, body)
                .send()
        };
        assert_eq!(
            post(br#"{"c": 3}"#.to_vec(), "application/json")
                .await
                .status,
            204
        );
        assert_eq!(post(b"[]".to_vec(), "application/json").await.status, 400);
        assert_eq!(
            post(br#"{"d": 4}"#.to_vec(), "text/plain").await.status,
            400
        );
        let after = env
            .req(Method::GET, &one("first"), &env.os, Some("2.0.0"))
            .send()
            .await;
        assert_eq!(after.json(), json!({"a": 1, "c": 3}));
        let modified = after.header("last-modified").expect("Last-Modified");
        let parse = |h: &str| {
            time::PrimitiveDateTime::parse(
                h,
                time::macros::format_description!(
                    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
                ),
            )
            .expect("HTTP date")
        };
        assert!(
            parse(modified) > parse(&first_modified),
            "{modified} after {first_modified}"
        );
        // An If-Match that is not a quoted ETag never matches.
        let a = env
            .req(Method::PUT, &one("first"), &env.os, Some("2.0.0"))
            .header("If-Match", "1234")
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(a.status, 412);
    }
    // Under 2.0.0 an Agent Profile of an identified Group.
    let group = json!({"objectType": "Group", "account": {"homePage": "https://lms.example.com", "name": "team-7"}});
    let path = format!(
        "/xapi/agents/profile?agent={}&profileId=g",
        q(&group.to_string())
    );
    let a = env
        .req(Method::PUT, &path, &env.os, Some("2.0.0"))
        .header("If-None-Match", "*")
        .json(&json!({"team": true}))
        .send()
        .await;
    assert_eq!(a.status, 204, "{}", a.json());
    assert_eq!(
        env.req(Method::GET, &path, &env.os, Some("1.0.3"))
            .send()
            .await
            .status,
        400
    );
    env
}

async fn a_person_lists_every_kind_of_identifier(env: Env) -> Env {
    let sha1 = "ebd31e95054c018b10727ccffd2ef2ec3a016ee9";
    let mut tx = env.store.begin().await.expect("begin");
    let learner = tx
        .upsert_learner("u-p", None, None, lrs_env::T0)
        .await
        .expect("learner");
    for key in [
        format!("sha1:{sha1}"),
        "openid:https://id.example.com/p".to_owned(),
    ] {
        assert!(tx.map_identity(&key, learner).await.expect("map"));
    }
    tx.commit().await.expect("commit");
    for actor in [
        json!({"name": "By hash", "mbox_sha1sum": sha1}),
        json!({"name": "By OpenID", "openid": "https://id.example.com/p"}),
    ] {
        let s = json!({
            "actor": actor,
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": ACTIVITY},
        });
        assert_eq!(env.post_statement(&env.os, &s).await, 200);
    }
    let a = env
        .req(
            Method::GET,
            &format!(
                "/xapi/agents?agent={}",
                q(&json!({"mbox_sha1sum": sha1}).to_string())
            ),
            &env.os,
            Some("2.0.0"),
        )
        .send()
        .await;
    assert_eq!(a.status, 200);
    let p = a.json();
    assert_eq!(p["mbox_sha1sum"], json!([sha1]), "{p}");
    assert_eq!(p["openid"], json!(["https://id.example.com/p"]), "{p}");
    let mut names: Vec<String> = serde_json::from_value(p["name"].clone()).expect("names");
    names.sort();
    assert_eq!(names, ["By OpenID", "By hash"], "{p}");
    env
}

testkit::both!(the_alternate_syntax_on_every_resource, on);
testkit::both!(methods_versions_and_head_on_every_resource, on);
testkit::both!(profile_ids_lists_and_merges, on);
testkit::both!(a_person_lists_every_kind_of_identifier, on);
