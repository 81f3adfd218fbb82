//! Registrations over V2: create, exists, progress, delete, reset, launch link.
//!
//! Shapes from Rustici's generated V2 clients
//! (`RusticiSoftware/scormcloud-api-v2-client-java` `docs/RegistrationApi.md`,
//! `CreateRegistrationSchema.md`, `LearnerSchema.md`, `PostBackSchema.md`,
//! `LaunchLinkRequestSchema.md`, `LaunchLinkSchema.md`; the Python client's
//! `registration_api.py`): createRegistration, deleteRegistration and
//! deleteRegistrationProgress return no body (204 here);
//! `courseId`, `registrationId`, `learner` and `learner.id` are required,
//! `learner.firstName`/`lastName`/`email` optional; `postBack.authType` is
//! `form` (default) or `httpbasic`, `resultsFormat` `course` (default),
//! `activity` or `full` (the schema lists them upper-case, the prose
//! lower-case: both are accepted); `redirectOnExitUrl` must not be null and
//! `expiry` is 10–300 s (default 120). The reference (`scorm-cloud.md`,
//! "API V2") has a duplicate registration id answered 400. A `courseId` that
//! names no course is answered 400 (a field of a valid request naming a
//! missing resource, not a missing resource at the URL); the service's exact
//! status is not documented.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::{
    Refusal, V2, bad_request, begin, check_http_url, check_id, json, json_body, ops, opt_str,
    query, query_get, req_str, seg,
};
use crate::state::{ApiVersion, FakeRegistration, Postback, lock};

/// The launch link's lifetime when the request does not give one.
const DEFAULT_EXPIRY_SECS: i64 = 120;

fn not_found(id: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("Registration '{id}' not found"),
    )
}

/// `postBack`: `None` without one, or without a URL (the service would then
/// use the application's configured postback, which the fake does not have).
fn postback(obj: &Map<String, Value>) -> Result<Option<Postback>, Refusal> {
    let pb = match obj.get("postBack") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(pb)) => pb,
        Some(_) => return Err(bad_request("The field 'postBack' must be an object")),
    };
    let Some(url) = opt_str(pb, "url", "postBack.url")?.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    check_http_url("postBack.url", &url)?;
    let choice = |name: &str, allowed: &[&str], default: &str| -> Result<String, Refusal> {
        let path = format!("postBack.{name}");
        match opt_str(pb, name, &path)? {
            None => Ok(default.to_owned()),
            Some(v) if v.eq_ignore_ascii_case("UNDEFINED") => Ok(default.to_owned()),
            Some(v) => allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&v))
                .map(|a| (*a).to_owned())
                .ok_or_else(|| {
                    bad_request(format!(
                        "The field '{path}' must be one of {}",
                        allowed.join(", ")
                    ))
                }),
        }
    };
    let auth = choice("authType", &["form", "httpbasic"], "form")?;
    let format = choice("resultsFormat", &["course", "activity", "full"], "course")?;
    if pb.get("legacy") == Some(&Value::Bool(true)) {
        return Err(bad_request(
            "The field 'postBack.legacy' (V1 XML postbacks) is not supported by the fake",
        ));
    }
    Ok(Some(Postback {
        url,
        auth,
        user: opt_str(pb, "userName", "postBack.userName")?.unwrap_or_default(),
        password: opt_str(pb, "password", "postBack.password")?.unwrap_or_default(),
        format,
    }))
}

/// The body of `POST registrations`: the registration id and the registration.
fn parse_create(headers: &HeaderMap, body: &[u8]) -> Result<(String, FakeRegistration), Refusal> {
    let obj = json_body(headers, body)?;
    let course_id = req_str(&obj, "courseId", "courseId")?;
    check_id("courseId", &course_id)?;
    let registration_id = req_str(&obj, "registrationId", "registrationId")?;
    check_id("registrationId", &registration_id)?;
    let learner = match obj.get("learner") {
        Some(Value::Object(l)) => l,
        None | Some(Value::Null) => {
            return Err(bad_request("The field 'learner' is required"));
        }
        Some(_) => return Err(bad_request("The field 'learner' must be an object")),
    };
    let learner_id = req_str(learner, "id", "learner.id")?;
    check_id("learner.id", &learner_id)?;
    let registration = FakeRegistration {
        course_id,
        learner_id,
        first_name: opt_str(learner, "firstName", "learner.firstName")?.unwrap_or_default(),
        last_name: opt_str(learner, "lastName", "learner.lastName")?.unwrap_or_default(),
        email: opt_str(learner, "email", "learner.email")?,
        postback: postback(&obj)?,
        complete: "unknown".into(),
        success: "unknown".into(),
        score: None,
        total_time_secs: 0.0,
        api: ApiVersion::V2,
    };
    Ok((registration_id, registration))
}

