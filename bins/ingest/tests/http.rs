//! The ingest server end to end, over real HTTP on loopback, on SQLite and on
//! PostgreSQL (the latter with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL).

use std::future::Future;
use std::path::Path;

use base64::Engine as _;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{CourseFields, Credential, Integration, Store};
use testkit::{Engine, TestDatabase};

const LAUNCH_SECRET: &str = "test-launch-secret-0123456789abcdef";
const T0: i64 = 1_727_000_000_000;

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/statements/valid")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("json")
}

struct Env {
    server: Running,
    base: String,
    client: reqwest::Client,
    os: (String, String),
    ub: (String, String),
    lms: (String, String),
    store: Store,
}

fn basic((u, p): &(String, String)) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    )
}

impl Env {
    /// POST /xapi/statements as a provider speaking xAPI 2.0.0.
    async fn post_v2(&self, auth: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}/xapi/statements", self.base))
                .header("Authorization", auth)
                .header("X-Experience-API-Version", "2.0.0")
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
    async fn post(&self, path: &str, auth: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("Authorization", auth)
                .header("X-Experience-API-Version", "1.0.3")
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
    async fn get(&self, path: &str, auth: &str) -> (u16, Value) {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("Authorization", auth)
                .header("X-Experience-API-Version", "1.0.3"),
        )
        .await
    }
    async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn stats(&self, query: &str) -> Vec<Value> {
        let (s, body) = self
            .get(&format!("/api/v1/statistics?{query}"), &basic(&self.lms))
            .await;
        assert_eq!(s, 200, "{body}");
        body["items"].as_array().expect("items").clone()
    }
}

async fn seed(store: &Store) -> ((String, String), (String, String), (String, String)) {
    let mut tx = store.begin().await.expect("begin");
    for (id, provider) in [("os-acme", "opensesame"), ("ub-acme", "udemy-business")] {
        tx.insert_integration(&Integration {
            id: id.into(),
            provider: provider.into(),
            lms_group: "g1".into(),
            connector_author: "admin@acme.example".into(),
            settings: json!({}),
            active: true,
            created_ms: T0,
            updated_ms: T0,
            deactivated_ms: None,
        })
        .await
        .expect("integration");
    }
    let os_course = tx
        .upsert_course(
            "os-acme",
            "course",
            "3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a10",
            &CourseFields {
                name: "Leading Remote Teams".into(),
                launch_url: Some("https://opensesame.example/launch/3f6c2b51".into()),
                ..CourseFields::default()
            },
            false,
            "h",
            T0,
        )
        .await
        .expect("course");
    tx.set_activity_ids(
        "os-acme",
        os_course,
        &["https://www.opensesame.com/c/3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a10".into()],
    )
    .await
    .expect("ids");
    let ub_course = tx
        .upsert_course(
            "ub-acme",
            "course",
            "1565838",
            &CourseFields {
                name: "JavaScript".into(),
                ..CourseFields::default()
            },
            false,
            "h",
            T0,
        )
        .await
        .expect("course");
    tx.set_activity_ids(
        "ub-acme",
        ub_course,
        &["http://udemy.com/course/1565838".into()],
    )
    .await
    .expect("ids");
    let mut creds = Vec::new();
    for (integration, id) in [("os-acme", "wh_os"), ("ub-acme", "wh_ub")] {
        let secret = ingest_server::auth::new_secret();
        tx.insert_credential(&Credential {
            client_id: id.into(),
            integration_id: integration.into(),
            secret_hash: ingest_server::auth::hash_secret(&secret),
            created_ms: T0,
            revoked_ms: None,
        })
        .await
        .expect("cred");
        creds.push((id.to_owned(), secret));
    }
    let lms_secret = ingest_server::auth::new_secret();
    tx.insert_api_client(
        "lms_test",
        &ingest_server::auth::hash_secret(&lms_secret),
        T0,
    )
    .await
    .expect("lms");
    tx.commit().await.expect("commit");
    let ub = creds.pop().expect("ub");
    let os = creds.pop().expect("os");
    (os, ub, ("lms_test".into(), lms_secret))
}

async fn start(store: Store, scan_window: i64) -> Env {
    let (os, ub, lms) = seed(&store).await;
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        launch_secret: Some(LAUNCH_SECRET.into()),
        limits: ingest_server::config::Limits {
            max_body_bytes: 256 * 1024,
            max_statements: 50,
            // Small (3 unless a test says otherwise), so that statements
            // queries page across the window's end.
            scan_window,
            ..Default::default()
        },
        ..Default::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Env {
        server,
        base,
        client,
        os,
        ub,
        lms,
        store,
    }
}

async fn map_learner(env: &Env) {
    let body = json!({"lms_user_id": "u-1", "email": "Ada.Lovelace@example.com", "accounts": [{"homePage": "https://lms.example.com", "name": "lms-user-4711"}]});
    let (s, r) = env.post("/api/v1/learners", &basic(&env.lms), &body).await;
    assert_eq!(s, 200, "{r}");
}

/// Runs a check on a fresh, migrated store served by the ingest server, with
/// the statements queries' scan window of 3.
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_scan_window(engine, 3, check).await;
}

/// Runs a check on a fresh, migrated store served by the ingest server.
async fn on_scan_window<F, Fut>(engine: Engine, scan_window: i64, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "ingest").await;
    let store = db.open().await;
    let env = check(start(store, scan_window).await).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}

testkit::both!(udemy_statements_with_mbox_and_account_actors, on);
testkit::both!(oauth_client_credentials_flow, on);
testkit::both!(opensesame_launch_then_completion, on);
testkit::both!(duplicates_and_conflicts, on);
testkit::both!(pending_then_resolved, on);
testkit::both!(auth_failures, on);
testkit::both!(bad_bodies_are_refused_whole, on);
testkit::both!(input_is_checked_strictly, on);
testkit::both!(a_voided_parked_statement_is_no_longer_pending, on);
testkit::both!(a_voided_only_learner_is_the_same_in_every_order, on);
testkit::both!(get_void_and_paging, on);
testkit::both!(replay_equals_live, on);
testkit::both!(concurrent_requests_are_isolated, on);
testkit::both!(administrator_override, on);
testkit::both!(statement_queries_as_the_spec_defines_them, on);
testkit::both!(attachments_in_and_out, on);
testkit::both!(alternate_request_syntax, on);
testkit::both!(voiding_before_the_target_and_across_integrations, on);
testkit::both!(statements_follow_the_request_version, on);
testkit::both!(long_scans_read_in_chunks, on_scan_window, 100);
testkit::both!(stored_follows_the_log_under_concurrency, on);

async fn udemy_statements_with_mbox_and_account_actors(env: Env) -> Env {
    map_learner(&env).await;
    for who in ["mbox", "account"] {
        for name in [
            "course-progressed",
            "course-completed",
            "path-progressed",
            "path-completed",
        ] {
            let (s, ids) = env
                .post(
                    "/xapi/statements",
                    &basic(&env.ub),
                    &fixture(&format!("udemy-{name}-{who}")),
                )
                .await;
            assert_eq!(s, 200, "udemy-{name}-{who}: {ids}");
            assert_eq!(ids.as_array().map(Vec::len), Some(1));
        }
    }
    let course = env.stats("integration=ub-acme").await;
    assert_eq!(
        course.len(),
        1,
        "mbox and account actors are one learner: {course:?}"
    );
    let c = &course[0];
    assert_eq!(
        (
            c["course"].as_str(),
            c["learner"].as_str(),
            c["progress"].as_f64(),
            c["completed"].as_bool()
        ),
        (Some("1565838"), Some("u-1"), Some(100.0), Some(true))
    );
    assert_eq!(
        c["score"],
        Value::Null,
        "Udemy's scaled score is progress, not a score"
    );
    let (s, paths) = env
        .get(
            "/api/v1/path-statistics?integration=ub-acme",
            &basic(&env.lms),
        )
        .await;
    assert_eq!(s, 200);
    let p = &paths["items"][0];
    assert_eq!(
        (
            p["kind"].as_str(),
            p["progress"].as_f64(),
            p["completed"].as_bool()
        ),
        (Some("path"), Some(100.0), Some(true))
    );
    // CSV
    let r = env
        .client
        .get(format!(
            "{}/api/v1/statistics?integration=ub-acme",
            env.base
        ))
        .header("Authorization", basic(&env.lms))
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.expect("text");
    assert!(
        text.starts_with(
            "integration,course,kind,learner,progress,completed,result,score,time_spent_ms"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("ub-acme,1565838,course,u-1,100.0,true,,,")),
        "{text}"
    );
    env
}

