//! The webhook suites' server: a fresh database with `ub-acme`, a provider
//! and an LMS credential, the ingest server with short delivery delays, and a
//! [`Receiver`].

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use ingest_server::config::{Config, Delivery};
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{CourseFields, Store};
use testkit::{Engine, TestDatabase};

use super::Receiver;
use crate::common;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Env {
    pub server: Running,
    pub base: String,
    pub client: reqwest::Client,
    pub lms: String,
    pub provider: String,
    pub store: Store,
    pub rx: Receiver,
    pub db_url: String,
    pub dir: std::path::PathBuf,
    pub courses: usize,
}

/// Short delays, so that retries happen within a test.
pub fn delivery() -> Delivery {
    Delivery {
        poll_ms: 20,
        allow_http: true,
        allow_private_networks: true,
        timeout_secs: 1,
        retry_first_ms: Some(50),
        retry_max_secs: 1,
        ..Delivery::default()
    }
}

async fn start(store: Store, db_url: String, dir: std::path::PathBuf, delivery: Delivery) -> Env {
    common::seed_ub(&store, &["ada@example.com"]).await;
    let provider = common::ub_credential(&store, "wh_ub").await;
    let lms_secret = ingest_server::auth::new_secret();
    let mut tx = store.begin().await.expect("begin");
    tx.insert_api_client(
        "lms_test",
        &ingest_server::auth::hash_secret(&lms_secret),
        common::T0,
    )
    .await
    .expect("lms client");
    tx.commit().await.expect("commit");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        delivery,
        ..Config::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    Env {
        base: format!("http://{}", server.addr),
        server,
        client: reqwest::Client::new(),
        lms: basic("lms_test", &lms_secret),
        provider: basic("wh_ub", &provider),
        store,
        rx: Receiver::start().await,
        db_url,
        dir,
        courses: 0,
    }
}

pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_with(engine, delivery(), check).await;
}

/// [`on`] with these `[delivery]` settings.
pub async fn on_with<F, Fut>(engine: Engine, delivery: Delivery, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "webhooks").await;
    let store = db.open().await;
    let env = check(start(store, db.url().to_owned(), db.dir().to_owned(), delivery).await).await;
    env.server.stop().await.expect("stop");
    env.store.close().await;
    db.remove().await;
}

impl Env {
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.lms),
        )
        .await
    }
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("Authorization", &self.lms)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A subscription to the receiver's `path`; its id (the receiver learns the secret).
    pub async fn subscribe(&self, path: &str, extra: Value) -> String {
        let mut body = json!({"url": self.rx.url(path), "event_types": ["*"]});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, r) = self.post("/api/v1/webhooks", &body).await;
        assert_eq!(s, 201, "{r}");
        let secret = r["secret"].as_str().expect("secret");
        assert!(secret.starts_with("whsec_"), "{r}");
        self.rx.expect_secret(path, secret);
        r["id"].as_str().expect("id").to_owned()
    }

    /// `n` new courses of `ub-acme`, each with its `course.created` event.
    pub async fn add_courses(&mut self, n: usize) {
        add_courses(&self.store, self.courses, n).await;
        self.courses += n;
    }

    /// The outbox's last `seq` (PostgreSQL: after sequencing what is committed).
    pub async fn head(&self) -> i64 {
        ingest_server::delivery::sequence(&self.store)
            .await
            .expect("sequence");
        let mut tx = self.store.read().await.expect("read");
        tx.outbox_state().await.expect("state").last_seq
    }

    /// Polls the subscription until `done` holds.
    pub async fn wait_webhook(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let until = std::time::Instant::now() + WAIT;
        loop {
            let (s, w) = self.get(&format!("/api/v1/webhooks/{id}")).await;
            assert_eq!(s, 200, "{w}");
            if done(&w) {
                return w;
            }
            assert!(std::time::Instant::now() < until, "not reached: {w}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The attempts, oldest first.
    pub async fn attempts(&self, id: &str) -> Vec<Value> {
        let (s, r) = self
            .get(&format!("/api/v1/webhooks/{id}/attempts?limit=1000"))
            .await;
        assert_eq!(s, 200, "{r}");
        let mut list = r["attempts"].as_array().expect("attempts").clone();
        list.reverse();
        list
    }
}

pub fn lms_delivery_type(t: &str) -> lms_delivery::EventType {
    lms_delivery::EventType::parse(t).expect("event type")
}

pub fn seqs(hits: &[super::Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.seq).collect()
}

/// Courses `c{from}`… of `ub-acme`, each with its `course.created` event, in
/// one transaction, dated now: a server prunes events past retention when it
/// starts, and an event dated long ago could be pruned under a test's feet.
pub async fn add_courses(store: &Store, from: usize, n: usize) {
    let now = ingest_server::clock::now_ms();
    let mut tx = store.begin().await.expect("begin");
    let mut changes = Vec::new();
    for k in from..from + n {
        let id = tx
            .upsert_course(
                "ub-acme",
                "course",
                &format!("c{k}"),
                &CourseFields {
                    name: format!("Course {k}"),
                    ..CourseFields::default()
                },
                false,
                "h",
                now,
            )
            .await
            .expect("course");
        changes.push(records::CourseChange::new(
            id,
            lms_delivery_type("course.created"),
        ));
    }
    records::append_course_events(&mut tx, &changes, now)
        .await
        .expect("events");
    tx.commit().await.expect("commit");
}
