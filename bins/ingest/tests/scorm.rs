//! The SCORM Cloud routes end to end over real HTTP: the ingest server and the
//! fake SCORM Cloud on loopback; the fake checks every signature and the
//! 15-minute window, and posts registration results back to the server.
//! SQLite always; PostgreSQL with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use fake_scorm_cloud::FakeScormCloud;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{Integration, Store};
use testkit::{Engine, TestDatabase};

const LAUNCH_SECRET: &str = "test-launch-secret-0123456789abcdef";
const SCORM_SECRET: &str = "scorm-secret-key";

struct Env {
    server: Running,
    base: String,
    http: reqwest::Client,
    fake: FakeScormCloud,
    store: Store,
    lms: String,
}

impl Env {
    async fn call(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn api_get(&self, path: &str) -> (u16, Value) {
        self.call(
            self.http
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.lms),
        )
        .await
    }
    async fn api_post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(
            self.http
                .post(format!("{}{path}", self.base))
                .header("Authorization", &self.lms)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
    fn link(&self, path: &str, learner: &str, exp_in: i64) -> String {
        launch_link::mint(
            &self.base,
            LAUNCH_SECRET.as_bytes(),
            &launch_link::LaunchClaims {
                path: path.to_owned(),
                learner: learner.to_owned(),
                email: Some(format!("{learner}@example.com")),
                entry: "catalog".into(),
                exp: time::OffsetDateTime::now_utc().unix_timestamp() + exp_in,
            },
        )
        .expect("mint")
    }
    async fn stats(&self, learner: &str) -> Value {
        let (s, body) = self
            .api_get(&format!(
                "/api/v1/statistics?integration=scorm-acme&learner={learner}"
            ))
            .await;
        assert_eq!(s, 200, "{body}");
        body["items"][0].clone()
    }
}

/// The served store with a `scorm-cloud` integration speaking `api`
/// (`v1` or `v2`) to the fake, and a course imported through it.
async fn start(store: Store, dir: &std::path::Path, api: &str) -> Env {
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        launch_secret: Some(LAUNCH_SECRET.into()),
        ..Default::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let base = format!("http://{}", server.addr);
    let fake = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    let secret_file = dir.join("scorm-secret");
    std::fs::write(&secret_file, format!("{SCORM_SECRET}\n")).expect("secret file");
    let integration = Integration {
        id: "scorm-acme".into(),
        provider: "scorm-cloud".into(),
        lms_group: "g1".into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({
            "api_version": api,
            "base_url": if api == "v2" { fake.api_v2_url() } else { fake.api_url() },
            "app_id": "APP1",
            "secret_file": secret_file,
            "public_url": base,
            "registrations": "at-launch",
        }),
        active: true,
        created_ms: 0,
        updated_ms: 0,
        deactivated_ms: None,
    };
    let lms_secret = ingest_server::auth::new_secret();
    {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_integration(&integration)
            .await
            .expect("integration");
        tx.insert_api_client(
            "lms_test",
            &ingest_server::auth::hash_secret(&lms_secret),
            0,
        )
        .await
        .expect("lms");
        tx.commit().await.expect("commit");
    }
    // the course, imported through the flows against the fake
    let settings =
        scorm_flows::Settings::from_integration(&integration, &|_| None).expect("settings");
    let remote = scorm_flows::Remote::new(&settings, scorm_flows::http_client().expect("http"));
    let package = dir.join("safety.zip");
    std::fs::write(&package, fake_scorm_cloud::package("Safety Basics")).expect("package");
    scorm_flows::import::import_package(
        &store,
        &remote,
        &integration,
        "course-1",
        &package,
        vec![Duration::from_millis(10); 5],
        &scorm_flows::import::Quiet,
    )
    .await
    .expect("import");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let lms = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("lms_test:{lms_secret}"))
    );
    Env {
        server,
        base,
        http,
        fake,
        store,
        lms,
    }
}

/// Runs a check on a fresh, migrated store served by the ingest server, with
/// the fake SCORM Cloud.
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_api(engine, "v1", check).await;
}

