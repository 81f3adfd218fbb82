//! The LRS suites' server: two integrations (`os-acme`, `ub-acme`), each with
//! a webhook credential, served over HTTP on loopback; requests speak a
//! chosen xAPI version.
#![allow(dead_code)]

use std::future::Future;

use base64::Engine as _;
use ingest_server::config::{Config, Limits};
use ingest_server::server::{self, Running};
use reqwest::Method;
use serde_json::{Value, json};
use store::{Credential, Integration, Store};
use testkit::{Engine, TestDatabase};

pub const T0: i64 = 1_727_000_000_000;

/// The largest document the suites' server takes.
pub const MAX_DOCUMENT: usize = 64 * 1024;

pub struct Env {
    pub server: Running,
    pub base: String,
    pub client: reqwest::Client,
    /// `Authorization` values of the two integrations' credentials.
    pub os: String,
    pub ub: String,
    pub store: Store,
    pub config: Config,
}

/// An answer: status, headers, body bytes.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("no ETag (status {}): {}", self.status, self.json()))
            .to_owned()
    }
    /// The error text of a JSON error answer.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

fn basic(u: &str, p: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    )
}

/// A request under construction.
pub struct Req<'e> {
    env: &'e Env,
    rb: reqwest::RequestBuilder,
}

impl Req<'_> {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.rb = self.rb.header(k, v);
        self
    }
    pub fn json(self, body: &Value) -> Self {
        let mut r = self.header("Content-Type", "application/json");
        r.rb = r.rb.body(body.to_string());
        r
    }
    pub fn bytes(self, content_type: &str, body: Vec<u8>) -> Self {
        let mut r = self.header("Content-Type", content_type);
        r.rb = r.rb.body(body);
        r
    }
    pub async fn send(self) -> Answer {
        let r = self.rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.expect("body").to_vec();
        let _ = self.env;
        Answer {
            status,
            headers,
            body,
        }
    }
}

impl Env {
    /// A request as `auth`, speaking `version` (`None`: no version header).
    pub fn req<'e>(
        &'e self,
        method: Method,
        path_and_query: &str,
        auth: &str,
        version: Option<&str>,
    ) -> Req<'e> {
        let mut rb = self
            .client
            .request(method, format!("{}{path_and_query}", self.base))
            .header("Authorization", auth);
        if let Some(v) = version {
            rb = rb.header("X-Experience-API-Version", v);
        }
        Req { env: self, rb }
    }

    /// POST /xapi/statements (1.0.3) as `auth`; the status.
    pub async fn post_statement(&self, auth: &str, statement: &Value) -> u16 {
        let a = self
            .req(Method::POST, "/xapi/statements", auth, Some("1.0.3"))
            .json(statement)
            .send()
            .await;
        assert!(a.status == 200 || a.status >= 400, "{}", a.json());
        a.status
    }

    /// Stops the server and serves the same database again (a restart).
    pub async fn restart(self) -> Env {
        let Env {
            server,
            client,
            os,
            ub,
            store,
            config,
            ..
        } = self;
        server.stop().await.expect("graceful stop");
        let server = server::start(store.clone(), config.clone())
            .await
            .expect("start again");
        Env {
            base: format!("http://{}", server.addr),
            server,
            client,
            os,
            ub,
            store,
            config,
        }
    }
}

/// Query text for a value (percent-encoded).
pub fn q(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The `agent` parameter of an Agent by email.
pub fn agent(email: &str) -> String {
    q(&json!({"objectType": "Agent", "mbox": format!("mailto:{email}")}).to_string())
}

async fn seed(store: &Store) -> (String, String) {
    let mut tx = store.begin().await.expect("begin");
    let mut auths = Vec::new();
    for (id, provider, client) in [
        ("os-acme", "opensesame", "wh_os"),
        ("ub-acme", "udemy-business", "wh_ub"),
    ] {
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
        let secret = ingest_server::auth::new_secret();
        tx.insert_credential(&Credential {
            client_id: client.into(),
            integration_id: id.into(),
            secret_hash: ingest_server::auth::hash_secret(&secret),
            created_ms: T0,
            revoked_ms: None,
        })
        .await
        .expect("credential");
        auths.push(basic(client, &secret));
    }
    tx.commit().await.expect("commit");
    let ub = auths.pop().expect("ub");
    let os = auths.pop().expect("os");
    (os, ub)
}

/// Runs a check against a fresh, migrated database served by the server.
pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_config(engine, |_| {}, check).await;
}

/// [`on`], with the server's configuration changed by `edit`.
pub async fn on_config<F, Fut>(engine: Engine, edit: fn(&mut Config), check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "lrs").await;
    let store = db.open().await;
    let (os, ub) = seed(&store).await;
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        limits: Limits {
            max_document_bytes: MAX_DOCUMENT,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut config = config;
    edit(&mut config);
    let server = server::start(store.clone(), config.clone())
        .await
        .expect("start");
    let env = Env {
        base: format!("http://{}", server.addr),
        server,
        client: reqwest::Client::new(),
        os,
        ub,
        store,
        config,
    };
    let env = check(env).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}
