//! `POST /api/v1/launch-links` over real HTTP on loopback, on SQLite and on
//! PostgreSQL (the latter with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL):
//! the minted link, and the CLI's, launch on the same server.

mod lms_env;

use ingest_server::config::Config;
use lms_env::{Env, LAUNCH_SECRET, ODD_ID, on, on_without_secret};
use serde_json::{Value, json};

testkit::both!(launch_links_open_the_course, on);
testkit::both!(launch_links_refuse_bad_requests, on);
testkit::both!(launch_links_need_a_secret, on_without_secret);

async fn launch_links_open_the_course(env: Env) -> Env {
    let request = json!({
        "integration": "os-acme",
        "course": ODD_ID,
        "learner": "u-9",
        "email": "Grace.Hopper@example.com",
        "entry": "path:path-3",
        "ttl_secs": 600,
    });
    let a = env
        .post("/api/v1/launch-links", Some(&env.lms), &request.to_string())
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let body = a.json();
    let url = body["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/launch/os-acme/dept%2Fa%20b%3Fc%25d%2Be?",
            env.base
        )),
        "on public_url, the id percent-encoded: {url}"
    );
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let expires =
        time::OffsetDateTime::parse(body["expires_at"].as_str().expect("expires_at"), rfc3339)
            .expect("RFC 3339")
            .unix_timestamp();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 595..=now + 601).contains(&expires),
        "{expires} vs {now}"
    );
    // The very link the CLI mints (one function makes both).
    let config = Config {
        public_url: env.base.clone(),
        launch_secret: Some(LAUNCH_SECRET.into()),
        ..Default::default()
    };
    let same = ingest_server::launch::mint_link(
        &config,
        ingest_server::launch::LaunchTarget::Course {
            integration: "os-acme",
            course: ODD_ID,
        },
        "u-9",
        Some("Grace.Hopper@example.com"),
        "path:path-3",
        600,
        expires - 600,
    )
    .expect("mint");
    assert_eq!(same.url, url);
    // Following it launches the course: a redirect to the catalog's launch
    // URL, and a statistic launched from the LMS.
    let r = env.client.get(&url).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        "https://provider.example/launch/dept%2Fa%20b%3Fc%25d%2Be"
    );
    let stats = env.get("/api/v1/statistics?learner=u-9").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let items = stats.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["course"], json!(ODD_ID));
    assert_eq!(items[0]["launched_from_lms"], json!(true));
    assert_eq!(items[0]["attempts"][0]["entry"], json!({"path": "path-3"}));
    // Defaults: entry catalog, 300 s; and an edited link is refused.
    let a = env
        .post(
            "/api/v1/launch-links",
            Some(&env.lms),
            r#"{"integration": "os-acme", "course": "full-1", "learner": "u-10"}"#,
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let url = a.json()["url"].as_str().expect("url").to_owned();
    assert!(url.contains("entry=catalog"), "{url}");
    let r = env.client.get(&url).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        "https://opensesame.example/launch/full-1"
    );
    let edited = url.replace("learner=u-10", "learner=u-11");
    let r = env.client.get(&edited).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 403);
    // The CLI prints a link of the same form that this server accepts.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .args([
            "launch-link",
            "--integration",
            "os-acme",
            "--course",
            ODD_ID,
        ])
        .args(["--learner", "u-12", "--ttl", "60"])
        .env("COURSEBRIDGE_PUBLIC_URL", &env.base)
        .env("COURSEBRIDGE_LAUNCH_SECRET", LAUNCH_SECRET)
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = String::from_utf8(out.stdout).expect("utf-8");
    let cli = cli.trim();
    assert!(
        cli.starts_with(&format!(
            "{}/launch/os-acme/dept%2Fa%20b%3Fc%25d%2Be?learner=u-12&entry=catalog&exp=",
            env.base
        )),
        "{cli}"
    );
    let r = env.client.get(cli).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    env
}

async fn launch_links_refuse_bad_requests(env: Env) -> Env {
    let ok = json!({"integration": "os-acme", "course": "full-1", "learner": "u-1"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b.to_string()
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().expect("object").remove(k);
        b.to_string()
    };
    let ttl_rule = "ttl_secs: must be a whole number of seconds between 1 and 86400";
    for (body, status, message) in [
        (without("integration"), 400, "integration: missing"),
        (without("course"), 400, "course: missing"),
        (without("learner"), 400, "learner: missing"),
        (
            with("learner", json!(" ")),
            400,
            "learner: must not be empty",
        ),
        (with("learner", json!(42)), 400, "learner: must be a string"),
        (with("course", Value::Null), 400, "course: missing"),
        (
            with("email", json!("not-an-email")),
            400,
            "email: not an email address",
        ),
        (
            with("entry", json!("module")),
            400,
            "entry: must be catalog or path:<path id>",
        ),
        (
            with("entry", json!("path:")),
            400,
            "entry: must be catalog or path:<path id>",
        ),
        (with("ttl_secs", json!(0)), 400, ttl_rule),
        (with("ttl_secs", json!(86_401)), 400, ttl_rule),
        (with("ttl_secs", json!("60")), 400, ttl_rule),
        (with("ttl_secs", json!(1.5)), 400, ttl_rule),
        (
            with("redirect", json!("https://evil.example")),
            400,
            "redirect: unknown field (known: integration, course, learner, email, entry, ttl_secs)",
        ),
        ("[1, 2]".to_owned(), 400, "body: must be a JSON object"),
        (
            with("integration", json!("os-nope")),
            404,
            "integration \"os-nope\" not found",
        ),
        (
            with("course", json!("nope")),
            404,
            "course \"nope\" not found in integration \"os-acme\"",
        ),
        (
            with("course", json!("1565838")),
            404,
            "course \"1565838\" not found in integration \"os-acme\"",
        ),
        (
            with("course", json!("archived-4")),
            409,
            "course \"archived-4\" is archived",
        ),
        (
            with("course", json!("path-3")),
            409,
            "course \"path-3\" is a learning path: links open its courses (entry path:path-3)",
        ),
    ] {
        let a = env
            .post("/api/v1/launch-links", Some(&env.lms), &body)
            .await;
        assert_eq!(a.status, status, "{body}: {}", a.text);
        assert_eq!(a.json()["error"], json!(message), "{body}");
    }
    let a = env
        .post("/api/v1/launch-links", Some(&env.lms), "{not json")
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.json()["error"]
            .as_str()
            .expect("error")
            .starts_with("body: ")
    );
    for auth in [None, Some(env.provider.as_str())] {
        let a = env
            .post("/api/v1/launch-links", auth, &ok.to_string())
            .await;
        assert_eq!(a.status, 401, "{auth:?}: {}", a.text);
    }
    env
}

async fn launch_links_need_a_secret(env: Env) -> Env {
    let a = env
        .post(
            "/api/v1/launch-links",
            Some(&env.lms),
            &json!({"integration": "os-acme", "course": "full-1", "learner": "u-1"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(
        a.json()["error"],
        json!(
            "launch links are not configured on this server: set launch_secret (COURSEBRIDGE_LAUNCH_SECRET)"
        )
    );
    env
}
