//! The catalog read API (`GET /api/v1/courses`, `GET /api/v1/courses/{integration}/{external_id}`)
//! over real HTTP on loopback, on SQLite and on PostgreSQL (the latter with
//! `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL).

mod lms_env;

use std::collections::HashMap;

use lms_env::{Env, ODD_ID, T0, basic, key, on, segment};
use serde_json::{Value, json};

testkit::both!(every_field_of_a_course, on);
testkit::both!(filters, on);
testkit::both!(paging_survives_concurrent_updates, on);
testkit::both!(csv_pages, on);
testkit::both!(one_course_by_odd_external_id, on);
testkit::both!(bad_parameters_are_named, on);
testkit::both!(credentials_are_required, on);

async fn every_field_of_a_course(env: Env) -> Env {
    let (items, next) = env.courses("").await;
    assert_eq!(next, None, "one page");
    assert_eq!(
        items.iter().map(key).collect::<Vec<_>>(),
        [
            "os-acme:full-1",
            "os-acme:plain-2",
            "os-acme:path-3",
            "os-acme:archived-4",
            &format!("os-acme:{ODD_ID}"),
            "ub-acme:1565838",
        ],
        "both kinds, archived or not, in order of their last change"
    );
    assert_eq!(
        items[0],
        json!({
            "integration": "os-acme",
            "provider": "opensesame",
            "lms_group": "g1",
            "external_id": "full-1",
            "kind": "course",
            "name": "Leading Remote Teams, \"well\"",
            "description": "<p>How to lead</p>",
            "image": "https://img.example/full-1.png",
            "duration_minutes": 72,
            "author": "=cmd|' /C calc'!A0",
            "lang": "en",
            "launch_url": "https://opensesame.example/launch/full-1",
            "modified_at": "2024-09-01T00:00:00Z",
            "subjects": ["Leadership", "Remote work"],
            "archived": false,
            "content_type": "video",
            "activity_ids": [
                "https://www.opensesame.com/c/full-1",
                "https://www.opensesame.com/c/full-1-alt"
            ],
            "scorm_course_id": "scorm-full-1",
            "created_at": "2024-09-22T10:13:20Z",
            "updated_at": "2024-09-22T10:13:20Z",
            "archived_at": null,
        })
    );
    let archived = &items[3];
    assert_eq!(archived["archived"], json!(true));
    assert_eq!(archived["archived_at"], json!("2024-09-22T10:13:23Z"));
    assert_eq!(archived["activity_ids"], json!([]));
    assert_eq!(archived["scorm_course_id"], Value::Null);
    assert_eq!(items[2]["kind"], json!("path"));
    // The list and the single route show one shape.
    let one = env.get("/api/v1/courses/os-acme/full-1").await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), items[0]);
    env
}

async fn filters(env: Env) -> Env {
    let odd = format!("os-acme:{ODD_ID}");
    assert_eq!(env.names("integration=ub-acme").await, ["ub-acme:1565838"]);
    assert_eq!(env.names("status=archived").await, ["os-acme:archived-4"]);
    assert_eq!(
        env.names("status=active&integration=os-acme").await,
        ["os-acme:full-1", "os-acme:plain-2", "os-acme:path-3", &odd]
    );
    assert_eq!(env.names("kind=path").await, ["os-acme:path-3"]);
    assert_eq!(
        env.names("kind=course&status=active&integration=os-acme")
            .await,
        ["os-acme:full-1", "os-acme:plain-2", &odd]
    );
    // updated_since is inclusive, in any RFC 3339 offset.
    assert_eq!(
        env.names("updated_since=2024-09-22T10:13:23Z").await,
        ["os-acme:archived-4", &odd, "ub-acme:1565838"]
    );
    assert_eq!(
        env.names("updated_since=2024-09-22T12:13:24%2B02:00").await,
        [odd.as_str(), "ub-acme:1565838"]
    );
    assert!(env.names("integration=nope").await.is_empty());
    // A course archived later shows up as archived and among the latest changes.
    {
        let mut tx = env.store.begin().await.expect("begin");
        let c = tx
            .course_by_external_id("os-acme", "plain-2")
            .await
            .expect("read")
            .expect("course");
        tx.set_course_archived(c.id, true, T0 + 10_000)
            .await
            .expect("archive");
        tx.commit().await.expect("commit");
    }
    assert_eq!(
        env.names("status=archived").await,
        ["os-acme:archived-4", "os-acme:plain-2"]
    );
    let (items, _) = env.courses("updated_since=2024-09-22T10:13:30Z").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["archived_at"], json!("2024-09-22T10:13:30Z"));
    env
}