async fn oauth_client_credentials_flow(env: Env) -> Env {
    map_learner(&env).await;
    let form = |extra: &str| format!("grant_type=client_credentials&scope=xapi%3Awrite{extra}");
    let r = env
        .client
        .post(format!("{}/oauth/token", env.base))
        .header("Authorization", basic(&env.ub))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(""))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let tok: Value = r.json_value().await;
    assert_eq!(
        (
            tok["token_type"].as_str(),
            tok["scope"].as_str(),
            tok["expires_in"].as_i64()
        ),
        (Some("Bearer"), Some("xapi:write"), Some(3600))
    );
    let bearer = format!("Bearer {}", tok["access_token"].as_str().expect("token"));
    let (s, _) = env
        .post(
            "/xapi/statements",
            &bearer,
            &fixture("udemy-course-progressed-mbox"),
        )
        .await;
    assert_eq!(s, 200);
    // credentials in the form body work too
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        env.ub.0, env.ub.1
    );
    let r = env
        .client
        .post(format!("{}/oauth/token", env.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    for (auth, body, status, error) in [
        (
            basic(&(env.ub.0.clone(), "wrong".into())),
            form(""),
            401,
            "invalid_client",
        ),
        (
            basic(&env.ub),
            "grant_type=password".to_owned(),
            400,
            "unsupported_grant_type",
        ),
        (
            basic(&env.ub),
            "grant_type=client_credentials&scope=admin".to_owned(),
            400,
            "invalid_scope",
        ),
    ] {
        let r = env
            .client
            .post(format!("{}/oauth/token", env.base))
            .header("Authorization", auth)
            .body(body)
            .send()
            .await
            .expect("token");
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.json_value().await["error"], error);
    }
    let (s, _) = env
        .post(
            "/xapi/statements",
            &format!("{bearer}x"),
            &fixture("udemy-course-progressed-mbox"),
        )
        .await;
    assert_eq!(s, 401, "an edited token is refused");
    env
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_str(&self.text().await.expect("body")).expect("json body")
    }
}

fn launch_url(
    env: &Env,
    course: &str,
    learner: &str,
    email: Option<&str>,
    exp_offset: i64,
) -> String {
    let claims = launch_link::LaunchClaims {
        path: format!("/launch/os-acme/{course}"),
        learner: learner.into(),
        email: email.map(str::to_owned),
        entry: "catalog".into(),
        exp: time::OffsetDateTime::now_utc().unix_timestamp() + exp_offset,
    };
    launch_link::mint(&env.base, LAUNCH_SECRET.as_bytes(), &claims).expect("mint")
}

async fn opensesame_launch_then_completion(env: Env) -> Env {
    let course = "3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a10";
    let link = launch_url(&env, course, "u-7", Some("Alan.Turing@example.com"), 300);
    let r = env.client.get(&link).send().await.expect("launch");
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://opensesame.example/launch/3f6c2b51",
        "the catalog's launch URL, never one from the request"
    );
    let s = env.stats("integration=os-acme").await;
    assert_eq!(
        (
            s[0]["progress"].as_f64(),
            s[0]["completed"].as_bool(),
            s[0]["launched_from_lms"].as_bool()
        ),
        (Some(50.0), Some(false), Some(true))
    );
    // The completion identifies the learner by the email the launch link carried.
    let mut st = fixture("opensesame-completed-success");
    st["timestamp"] = json!(
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("ts")
    );
    let (code, body) = env.post("/xapi/statements", &basic(&env.os), &st).await;
    assert_eq!(code, 200, "{body}");
    let s = env.stats("integration=os-acme&learner=u-7").await;
    let c = &s[0];
    assert_eq!(
        (
            c["progress"].as_f64(),
            c["result"].as_str(),
            c["score"].as_f64(),
            c["time_spent_ms"].as_i64()
        ),
        (Some(100.0), Some("success"), Some(87.0), Some(4_350_500))
    );
    assert!(c["completed_at"].is_string() && c["last_activity_at"] == c["completed_at"]);
    // edited and expired links
    let edited = launch_url(&env, course, "u-7", None, 300).replace("learner=u-7", "learner=u-8");
    assert_eq!(
        env.client
            .get(&edited)
            .send()
            .await
            .expect("launch")
            .status(),
        403
    );
    let expired = launch_url(&env, course, "u-7", None, -1);
    assert_eq!(
        env.client
            .get(&expired)
            .send()
            .await
            .expect("launch")
            .status(),
        403
    );
    let other = launch_url(&env, "no-such-course", "u-7", None, 300);
    assert_eq!(
        env.client
            .get(&other)
            .send()
            .await
            .expect("launch")
            .status(),
        404
    );
    env
}

async fn duplicates_and_conflicts(env: Env) -> Env {
    map_learner(&env).await;
    let st = fixture("udemy-course-progressed-mbox");
    let (s1, ids1) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
    let before = env.stats("integration=ub-acme").await;
    let (s2, ids2) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
    assert_eq!(
        (s1, s2),
        (200, 200),
        "a retry with the same content is accepted"
    );
    assert_eq!(ids1, ids2);
    let after = env.stats("integration=ub-acme").await;
    assert_eq!(before[0]["progress"], after[0]["progress"]);
    // the same id with other content: 409, and nothing of the batch is stored
    let mut changed = st.clone();
    changed["result"]["score"]["scaled"] = json!(0.9);
    let fresh = fixture("udemy-course-completed-mbox");
    let (s, body) = env
        .post(
            "/xapi/statements",
            &basic(&env.ub),
            &json!([fresh, changed]),
        )
        .await;
    assert_eq!(s, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("6f1c2d9e-4a2b-4c1e-9d3a-1b2c3d4e5f60"))
    );
    let (g, _) = env
        .get(
            &format!(
                "/xapi/statements?statementId={}",
                fresh["id"].as_str().expect("id")
            ),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(
        g, 404,
        "the valid statement of a refused batch is not stored"
    );
    let (s, _) = env
        .post(
            "/xapi/statements",
            &basic(&env.ub),
            &json!([fresh.clone(), fresh]),
        )
        .await;
    assert_eq!(
        s, 200,
        "under 1.0.3 the same statement twice in a batch is one statement"
    );
    // Retries that differ only where xAPI's comparison rules say an LRS may:
    // accepted as the statement already stored, which stays as it was.
    let mut bare = fixture("udemy-course-progressed-account");
    bare["id"] = json!("44444444-0000-4000-8000-0000000000aa");
    bare.as_object_mut().expect("object").remove("timestamp");
    let (s, _) = env.post("/xapi/statements", &basic(&env.ub), &bare).await;
    assert_eq!(s, 200);
    let (_, first) = env
        .get(
            "/xapi/statements?statementId=44444444-0000-4000-8000-0000000000aa",
            &basic(&env.ub),
        )
        .await;
    let mut renamed = bare.clone();
    renamed["object"]["definition"] = json!({"name": {"de-DE": "Umbenannt"}});
    for (what, retry) in [
        ("no timestamp again: we set another", bare.clone()),
        ("another Activity definition", renamed),
    ] {
        let (s, body) = env.post("/xapi/statements", &basic(&env.ub), &retry).await;
        assert_eq!(s, 200, "{what}: {body}");
    }
    let mut offset = fixture("udemy-course-completed-mbox");
    offset["id"] = json!("44444444-0000-4000-8000-0000000000bb");
    offset["timestamp"] = json!("2024-10-05T12:00:00Z");
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &offset)
            .await
            .0,
        200
    );
    offset["timestamp"] = json!("2024-10-05T14:00:00.000+02:00");
    let (s, body) = env.post("/xapi/statements", &basic(&env.ub), &offset).await;
    assert_eq!(s, 200, "the same instant written with an offset: {body}");
    let (_, still) = env
        .get(
            "/xapi/statements?statementId=44444444-0000-4000-8000-0000000000aa",
            &basic(&env.ub),
        )
        .await;
    assert_eq!(still, first, "a retry changes nothing");
    let mut again = fixture("udemy-course-completed-account");
    again["id"] = json!("44444444-0000-4000-8000-000000000001");
    let (s, body) = env
        .post_v2(&basic(&env.ub), &json!([again.clone(), again.clone()]))
        .await;
    assert_eq!(s, 400, "under 2.0.0 a batch holds each id once: {body}");
    assert!(
        body.to_string().contains("statement 1: id 44444444"),
        "{body}"
    );
    let (g, _) = env
        .get(
            "/xapi/statements?statementId=44444444-0000-4000-8000-000000000001",
            &basic(&env.ub),
        )
        .await;
    assert_eq!(g, 404, "nothing of it is stored");
    env
}