/// [`on`] with the integration on SCORM Cloud's API V2.
async fn on_v2<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_api(engine, "v2", check).await;
}

async fn on_api<F, Fut>(engine: Engine, api: &str, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "ingest-scorm").await;
    let store = db.open().await;
    let env = check(start(store, db.dir(), api).await).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

testkit::both!(the_default_launch_posts_back_on_api_v2, on_v2);
/// The default mode (created at the first launch) on API V2, through the
/// server: assigned without names (derived from the email), created at the
/// launch with them and our postback settings, the learner sent to the
/// launch link SCORM Cloud made, which returns to our return page; the V2
/// postback (JSON) updates the statistics, a duplicate changes nothing, a
/// wrong password is refused.
async fn the_default_launch_posts_back_on_api_v2(env: Env) -> Env {
    let body = json!({"course_id": "course-1", "learner": "u-1", "email": "ada@example.com"});
    let (s, reg) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["registration_id"].as_str().expect("id").to_owned();
    assert!(
        env.fake.registration(&id).is_none(),
        "not before the launch"
    );

    let link = env.link(&ingest_server::scorm::launch_path(&id), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    let launch_link = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(
        env.fake
            .calls()
            .iter()
            .any(|c| c == fake_scorm_cloud::v2_ops::LAUNCH_LINK),
        "{:?}",
        env.fake.calls()
    );
    let fake_reg = env.fake.registration(&id).expect("created at launch");
    assert_eq!(
        (fake_reg.first_name.as_str(), fake_reg.last_name.as_str()),
        ("ada", "example.com")
    );
    let pb = fake_reg.postback.clone().expect("postback settings");
    assert_eq!(pb.url, format!("{}/scorm/postback", env.base));
    let r = env.http.get(&launch_link).send().await.expect("player");
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.expect("page");
    assert!(
        page.contains(&format!("{}/scorm/return/", env.base)),
        "the player returns to our return page: {page}"
    );

    let status = env
        .fake
        .progress(&id, "complete", "passed", Some(90.0), 600.0)
        .await
        .expect("postback");
    assert_eq!(status, Some(200));
    let stats = env.stats("u-1").await;
    assert_eq!(stats["progress"], json!(100.0), "{stats}");
    assert_eq!(stats["score"], json!(90.0));
    assert_eq!(stats["result"], "success");
    assert_eq!(stats["time_spent_ms"], 600_000);

    let report = env.fake.report_v2(&id).expect("report");
    assert!(report.trim_start().starts_with('{'), "JSON: {report}");
    assert_eq!(env.fake.send_postback_v2(&pb, &report).await, Ok(200));
    let mut wrong = pb.clone();
    wrong.password = "not-it".into();
    assert_eq!(env.fake.send_postback_v2(&wrong, &report).await, Ok(401));
    assert_eq!(env.stats("u-1").await, stats, "nothing changed");

    // the LMS resets it (the learner starts again), then deletes it
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/reset"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(
        env.fake.registration(&id).expect("kept").complete,
        "unknown"
    );
    let r = env
        .http
        .delete(format!("{}/api/v1/scorm/registrations/{id}", env.base))
        .header("Authorization", &env.lms)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    assert!(
        env.fake.registration(&id).is_none(),
        "gone from SCORM Cloud"
    );
    let (s, _) = env
        .api_get(&format!("/api/v1/scorm/registrations/{id}"))
        .await;
    assert_eq!(s, 404, "and from here");
    env
}

