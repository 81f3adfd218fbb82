//! The harness of the LMS API suites (`catalog_api.rs`, `launch_links_api.rs`):
//! a seeded catalog served by the ingest server over loopback, on SQLite or
//! PostgreSQL, and an HTTP client with LMS and provider credentials.
#![allow(dead_code)]

use std::future::Future;

use base64::Engine as _;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{CourseFields, Credential, Integration, ScormCourse, Store};
use testkit::{Engine, TestDatabase};

pub const LAUNCH_SECRET: &str = "test-launch-secret-0123456789abcdef";
pub const T0: i64 = 1_727_000_000_000;
/// An external id with a slash, spaces, a `?`, a `%` and a `+`.
pub const ODD_ID: &str = "dept/a b?c%d+e";

pub struct Env {
    pub server: Running,
    pub base: String,
    pub client: reqwest::Client,
    pub lms: String,
    pub provider: String,
    pub store: Store,
}

pub fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// A path segment, percent-encoded (`/`, spaces and the rest).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Env {
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Answer {
        let r = rb.send().await.expect("request");
        Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.expect("body"),
        }
    }
    pub async fn get_as(&self, path: &str, auth: Option<&str>) -> Answer {
        let mut rb = self.client.get(format!("{}{path}", self.base));
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        self.send(rb).await
    }
    pub async fn get(&self, path: &str) -> Answer {
        self.get_as(path, Some(&self.lms)).await
    }
    /// A page of `GET /api/v1/courses?{query}` (200 asserted).
    pub async fn courses(&self, query: &str) -> (Vec<Value>, Option<String>) {
        let a = self.get(&format!("/api/v1/courses?{query}")).await;
        assert_eq!(a.status, 200, "{query}: {}", a.text);
        let body = a.json();
        let items = body["items"].as_array().expect("items").clone();
        (items, body["next_cursor"].as_str().map(str::to_owned))
    }
    /// `kind/external_id` of each item.
    pub async fn names(&self, query: &str) -> Vec<String> {
        self.courses(query).await.0.iter().map(key).collect()
    }
    /// Saves a course (or path) of an integration at time `at`.
    pub async fn upsert(
        &self,
        integration: &str,
        kind: &str,
        id: &str,
        name: &str,
        archived: bool,
        at: i64,
    ) {
        let mut tx = self.store.begin().await.expect("begin");
        tx.upsert_course(
            integration,
            kind,
            id,
            &CourseFields {
                name: name.into(),
                launch_url: Some(format!("https://provider.example/launch/{id}")),
                ..CourseFields::default()
            },
            archived,
            "h",
            at,
        )
        .await
        .expect("course");
        tx.commit().await.expect("commit");
    }
}

pub fn key(item: &Value) -> String {
    format!(
        "{}:{}",
        item["integration"].as_str().expect("integration"),
        item["external_id"].as_str().expect("external_id")
    )
}

pub fn integration(id: &str, provider: &str, group: &str) -> Integration {
    Integration {
        id: id.into(),
        provider: provider.into(),
        lms_group: group.into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({}),
        active: true,
        created_ms: T0,
        updated_ms: T0,
        deactivated_ms: None,
    }
}