/// A parked statement that is voided will never be applied: it leaves the
/// pending list with the void (issue 32, item 4), and its learner's arrival
/// later applies nothing.
async fn a_voided_parked_statement_is_no_longer_pending(env: Env) -> Env {
    let mut st = fixture("udemy-course-completed-mbox");
    st["id"] = json!("5b0c0c52-0000-4000-8000-0000000000d1");
    st["actor"]["mbox"] = json!("mailto:grace@example.com");
    let (s, _) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
    assert_eq!(s, 200);
    let (_, pending) = env
        .get("/api/v1/pending?integration=ub-acme", &basic(&env.lms))
        .await;
    assert_eq!(pending["total"], 1, "{pending}");
    let void = json!({"actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                      "object": {"objectType": "StatementRef", "id": "5b0c0c52-0000-4000-8000-0000000000d1"}});
    let (s, body) = env.post("/xapi/statements", &basic(&env.ub), &void).await;
    assert_eq!(s, 200, "{body}");
    let (_, pending) = env
        .get("/api/v1/pending?integration=ub-acme", &basic(&env.lms))
        .await;
    // The voiding statement's own actor is no learner either; only it may remain.
    let listed: Vec<&str> = pending["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["statement"].as_str())
        .collect();
    assert!(
        !listed.contains(&"5b0c0c52-0000-4000-8000-0000000000d1"),
        "{pending}"
    );
    // Grace arrives: nothing of the voided statement counts.
    let (s, _) = env
        .post(
            "/api/v1/learners",
            &basic(&env.lms),
            &json!({"lms_user_id": "u-grace", "email": "grace@example.com"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, stats) = env
        .get("/api/v1/statistics?learner=u-grace", &basic(&env.lms))
        .await;
    assert!(
        stats["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["completed"] == false),
        "{stats}"
    );
    env
}

async fn pending_then_resolved(env: Env) -> Env {
    // unknown learner
    let mut st = fixture("udemy-course-completed-mbox");
    st["actor"]["mbox"] = json!("mailto:grace@example.com");
    let (s, _) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
    assert_eq!(s, 200, "acknowledged even though the learner is unknown");
    // unknown course
    let mut st2 = fixture("udemy-course-progressed-mbox");
    st2["object"]["id"] = json!("https://www.udemy.com/course/999/");
    st2["actor"]["mbox"] = json!("mailto:grace@example.com");
    let (s, _) = env.post("/xapi/statements", &basic(&env.ub), &st2).await;
    assert_eq!(s, 200);
    let (_, pending) = env
        .get("/api/v1/pending?integration=ub-acme", &basic(&env.lms))
        .await;
    assert_eq!(pending["total"], 2, "{pending}");
    let reasons: Vec<&str> = pending["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["unknown-learner", "unknown-course,unknown-learner"]
    );
    // the mapping arrives: the first is applied at once
    let (s, r) = env
        .post(
            "/api/v1/learners",
            &basic(&env.lms),
            &json!({"lms_user_id": "u-9", "email": "grace@example.com"}),
        )
        .await;
    assert_eq!((s, r["applied"].as_i64()), (200, Some(1)), "{r}");
    let stats = env.stats("learner=u-9").await;
    assert_eq!(stats[0]["progress"].as_f64(), Some(100.0));
    // the course arrives (as a sync would record it): the second is applied
    {
        let mut tx = env.store.begin().await.expect("begin");
        let c = tx
            .upsert_course(
                "ub-acme",
                "course",
                "999",
                &CourseFields {
                    name: "New".into(),
                    ..CourseFields::default()
                },
                false,
                "h",
                T0,
            )
            .await
            .expect("course");
        tx.set_activity_ids("ub-acme", c, &["http://udemy.com/course/999".into()])
            .await
            .expect("ids");
        let integ = tx
            .integration("ub-acme")
            .await
            .expect("read")
            .expect("exists");
        let rules = records::rules_for(&integ).expect("rules");
        assert_eq!(
            records::apply_pending(&mut tx, &rules, T0)
                .await
                .expect("apply"),
            1
        );
        tx.commit().await.expect("commit");
    }
    let (_, pending) = env.get("/api/v1/pending", &basic(&env.lms)).await;
    assert_eq!(pending["total"], 0);
    assert_eq!(
        env.stats("learner=u-9&course=999").await[0]["progress"].as_f64(),
        Some(25.0)
    );
    env
}

async fn auth_failures(env: Env) -> Env {
    let st = fixture("udemy-course-progressed-mbox");
    let r = env
        .client
        .post(format!("{}/xapi/statements", env.base))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(st.to_string())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.headers()["x-experience-api-version"], "1.0.3");
    for auth in [
        basic(&(env.ub.0.clone(), "nope".into())),
        basic(&("wh_unknown".into(), env.ub.1.clone())),
        basic(&env.lms),
        "Bearer cbt1.wh_ub.9999999999.00".to_owned(),
    ] {
        assert_eq!(
            env.post("/xapi/statements", &auth, &st).await.0,
            401,
            "{auth}"
        );
    }
    assert_eq!(
        env.get("/api/v1/statistics", &basic(&env.ub)).await.0,
        401,
        "provider credentials do not open the LMS API"
    );
    assert_eq!(env.get("/metrics", "").await.0, 401);
    assert_eq!(env.get("/metrics", &basic(&env.lms)).await.0, 200);
    assert_eq!(
        env.get("/healthz", "").await.0,
        200,
        "health needs no credentials"
    );
    assert_eq!(env.get("/readyz", "").await.0, 200);
    {
        let mut tx = env.store.begin().await.expect("begin");
        tx.set_integration_active("ub-acme", false, T0)
            .await
            .expect("deactivate");
        tx.commit().await.expect("commit");
    }
    // Credentials and integrations read by the server are used for up to
    // CREDENTIAL_TTL; a change made elsewhere takes effect after it.
    tokio::time::sleep(ingest_server::state::CREDENTIAL_TTL).await;
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &st).await.0,
        403
    );
    {
        let mut tx = env.store.begin().await.expect("begin");
        tx.set_integration_active("ub-acme", true, T0)
            .await
            .expect("reactivate");
        tx.revoke_credential("wh_ub", T0).await.expect("revoke");
        tx.commit().await.expect("commit");
    }
    tokio::time::sleep(ingest_server::state::CREDENTIAL_TTL).await;
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &st).await.0,
        401,
        "revoked credentials"
    );
    env
}

/// Statement bodies only as JSON (or multipart with attachments), only a
/// well-formed version header, and every parameter of the pending list
/// checked: each refused with a 400 naming what is wrong, nothing stored.
async fn input_is_checked_strictly(env: Env) -> Env {
    let mut statement = fixture("udemy-course-progressed-mbox");
    statement["id"] = json!("7a0c0c52-0000-4000-8000-0000000000c1");
    let post = |content_type: Option<&str>, version: &str| {
        let mut rb = env
            .client
            .post(format!("{}/xapi/statements", env.base))
            .header("Authorization", basic(&env.ub))
            .header("X-Experience-API-Version", version)
            .body(statement.to_string());
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        rb.send()
    };
    for ct in [
        None,
        Some("text/plain"),
        Some("application/xml"),
        Some("application/jsonx"),
    ] {
        let r = post(ct, "1.0.3").await.expect("post");
        assert_eq!(r.status(), 400, "{ct:?}");
        let e = r.json_value().await["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(e.starts_with("Content-Type:"), "{ct:?}: {e}");
    }
    for v in ["1.0.3x", "2.0.0x", "1.0.3.1", "1.0.3 x", "1.1", "3.0.0"] {
        let r = post(Some("application/json"), v).await.expect("post");
        assert_eq!(r.status(), 400, "{v:?}");
        let e = r.json_value().await["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(e.starts_with("X-Experience-API-Version:"), "{v:?}: {e}");
    }
    let (s, _) = env
        .get(
            "/xapi/statements?statementId=7a0c0c52-0000-4000-8000-0000000000c1",
            &basic(&env.ub),
        )
        .await;
    assert_eq!(s, 404, "nothing was stored");
    // A charset parameter is fine; 1.0 is 1.0.0.
    let r = post(Some("application/json; charset=utf-8"), "1.0")
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=x", "limit"),
        ("?cursor=nope", "cursor"),
        ("?cursor=7a0c0c52-0000-4000-8000-0000000000ff", "cursor"),
        ("?integraton=ub-acme", "integraton"),
    ] {
        let (s, body) = env
            .get(&format!("/api/v1/pending{query}"), &basic(&env.lms))
            .await;
        assert_eq!(s, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.starts_with(field)),
            "{query}: {body}"
        );
    }
    let (s, body) = env
        .get(
            "/api/v1/pending?integration=ub-acme&limit=5",
            &basic(&env.lms),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    env
}

async fn bad_bodies_are_refused_whole(env: Env) -> Env {
    map_learner(&env).await;
    let good = fixture("udemy-course-progressed-mbox");
    let mut bad = fixture("udemy-course-completed-mbox");
    bad["actor"]["mbox"] = json!("grace@example.com");
    bad["result"]["score"]["scaled"] = json!(3);
    let (s, body) = env
        .post("/xapi/statements", &basic(&env.ub), &json!([good, bad]))
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        body["details"],
        json!([{"index": 1, "path": "actor.mbox", "rule": "must be a mailto: IRI"}, {"index": 1, "path": "result.score.scaled", "rule": "must be between -1 and 1"}])
    );
    assert!(
        env.stats("integration=ub-acme").await.is_empty(),
        "nothing from the batch was stored"
    );
    let big = json!({"pad": "x".repeat(300 * 1024)});
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &big).await.0,
        413
    );
    let many = Value::Array(vec![fixture("udemy-course-progressed-mbox"); 51]);
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &many).await.0,
        413
    );
    let r = env
        .client
        .post(format!("{}/xapi/statements", env.base))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body("{\"actor\":")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    assert!(
        r.json_value().await["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("body: invalid JSON"))
    );
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let r = env
        .client
        .post(format!("{}/xapi/statements", env.base))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(deep)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let r = env
        .client
        .post(format!("{}/xapi/statements", env.base))
        .header("Authorization", basic(&env.ub))
        .header("Content-Type", "application/json")
        .body(fixture("udemy-course-progressed-mbox").to_string())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400, "the version header is required");
    let r = env
        .client
        .post(format!("{}/xapi/statements", env.base))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "0.95")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    env
}