async fn paging_survives_concurrent_updates(env: Env) -> Env {
    // Ten more courses, so that pages of 3 take several requests.
    for n in 0..10 {
        env.upsert(
            "ub-acme",
            "course",
            &format!("more-{n:02}"),
            "More",
            false,
            T0 + 6_000 + n,
        )
        .await;
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let (items, next) = env.courses(&query).await;
        assert!(items.len() <= 3);
        seen.extend(items);
        pages += 1;
        if pages == 2 {
            // While the consumer pages: a course it passed and one it has
            // not reached yet change.
            env.upsert("os-acme", "course", "full-1", "Renamed", false, T0 + 20_000)
                .await;
            env.upsert(
                "ub-acme",
                "course",
                "more-05",
                "Renamed too",
                false,
                T0 + 20_001,
            )
            .await;
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for i in &seen {
        *count.entry(key(i)).or_default() += 1;
    }
    assert_eq!(count.len(), 16, "every record was listed: {count:?}");
    assert_eq!(count["os-acme:full-1"], 2, "passed, changed, listed again");
    assert_eq!(
        count["ub-acme:more-05"], 1,
        "moved ahead of the cursor: listed once"
    );
    let last_two: Vec<(String, &str)> = seen[seen.len() - 2..]
        .iter()
        .map(|i| (key(i), i["name"].as_str().expect("name")))
        .collect();
    assert_eq!(
        last_two,
        [
            ("os-acme:full-1".to_owned(), "Renamed"),
            ("ub-acme:more-05".to_owned(), "Renamed too")
        ],
        "the latest changes come last, with their new values"
    );
    // The order is (last change, id) throughout.
    let times: Vec<&str> = seen
        .iter()
        .map(|i| i["updated_at"].as_str().expect("updated_at"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by_key(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .expect("time")
    });
    assert_eq!(times, sorted);
    env
}

async fn csv_pages(env: Env) -> Env {
    let a = env.get("/api/v1/courses?format=csv&limit=2").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.headers["content-type"].to_str().expect("type"),
        "text/csv; charset=utf-8"
    );
    let next = a.headers["x-next-cursor"]
        .to_str()
        .expect("cursor")
        .to_owned();
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(
        lines[0],
        ingest_server::catalog::CSV_COLUMNS.join(","),
        "a header line of every scalar field"
    );
    assert_eq!(
        lines[0],
        "integration,provider,lms_group,external_id,kind,name,description,image,duration_minutes,author,lang,launch_url,modified_at,subjects,archived,content_type,activity_ids,scorm_course_id,created_at,updated_at,archived_at"
    );
    assert_eq!(
        lines[1],
        "os-acme,opensesame,g1,full-1,course,\"Leading Remote Teams, \"\"well\"\"\",<p>How to lead</p>,https://img.example/full-1.png,72,'=cmd|' /C calc'!A0,en,https://opensesame.example/launch/full-1,2024-09-01T00:00:00Z,Leadership|Remote work,false,video,https://www.opensesame.com/c/full-1|https://www.opensesame.com/c/full-1-alt,scorm-full-1,2024-09-22T10:13:20Z,2024-09-22T10:13:20Z,",
        "quoted, the formula neutralized, lists joined with |"
    );
    assert_eq!(lines.len(), 3);
    // The CSV cursor continues as the JSON one does; Accept: text/csv works too.
    let b = env
        .send(
            env.client
                .get(format!(
                    "{}/api/v1/courses?limit=50&cursor={next}",
                    env.base
                ))
                .header("Authorization", &env.lms)
                .header("Accept", "text/csv"),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert!(b.headers.get("x-next-cursor").is_none(), "the last page");
    let rows: Vec<&str> = b.text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0].starts_with("os-acme,opensesame,g1,path-3,path,"));
    assert!(
        rows[2].starts_with("os-acme,opensesame,g1,dept/a b?c%d+e,course,"),
        "{}",
        rows[2]
    );
    // An explicit format=json wins over the Accept header.
    let c = env
        .send(
            env.client
                .get(format!("{}/api/v1/courses?format=json", env.base))
                .header("Authorization", &env.lms)
                .header("Accept", "text/csv"),
        )
        .await;
    assert_eq!(c.json()["items"].as_array().map(Vec::len), Some(6));
    env
}

async fn one_course_by_odd_external_id(env: Env) -> Env {
    let a = env
        .get(&format!("/api/v1/courses/os-acme/{}", segment(ODD_ID)))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    assert_eq!(j["external_id"], json!(ODD_ID));
    assert_eq!(j["name"], json!(format!("Course {ODD_ID}")));
    let path = env.get("/api/v1/courses/os-acme/path-3").await;
    assert_eq!(path.json()["kind"], json!("path"));
    let missing = env.get("/api/v1/courses/os-acme/dept%2Fnope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["error"],
        json!("course \"dept/nope\" not found in integration \"os-acme\"")
    );
    let no_integration = env.get("/api/v1/courses/os-nope/full-1").await;
    assert_eq!(no_integration.status, 404);
    assert_eq!(
        no_integration.json()["error"],
        json!("integration \"os-nope\" not found")
    );
    // A course of another integration is not found under this one.
    let other = env.get("/api/v1/courses/os-acme/1565838").await;
    assert_eq!(other.status, 404);
    let extra = env.get("/api/v1/courses/os-acme/full-1?format=csv").await;
    assert_eq!(extra.status, 400);
    assert_eq!(extra.json()["error"], json!("format: unknown parameter"));
    env
}

async fn bad_parameters_are_named(env: Env) -> Env {
    for (query, message) in [
        ("status=gone", "status: must be active or archived"),
        (
            "kind=module",
            "kind: must be course or path (both when not given)",
        ),
        ("limit=0", "limit: must be between 1 and 50"),
        ("limit=51", "limit: must be between 1 and 50"),
        ("limit=ten", "limit: must be between 1 and 50"),
        (
            "cursor=%21%21",
            "cursor: malformed (use the next_cursor of a previous page)",
        ),
        // base64 of "1:2:3": a statistics cursor, not a catalog one
        (
            "cursor=MToyOjM",
            "cursor: malformed (use the next_cursor of a previous page)",
        ),
        ("format=xml", "format: must be json or csv"),
        ("since=2024-01-01T00:00:00Z", "since: unknown parameter"),
    ] {
        let a = env.get(&format!("/api/v1/courses?{query}")).await;
        assert_eq!(a.status, 400, "{query}: {}", a.text);
        assert_eq!(a.json()["error"], json!(message), "{query}");
    }
    let a = env.get("/api/v1/courses?updated_since=yesterday").await;
    assert_eq!(a.status, 400);
    let error = a.json()["error"].as_str().expect("error").to_owned();
    assert!(error.starts_with("updated_since: "), "{error}");
    env
}

async fn credentials_are_required(env: Env) -> Env {
    let wrong = basic("lms_test", "not-the-secret");
    for path in ["/api/v1/courses", "/api/v1/courses/os-acme/full-1"] {
        for auth in [None, Some(wrong.as_str()), Some(env.provider.as_str())] {
            let a = env.get_as(path, auth).await;
            assert_eq!(a.status, 401, "{path} {auth:?}: {}", a.text);
            assert!(a.headers.contains_key("www-authenticate"));
        }
    }
    // Credentials are checked before parameters.
    let a = env.get_as("/api/v1/courses?status=gone", None).await;
    assert_eq!(a.status, 401);
    env
}
