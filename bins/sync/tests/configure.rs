//! `coursebridge-sync configure` as an operator runs it (issue 29), catalog
//! providers: an active integration's settings change in place — a moved
//! `base_url`, a rotated client id and secret variable — and the next run
//! uses them with the same course records, none archived, none duplicated; a
//! bad value changes nothing and names the setting; the history lists keys,
//! never values. Against two fake OpenSesame APIs on loopback; SQLite, and
//! PostgreSQL with `--ignored`. SCORM Cloud: `configure_scorm.rs`.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use common::{Snapshot, on, snapshot, sync};
use serde_json::{Value, json};

/// A fake OpenSesame API that accepts one client id and secret.
struct Fake {
    base: String,
    client: &'static str,
    secret: &'static str,
    courses: Vec<Value>,
    token_fetches: u32,
    content_requests: u32,
}

type Shared = Arc<Mutex<Fake>>;

struct Json(Value);
impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([("content-type", "application/json")], self.0.to_string()).into_response()
    }
}

async fn token(State(s): State<Shared>, h: HeaderMap) -> Response {
    let mut f = s.lock().expect("lock");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", f.client, f.secret))
    );
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    f.token_fetches += 1;
    Json(json!({"access_token": format!("tok-{}", f.token_fetches), "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}

async fn content(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let mut f = s.lock().expect("lock");
    f.content_requests += 1;
    let bearer = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer tok-"));
    if !bearer || f.token_fetches == 0 {
        return (StatusCode::UNAUTHORIZED, "no token").into_response();
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let start = (page - 1) * 50;
    let items: Vec<Value> = f.courses.iter().skip(start).take(50).cloned().collect();
    let next = if f.courses.len() > start + 50 {
        format!(
            "{}/v1/content?customerIntegrationId=ci-1&limit=50&page={}",
            f.base,
            page + 1
        )
    } else {
        String::new()
    };
    Json(json!({"data": items, "paging": {"next": next}})).into_response()
}

async fn start_fake(client: &'static str, secret: &'static str, courses: Vec<Value>) -> Shared {
    let shared: Shared = Arc::new(Mutex::new(Fake {
        base: String::new(),
        client,
        secret,
        courses,
        token_fetches: 0,
        content_requests: 0,
    }));
    let app = axum::Router::new()
        .route("/oauth2/aus1/v1/token", post(token))
        .route("/v1/content", get(content))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    shared.lock().expect("lock").base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    shared
}

fn os_course(i: usize) -> Value {
    json!({"id": format!("os-{i:04}"), "title": format!("Course {i}"), "duration": "00:30:00", "languages": ["en"],
           "categories": ["|Skills|Topic"], "publisherName": "Pub", "active": true,
           "quickLaunchUrl": format!("https://os.example/launch/{i}"), "type": "course"})
}

fn counts(f: &Shared) -> (u32, u32) {
    let f = f.lock().expect("lock");
    (f.token_fetches, f.content_requests)
}

fn report(out: &str) -> Value {
    serde_json::from_str(out.trim()).expect("one JSON report")
}

testkit::both!(
    a_moved_api_and_rotated_credentials_keep_the_same_courses,
    on
);
async fn a_moved_api_and_rotated_credentials_keep_the_same_courses(db: String, _dir: PathBuf) {
    let db = db.as_str();
    let courses: Vec<Value> = (0..60).map(os_course).collect();
    let a = start_fake("os-client", "secret-a", courses.clone()).await;
    let b = start_fake("os-client-2", "secret-b", courses).await;
    let (base_a, base_b) = (
        a.lock().expect("lock").base.clone(),
        b.lock().expect("lock").base.clone(),
    );
    let setting = |k: &str, v: &str| format!("{k}={v}");
    let activation = [
        setting("base_url", &base_a),
        setting("token_url", &format!("{base_a}/oauth2/aus1/v1/token")),
        setting("customer_integration_id", "ci-1"),
        setting("client_id", "os-client"),
        setting("client_secret_env", "CB_TEST_OS_SECRET_A"),
    ];
    let mut args = vec![
        "activate",
        "--integration",
        "os-acme",
        "--provider",
        "opensesame",
        "--group",
        "g1",
        "--author",
        "admin@acme.example",
    ];
    for s in &activation {
        args.extend(["--setting", s.as_str()]);
    }
    let (code, _, err) = sync(db, &args).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sync(db, &["run", "--integration", "os-acme", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(report(&out)["created"], 60, "{out}");
    let before = snapshot(db, "os-acme").await;
    let used_a = counts(&a);
    assert_eq!(used_a.0, 1, "{used_a:?}");

    // a bad value: refused, named with its rule, nothing written (the other,
    // valid, setting of the same command included)
    for (bad, names, rule) in [
        (
            vec![
                "--setting",
                "client_id=os-client-2",
                "--setting",
                "base_url=not a url",
            ],
            "base_url",
            "http(s) URL",
        ),
        (
            vec!["--setting", "rules.launch_progress=150"],
            "rules.launch_progress",
            "0..100",
        ),
        (vec!["--unset", "client_id"], "client_id", "required"),
        (
            vec!["--setting", "lms_group=g2"],
            "lms_group",
            "not a setting",
        ),
        (vec!["--setting", "base-url=x"], "base-url", "unknown"),
    ] {
        let mut args = vec!["configure", "--integration", "os-acme"];
        args.extend(bad.iter().copied());
        let (code, out, err) = sync(db, &args).await;
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert!(
            err.contains(names) && err.contains(rule),
            "{bad:?}: names {names} and {rule}: {err}"
        );
        assert_eq!(
            snapshot(db, "os-acme").await,
            before,
            "{bad:?} changed nothing"
        );
    }
    let (code, _, err) = sync(
        db,
        &[
            "configure",
            "--integration",
            "nope",
            "--setting",
            "client_id=x",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("integration nope does not exist"), "{err}");

    // the API moves and the credentials rotate: one command
    let moved = [
        setting("base_url", &base_b),
        setting("token_url", &format!("{base_b}/oauth2/aus1/v1/token")),
        setting("client_id", "os-client-2"),
        setting("client_secret_env", "CB_TEST_OS_SECRET_B"),
    ];
    let mut args = vec![
        "configure",
        "--integration",
        "os-acme",
        "--author",
        "ops@acme.example",
    ];
    for s in &moved {
        args.extend(["--setting", s.as_str()]);
    }
    let (code, out, err) = sync(db, &args).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the next run uses the new settings"), "{out}");
    let after = snapshot(db, "os-acme").await;
    assert!(after.active, "it stays active");
    assert_eq!(after.settings["base_url"], base_b.as_str());
    assert_eq!(after.settings["client_secret_env"], "CB_TEST_OS_SECRET_B");
    assert_eq!(
        after.settings["customer_integration_id"], "ci-1",
        "the other settings stay"
    );
    assert!(after.updated_ms > before.updated_ms);
    assert_eq!(after.courses, before.courses, "no course touched");
    assert_eq!(after.events, before.events, "no course event");
    assert_eq!(after.changes, 1);
    let (code, out, _) = sync(db, &["integrations"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("os-acme\topensesame\tactive\tgroup=g1"),
        "{out}"
    );

    // the next run: the new API with the new credentials, the same courses
    let (code, out, err) = sync(db, &["run", "--integration", "os-acme", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let r = report(&out);
    assert_eq!(
        (
            &r["outcome"],
            &r["created"],
            &r["archived"],
            &r["reactivated"],
            &r["unchanged"]
        ),
        (&json!("ok"), &json!(0), &json!(0), &json!(0), &json!(60)),
        "{r}"
    );
    assert_eq!(counts(&a), used_a, "the old API is not called again");
    let used_b = counts(&b);
    assert!(used_b.0 == 1 && used_b.1 >= 2, "{used_b:?}");
    let last = snapshot(db, "os-acme").await;
    let ids = |s: &Snapshot| {
        s.courses
            .iter()
            .map(|c| (c.id, c.external_id.clone(), c.archived))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&last),
        ids(&before),
        "the same records, none archived, no duplicates"
    );
    assert!(last.courses.iter().all(|c| !c.archived));

    // the history: who, when, which keys — never a value
    let (code, out, err) = sync(db, &["configure", "--integration", "os-acme", "--history"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("ops@acme.example")
            && out.contains("set base_url, token_url, client_id, client_secret_env"),
        "{out}"
    );
    let (code, json_out, _) = sync(
        db,
        &[
            "configure",
            "--integration",
            "os-acme",
            "--history",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0);
    let change: Value = serde_json::from_str(json_out.trim()).expect("json");
    assert_eq!(
        change["keys_set"],
        json!(["base_url", "token_url", "client_id", "client_secret_env"])
    );
    assert_eq!(change["author"], "ops@acme.example");
    for value in [
        base_b.as_str(),
        "os-client-2",
        "CB_TEST_OS_SECRET_B",
        "secret-b",
    ] {
        assert!(
            !out.contains(value) && !json_out.contains(value),
            "{value}: {out}{json_out}"
        );
    }
}

testkit::both!(a_deactivated_integration_changes_settings_only, on);
/// A deactivated integration's settings change too; it stays deactivated,
/// its courses archived. Without --author the connector author is recorded.
async fn a_deactivated_integration_changes_settings_only(db: String, _dir: PathBuf) {
    let db = db.as_str();
    let (code, _, err) = sync(
        db,
        &[
            "activate",
            "--integration",
            "ub",
            "--provider",
            "udemy-business",
            "--group",
            "g",
            "--author",
            "admin@acme.example",
            "--setting",
            "catalog_file=fixtures/catalog/udemy/courses.json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sync(db, &["run", "--integration", "ub"]).await;
    assert_eq!(code, 3, "ok, one course rejected: {out}{err}");
    let (code, out, err) = sync(db, &["deactivate", "--integration", "ub"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let before = snapshot(db, "ub").await;
    assert!(
        !before.courses.is_empty() && before.courses.iter().all(|c| c.archived),
        "{:?}",
        before.courses
    );
    let (code, _, err) = sync(
        db,
        &[
            "configure",
            "--integration",
            "ub",
            "--setting",
            "page_size=0",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        err.contains("page_size") && err.contains("above 0"),
        "{err}"
    );
    let (code, out, err) = sync(
        db,
        &[
            "configure",
            "--integration",
            "ub",
            "--setting",
            "page_size=25",
            "--setting",
            "rules.ignore_www=false",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stays deactivated"), "{out}");
    let after = snapshot(db, "ub").await;
    assert!(!after.active);
    assert_eq!(after.settings["page_size"], 25);
    assert_eq!(after.settings["rules"]["ignore_www"], false);
    assert_eq!(after.courses, before.courses);
    let (code, out, _) = sync(db, &["configure", "--integration", "ub", "--history"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("admin@acme.example\tset page_size, rules.ignore_www"),
        "{out}"
    );
}