async fn get_void_and_paging(env: Env) -> Env {
    map_learner(&env).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut st = fixture("udemy-course-progressed-mbox");
        st.as_object_mut().expect("object").remove("id");
        st["result"]["score"]["scaled"] = json!(0.1 * f64::from(i + 1));
        let (s, r) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
        assert_eq!(s, 200);
        ids.push(r[0].as_str().expect("generated id").to_owned());
    }
    // PUT with an id
    let put_id = "0d5a3f8e-1111-4b2c-9d3e-5f6a7b8c9d0e";
    let mut st = fixture("udemy-course-progressed-mbox");
    st.as_object_mut().expect("object").remove("id");
    st.as_object_mut().expect("object").remove("version"); // the LRS sets it from the request's version
    let r = env
        .client
        .put(format!("{}/xapi/statements?statementId={put_id}", env.base))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "2.0.0")
        .header("Content-Type", "application/json")
        .body(st.to_string())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["x-experience-api-version"], "2.0.0");
    let (s, got) = env
        .get(
            &format!("/xapi/statements?statementId={put_id}"),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (got["id"].as_str(), got["version"].as_str()),
        (Some(put_id), Some("2.0.0"))
    );
    assert_eq!(
        got["authority"]["account"]["name"], "wh_ub",
        "authority is set by the LRS"
    );
    assert!(got["stored"].is_string());
    // void the first
    let void = json!({"actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}, "object": {"objectType": "StatementRef", "id": ids[0]}});
    let (s, voiding) = env.post("/xapi/statements", &basic(&env.ub), &void).await;
    assert_eq!(s, 200);
    let voiding_id = voiding[0].as_str().expect("voiding id").to_owned();
    assert_eq!(
        env.get(
            &format!("/xapi/statements?statementId={}", ids[0]),
            &basic(&env.ub)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        env.get(
            &format!("/xapi/statements?voidedStatementId={}", ids[0]),
            &basic(&env.ub)
        )
        .await
        .0,
        200
    );
    // list with paging, oldest first, filtered by verb and agent
    let agent = url::form_urlencoded::byte_serialize(
        json!({"mbox": "mailto:ada.lovelace@example.com"})
            .to_string()
            .as_bytes(),
    )
    .collect::<String>();
    let mut seen = Vec::new();
    let mut next = format!(
        "/xapi/statements?verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fprogressed&agent={agent}&limit=2&ascending=true"
    );
    loop {
        let r = env
            .client
            .get(format!("{}{next}", env.base))
            .header("Authorization", basic(&env.ub))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .expect("get");
        assert_consistent_through(r.headers());
        let page = r.json_value().await;
        seen.extend(
            page["statements"]
                .as_array()
                .expect("statements")
                .iter()
                .map(|s| s["id"].as_str().expect("id").to_owned()),
        );
        match page["more"].as_str() {
            Some("") | None => break,
            Some(m) => next = m.to_owned(),
        }
    }
    let mut expected: Vec<String> = ids[1..].to_vec();
    expected.push(put_id.to_owned());
    // The voiding statement targets one that matches the filters, so it
    // matches too (xAPI 1.0.3, "Filter Conditions for StatementRefs").
    expected.push(voiding_id);
    assert_eq!(
        seen, expected,
        "voided statements are hidden; every other one appears once, with the voiding one"
    );
    // HEAD answers as GET would, without a body (xAPI 1.0.3, Communication 1.1).
    let head = env
        .client
        .head(format!("{}/xapi/statements?statementId={put_id}", env.base))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("last-modified"));
    assert_consistent_through(head.headers());
    assert!(head.bytes().await.expect("body").is_empty());
    // On every statements resource response: a POST, a PUT, a refusal.
    for (method, path, body) in [
        ("POST", "/xapi/statements".to_owned(), json!([])),
        (
            "PUT",
            format!("/xapi/statements?statementId={put_id}"),
            json!({}),
        ),
        ("GET", "/xapi/statements?bogus=1".to_owned(), Value::Null),
    ] {
        let r = env
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", env.base),
            )
            .header("Authorization", basic(&env.ub))
            .header("X-Experience-API-Version", "1.0.3")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400, "{method} {path}");
        assert_consistent_through(r.headers());
    }
    let (s, about) = env.get("/xapi/about", "").await;
    assert_eq!(
        (s, about["version"].clone()),
        (200, json!(["1.0.3", "2.0.0"]))
    );
    env
}

/// Two learners whose only statement is voided, one target-first and one
/// void-first (in separate requests): the same statistics, and the same
/// after `replay` (issue 32, item 3).
async fn a_voided_only_learner_is_the_same_in_every_order(env: Env) -> Env {
    for (learner, email) in [("u-a", "amy@example.com"), ("u-b", "ben@example.com")] {
        let (s, _) = env
            .post(
                "/api/v1/learners",
                &basic(&env.lms),
                &json!({"lms_user_id": learner, "email": email}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let target = |id: &str, email: &str| {
        let mut st = fixture("udemy-course-completed-mbox");
        st["id"] = json!(id);
        st["actor"] = json!({"mbox": format!("mailto:{email}")});
        st
    };
    let void = |id: &str| {
        json!({"actor": {"mbox": "mailto:admin@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": id}})
    };
    let (a, b) = (
        "6b0c0c52-0000-4000-8000-0000000000a1",
        "6b0c0c52-0000-4000-8000-0000000000b1",
    );
    // Amy: the statement, then its void.
    for body in [target(a, "amy@example.com"), void(a)] {
        assert_eq!(
            env.post("/xapi/statements", &basic(&env.ub), &body).await.0,
            200
        );
    }
    // Ben: the void first, then the statement.
    for body in [void(b), target(b, "ben@example.com")] {
        assert_eq!(
            env.post("/xapi/statements", &basic(&env.ub), &body).await.0,
            200
        );
    }
    let view = |items: Vec<Value>| {
        let mut out: Vec<Value> = items
            .into_iter()
            .filter(|i| i["learner"] == "u-a" || i["learner"] == "u-b")
            .map(|mut i| {
                let o = i.as_object_mut().expect("item");
                o.remove("updated_at");
                o.remove("learner");
                i
            })
            .collect();
        out.sort_by_key(|i| i.to_string());
        out
    };
    let live = view(env.stats("limit=100").await);
    assert_eq!(live.len(), 2, "a row for each: {live:?}");
    assert_eq!(live[0], live[1], "the same in both orders");
    assert_eq!(
        (&live[0]["progress"], &live[0]["completed"]),
        (&json!(0.0), &json!(false)),
        "nothing counts: {live:?}"
    );
    let integrations = {
        let mut tx = env.store.read().await.expect("read");
        tx.integrations(false).await.expect("list")
    };
    records::replay(
        &env.store,
        |id| {
            records::rules_for(
                integrations
                    .iter()
                    .find(|i| i.id == id)
                    .expect("integration"),
            )
        },
        T0,
    )
    .await
    .expect("replay");
    assert_eq!(view(env.stats("limit=100").await), live, "replay agrees");
    env
}

async fn replay_equals_live(env: Env) -> Env {
    map_learner(&env).await;
    for name in [
        "udemy-course-progressed-mbox",
        "udemy-course-completed-account",
        "udemy-path-progressed-mbox",
    ] {
        assert_eq!(
            env.post("/xapi/statements", &basic(&env.ub), &fixture(name))
                .await
                .0,
            200
        );
    }
    let link = launch_url(
        &env,
        "3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a10",
        "u-1",
        None,
        300,
    );
    assert_eq!(
        env.client.get(&link).send().await.expect("launch").status(),
        302
    );
    assert_eq!(
        env.post(
            "/xapi/statements",
            &basic(&env.os),
            &fixture("opensesame-completed-failed-spec-duration")
        )
        .await
        .0,
        200
    );
    // compared without update times, keyed by (integration, course, learner)
    let strip = |mut v: Vec<Value>| {
        for i in &mut v {
            i.as_object_mut().expect("item").remove("updated_at");
        }
        v.sort_by_key(|i| {
            (
                i["integration"].to_string(),
                i["course"].to_string(),
                i["learner"].to_string(),
            )
        });
        v
    };
    let live = strip(env.stats("limit=100").await);
    let integrations = {
        let mut tx = env.store.read().await.expect("read");
        tx.integrations(false).await.expect("list")
    };
    let report = records::replay(
        &env.store,
        |id| {
            records::rules_for(
                integrations
                    .iter()
                    .find(|i| i.id == id)
                    .expect("integration"),
            )
        },
        T0,
    )
    .await
    .expect("replay");
    // three Udemy statements are folded (the OpenSesame one is parked: its actor
    // is not mapped); three learner statistics: course, path, and the launched course
    assert_eq!(
        (report.statements, report.targets, report.voided),
        (3, 3, 0),
        "{report:?}"
    );
    let rebuilt = strip(env.stats("limit=100").await);
    assert_eq!(
        rebuilt, live,
        "statistics rebuilt from the log equal live ingestion"
    );
    env
}

/// Many requests at once (they share group-commit transactions): the one that
/// conflicts gets 409, every other one is stored and folded.
async fn concurrent_requests_are_isolated(env: Env) -> Env {
    map_learner(&env).await;
    let original = fixture("udemy-course-progressed-mbox");
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.ub), &original)
            .await
            .0,
        200
    );
    let mut conflicting = original.clone();
    conflicting["result"]["score"]["scaled"] = json!(0.99);
    let env = std::sync::Arc::new(env);
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let env = env.clone();
        let body = if i == 17 {
            conflicting.clone()
        } else {
            let mut st = original.clone();
            st["id"] = json!(uuid::Uuid::new_v4().to_string());
            st["result"]["score"]["scaled"] = json!(f64::from(i) / 100.0);
            st
        };
        tasks.push(tokio::spawn(async move {
            (
                i,
                env.post("/xapi/statements", &basic(&env.ub), &body).await.0,
            )
        }));
    }
    for t in tasks {
        let (i, status) = t.await.expect("task");
        assert_eq!(status, if i == 17 { 409 } else { 200 }, "request {i}");
    }
    let env = std::sync::Arc::into_inner(env).expect("sole owner");
    let stats = env.stats("integration=ub-acme").await;
    assert_eq!(
        stats[0]["progress"].as_f64(),
        Some(39.0),
        "the highest progress of the stored requests"
    );
    let (_, page) = env.get("/xapi/statements?limit=100", &basic(&env.ub)).await;
    assert_eq!(
        page["statements"].as_array().map(Vec::len),
        Some(40),
        "the original and the 39 accepted ones"
    );
    env
}