testkit::both!(assign_launch_postback_statistics, on);
async fn assign_launch_postback_statistics(env: Env) -> Env {
    // the LMS assigns (this integration creates registrations at first launch)
    let body = json!({"course_id": "course-1", "learner": "u-1", "email": "u-1@example.com", "first_name": "Ada", "last_name": "Lovelace"});
    let (s, reg) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["registration_id"].as_str().expect("id").to_owned();
    assert!(reg["remote_created_at_ms"].is_null(), "{reg}");
    let (s, again) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(
        (s, again["registration_id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert!(env.fake.registration(&id).is_none());
    // a misspelt field is named, not ignored
    let (s, err) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-1", "registraton_id": "x"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(err.to_string().contains("registraton_id"), "{err}");
    // no names and no email to derive them from: refused, naming the field
    let (s, err) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-nameless"}),
        )
        .await;
    assert_eq!(s, 400, "{err}");
    assert!(err.to_string().contains("first_name: required"), "{err}");

    // the learner follows the LMS-signed link: 302 to a launch URL built now
    let link = env.link(&ingest_server::scorm::launch_path(&id), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let launch_url = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(launch_url.starts_with(&env.fake.api_url()), "{launch_url}");
    let fake_reg = env.fake.registration(&id).expect("created at launch");
    assert_eq!(fake_reg.learner_id, "u-1");
    let pb = fake_reg.postback.clone().expect("postback settings");
    assert_eq!(pb.url, format!("{}/scorm/postback", env.base));
    // SCORM Cloud accepts the launch URL (signature, 15-minute window)
    let r = env.http.get(&launch_url).send().await.expect("player");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    let back = query_param(&launch_url, "redirecturl").expect("redirecturl");
    assert!(
        back.starts_with(&format!("{}/scorm/return/", env.base)),
        "{back}"
    );
    let stats = env.stats("u-1").await;
    assert_eq!(stats["course"], "course-1");
    assert!(
        stats["first_activity_at"].is_string(),
        "the launch is recorded: {stats}"
    );

    // links: another learner's, an edited one, an expired one
    let theirs = env.link(&ingest_server::scorm::launch_path(&id), "u-2", 300);
    assert_eq!(
        env.http
            .get(&theirs)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );
    let edited = link.replace("learner=u-1", "learner=u-2");
    assert_eq!(
        env.http
            .get(&edited)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );
    let expired = env.link(&ingest_server::scorm::launch_path(&id), "u-1", -1);
    assert_eq!(
        env.http
            .get(&expired)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );

    // the learner passes: SCORM Cloud posts the result back
    let status = env
        .fake
        .progress(&id, "complete", "passed", Some(90.0), 600.0)
        .await
        .expect("postback");
    assert_eq!(status, Some(200));
    let stats = env.stats("u-1").await;
    assert_eq!(stats["progress"], json!(100.0), "{stats}");
    assert_eq!(stats["score"], json!(90.0));
    assert_eq!(stats["result"], "success");
    assert_eq!(stats["time_spent_ms"], 600_000);
    assert!(stats["completed_at"].is_string());

    // duplicates and late deliveries are harmless
    let report = env.fake.report(&id).expect("report");
    assert_eq!(env.fake.send_postback(&pb, &report).await, Ok(200));
    let older = report
        .replace("<totaltime>600</totaltime>", "<totaltime>100</totaltime>")
        .replace(
            "<complete>complete</complete>",
            "<complete>incomplete</complete>",
        );
    assert_ne!(older, report);
    assert_eq!(env.fake.send_postback(&pb, &older).await, Ok(200));
    assert_eq!(env.stats("u-1").await, stats, "nothing changed");
    // wrong credentials: 401, and nothing changes
    let mut wrong = pb.clone();
    wrong.password = "guess".into();
    assert_eq!(env.fake.send_postback(&wrong, &report).await, Ok(401));

    // a lost postback: the return page triggers a refresh
    env.fake
        .update(&id, "complete", "passed", Some(95.0), 700.0)
        .expect("update");
    let r = env.http.get(&back).send().await.expect("return");
    assert_eq!(r.status().as_u16(), 200);
    let mut refreshed = false;
    for _ in 0..100 {
        if env.stats("u-1").await["score"] == json!(95.0) {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refreshed, "the return page refreshed the registration");
    // an edited return link does nothing
    let r = env
        .http
        .get(back.replace("learner=u-1", "learner=u-9"))
        .send()
        .await
        .expect("return");
    assert_eq!(r.status().as_u16(), 403);

    // the LMS refreshes by hand and reads the registration
    env.fake
        .update(&id, "complete", "passed", Some(97.0), 800.0)
        .expect("update");
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/refresh"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["result"]["score"], json!(97.0));
    assert_eq!(view["result"]["source"], "refresh");

    // an administrator overrides; the statistics say so
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/override"),
            &json!({"score": 100.0, "by": "admin@acme.example", "reason": "re-graded"}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["overridden"]["by"], "admin@acme.example");
    let stats = env.stats("u-1").await;
    assert_eq!(stats["score"], json!(100.0));
    let (s, _) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/override"),
            &json!({"score": 101.0, "by": "admin"}),
        )
        .await;
    assert_eq!(s, 400);
    // the LMS API needs LMS credentials
    let r = env
        .http
        .get(format!("{}/api/v1/scorm/registrations/{id}", env.base))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status().as_u16(), 401);
    env
}

testkit::both!(course_launch_assigns_on_the_way, on);
async fn course_launch_assigns_on_the_way(env: Env) -> Env {
    let link = env.link(
        &ingest_server::scorm::course_launch_path("course-1"),
        "u-7",
        300,
    );
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let ids = env.fake.registration_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // the same learner again: the same registration
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(env.fake.registration_ids(), ids);
    // SCORM Cloud refuses: 502, and no registration is left behind
    let link = env.link(
        &ingest_server::scorm::course_launch_path("course-1"),
        "u-8",
        300,
    );
    env.fake.fail_next(
        "rustici.registration.createRegistration",
        1,
        "quota reached",
    );
    let (s, body) = env.call(env.http.get(&link)).await;
    assert_eq!(s, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("quota reached")
            || body.to_string().contains("quota reached"),
        "{body}"
    );
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "works once SCORM Cloud accepts");
    assert_eq!(env.fake.registration_ids().len(), 2);
    // an unknown course
    let link = env.link(
        &ingest_server::scorm::course_launch_path("nope"),
        "u-7",
        300,
    );
    assert_eq!(
        env.http
            .get(&link)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        404
    );
    env
}

testkit::both!(changed_settings_apply_to_the_next_request, on);
/// The server reads a SCORM Cloud integration's settings for every request
/// (`scorm_flows::connect_course`): settings changed in the database — as
/// `coursebridge-sync configure` changes them — apply to the next request,
/// without a restart.
async fn changed_settings_apply_to_the_next_request(env: Env) -> Env {
    let moved = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    moved.add_course("course-1", "Safety Basics");
    // assigned under the old settings (at-launch: nothing in SCORM Cloud yet)
    let (s, before) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-1", "email": "u-1@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{before}");
    let before = before["registration_id"].as_str().expect("id").to_owned();

    let mut settings = {
        let mut tx = env.store.read().await.expect("read");
        tx.integration("scorm-acme")
            .await
            .expect("read")
            .expect("exists")
            .settings
    };
    settings["base_url"] = json!(moved.api_url());
    settings["registrations"] = json!("at-assignment");
    let keys = vec!["base_url".to_owned(), "registrations".to_owned()];
    let mut tx = env.store.begin().await.expect("begin");
    assert!(
        tx.change_integration_settings(
            "scorm-acme",
            &settings,
            &store::NewSettingChange {
                changed_ms: 1,
                author: "ops",
                keys_set: &keys,
                keys_unset: &[],
            },
        )
        .await
        .expect("change")
    );
    tx.commit().await.expect("commit");

    // at-assignment now: created in SCORM Cloud at once, at the new address
    let (s, after) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-2", "email": "u-2@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{after}");
    let after = after["registration_id"].as_str().expect("id").to_owned();
    assert!(moved.registration(&after).is_some(), "the new address");
    assert!(env.fake.registration(&after).is_none());
    // the older assignment is created at the new address at its launch
    let link = env.link(&ingest_server::scorm::launch_path(&before), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let launch_url = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(launch_url.starts_with(&moved.api_url()), "{launch_url}");
    assert!(moved.registration(&before).is_some());
    assert!(env.fake.registration(&before).is_none());
    env
}
