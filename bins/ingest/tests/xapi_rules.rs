//! xAPI rules of the statements and About resources over real HTTP, on
//! SQLite and PostgreSQL (the latter with `--ignored` and
//! COURSEBRIDGE_TEST_POSTGRES_URL): the authority rule (Data 2.4.9), the
//! formats of a single GET, the version header (Communication 3.3), HEAD,
//! and the comparison of a retry under each version (IEEE 9274.1.1 4.2.7).

mod common;

use std::future::Future;

use base64::Engine as _;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use store::Store;
use testkit::{Engine, TestDatabase};

struct Env {
    server: Running,
    base: String,
    client: reqwest::Client,
    auth: String,
    store: Store,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::String(self.text.clone()))
    }
    fn version(&self) -> &str {
        self.headers
            .get("x-experience-api-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
    }
}

impl Env {
    /// `method path` with this client's credentials, the version header when
    /// `version` is given, and `body` as JSON when it is not null.
    async fn call(&self, method: &str, path: &str, version: Option<&str>, body: &Value) -> Answer {
        let mut rb = self
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.base),
            )
            .header("Authorization", &self.auth);
        if let Some(v) = version {
            rb = rb.header("X-Experience-API-Version", v);
        }
        if !body.is_null() {
            rb = rb
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Answer {
            status,
            headers,
            text,
        }
    }
    async fn post(&self, version: &str, body: &Value) -> Answer {
        self.call("POST", "/xapi/statements", Some(version), body)
            .await
    }
    async fn get(&self, query: &str) -> Answer {
        self.call(
            "GET",
            &format!("/xapi/statements?{query}"),
            Some("2.0.0"),
            &Value::Null,
        )
        .await
    }
}

/// Runs a check on a fresh, migrated store (`ub-acme`, one learner, the
/// client `wh_ub`) served by the ingest server.
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "xapi-rules").await;
    let store = db.open().await;
    common::seed_ub(&store, &["ada@example.com"]).await;
    let secret = common::ub_credential(&store, "wh_ub").await;
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let env = Env {
        base: format!("http://{}", server.addr),
        server,
        client: reqwest::Client::new(),
        auth: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("wh_ub:{secret}"))
        ),
        store,
    };
    let env = check(env).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}

testkit::both!(malformed_authorities_are_refused, on);
testkit::both!(a_single_get_honours_format_and_attachments, on);
testkit::both!(every_answer_carries_the_negotiated_version, on);
testkit::both!(head_answers_statements_and_about, on);
testkit::both!(a_retry_is_compared_under_its_request_version, on);

/// A statement about the seeded course, with this id.
fn statement(id: &str) -> Value {
    let mut s = common::fixture("udemy-course-progressed-mbox");
    s["id"] = json!(id);
    s
}

const CONSUMER: &str = r#"{"account":{"homePage":"http://example.com/xAPI/OAuth/Token","name":"oauth_consumer_x75db"}}"#;

/// Data 2.4.9 (XAPI-00024, XAPI-00098): an authority that is an identified
/// Group, or a Group of other than two Agents, is a 400 naming `authority`
/// and the rule, under both versions, and stores nothing; an Agent or an
/// OAuth pair is accepted and replaced by the client's own authority.
async fn malformed_authorities_are_refused(env: Env) -> Env {
    let consumer: Value = serde_json::from_str(CONSUMER).expect("json");
    let bob = json!({"mbox": "mailto:bob@example.com"});
    let james = json!({"mbox": "mailto:james@example.com"});
    for (n, (authority, path)) in [
        (
            json!({"objectType": "Group", "openid": "http://openid.example.org/12345", "member": [consumer, bob]}),
            "authority",
        ),
        (
            json!({"objectType": "Group", "mbox": "mailto:team@example.com"}),
            "authority",
        ),
        (
            json!({"objectType": "Group", "member": [bob]}),
            "authority.member",
        ),
        (
            json!({"objectType": "Group", "member": [consumer, bob, james]}),
            "authority.member",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        for version in ["1.0.3", "2.0.0"] {
            let id = format!("a0000000-0000-4000-8000-00000000000{n}");
            let mut s = statement(&id);
            s["authority"] = authority.clone();
            let r = env.post(version, &s).await;
            assert_eq!(r.status, 400, "{authority} under {version}: {}", r.text);
            let body = r.json();
            assert_eq!(body["details"][0]["path"], path, "{body}");
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(path) && e.contains("Data 2.4.9")),
                "{body}"
            );
            assert_eq!(env.get(&format!("statementId={id}")).await.status, 404);
        }
    }
    for (n, authority) in [
        consumer.clone(),
        json!({"objectType": "Group", "member": [consumer, bob]}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("a1000000-0000-4000-8000-00000000000{n}");
        let mut s = statement(&id);
        s["authority"] = authority;
        let r = env.post("1.0.3", &s).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got = env.get(&format!("statementId={id}")).await.json();
        assert_eq!(
            got["authority"],
            json!({"objectType": "Agent", "account": {"homePage": "http://127.0.0.1:8080", "name": "wh_ub"}}),
            "the LRS sets the authority from the credentials"
        );
    }
    env
}

