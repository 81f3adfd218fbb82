//! Driving the fake's API V2 with the requests `scorm_cloud_client::v2::ClientV2`
//! builds, sent by reqwest, so that the fake and the client agree.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use fake_scorm_cloud::FakeScormCloud;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use scorm_cloud_client::NewRegistration;
use scorm_cloud_client::v2::{ClientV2, Method, RequestV2};
use serde_json::Value;

pub const APP: &str = "app-1";
pub const SECRET: &str = "s3cret-key";

pub struct Env {
    pub fake: FakeScormCloud,
    pub client: ClientV2,
    pub http: reqwest::Client,
}

/// An answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The `message` of a JSON error body (empty when there is none).
    pub fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default()
    }
}

pub async fn env() -> Env {
    let fake = FakeScormCloud::start(APP, SECRET).await.expect("start");
    let client = ClientV2::new(fake.api_v2_url().parse().expect("url"), APP, SECRET);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http");
    Env { fake, client, http }
}

async fn answer(r: reqwest::RequestBuilder) -> Answer {
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.bytes().await.expect("body").to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

impl Env {
    /// The `Authorization` value the client sends.
    pub fn authorization(&self) -> String {
        self.client.registration("any").authorization
    }

    /// Sends a request as the client describes it.
    pub async fn send(&self, r: &RequestV2) -> Answer {
        let b = match r.method {
            Method::Get => self.http.get(&r.url),
            Method::Post => self.http.post(&r.url),
            Method::Head => self.http.head(&r.url),
            Method::Delete => self.http.delete(&r.url),
        };
        let mut b = b.header(AUTHORIZATION, &r.authorization);
        if let Some(json) = &r.json {
            b = b
                .header(CONTENT_TYPE, "application/json")
                .body(json.clone());
        }
        answer(b).await
    }

    /// Sends an upload with the package as the part the client names.
    pub async fn upload(&self, r: &RequestV2, data: Vec<u8>) -> Answer {
        let part = r.file_part.clone().expect("an upload");
        self.upload_as(r, &part, data).await
    }

    /// Sends an upload with the package as the part named `part`.
    pub async fn upload_as(&self, r: &RequestV2, part: &str, data: Vec<u8>) -> Answer {
        let file = reqwest::multipart::Part::bytes(data)
            .file_name("course.zip")
            .mime_str("application/zip")
            .expect("mime");
        let form = reqwest::multipart::Form::new().part(part.to_owned(), file);
        answer(
            self.http
                .post(&r.url)
                .header(AUTHORIZATION, &r.authorization)
                .multipart(form),
        )
        .await
    }

    /// Sends `body` (if any) as `content_type` to `path` under the V2 base,
    /// with the right credentials: for what the client would refuse to build.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Answer {
        let url = format!("{}{path}", self.fake.api_v2_url());
        let mut b = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.authorization());
        if !content_type.is_empty() {
            b = b.header(CONTENT_TYPE, content_type).body(body.to_owned());
        }
        answer(b).await
    }

    /// POSTs this JSON to `path`.
    pub async fn post_json(&self, path: &str, json: &Value) -> Answer {
        self.raw(
            reqwest::Method::POST,
            path,
            "application/json",
            &json.to_string(),
        )
        .await
    }

    /// Creates a registration through V2 (204 expected).
    pub async fn register(&self, reg: &NewRegistration) {
        let a = self
            .send(&self.client.create_registration(reg).expect("valid"))
            .await;
        assert_eq!(a.status, 204, "{a:?}");
    }
}

/// A registration of `learner` to `course`, without names or postback.
pub fn registration(id: &str, course: &str, learner: &str) -> NewRegistration {
    NewRegistration {
        course_id: course.into(),
        registration_id: id.into(),
        learner_id: learner.into(),
        first_name: String::new(),
        last_name: String::new(),
        email: None,
        postback: None,
    }
}

/// Serves `routes` on loopback; its address.
pub async fn serve(routes: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, routes).await;
    });
    addr
}

/// What a postback receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// A postback receiver on loopback (`POST /pb/{name}` answers 200); its
/// address and what it received.
pub async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let routes = Router::new().route(
        "/pb/{name}",
        axum::routing::post(
            move |Path(name): Path<String>, headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let header = |h: axum::http::HeaderName| {
                        headers
                            .get(h)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    sink.lock().expect("lock").push(Received {
                        path: name,
                        content_type: header(axum::http::header::CONTENT_TYPE).unwrap_or_default(),
                        authorization: header(axum::http::header::AUTHORIZATION),
                        body: body.to_vec(),
                    });
                    StatusCode::OK
                }
            },
        ),
    );
    (serve(routes).await, got)
}
