//! `coursebridge-sync configure` as an operator runs it (issue 29): an
//! active integration's settings change in place — a moved `base_url`, a
//! rotated client id and secret variable — and the next run uses them with
//! the same course records, none archived, none duplicated; a bad value
//! changes nothing and names the setting; the history lists keys, never
//! values. The catalog side runs against two fake OpenSesame APIs on
//! loopback, the SCORM Cloud side against two fake SCORM Clouds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use fake_scorm_cloud::FakeScormCloud;
use serde_json::{Value, json};
use store::Store;

const SCORM_SECRET: &str = "configure-scorm-secret";

async fn sync(db: &Path, args: &[&str]) -> (i32, String, String) {
    let db = db.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_coursebridge-sync"))
            .current_dir(&root)
            .arg("--database")
            .arg(&db)
            .args(&args)
            .env("COURSEBRIDGE_LOG", "warn")
            .env("CB_TEST_OS_SECRET_A", "secret-a")
            .env("CB_TEST_OS_SECRET_B", "secret-b")
            .env("CB_TEST_SCORM_SECRET", SCORM_SECRET)
            .output()
            .expect("run coursebridge-sync");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

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

/// What the database holds: the integration's settings, active flag and
/// update time; its courses; the change feed's length; the recorded changes.
#[derive(Debug, PartialEq)]
struct Snapshot {
    settings: Value,
    active: bool,
    updated_ms: i64,
    courses: Vec<store::Course>,
    events: usize,
    changes: usize,
}

async fn snapshot(db: &Path, id: &str) -> Snapshot {
    let store = Store::open(db.to_str().expect("utf8")).await.expect("open");
    let mut tx = store.read().await.expect("read");
    let i = tx.integration(id).await.expect("read").expect("exists");
    let s = Snapshot {
        settings: i.settings,
        active: i.active,
        updated_ms: i.updated_ms,
        courses: tx.courses(id).await.expect("courses"),
        events: tx.events_after(0, 1_000_000).await.expect("feed").len(),
        changes: tx.setting_changes(id).await.expect("history").len(),
    };
    drop(tx);
    store.close().await;
    s
}

fn report(out: &str) -> Value {
    serde_json::from_str(out.trim()).expect("one JSON report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_api_and_rotated_credentials_keep_the_same_courses() {
    let dir = testkit::scratch_dir("cb-sync-configure");
    let db = dir.join("c.db");
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
    let (code, _, err) = sync(&db, &args).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sync(&db, &["run", "--integration", "os-acme", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(report(&out)["created"], 60, "{out}");
    let before = snapshot(&db, "os-acme").await;
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
        let (code, out, err) = sync(&db, &args).await;
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert!(
            err.contains(names) && err.contains(rule),
            "{bad:?}: names {names} and {rule}: {err}"
        );
        assert_eq!(
            snapshot(&db, "os-acme").await,
            before,
            "{bad:?} changed nothing"
        );
    }
    let (code, _, err) = sync(
        &db,
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
    let (code, out, err) = sync(&db, &args).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the next run uses the new settings"), "{out}");
    let after = snapshot(&db, "os-acme").await;
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
    let (code, out, _) = sync(&db, &["integrations"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("os-acme\topensesame\tactive\tgroup=g1"),
        "{out}"
    );

    // the next run: the new API with the new credentials, the same courses
    let (code, out, err) = sync(&db, &["run", "--integration", "os-acme", "--json"]).await;
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
    let last = snapshot(&db, "os-acme").await;
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
    let (code, out, err) = sync(&db, &["configure", "--integration", "os-acme", "--history"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("ops@acme.example")
            && out.contains("set base_url, token_url, client_id, client_secret_env"),
        "{out}"
    );
    let (code, json_out, _) = sync(
        &db,
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
    let _ = std::fs::remove_dir_all(dir);
}

/// A deactivated integration's settings change too; it stays deactivated,
/// its courses archived. Without --author the connector author is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_integration_changes_settings_only() {
    let dir = testkit::scratch_dir("cb-sync-configure-off");
    let db = dir.join("c.db");
    let (code, _, err) = sync(
        &db,
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
    let (code, out, err) = sync(&db, &["run", "--integration", "ub"]).await;
    assert_eq!(code, 3, "ok, one course rejected: {out}{err}");
    let (code, out, err) = sync(&db, &["deactivate", "--integration", "ub"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let before = snapshot(&db, "ub").await;
    assert!(
        !before.courses.is_empty() && before.courses.iter().all(|c| c.archived),
        "{:?}",
        before.courses
    );
    let (code, _, err) = sync(
        &db,
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
        &db,
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
    let after = snapshot(&db, "ub").await;
    assert!(!after.active);
    assert_eq!(after.settings["page_size"], 25);
    assert_eq!(after.settings["rules"]["ignore_www"], false);
    assert_eq!(after.courses, before.courses);
    let (code, out, _) = sync(&db, &["configure", "--integration", "ub", "--history"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("admin@acme.example\tset page_size, rules.ignore_www"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn package(dir: &Path, name: &str, title: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, fake_scorm_cloud::package(title)).expect("write");
    p
}

/// SCORM Cloud: a moved `base_url` is used by the next flow, and a changed
/// `registrations` too; a bad value changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorm_cloud_settings_apply_to_the_next_flow() {
    let dir = testkit::scratch_dir("cb-sync-configure-scorm");
    let db = dir.join("s.db");
    let old = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    let new = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    old.set_polls_before_done(0);
    new.set_polls_before_done(0);
    let base = format!("base_url={}", old.api_url());
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "scorm",
            "--provider",
            "scorm-cloud",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            &base,
            "--setting",
            "app_id=APP1",
            "--setting",
            "secret_env=CB_TEST_SCORM_SECRET",
            "--setting",
            "public_url=http://127.0.0.1:9",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let import = |pkg: PathBuf, course: &'static str| {
        let db = db.clone();
        async move {
            let pkg = pkg.to_str().expect("utf8").to_owned();
            sync(
                &db,
                &[
                    "scorm",
                    "import",
                    &pkg,
                    "--integration",
                    "scorm",
                    "--course-id",
                    course,
                ],
            )
            .await
        }
    };
    let (code, out, err) = import(package(&dir, "a.zip", "Safety Basics"), "c1").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(old.course("c1").is_some());

    let before = snapshot(&db, "scorm").await;
    for (bad, names) in [
        ("registrations=sometimes", "registrations"),
        ("public_url=ftp://cb.example", "public_url"),
        ("base_url=not a url", "base_url"),
    ] {
        let (code, _, err) = sync(
            &db,
            &["configure", "--integration", "scorm", "--setting", bad],
        )
        .await;
        assert_eq!(code, 2, "{bad}");
        assert!(err.contains(&format!("setting {names}")), "{bad}: {err}");
        assert_eq!(snapshot(&db, "scorm").await, before, "{bad}");
    }
    let (code, _, err) = sync(
        &db,
        &[
            "configure",
            "--integration",
            "scorm",
            "--unset",
            "secret_env",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("--unset secret_env"), "{err}");

    let moved = format!("base_url={}", new.api_url());
    let (code, out, err) = sync(
        &db,
        &[
            "configure",
            "--integration",
            "scorm",
            "--setting",
            &moved,
            "--setting",
            "registrations=at-assignment",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the next SCORM Cloud request"), "{out}");
    let after = snapshot(&db, "scorm").await;
    assert_eq!(after.courses, before.courses, "no course touched");
    assert!(after.active);

    // the next import goes to the new address
    let (code, out, err) = import(package(&dir, "b.zip", "Fire Drill"), "c2").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(new.course("c2").is_some(), "imported at the new address");
    assert!(old.course("c2").is_none());
    // and an assignment is created in SCORM Cloud at once (at-assignment)
    let (code, out, err) = sync(
        &db,
        &[
            "scorm",
            "assign",
            "--course-id",
            "c2",
            "--learner",
            "u-1",
            "--registration-id",
            "reg-1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("registration reg-1 created (in SCORM Cloud)"),
        "{out}"
    );
    assert!(new.registration("reg-1").is_some());
    assert!(old.registration("reg-1").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
