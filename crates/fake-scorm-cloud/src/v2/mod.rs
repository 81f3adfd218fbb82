//! API V2 (REST/JSON) under `/api/v2/`, next to V1 and sharing its state:
//! the same courses, import jobs, registrations, calls log and injected
//! failures. What it accepts is what `scorm_cloud_client::v2::ClientV2`
//! sends, checked as strictly as the service documents it:
//!
//! - HTTP Basic `appId:secret` on every call, else 401 (reference
//!   `scorm-cloud.md`, "API V2");
//! - errors are `{"message": "…"}` (`MessageSchema` / `ResponseError` in
//!   Rustici's generated clients, e.g. `RusticiSoftware/scormcloud-api-v2-client-java`
//!   `docs/MessageSchema.md`), with 400 for a missing or invalid field (named),
//!   404 for an unknown job or registration, 415 for a body that is not JSON
//!   (or multipart, for the upload);
//! - every call that passed authentication is logged once in
//!   [`crate::FakeScormCloud::calls`] under its operation name ([`ops`]:
//!   `v2 METHOD /path/{param}`), or as `… (failed)` when an injected failure
//!   ([`crate::FakeScormCloud::fail_next`] with that name) answered it instead:
//!   then the answer is that HTTP status (a 4xx or 5xx; any other code answers
//!   500) with the message as `{"message": …}`.

mod import;
pub(crate) mod postback;
mod registrations;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use serde_json::{Map, Value};

use crate::state::{Inner, lock, take_injected};

/// The operation names of V2 calls, as logged by `calls()` and as
/// `fail_next` takes them.
pub mod ops {
    pub const IMPORT_UPLOAD: &str = "v2 POST /courses/importJobs/upload";
    pub const IMPORT_FETCH: &str = "v2 POST /courses/importJobs";
    pub const IMPORT_JOB: &str = "v2 GET /courses/importJobs/{jobId}";
    pub const CREATE_REGISTRATION: &str = "v2 POST /registrations";
    pub const REGISTRATION_EXISTS: &str = "v2 HEAD /registrations/{registrationId}";
    pub const REGISTRATION_PROGRESS: &str = "v2 GET /registrations/{registrationId}";
    pub const DELETE_REGISTRATION: &str = "v2 DELETE /registrations/{registrationId}";
    pub const RESET_REGISTRATION: &str = "v2 DELETE /registrations/{registrationId}/progress";
    pub const LAUNCH_LINK: &str = "v2 POST /registrations/{registrationId}/launchLink";
}

/// The V2 routes' state: the shared fake, and the client that fetches
/// packages for imports from a URL.
#[derive(Clone)]
pub(crate) struct V2 {
    pub(crate) inner: Arc<Mutex<Inner>>,
    pub(crate) fetch: reqwest::Client,
}

/// The routes, to be nested under `/api/v2`.
pub(crate) fn router<S>(state: V2) -> Router<S> {
    Router::new()
        .route("/courses/importJobs/upload", post(import::upload))
        .route("/courses/importJobs", post(import::fetch))
        .route("/courses/importJobs/{job_id}", get(import::job))
        .route("/registrations", post(registrations::create))
        .route(
            "/registrations/{id}",
            get(registrations::progress)
                .head(registrations::exists)
                .delete(registrations::remove),
        )
        .route("/registrations/{id}/progress", delete(registrations::reset))
        .route(
            "/registrations/{id}/launchLink",
            post(registrations::launch_link),
        )
        .fallback(unknown_route)
        .with_state(state)
}

async fn unknown_route(
    axum::extract::State(s): axum::extract::State<V2>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authenticate(&lock(&s.inner), &headers)?;
    Err(Refusal::new(StatusCode::NOT_FOUND, "No such resource"))
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// A refused call: its status and message, answered as `{"message": …}`
/// (a 401 also names the scheme in `WWW-Authenticate`).
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = json(self.status, &serde_json::json!({ "message": self.message }));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"SCORM Cloud\""),
            );
        }
        r
    }
}

pub(crate) fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, message)
}

/// HTTP Basic with the application id and secret key.
fn authenticate(g: &Inner, headers: &HeaderMap) -> Result<(), Refusal> {
    let refuse = |message: &str| Refusal::new(StatusCode::UNAUTHORIZED, message);
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(refuse(
            "Authentication required: HTTP Basic with the application id and secret key",
        ));
    };
    let credentials = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some(credentials) = credentials else {
        return Err(refuse("Authentication required: HTTP Basic credentials"));
    };
    match credentials.split_once(':') {
        Some((app, secret)) if app == g.app_id && secret == g.secret => Ok(()),
        _ => Err(refuse("Invalid application id or secret key")),
    }
}

/// Authenticates a call of `op`, answers an injected failure in its place,
/// or logs it.
pub(crate) fn begin(g: &mut Inner, headers: &HeaderMap, op: &str) -> Result<(), Refusal> {
    authenticate(g, headers)?;
    if let Some((code, message)) = take_injected(g, op) {
        let status = u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(Refusal::new(status, message));
    }
    g.calls.push(op.to_owned());
    Ok(())
}

/// The request's query parameters.
pub(crate) fn query(q: Option<&str>) -> Vec<(String, String)> {
    crate::api::params_of(q)
}

pub(crate) fn query_get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A body that must be a JSON object, sent as `application/json`.
pub(crate) fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be sent as application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("The request body must be a JSON object")),
        Err(e) => Err(bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// An optional string field (`path` names it in errors): absent or null is
/// `None`; another type is refused.
pub(crate) fn opt_str(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, Refusal> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(format!("The field '{path}' must be a string"))),
    }
}

/// A required string field: absent, null or empty is refused, naming it.
pub(crate) fn req_str(obj: &Map<String, Value>, name: &str, path: &str) -> Result<String, Refusal> {
    match opt_str(obj, name, path)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(bad_request(format!("The field '{path}' is required"))),
    }
}

/// SCORM Cloud keeps ids as strings of at most 255 characters (reference,
/// "IDs are yours"; the V1 fake refuses the same).
pub(crate) fn check_id(path: &str, id: &str) -> Result<(), Refusal> {
    if id.chars().count() > 255 {
        return Err(bad_request(format!(
            "The field '{path}' is limited to 255 characters"
        )));
    }
    Ok(())
}

/// An absolute `http`/`https` URL, else refused naming the field.
pub(crate) fn check_http_url(path: &str, value: &str) -> Result<(), Refusal> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(bad_request(format!(
            "The field '{path}' must be an absolute http or https URL"
        ))),
    }
}

/// A path segment, percent-encoded (`%20` for a space).
pub(crate) fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
