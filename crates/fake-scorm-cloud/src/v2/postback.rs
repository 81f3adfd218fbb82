//! The registration-progress JSON (`GET registrations/{id}`, and the body of
//! V2 postbacks) and the V2 postback itself.
//!
//! Shapes: `RegistrationSchema`, `ScoreSchema` ("Scaled score between 0 and
//! 100"), `ActivityResultSchema`, `CourseReferenceSchema`, `LearnerSchema` in
//! `RusticiSoftware/scormcloud-api-v2-client-java` `docs/`. Postbacks follow
//! the V2 postback guide (cloud.scorm.com/docs/v2/guides/postback, and the
//! reference `scorm-cloud.md`): `form` is `application/x-www-form-urlencoded;
//! charset=UTF-8` with up to three fields, `data` (the JSON), `userName` and
//! `password` (each sent when set); `httpbasic` is `application/json;
//! charset=UTF-8` with the JSON as the body and the credentials in an
//! `Authorization: Basic` header (sent when both are set). Redirects are not
//! followed (a 3xx counts as delivered).

use axum::http::header;
use base64::Engine;
use serde_json::{Value, json};

use crate::state::{FakeRegistration, Inner, Postback};

/// V1's `complete` value as V2's `registrationCompletion`.
fn completion(v1: &str) -> String {
    match v1.to_ascii_lowercase().as_str() {
        "complete" | "completed" => "COMPLETED".into(),
        "incomplete" => "INCOMPLETE".into(),
        "unknown" | "" => "UNKNOWN".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// V1's `success` value as V2's `registrationSuccess`.
fn success(v1: &str) -> String {
    match v1.to_ascii_lowercase().as_str() {
        "" => "UNKNOWN".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// The registration-progress JSON of `regid`, with the activity tree for
/// the `activity` and `full` results formats (the fake keeps no
/// interactions or objectives, so `full` adds nothing to `activity`).
pub(crate) fn progress_json(
    regid: &str,
    r: &FakeRegistration,
    course_title: &str,
    format: &str,
) -> Value {
    let completion = completion(&r.complete);
    let success = success(&r.success);
    let mut learner = json!({ "id": r.learner_id });
    if !r.first_name.is_empty() {
        learner["firstName"] = json!(r.first_name);
    }
    if !r.last_name.is_empty() {
        learner["lastName"] = json!(r.last_name);
    }
    if let Some(email) = &r.email {
        learner["email"] = json!(email);
    }
    let mut v = json!({
        "id": regid,
        "instance": 0,
        "registrationCompletion": completion,
        "registrationSuccess": success,
        "totalSecondsTracked": r.total_time_secs,
        "course": { "id": r.course_id, "title": course_title },
        "learner": learner,
    });
    if let Some(score) = r.score {
        v["score"] = json!({ "scaled": score });
    }
    if format != "course" {
        let mut activity = json!({
            "id": r.course_id,
            "title": course_title,
            "activityCompletion": v["registrationCompletion"],
            "activitySuccess": v["registrationSuccess"],
            "children": [],
        });
        if let Some(score) = r.score {
            activity["score"] = json!({ "scaled": score });
        }
        v["activityDetails"] = activity;
    }
    v
}

/// The progress JSON of a registration in this results format (`None`: no
/// such registration).
pub(crate) fn progress_of(g: &Inner, regid: &str, format: &str) -> Option<Value> {
    let r = g.registrations.get(regid)?;
    let title = g.courses.get(&r.course_id).map_or("", |c| c.title.as_str());
    Some(progress_json(regid, r, title, format))
}

/// Sends a V2 postback with this JSON body; the HTTP status it got.
pub(crate) async fn send(http: &reqwest::Client, pb: &Postback, data: &str) -> Result<u16, String> {
    let req = if pb.auth == "httpbasic" {
        let mut req = http
            .post(&pb.url)
            .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
            .body(data.to_owned());
        if !pb.user.is_empty() && !pb.password.is_empty() {
            let cred = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", pb.user, pb.password));
            req = req.header(header::AUTHORIZATION, format!("Basic {cred}"));
        }
        req
    } else {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("data", data);
        if !pb.user.is_empty() {
            form.append_pair("userName", &pb.user);
        }
        if !pb.password.is_empty() {
            form.append_pair("password", &pb.password);
        }
        http.post(&pb.url)
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body(form.finish())
    };
    req.send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("postback to {}: {e}", pb.url))
}
