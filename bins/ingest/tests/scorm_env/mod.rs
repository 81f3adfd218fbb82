//! What the SCORM route suites share: the ingest server on a fresh store
//! with a `scorm-cloud` integration on the fake SCORM Cloud (API V1 or V2),
//! a course imported through it, LMS credentials and signed links.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use fake_scorm_cloud::FakeScormCloud;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{Integration, Store};
use testkit::{Engine, TestDatabase};
pub const LAUNCH_SECRET: &str = "test-launch-secret-0123456789abcdef";
pub const SCORM_SECRET: &str = "scorm-secret-key";

pub struct Env {
    pub server: Running,
    pub base: String,
    pub http: reqwest::Client,
    pub fake: FakeScormCloud,
    pub store: Store,
    pub lms: String,
}

impl Env {
    pub async fn call(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        self.call(
            self.http
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.lms),
        )
        .await
    }
    pub async fn api_post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(
            self.http
                .post(format!("{}{path}", self.base))
                .header("Authorization", &self.lms)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
    pub fn link(&self, path: &str, learner: &str, exp_in: i64) -> String {
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
    pub async fn stats(&self, learner: &str) -> Value {
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
pub async fn start(store: Store, dir: &std::path::Path, api: &str) -> Env {
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
pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_api(engine, "v1", check).await;
}

/// [`on`] with the integration on SCORM Cloud's API V2.
pub async fn on_v2<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_api(engine, "v2", check).await;
}

pub async fn on_api<F, Fut>(engine: Engine, api: &str, check: F)
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

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
