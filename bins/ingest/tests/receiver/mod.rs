//! A webhook receiver on loopback for the webhook suites: it verifies every
//! delivery's Standard Webhooks signature with its own few lines (HMAC-SHA256
//! and base64 directly, not `lms_delivery`), records every request, answers
//! as each path is scripted to, and notices two requests in flight at once
//! on one path.
#![allow(dead_code)]

pub mod env;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// Waits this long, then answers 200 (the sender has given up by then).
    Hang(Duration),
    /// 302 to this URL.
    Redirect(String),
    /// Holds the request open, answering nothing, until [`Receiver::release`]
    /// (then 200).
    Hold,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub webhook_id: String,
    pub timestamp: i64,
    /// The signature checked out with the path's secret, and the timestamp is within 5 minutes.
    pub verified: bool,
    pub user_agent: String,
    pub content_type: String,
    pub body: Value,
    /// The envelope's `seq` (-1 when missing).
    pub seq: i64,
    /// What was answered.
    pub answered: String,
}

#[derive(Default)]
struct Inner {
    secrets: Mutex<HashMap<String, Vec<u8>>>,
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    delay: Mutex<HashMap<String, Duration>>,
    hits: Mutex<Vec<Hit>>,
    in_flight: Mutex<HashMap<String, usize>>,
    overlap: AtomicBool,
    /// Requests held open now ([`Reply::Hold`]).
    held: AtomicUsize,
    released: AtomicBool,
    release: tokio::sync::Notify,
}

/// Counts a held request until it ends, answered or dropped.
struct Held(Arc<Inner>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

/// Decrements a path's in-flight count when the request ends, answered or dropped.
struct InFlight(Arc<Inner>, String);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.in_flight.lock() {
            if let Some(n) = m.get_mut(&self.1) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

/// The independent check: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`,
/// the key being the base64 after `whsec_`.
pub fn verify(key: &[u8], id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut m = inner.in_flight.lock().expect("lock");
        let n = m.entry(path.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            inner.overlap.store(true, Ordering::SeqCst);
        }
    }
    let _guard = InFlight(inner.clone(), path.clone());
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let key = inner.secrets.lock().expect("lock").get(&path).cloned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let timestamp: i64 = ts.parse().unwrap_or(0);
    let verified =
        key.is_some_and(|k| verify(&k, &id, &ts, &sig, &body)) && (now - timestamp).abs() <= 300;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = inner
        .script
        .lock()
        .expect("lock")
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Reply::Status(200));
    inner.hits.lock().expect("lock").push(Hit {
        path: path.clone(),
        webhook_id: id,
        timestamp,
        verified,
        user_agent: h("user-agent"),
        content_type: h("content-type"),
        seq: json["seq"].as_i64().unwrap_or(-1),
        body: json,
        answered: format!("{reply:?}"),
    });
    let delay = inner.delay.lock().expect("lock").get(&path).copied();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).expect("status").into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Reply::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Reply::Hold => {
            inner.held.fetch_add(1, Ordering::SeqCst);
            let _held = Held(inner.clone());
            loop {
                // Registered before the flag is read: a release in between wakes it.
                let woken = inner.release.notified();
                if inner.released.load(Ordering::SeqCst) {
                    break;
                }
                woken.await;
            }
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 (any free port), serving every path.
    pub async fn start() -> Receiver {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            inner,
        }
    }

    /// The URL of `path` (no leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The secret (`whsec_…`) that deliveries to `path` are signed with.
    pub fn expect_secret(&self, path: &str, secret: &str) {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
            .expect("base64 secret");
        self.inner
            .secrets
            .lock()
            .expect("lock")
            .insert(path.into(), key);
    }

    /// The next answers on `path` (then 200s).
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.inner
            .script
            .lock()
            .expect("lock")
            .insert(path.into(), replies.into());
    }

    /// Every answer on `path` waits this long first.
    pub fn delay(&self, path: &str, d: Duration) {
        self.inner
            .delay
            .lock()
            .expect("lock")
            .insert(path.into(), d);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.inner
            .hits
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// How many requests `path` received (without copying them).
    pub fn count(&self, path: &str) -> usize {
        self.inner
            .hits
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h.path == path)
            .count()
    }

    pub fn all_hits(&self) -> usize {
        self.inner.hits.lock().expect("lock").len()
    }

    /// Requests held open now ([`Reply::Hold`]), not yet released or dropped.
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::SeqCst)
    }

    /// Whether [`Receiver::release`] was called.
    pub fn released(&self) -> bool {
        self.inner.released.load(Ordering::SeqCst)
    }

    /// Answers every held request (and every later [`Reply::Hold`]) with 200.
    pub fn release(&self) {
        self.inner.released.store(true, Ordering::SeqCst);
        self.inner.release.notify_waiters();
    }

    /// Whether two requests were ever in flight at once on one path.
    pub fn overlapped(&self) -> bool {
        self.inner.overlap.load(Ordering::SeqCst)
    }

    /// Polls until `done` holds for `path`'s hits, or panics after `within`.
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        done: impl Fn(&[Hit]) -> bool,
    ) -> Vec<Hit> {
        let until = Instant::now() + within;
        loop {
            let hits = self.hits(path);
            if done(&hits) {
                return hits;
            }
            if Instant::now() > until {
                let seqs: Vec<i64> = hits.iter().map(|h| h.seq).collect();
                panic!("{path}: not there after {within:?}; received seqs {seqs:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The distinct `seq`s received that were answered 200, in order of first arrival.
pub fn delivered_seqs(hits: &[Hit]) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    hits.iter()
        .filter(|h| h.answered == "Status(200)")
        .filter(|h| seen.insert(h.seq))
        .map(|h| h.seq)
        .collect()
}