/// `POST registrations`: 204, or 400 naming the field at fault.
pub(crate) async fn create(
    State(s): State<V2>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::CREATE_REGISTRATION)?;
    let (id, registration) = parse_create(&headers, &body)?;
    if g.courses
        .get(&registration.course_id)
        .is_none_or(|c| c.versions == 0)
    {
        return Err(bad_request(format!(
            "The course '{}' given as 'courseId' does not exist",
            registration.course_id
        )));
    }
    if g.registrations.contains_key(&id) {
        return Err(bad_request(format!(
            "A registration with the registrationId '{id}' already exists"
        )));
    }
    g.registrations.insert(id, registration);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `HEAD registrations/{id}`: 200 or 404, no body.
pub(crate) async fn exists(
    State(s): State<V2>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::REGISTRATION_EXISTS)?;
    // HEAD: the status says it all
    Ok(if g.registrations.contains_key(&id) {
        StatusCode::OK.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    })
}

/// `GET registrations/{id}`: the registration-progress JSON (the activity
/// tree with `includeChildResults=true`).
pub(crate) async fn progress(
    State(s): State<V2>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::REGISTRATION_PROGRESS)?;
    let params = query(q.as_deref());
    let format = match query_get(&params, "includeChildResults") {
        Some(v) if v.eq_ignore_ascii_case("true") => "activity",
        _ => "course",
    };
    super::postback::progress_of(&g, &id, format)
        .map(|v| json(StatusCode::OK, &v))
        .ok_or_else(|| not_found(&id))
}

/// `DELETE registrations/{id}`: 204 or 404.
pub(crate) async fn remove(
    State(s): State<V2>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::DELETE_REGISTRATION)?;
    match g.registrations.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(&id)),
    }
}

/// `DELETE registrations/{id}/progress`: the registration starts over (as
/// V1's resetRegistration); 204 or 404.
pub(crate) async fn reset(
    State(s): State<V2>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::RESET_REGISTRATION)?;
    match g.registrations.get_mut(&id) {
        Some(r) => {
            r.complete = "unknown".into();
            r.success = "unknown".into();
            r.score = None;
            r.total_time_secs = 0.0;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(not_found(&id)),
    }
}

/// The body of `POST registrations/{id}/launchLink`: where to return, and
/// the link's lifetime in seconds.
fn parse_launch(headers: &HeaderMap, body: &[u8]) -> Result<(String, i64), Refusal> {
    let obj = json_body(headers, body)?;
    let back = req_str(&obj, "redirectOnExitUrl", "redirectOnExitUrl")?;
    let expiry = match obj.get("expiry") {
        None | Some(Value::Null) => DEFAULT_EXPIRY_SECS,
        Some(v) => v
            .as_i64()
            .filter(|e| (10..=300).contains(e))
            .ok_or_else(|| {
                bad_request("The field 'expiry' must be a whole number of seconds from 10 to 300")
            })?,
    };
    Ok((back, expiry))
}

/// `POST registrations/{id}/launchLink` with `{redirectOnExitUrl, expiry}`:
/// `{"launchLink": …}` to the fake's player, which refuses it once expired
/// and links back to `redirectOnExitUrl`.
pub(crate) async fn launch_link(
    State(s): State<V2>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::LAUNCH_LINK)?;
    let (back, expiry) = parse_launch(&headers, &body)?;
    if !g.registrations.contains_key(&id) {
        return Err(not_found(&id));
    }
    let expires = OffsetDateTime::now_utc().unix_timestamp() + g.clock_offset_secs + expiry;
    let link = format!(
        "{}/player/{}?redirecturl={}&expires={expires}",
        g.base,
        seg(&id),
        seg(&back)
    );
    Ok(json(StatusCode::OK, &json!({ "launchLink": link })))
}