/// Batches and single statements for one learner at once, all with
/// one timestamp (so `stored` orders them): a batch's `stored` is taken as
/// it enters the writer's queue, not when its request arrived, so on SQLite's
/// one writer `stored` never goes down along the log (a large batch, long to
/// parse, stamped at its arrival would carry an earlier `stored` than single
/// statements written ahead of it), and the statistics equal a replay of the
/// log.
async fn stored_follows_the_log_under_concurrency(env: Env) -> Env {
    map_learner(&env).await;
    let base = fixture("udemy-course-progressed-mbox");
    let statement = |n: usize| {
        let mut st = base.clone();
        st["id"] = json!(uuid::Uuid::new_v4().to_string());
        st["result"]["score"]["scaled"] = json!((n % 97) as f64 / 100.0);
        st
    };
    let env = std::sync::Arc::new(env);
    let mut tasks = Vec::new();
    let mut n = 0;
    for i in 0..60usize {
        // Every fourth request a batch of 50 (the most this server takes),
        // the others single statements.
        let body = if i % 4 == 0 {
            n += 50;
            Value::Array((n - 50..n).map(statement).collect())
        } else {
            n += 1;
            statement(n)
        };
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            env.post("/xapi/statements", &basic(&env.ub), &body).await
        }));
    }
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    let env = std::sync::Arc::into_inner(env).expect("sole owner");
    // The log, oldest first.
    let mut stored = Vec::new();
    let mut next = "/xapi/statements?ascending=true&limit=250".to_owned();
    while !next.is_empty() {
        let (s, page) = env.get(&next, &basic(&env.ub)).await;
        assert_eq!(s, 200, "{page}");
        for st in page["statements"].as_array().expect("statements") {
            let text = st["stored"].as_str().expect("stored");
            stored.push(
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .expect("RFC 3339"),
            );
        }
        next = page["more"].as_str().unwrap_or_default().to_owned();
    }
    assert_eq!(stored.len(), n, "every statement listed");
    if env.store.backend() == store::Backend::Sqlite {
        // (PostgreSQL's several writers commit side by side: there the log's
        // order between them is not the order they were queued in.)
        let down = stored.windows(2).position(|w| w[1] < w[0]);
        assert_eq!(down, None, "stored goes down along the log");
    }
    let live = env.stats("integration=ub-acme").await;
    let integration = stored_integration(&env.store, "ub-acme").await;
    records::replay(&env.store, |_| records::rules_for(&integration), T0)
        .await
        .expect("replay");
    let without_times = |mut v: Vec<Value>| {
        for i in &mut v {
            i.as_object_mut().expect("item").remove("updated_at");
        }
        v
    };
    assert_eq!(
        without_times(env.stats("integration=ub-acme").await),
        without_times(live),
        "statistics rebuilt from the log equal live ingestion"
    );
    env
}

async fn stored_integration(store: &Store, id: &str) -> store::Integration {
    let mut tx = store.read().await.expect("read");
    tx.integrations(false)
        .await
        .expect("list")
        .into_iter()
        .find(|i| i.id == id)
        .expect("integration")
}

/// `POST /api/v1/overrides`: an administrator's override changes what the
/// statistics say (JSON and CSV), is audited as a learning event naming who
/// did it, and refuses requests that break a rule.
async fn administrator_override(env: Env) -> Env {
    map_learner(&env).await;
    let (s, body) = env
        .post(
            "/xapi/statements",
            &basic(&env.ub),
            &fixture("udemy-course-progressed-mbox"),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let before = env.stats("integration=ub-acme&course=1565838").await;
    assert_eq!(
        (
            before[0]["completed"].as_bool(),
            before[0]["overridden"].is_null(),
            before[0]["attempts"].as_array().map(Vec::len)
        ),
        (Some(false), true, Some(1)),
        "{before:?}"
    );

    let request = json!({"integration": "ub-acme", "course": "1565838", "learner": "u-1",
        "complete": true, "success": true, "score": 95.0, "by": "admin@acme.example", "reason": "certificate shown"});
    let (s, body) = env
        .post("/api/v1/overrides", &basic(&env.lms), &request)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (body["progress"].as_f64(), body["completed"].as_bool()),
        (Some(100.0), Some(true))
    );

    let after = env.stats("integration=ub-acme&course=1565838").await;
    let item = &after[0];
    assert_eq!(
        (
            item["progress"].as_f64(),
            item["completed"].as_bool(),
            item["result"].as_str(),
            item["score"].as_f64(),
            item["overridden"]["by"].as_str(),
            item["overridden"]["reason"].as_str(),
            item["launched_from_lms"].as_bool(),
        ),
        (
            Some(100.0),
            Some(true),
            Some("success"),
            Some(95.0),
            Some("admin@acme.example"),
            Some("certificate shown"),
            Some(false)
        ),
        "{item}"
    );
    assert!(item["completed_at"].is_string(), "{item}");
    // the attempt the provider reported is kept as it was
    assert_eq!(item["attempts"], before[0]["attempts"]);

    // CSV: overridden, and the number of attempts
    let r = env
        .client
        .get(format!(
            "{}/api/v1/statistics?integration=ub-acme",
            env.base
        ))
        .header("Authorization", basic(&env.lms))
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status(), 200);
    let csv = r.text().await.expect("csv body");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.contains(",1565838,"))
        .expect("the course's row")
        .split(',')
        .collect();
    let field = |name: &str| row[header.iter().position(|h| *h == name).expect("column")];
    assert_eq!(
        (field("overridden"), field("attempts"), field("progress")),
        ("true", "1", "100.0")
    );

    // audited: a learning event that names who overrode
    {
        let mut tx = env.store.read().await.expect("read");
        let course = tx
            .course_by_external_id("ub-acme", "1565838")
            .await
            .expect("course")
            .expect("known course");
        let learner = tx
            .learner_by_lms_id("u-1")
            .await
            .expect("learner")
            .expect("known learner");
        let events = tx
            .learning_events_for_target(course.id, learner.id)
            .await
            .expect("events");
        let audit: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == "override")
            .map(|e| e.payload.as_str())
            .collect();
        assert_eq!(audit.len(), 1, "{events:?}");
        assert!(audit[0].contains("admin@acme.example"), "{}", audit[0]);
    }

    // refused: no author, a score out of range, an unknown course, provider credentials
    for (bad, status) in [
        (
            json!({"integration": "ub-acme", "course": "1565838", "learner": "u-1", "complete": true, "by": " "}),
            400,
        ),
        (
            json!({"integration": "ub-acme", "course": "1565838", "learner": "u-1", "score": 101.0, "by": "a"}),
            400,
        ),
        (
            json!({"integration": "ub-acme", "course": "nope", "learner": "u-1", "complete": true, "by": "a"}),
            404,
        ),
    ] {
        let (s, body) = env.post("/api/v1/overrides", &basic(&env.lms), &bad).await;
        assert_eq!(s, status, "{bad}: {body}");
    }
    let (s, _) = env
        .post("/api/v1/overrides", &basic(&env.ub), &request)
        .await;
    assert_eq!(s, 401, "a provider's credentials are not the LMS's");
    assert_eq!(
        env.stats("integration=ub-acme&course=1565838").await[0]["score"].as_f64(),
        Some(95.0),
        "refused overrides change nothing"
    );
    env
}

/// `X-Experience-API-Consistent-Through` is there, an ISO 8601 time in UTC,
/// not in the future.
fn assert_consistent_through(headers: &reqwest::header::HeaderMap) {
    let v = headers
        .get("x-experience-api-consistent-through")
        .expect("X-Experience-API-Consistent-Through")
        .to_str()
        .expect("ascii");
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{v}: not ISO 8601: {e}"));
    assert!(v.ends_with('Z'), "{v}: UTC");
    assert!(t <= time::OffsetDateTime::now_utc(), "{v}: in the future");
}

/// Every id a statements query lists oldest first, following `more` to the end.
async fn listed(env: &Env, query: &str) -> Vec<String> {
    listed_from(env, &format!("/xapi/statements?ascending=true&{query}")).await
}

/// Every id listed from this first page on, following `more` to the end.
async fn listed_from(env: &Env, first: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = first.to_owned();
    for _ in 0..100 {
        let (s, page) = env.get(&next, &basic(&env.ub)).await;
        assert_eq!(s, 200, "{next}: {page}");
        seen.extend(
            page["statements"]
                .as_array()
                .expect("statements")
                .iter()
                .map(|s| s["id"].as_str().expect("id").to_owned()),
        );
        match page["more"].as_str() {
            Some("") | None => return seen,
            Some(m) => next = m.to_owned(),
        }
    }
    panic!("{first}: more than 100 pages");
}