/// Two integrations; in `os-acme` a course with every field (T0), a plain
/// course (T0+1s), a learning path (T0+2s), an archived course (T0+3s) and
/// the course [`ODD_ID`] (T0+4s); in `ub-acme` one course (T0+5s).
/// Returns (LMS credentials, provider credentials) as `Authorization` values.
pub async fn seed(store: &Store) -> (String, String) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&integration("os-acme", "opensesame", "g1"))
        .await
        .expect("integration");
    tx.insert_integration(&integration("ub-acme", "udemy-business", "g2"))
        .await
        .expect("integration");
    let full = tx
        .upsert_course(
            "os-acme",
            "course",
            "full-1",
            &CourseFields {
                name: "Leading Remote Teams, \"well\"".into(),
                description: Some("<p>How to lead</p>".into()),
                image_url: Some("https://img.example/full-1.png".into()),
                duration_minutes: Some(72),
                author: Some("=cmd|' /C calc'!A0".into()),
                lang: Some("en".into()),
                launch_url: Some("https://opensesame.example/launch/full-1".into()),
                modified_at: Some("2024-09-01T00:00:00Z".into()),
                subjects: vec!["Leadership".into(), "Remote work".into()],
                content_type: Some("video".into()),
            },
            false,
            "h",
            T0,
        )
        .await
        .expect("course");
    tx.set_activity_ids(
        "os-acme",
        full,
        &[
            "https://www.opensesame.com/c/full-1".into(),
            "https://www.opensesame.com/c/full-1-alt".into(),
        ],
    )
    .await
    .expect("ids");
    tx.upsert_scorm_course(&ScormCourse {
        course_id: "scorm-full-1".into(),
        integration_id: None,
        title: Some("Leading Remote Teams".into()),
        lms_course: Some(full),
        created_ms: T0,
        updated_ms: T0,
    })
    .await
    .expect("scorm course");
    let simple = [
        ("os-acme", "course", "plain-2", false, T0 + 1_000),
        ("os-acme", "path", "path-3", false, T0 + 2_000),
        ("os-acme", "course", "archived-4", true, T0 + 3_000),
        ("os-acme", "course", ODD_ID, false, T0 + 4_000),
        ("ub-acme", "course", "1565838", false, T0 + 5_000),
    ];
    for (integration, kind, id, archived, at) in simple {
        tx.upsert_course(
            integration,
            kind,
            id,
            &CourseFields {
                name: format!("Course {id}"),
                launch_url: Some(format!("https://provider.example/launch/{}", segment(id))),
                ..CourseFields::default()
            },
            archived,
            "h",
            at,
        )
        .await
        .expect("course");
    }
    let secret = ingest_server::auth::new_secret();
    tx.insert_credential(&Credential {
        client_id: "wh_os".into(),
        integration_id: "os-acme".into(),
        secret_hash: ingest_server::auth::hash_secret(&secret),
        created_ms: T0,
        revoked_ms: None,
    })
    .await
    .expect("cred");
    let provider = basic("wh_os", &secret);
    let lms_secret = ingest_server::auth::new_secret();
    tx.insert_api_client(
        "lms_test",
        &ingest_server::auth::hash_secret(&lms_secret),
        T0,
    )
    .await
    .expect("lms");
    tx.commit().await.expect("commit");
    (basic("lms_test", &lms_secret), provider)
}

/// A free loopback port, so that `public_url` (where minted links point)
/// can name the server before it starts.
pub fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

pub async fn start(store: Store, launch_secret: Option<&str>) -> Env {
    let (lms, provider) = seed(&store).await;
    let listen = free_addr();
    let base = format!("http://{listen}");
    let config = Config {
        listen,
        public_url: base.clone(),
        launch_secret: launch_secret.map(str::to_owned),
        limits: ingest_server::config::Limits {
            max_page: 50,
            ..Default::default()
        },
        ..Default::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Env {
        server,
        base,
        client,
        lms,
        provider,
        store,
    }
}

/// Runs a check on a fresh, migrated, seeded store served by the ingest
/// server (with a launch secret).
pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_with_secret(engine, Some(LAUNCH_SECRET), check).await;
}

/// [`on`] without a launch secret configured.
pub async fn on_without_secret<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_with_secret(engine, None, check).await;
}

pub async fn on_with_secret<F, Fut>(engine: Engine, secret: Option<&str>, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "catalog").await;
    let store = db.open().await;
    let env = check(start(store, secret).await).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}

impl Env {
    pub async fn post(&self, path: &str, auth: Option<&str>, body: &str) -> Answer {
        let mut rb = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        self.send(rb).await
    }
}