/// `statementId` and `voidedStatementId` answer in `format=exact|ids|
/// canonical` exactly what the list answers for that statement, and with
/// `attachments=true` as multipart/mixed.
async fn a_single_get_honours_format_and_attachments(env: Env) -> Env {
    let id = "b0000000-0000-4000-8000-000000000001";
    let mut s = statement(id);
    s["verb"]["display"] = json!({"en-US": "progressed", "de-DE": "fortgeschritten"});
    s["actor"]["name"] = json!("Ada");
    assert_eq!(env.post("2.0.0", &s).await.status, 200);
    let verb = url::form_urlencoded::byte_serialize(
        s["verb"]["id"].as_str().unwrap_or_default().as_bytes(),
    )
    .collect::<String>();
    let mut seen = Vec::new();
    for format in ["exact", "ids", "canonical"] {
        let one = env.get(&format!("statementId={id}&format={format}")).await;
        assert_eq!(one.status, 200, "{format}: {}", one.text);
        let one = one.json();
        let list = env
            .get(&format!("verb={verb}&format={format}"))
            .await
            .json();
        assert_eq!(
            list["statements"].as_array().map(Vec::len),
            Some(1),
            "{list}"
        );
        assert_eq!(one, list["statements"][0], "format={format}: single = list");
        seen.push(one);
    }
    let (exact, ids, canonical) = (&seen[0], &seen[1], &seen[2]);
    assert_eq!(
        exact["verb"]["display"].as_object().map(|m| m.len()),
        Some(2)
    );
    assert_eq!(exact["actor"]["name"], "Ada");
    assert_eq!(ids["actor"].get("name"), None, "ids: no name");
    assert_eq!(ids["actor"]["mbox"], s["actor"]["mbox"]);
    assert_eq!(ids["verb"], json!({"id": s["verb"]["id"]}));
    assert_eq!(
        canonical["verb"]["display"].as_object().map(|m| m.len()),
        Some(1)
    );
    assert!(
        env.get(&format!("statementId={id}&format=full"))
            .await
            .status
            == 400,
        "an unknown format is refused"
    );
    // A voided statement, by voidedStatementId, in each format.
    let void = json!({"id": "b0000000-0000-4000-8000-000000000002", "actor": {"mbox": "mailto:lrs@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}, "object": {"objectType": "StatementRef", "id": id}});
    assert_eq!(env.post("2.0.0", &void).await.status, 200);
    for (format, expected) in [("exact", exact), ("ids", ids), ("canonical", canonical)] {
        let one = env
            .get(&format!("voidedStatementId={id}&format={format}"))
            .await;
        assert_eq!(
            (one.status, &one.json()),
            (200, expected),
            "voided, {format}"
        );
    }
    let multi = env
        .get(&format!("voidedStatementId={id}&attachments=true"))
        .await;
    assert_eq!(multi.status, 200);
    let ct = multi.headers["content-type"].to_str().unwrap_or_default();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let exact_text = env
        .get(&format!("voidedStatementId={id}&format=exact"))
        .await
        .text;
    assert!(multi.text.contains(&exact_text), "{}", multi.text);
    env
}

/// Communication 3.3: every answer carries X-Experience-API-Version —
/// 1.0.3 for 1.0.x, 2.0.0 for 2.0.x, the latest (2.0.0) when the request
/// named none or none we speak; the statements resource refuses a request
/// without it (400), About does not.
async fn every_answer_carries_the_negotiated_version(env: Env) -> Env {
    let s = statement("c0000000-0000-4000-8000-000000000001");
    for (method, path, body) in [
        ("POST", "/xapi/statements", s.clone()),
        (
            "PUT",
            "/xapi/statements?statementId=c0000000-0000-4000-8000-000000000001",
            s.clone(),
        ),
        (
            "GET",
            "/xapi/statements?statementId=c0000000-0000-4000-8000-000000000001",
            Value::Null,
        ),
    ] {
        for version in [None, Some("1.1.0"), Some("0.95"), Some("")] {
            let r = env.call(method, path, version, &body).await;
            assert_eq!(
                (r.status, r.version()),
                (400, "2.0.0"),
                "{method} with {version:?}: {}",
                r.text
            );
            assert!(r.text.contains("X-Experience-API-Version"), "{}", r.text);
            assert!(
                r.headers
                    .contains_key("x-experience-api-consistent-through")
            );
        }
    }
    for (asked, answered) in [
        ("1.0", "1.0.3"),
        ("1.0.1", "1.0.3"),
        ("2.0", "2.0.0"),
        ("2.0.7", "2.0.0"),
    ] {
        let r = env
            .call("GET", "/xapi/statements?limit=1", Some(asked), &Value::Null)
            .await;
        assert_eq!((r.status, r.version()), (200, answered), "{asked}");
        // Errors too: an unknown parameter, and no credentials.
        let r = env
            .call("GET", "/xapi/statements?bogus=1", Some(asked), &Value::Null)
            .await;
        assert_eq!((r.status, r.version()), (400, answered), "{asked}");
        let r = env
            .client
            .get(format!("{}/xapi/statements", env.base))
            .header("X-Experience-API-Version", asked)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["x-experience-api-version"], answered, "{asked}");
        let about = env
            .call("GET", "/xapi/about", Some(asked), &Value::Null)
            .await;
        assert_eq!((about.status, about.version()), (200, answered), "{asked}");
    }
    for version in [None, Some("9.9.9")] {
        let about = env.call("GET", "/xapi/about", version, &Value::Null).await;
        assert_eq!(
            (about.status, about.version()),
            (200, "2.0.0"),
            "{version:?}"
        );
        assert_eq!(about.json()["version"], json!(["1.0.3", "2.0.0"]));
    }
    // What axum answers itself (a method the resource does not have).
    let r = env
        .call("DELETE", "/xapi/statements", Some("1.0.3"), &Value::Null)
        .await;
    assert_eq!((r.status, r.version()), (405, "1.0.3"));
    let r = env.call("POST", "/xapi/about", None, &Value::Null).await;
    assert_eq!((r.status, r.version()), (405, "2.0.0"));
    env
}

/// Communication 1.1: HEAD answers as GET would, without a body — About's
/// (served by its GET route) and the statements resource's.
async fn head_answers_statements_and_about(env: Env) -> Env {
    assert_eq!(
        env.post("1.0.3", &statement("d0000000-0000-4000-8000-000000000001"))
            .await
            .status,
        200
    );
    let about = env.call("HEAD", "/xapi/about", None, &Value::Null).await;
    assert_eq!((about.status, about.version()), (200, "2.0.0"));
    assert_eq!(about.headers["content-type"], "application/json");
    assert!(about.text.is_empty());
    for query in [
        "statementId=d0000000-0000-4000-8000-000000000001",
        "limit=1",
    ] {
        let get = env
            .call(
                "GET",
                &format!("/xapi/statements?{query}"),
                Some("1.0.3"),
                &Value::Null,
            )
            .await;
        let head = env
            .call(
                "HEAD",
                &format!("/xapi/statements?{query}"),
                Some("1.0.3"),
                &Value::Null,
            )
            .await;
        assert_eq!((head.status, head.version()), (200, "1.0.3"), "{query}");
        assert!(head.text.is_empty(), "{query}");
        assert!(!get.text.is_empty(), "{query}");
        assert_eq!(
            head.headers.get("last-modified"),
            get.headers.get("last-modified")
        );
        assert!(
            head.headers
                .contains_key("x-experience-api-consistent-through")
        );
    }
    let missing = env
        .call(
            "HEAD",
            "/xapi/statements?statementId=d0000000-0000-4000-8000-000000000009",
            Some("1.0.3"),
            &Value::Null,
        )
        .await;
    assert_eq!(missing.status, 404);
    env
}

/// An id already stored (docs/xapi-lrs.md): a retry whose duration differs
/// below 0.01 s and whose Activity id differs only in the case of scheme and
/// host is the same statement under 2.0 (accepted, nothing changes) and
/// another under 1.0.x (409); a default port written out is another under
/// both.
async fn a_retry_is_compared_under_its_request_version(env: Env) -> Env {
    let id = "e0000000-0000-4000-8000-000000000001";
    let mut s = statement(id);
    s["result"]["duration"] = json!("PT1M1.5S");
    assert_eq!(env.post("2.0.0", &s).await.status, 200);
    let stored = env.get(&format!("statementId={id}")).await.json();
    let mut finer = s.clone();
    finer["result"]["duration"] = json!("PT1M1.504S");
    let activity = s["object"]["id"].as_str().unwrap_or_default().to_owned();
    let mut shouted = s.clone();
    shouted["object"]["id"] =
        json!(activity.replacen("https://www.udemy.com", "HTTPS://WWW.Udemy.COM", 1));
    assert_ne!(shouted["object"]["id"], s["object"]["id"]);
    for retry in [&finer, &shouted] {
        let r = env.post("2.0.0", retry).await;
        assert_eq!((r.status, r.json()), (200, json!([id])), "2.0: {retry}");
        let r = env.post("1.0.3", retry).await;
        assert_eq!(r.status, 409, "1.0.3: {retry}: {}", r.text);
    }
    let mut port = s.clone();
    port["object"]["id"] = json!(activity.replacen("udemy.com", "udemy.com:443", 1));
    for version in ["1.0.3", "2.0.0"] {
        assert_eq!(env.post(version, &port).await.status, 409, "{version}");
    }
    assert_eq!(
        env.get(&format!("statementId={id}")).await.json(),
        stored,
        "nothing changed"
    );
    env
}