fn agent_param(agent: &Value) -> String {
    url::form_urlencoded::byte_serialize(agent.to_string().as_bytes()).collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The filters of `GET /xapi/statements` with xAPI 1.0.3's meaning: `agent`
/// matches the actor or object, members of a group included; the
/// `related_*` parameters look into context and SubStatements (and, for
/// agents, the authority); a statement that targets a matching one with a
/// StatementRef matches too; `format=ids` and `format=canonical` (with
/// `Accept-Language`). The server's scan window is 3 statements, so the
/// lists below page across its end.
async fn statement_queries_as_the_spec_defines_them(env: Env) -> Env {
    let ada = json!({"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"});
    let carol = json!({"objectType": "Agent", "mbox": "mailto:carol@example.com"});
    let agent = |m: &str| json!({"mbox": format!("mailto:{m}@example.com")});
    let verb = |v: &str| json!({"id": format!("http://adlnet.gov/expapi/verbs/{v}"), "display": {"en-US": v}});
    let lesson = |n: u32| {
        json!({"objectType": "Activity", "id": format!("https://x.example.com/lesson-{n}"),
               "definition": {"name": {"en-US": format!("Lesson {n}"), "de-DE": format!("Lektion {n}"), "fr": format!("Leçon {n}")}}})
    };
    let parent = "https://x.example.com/course";
    let id = |n: u32| format!("00000000-0000-4000-8000-{n:012}");
    let statements = [
        // 1: Ada experienced lesson 1 in a course, with Carol as instructor.
        json!({"id": id(1), "actor": ada, "verb": verb("experienced"), "object": lesson(1),
               "context": {"instructor": carol, "contextActivities": {"parent": [{"id": parent}]}}}),
        // 2: Dave mentored Ada (an Agent object).
        json!({"id": id(2), "actor": agent("dave"), "verb": verb("mentored"), "object": ada}),
        // 3: Eve confirmed statement 1 (a StatementRef).
        json!({"id": id(3), "actor": agent("eve"), "verb": verb("confirmed"),
               "object": {"objectType": "StatementRef", "id": id(1)}}),
        // 4: an anonymous group of Ada and Frank attended a meeting.
        json!({"id": id(4), "actor": {"objectType": "Group", "member": [agent("ada"), agent("frank")]},
               "verb": verb("attended"), "object": {"id": "https://x.example.com/meeting"}}),
        // 5: Gina: "Ada will experience lesson 2" (a SubStatement).
        json!({"id": id(5), "actor": agent("gina"), "verb": verb("planned"),
               "object": {"objectType": "SubStatement", "actor": agent("ada"), "verb": verb("experienced"), "object": lesson(2)}}),
        // 6: plain: Ada experienced lesson 1 again.
        json!({"id": id(6), "actor": agent("ada"), "verb": verb("experienced"), "object": lesson(1)}),
        // 7: plain: Bob experienced lesson 1.
        json!({"id": id(7), "actor": agent("bob"), "verb": verb("experienced"), "object": lesson(1)}),
    ];
    let (s, r) = env
        .post("/xapi/statements", &basic(&env.ub), &json!(statements))
        .await;
    assert_eq!(s, 200, "{r}");
    let ids = |ns: &[u32]| ns.iter().map(|&n| id(n)).collect::<Vec<_>>();

    let ada_q = format!("agent={}", agent_param(&agent("ada")));
    assert_eq!(
        listed(&env, &ada_q).await,
        ids(&[1, 2, 3, 4, 6]),
        "actor, object, group member, and the statement targeting one of them"
    );
    assert_eq!(
        listed(&env, &format!("{ada_q}&related_agents=true")).await,
        ids(&[1, 2, 3, 4, 5, 6]),
        "and the SubStatement's actor"
    );
    let carol_q = format!("agent={}", agent_param(&agent("carol")));
    assert_eq!(
        listed(&env, &carol_q).await,
        ids(&[]),
        "an instructor is not the actor"
    );
    assert_eq!(
        listed(&env, &format!("{carol_q}&related_agents=true")).await,
        ids(&[1, 3])
    );
    let authority = json!({"account": {"homePage": "http://127.0.0.1:8080", "name": "wh_ub"}});
    assert_eq!(
        listed(
            &env,
            &format!("agent={}&related_agents=true", agent_param(&authority))
        )
        .await,
        ids(&[1, 2, 3, 4, 5, 6, 7]),
        "the authority of every statement this client stored"
    );
    let lesson1 = enc("https://x.example.com/lesson-1");
    assert_eq!(
        listed(&env, &format!("activity={lesson1}")).await,
        ids(&[1, 3, 6, 7])
    );
    assert_eq!(
        listed(
            &env,
            &format!(
                "activity={lesson1}&verb={}&{ada_q}",
                enc("http://adlnet.gov/expapi/verbs/experienced")
            )
        )
        .await,
        ids(&[1, 3, 6]),
        "all filters at once, on the statement or on its target"
    );
    assert_eq!(
        listed(&env, &format!("activity={}", enc(parent))).await,
        ids(&[])
    );
    assert_eq!(
        listed(
            &env,
            &format!("activity={}&related_activities=true", enc(parent))
        )
        .await,
        ids(&[1, 3]),
        "a context activity"
    );
    let lesson2 = enc("https://x.example.com/lesson-2");
    assert_eq!(listed(&env, &format!("activity={lesson2}")).await, ids(&[]));
    assert_eq!(
        listed(&env, &format!("activity={lesson2}&related_activities=true")).await,
        ids(&[5]),
        "the SubStatement's object"
    );
    assert_eq!(
        listed(&env, "limit=2").await,
        ids(&[1, 2, 3, 4, 5, 6, 7]),
        "no filter: pages of 2"
    );
    assert_eq!(
        listed(
            &env,
            &format!(
                "agent={}&related_agents=true&limit=1",
                agent_param(&authority)
            )
        )
        .await,
        ids(&[1, 2, 3, 4, 5, 6, 7]),
        "pages of 1, each ending before the window does"
    );
    assert_eq!(
        listed(&env, &format!("{ada_q}&limit=1")).await,
        ids(&[1, 2, 3, 4, 6])
    );

    // Formats.
    let (s, exact) = env
        .get(
            &format!("/xapi/statements?statementId={}", id(1)),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(exact["actor"]["name"], "Ada");
    assert_eq!(
        exact["object"]["definition"]["name"]
            .as_object()
            .map(|m| m.len()),
        Some(3)
    );
    let (s, ids_form) = env
        .get(
            &format!("/xapi/statements?statementId={}&format=ids", id(1)),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        ids_form["actor"],
        json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"})
    );
    assert_eq!(
        ids_form["verb"],
        json!({"id": "http://adlnet.gov/expapi/verbs/experienced"})
    );
    assert_eq!(
        ids_form["object"],
        json!({"objectType": "Activity", "id": "https://x.example.com/lesson-1"})
    );
    assert_eq!(
        ids_form["context"]["instructor"],
        json!({"objectType": "Agent", "mbox": "mailto:carol@example.com"})
    );
    assert_eq!(ids_form["id"], exact["id"]);
    assert_eq!(ids_form["stored"], exact["stored"]);
    let r = env
        .client
        .get(format!(
            "{}/xapi/statements?activity={lesson1}&format=canonical&ascending=true",
            env.base
        ))
        .header("Authorization", basic(&env.ub))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Accept-Language", "fr;q=0.5, de, *;q=0.1")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let page: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    let first = &page["statements"][0];
    assert_eq!(
        first["object"]["definition"]["name"],
        json!({"de-DE": "Lektion 1"}),
        "de matches de-DE first"
    );
    assert_eq!(
        first["verb"]["display"],
        json!({"en-US": "experienced"}),
        "the only language there is"
    );
    assert_eq!(first["actor"]["name"], "Ada", "agents as in exact");
    for (query, what) in [
        ("format=full", "format"),
        ("related_agents=yes", "related_agents"),
        ("related_activities=1", "related_activities"),
    ] {
        let (s, r) = env
            .get(&format!("/xapi/statements?{query}"), &basic(&env.ub))
            .await;
        assert_eq!(s, 400, "{query}");
        assert!(r.to_string().contains(what), "{query}: {r}");
    }
    env
}

/// A multipart/mixed body: the statements, then (content type, data, hash
/// header) per attachment part; `None` leaves the hash header out.
fn multipart_body(json: &Value, parts: &[(&str, &[u8], Option<String>)], cte: &str) -> Vec<u8> {
    let b = "abcABC0123'()+_,-./:=?";
    let mut out = format!("--{b}\r\nContent-Type:application/json\r\n\r\n{json}\r\n").into_bytes();
    for (ct, data, hash) in parts {
        out.extend_from_slice(
            format!("--{b}\r\nContent-Type:{ct}\r\nContent-Transfer-Encoding:{cte}\r\n").as_bytes(),
        );
        if let Some(h) = hash {
            out.extend_from_slice(format!("X-Experience-API-Hash:{h}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--").as_bytes());
    out
}

/// A multipart body of a statement signed by `jws` (its signature attachment
/// and the part holding it).
fn signed_body(statement: &Value, jws: &[u8]) -> Vec<u8> {
    let mut s = statement.clone();
    s["attachments"] = json!([{"usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"}, "contentType": "application/octet-stream",
        "length": jws.len(), "sha2": sha256(jws)}]);
    multipart_body(
        &s,
        &[("application/octet-stream", jws, Some(sha256(jws)))],
        "binary",
    )
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

impl Env {
    async fn post_multipart(&self, body: Vec<u8>) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}/xapi/statements", self.base))
                .header("Authorization", basic(&self.ub))
                .header("X-Experience-API-Version", "1.0.3")
                .header(
                    "Content-Type",
                    r#"multipart/mixed; boundary="abcABC0123'()+_,-./:=?""#,
                )
                .body(body),
        )
        .await
    }

    /// A GET answered in multipart/mixed: its parts (headers, body).
    async fn get_multipart(&self, path: &str) -> Vec<(Vec<(String, String)>, Vec<u8>)> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Authorization", basic(&self.ub))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{path}");
        let ct = r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body = r.bytes().await.expect("body");
        let boundary = xapi_model::multipart::boundary(&ct).expect("a multipart answer");
        xapi_model::multipart::parse(&body, &boundary)
            .expect("parts")
            .into_iter()
            .map(|p| (p.headers, p.body.to_vec()))
            .collect()
    }
}

/// Attachments (xAPI 1.0.3, 1.5.2): the spec's own multipart example is
/// stored with its data and served back with `attachments=true`, alone and in
/// a list; every broken rule of the transport is a 400 naming the part or
/// attachment, and nothing of such a request is stored; a statement with
/// only `fileUrl` attachments needs no part; a signed statement is checked.
async fn attachments_in_and_out(env: Env) -> Env {
    let text: &[u8] = b"here is a simple attachment";
    let hash = sha256(text);
    assert_eq!(
        hash,
        "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
    );
    let statement = |id: &str, attachments: Value| {
        json!({"id": id, "actor": {"mbox": "mailto:sample.agent@example.com", "name": "Sample Agent", "objectType": "Agent"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
               "object": {"id": "http://www.example.com/tincan/activities/multipart", "objectType": "Activity"},
               "attachments": attachments})
    };
    let text_attachment = json!([{"usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"}, "contentType": "text/plain; charset=ascii",
        "length": 27, "sha2": hash}]);
    let id1 = "11111111-0000-4000-8000-000000000001";
    let (s, r) = env
        .post_multipart(multipart_body(
            &statement(id1, text_attachment.clone()),
            &[("text/plain", text, Some(hash.clone()))],
            "binary",
        ))
        .await;
    assert_eq!((s, r.clone()), (200, json!([id1])), "{r}");

    let parts = env
        .get_multipart(&format!(
            "/xapi/statements?statementId={id1}&attachments=true"
        ))
        .await;
    assert_eq!(parts.len(), 2);
    let got: Value = serde_json::from_slice(&parts[0].1).expect("statement json");
    assert_eq!(got["id"], id1);
    assert_eq!(got["attachments"][0]["sha2"], hash.as_str());
    let header =
        |h: &[(String, String)], n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        header(&parts[1].0, "x-experience-api-hash"),
        Some(hash.clone())
    );
    assert_eq!(
        header(&parts[1].0, "content-transfer-encoding").as_deref(),
        Some("binary")
    );
    assert_eq!(
        header(&parts[1].0, "content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(parts[1].1, text);
    let (s, plain) = env
        .get(
            &format!("/xapi/statements?statementId={id1}"),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(
        (s, plain["id"].clone()),
        (200, json!(id1)),
        "without attachments=true: JSON"
    );

    // A second statement naming the same data by fileUrl, posted as JSON.
    let id2 = "11111111-0000-4000-8000-000000000002";
    let mut by_url = text_attachment.clone();
    by_url[0]["fileUrl"] = json!("https://files.example.com/a.txt");
    let (s, r) = env
        .post("/xapi/statements", &basic(&env.ub), &statement(id2, by_url))
        .await;
    assert_eq!(s, 200, "{r}");
    let parts = env
        .get_multipart("/xapi/statements?attachments=true&ascending=true")
        .await;
    let list: Value = serde_json::from_slice(&parts[0].1).expect("result json");
    let ids: Vec<&str> = list["statements"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [id1, id2]);
    assert_eq!(parts.len(), 2, "one copy of data named twice");
    assert_eq!(parts[1].1, text);

    // Every broken rule: 400, naming it; nothing stored.
    let bad = "11111111-0000-4000-8000-0000000000ff";
    let other: &[u8] = b"something else";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (multipart_body(&statement(bad, text_attachment.clone()), &[], "binary"), "no fileUrl and no attachment part"),
        (multipart_body(&statement(bad, text_attachment.clone()), &[("text/plain", text, None)], "binary"), "X-Experience-API-Hash is required"),
        (multipart_body(&statement(bad, text_attachment.clone()), &[("text/plain", other, Some(hash.clone()))], "binary"), "is not the SHA-2 of the part"),
        (multipart_body(&statement(bad, text_attachment.clone()), &[("text/plain", text, Some(hash.clone()))], "base64"), "Content-Transfer-Encoding must be binary"),
        (multipart_body(&statement(bad, text_attachment.clone()), &[("image/png", text, Some(hash.clone()))], "binary"), "differs from the Content-Type of part 1"),
        (
            multipart_body(&statement(bad, text_attachment.clone()), &[("text/plain", text, Some(hash.clone())), ("text/plain", other, Some(sha256(other)))], "binary"),
            "names no attachment",
        ),
        (b"--abcABC0123'()+_,-./:=?\r\nContent-Type:text/plain\r\n\r\nx\r\n--abcABC0123'()+_,-./:=?--".to_vec(), "part 0: Content-Type must be application/json"),
        (b"no boundary at all".to_vec(), "first boundary line is missing"),
    ];
    for (body, what) in cases {
        let (s, r) = env.post_multipart(body).await;
        assert_eq!(s, 400, "{what}: {r}");
        assert!(r.to_string().contains(what), "{what}: {r}");
    }
    let (s, r) = env
        .post(
            "/xapi/statements",
            &basic(&env.ub),
            &statement(bad, text_attachment.clone()),
        )
        .await;
    assert_eq!(s, 400, "JSON with an attachment that has no fileUrl: {r}");
    assert!(r.to_string().contains("no fileUrl"), "{r}");
    let (s, _) = env
        .get(
            &format!("/xapi/statements?statementId={bad}"),
            &basic(&env.ub),
        )
        .await;
    assert_eq!(s, 404, "nothing of a refused request is stored");

    // A signed statement: the JWS payload is the statement without its signature.
    let id3 = "11111111-0000-4000-8000-000000000003";
    let unsigned = json!({"id": id3, "actor": {"mbox": "mailto:sample.agent@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"}, "object": {"id": "http://www.example.com/q/1"}});
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jws = |payload: &Value| {
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(&payload.to_string()),
            b64("signature bytes")
        )
        .into_bytes()
    };
    let signed = |jws: &[u8]| signed_body(&unsigned, jws);
    let mut tampered = unsigned.clone();
    tampered["object"]["id"] = json!("http://www.example.com/q/2");
    let (s, r) = env.post_multipart(signed(&jws(&tampered))).await;
    assert_eq!(s, 400, "{r}");
    assert!(
        r.to_string()
            .contains("JWS payload is not the statement received"),
        "{r}"
    );
    let (s, r) = env.post_multipart(signed(&jws(&unsigned))).await;
    assert_eq!((s, r.clone()), (200, json!([id3])), "{r}");
    // Logically equivalent is enough (Data 2.6, by the comparison rules of
    // 2.3.1): a statement that an LRS on its way stamped with a timestamp
    // and a Verb display after it was signed.
    let id4 = "11111111-0000-4000-8000-000000000004";
    let mut payload = unsigned.clone();
    payload["id"] = json!(id4);
    let mut stamped = payload.clone();
    stamped["timestamp"] = json!("2026-03-04T05:06:07.000Z");
    stamped["verb"]["display"] = json!({"en-US": "answered"});
    let (s, r) = env
        .post_multipart(signed_body(&stamped, &jws(&payload)))
        .await;
    assert_eq!((s, r.clone()), (200, json!([id4])), "{r}");

    // Signed with a key whose certificate is in the header (x5c): the RSA
    // signature is verified; a signature changed by one byte is refused.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/attachments");
    let x5c_statement: Value =
        serde_json::from_slice(&std::fs::read(dir.join("signed-statement.json")).expect("fixture"))
            .expect("json");
    let x5c_jws = std::fs::read(dir.join("signed-statement.jws")).expect("fixture");
    let with_signature = |jws: &[u8]| signed_body(&x5c_statement, jws);
    let mut broken = x5c_jws.clone();
    let last = broken.len() - 2;
    broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
    let (s, r) = env.post_multipart(with_signature(&broken)).await;
    assert_eq!(s, 400, "{r}");
    assert!(
        r.to_string()
            .contains("does not verify against its x5c certificate"),
        "{r}"
    );
    let (s, r) = env.post_multipart(with_signature(&x5c_jws)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r, json!([x5c_statement["id"]]));
    env
}

/// xAPI 1.0.3's alternate request syntax (Communication 1.3), as the ADL
/// conformance suite sends it: `POST ?method=…` with the headers, the content
/// and the parameters as form fields; refused in its malformed variants and
/// under xAPI 2.0.
async fn alternate_request_syntax(env: Env) -> Env {
    let form = |fields: &[(&str, &str)]| {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            f.append_pair(k, v);
        }
        f.finish()
    };
    let send = |query: &str, headers: Vec<(&'static str, String)>, body: String, put: bool| {
        let url = format!("{}/xapi/statements?{query}", env.base);
        let mut rb = if put {
            env.client.put(url)
        } else {
            env.client.post(url)
        };
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        env.send(
            rb.header("Content-Type", "application/x-www-form-urlencoded")
                .body(body),
        )
    };
    let auth = basic(&env.ub);
    let id = "33333333-0000-4000-8000-000000000001";
    let mut st = fixture("udemy-course-progressed-mbox");
    st["id"] = json!(id);
    let content = st.to_string();

    // PUT as a POST, everything in the form (no headers but Content-Type).
    let (s, r) = send(
        "method=PUT",
        vec![],
        form(&[
            ("statementId", id),
            ("content", &content),
            ("X-Experience-API-Version", "1.0.3"),
            ("Authorization", &auth),
        ]),
        false,
    )
    .await;
    assert_eq!(s, 204, "{r}");
    let (s, got) = env
        .get(&format!("/xapi/statements?statementId={id}"), &auth)
        .await;
    assert_eq!((s, got["id"].clone()), (200, json!(id)));

    // GET as a POST, headers as real headers.
    let headers = || {
        vec![
            ("Authorization", auth.clone()),
            ("X-Experience-API-Version", "1.0.3".to_owned()),
        ]
    };
    let (s, r) = send("method=GET", headers(), form(&[("limit", "1")]), false).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["statements"].as_array().map(Vec::len), Some(1));
    assert!(r.get("more").is_some());
    // POST as a POST.
    let mut second = st.clone();
    second["id"] = json!("33333333-0000-4000-8000-000000000002");
    let (s, r) = send(
        "method=POST",
        headers(),
        form(&[("content", &second.to_string())]),
        false,
    )
    .await;
    assert_eq!((s, r.clone()), (200, json!([second["id"]])), "{r}");

    for (query, hs, body, put, what) in [
        (
            "method=POST",
            headers(),
            form(&[("content", &content)]),
            true,
            "is a POST",
        ),
        (
            "method=PUT",
            headers(),
            form(&[
                ("statementId", id),
                ("content", &content),
                ("X-Experience-API-Version", "0.8"),
            ]),
            false,
            "X-Experience-API-Version",
        ),
        (
            &format!("method=PUT&statementId={id}") as &str,
            headers(),
            form(&[("statementId", id), ("content", &content)]),
            false,
            "no other query parameter",
        ),
        (
            "method=PUT",
            headers(),
            String::new(),
            false,
            "form field content",
        ),
        (
            "method=PUT",
            headers(),
            json!({"statementId": id, "content": content}).to_string(),
            false,
            "form field content",
        ),
        (
            "method=GET",
            vec![
                ("Authorization", auth.clone()),
                ("X-Experience-API-Version", "2.0.0".to_owned()),
            ],
            form(&[("limit", "1")]),
            false,
            "removed in xAPI 2.0",
        ),
        (
            "method=DELETE",
            headers(),
            form(&[("content", &content)]),
            false,
            "is not GET, PUT or POST",
        ),
    ] {
        let (s, r) = send(query, hs, body, put).await;
        assert_eq!(s, 400, "{what}: {r}");
        assert!(r.to_string().contains(what), "{what}: {r}");
    }
    let (s, r) = env
        .post(&format!("/xapi/statements?statementId={id}"), &auth, &st)
        .await;
    assert_eq!(s, 400, "POST takes no query parameters: {r}");
    env
}

/// A voiding statement may come before the statement it voids (xAPI 1.0.3
/// Data 2.3.2: not refused for that): the target, when it comes, is stored
/// voided and changes no statistic. One integration cannot void another's
/// statement, nor "retry" it.
async fn voiding_before_the_target_and_across_integrations(env: Env) -> Env {
    map_learner(&env).await;
    let auth = basic(&env.ub);
    let mut target = fixture("udemy-course-completed-mbox");
    let target_id = "55555555-0000-4000-8000-000000000001";
    target["id"] = json!(target_id);
    let void = |id: &str| {
        json!({"actor": {"mbox": "mailto:admin@example.com"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": id}})
    };
    let (s, r) = env.post("/xapi/statements", &auth, &void(target_id)).await;
    assert_eq!(
        s, 200,
        "a voiding statement whose target is not there yet: {r}"
    );
    let before = env.stats("integration=ub-acme").await;
    let (s, r) = env.post("/xapi/statements", &auth, &target).await;
    assert_eq!(s, 200, "{r}");
    let one = |path: String| {
        let auth = auth.clone();
        let env = &env;
        async move { env.get(&path, &auth).await.0 }
    };
    assert_eq!(
        one(format!("/xapi/statements?statementId={target_id}")).await,
        404
    );
    assert_eq!(
        one(format!("/xapi/statements?voidedStatementId={target_id}")).await,
        200
    );
    // The learner's row is there (as when the void comes second, and as
    // replay writes it), but nothing counts in it.
    assert!(before.is_empty(), "{before:?}");
    let after = env.stats("integration=ub-acme").await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        (
            &after[0]["progress"],
            &after[0]["completed"],
            &after[0]["attempts"]
        ),
        (&json!(0.0), &json!(false), &json!([])),
        "a voided statement counts for nothing"
    );
    let (s, r) = env.post("/xapi/statements", &auth, &target).await;
    assert_eq!(s, 200, "its retry is still a retry: {r}");

    // The OpenSesame integration's statement, voided by the Udemy one: no.
    let os_statement = fixture("opensesame-completed-success");
    let os_id = os_statement["id"].as_str().expect("id").to_owned();
    assert_eq!(
        env.post("/xapi/statements", &basic(&env.os), &os_statement)
            .await
            .0,
        200
    );
    let (s, r) = env.post("/xapi/statements", &auth, &void(&os_id)).await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = env
        .get(
            &format!("/xapi/statements?statementId={os_id}"),
            &basic(&env.os),
        )
        .await;
    assert_eq!(s, 200, "still there for its own integration");
    let (s, r) = env.post("/xapi/statements", &auth, &os_statement).await;
    assert_eq!(
        s, 409,
        "another integration's statement is not this one's retry: {r}"
    );
    env
}

/// A 2.0 statement (version 2.0.0, context agents) is refused under
/// `X-Experience-API-Version: 1.0.3`, naming the property, and stored under
/// 2.0.0.
async fn statements_follow_the_request_version(env: Env) -> Env {
    let st = fixture("xapi2-context-agents");
    let (s, r) = env.post("/xapi/statements", &basic(&env.ub), &st).await;
    assert_eq!(s, 400, "{r}");
    assert!(r.to_string().contains("context.contextAgents"), "{r}");
    assert!(r.to_string().contains("\"path\":\"version\""), "{r}");
    let (s, r) = env.post_v2(&basic(&env.ub), &st).await;
    assert_eq!((s, r.clone()), (200, json!([st["id"]])), "{r}");
    env
}

/// With a window of 100 the broad statements are read in chunks (of 64, or
/// a page and one more): 150 statements with an Agent object, every tenth
/// about Bob, listed in pages of 10 and of 3, newest first and oldest first,
/// find each exactly once and in order.
async fn long_scans_read_in_chunks(env: Env) -> Env {
    let id = |n: u32| format!("66666666-0000-4000-8000-{n:012}");
    let mut all = Vec::new();
    for chunk in 0..3u32 {
        let batch: Vec<Value> = (0..50u32)
            .map(|k| {
                let n = chunk * 50 + k;
                let who = if n % 10 == 0 { "bob" } else { "carol" };
                json!({"id": id(n), "actor": {"mbox": "mailto:dave@example.com"},
                       "verb": {"id": "http://adlnet.gov/expapi/verbs/mentored"},
                       "object": {"objectType": "Agent", "mbox": format!("mailto:{who}@example.com")}})
            })
            .collect();
        let (s, r) = env
            .post("/xapi/statements", &basic(&env.ub), &json!(batch))
            .await;
        assert_eq!(s, 200, "{r}");
        all.extend((0..50).map(|k| id(chunk * 50 + k)));
    }
    let bob = agent_param(&json!({"mbox": "mailto:bob@example.com"}));
    let bobs: Vec<String> = (0..150).filter(|n| n % 10 == 0).map(id).collect();
    assert_eq!(
        listed(&env, &format!("agent={bob}&limit=10")).await,
        bobs,
        "rare matches across windows"
    );
    assert_eq!(listed(&env, &format!("agent={bob}&limit=3")).await, bobs);
    let carol = agent_param(&json!({"mbox": "mailto:carol@example.com"}));
    let carols: Vec<String> = (0..150).filter(|n| n % 10 != 0).map(id).collect();
    assert_eq!(
        listed(&env, &format!("agent={carol}&limit=10")).await,
        carols,
        "dense matches, pages of 10"
    );
    let dave = json!({"mbox": "mailto:dave@example.com"});
    assert_eq!(
        listed(&env, &format!("agent={}&limit=7", agent_param(&dave))).await,
        all,
        "the actor, from the column index"
    );
    let authority = json!({"account": {"homePage": "http://127.0.0.1:8080", "name": "wh_ub"}});
    assert_eq!(
        listed(
            &env,
            &format!(
                "agent={}&related_agents=true&limit=40",
                agent_param(&authority)
            )
        )
        .await,
        all,
        "every statement, read in chunks"
    );
    // Newest first: the same, reversed.
    let newest_first = listed_from(&env, &format!("/xapi/statements?agent={bob}&limit=4")).await;
    let mut reversed = bobs.clone();
    reversed.reverse();
    assert_eq!(newest_first, reversed);
    env
}
