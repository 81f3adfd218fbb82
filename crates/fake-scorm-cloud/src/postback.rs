//! The simulated learner: a registration's state changes and its postback
//! is sent (`form` or `httpbasic`), from a test or from `POST /_fake/progress`,
//! in the format of the API the registration was created with (V1: the XML
//! report; V2: the registration-progress JSON, see `v2::postback`).

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::api::params_of;
use crate::state::{ApiVersion, Inner, Postback, lock};
use crate::xml::report_xml;

/// Sets a registration's big four.
pub(crate) fn set_state(
    g: &mut Inner,
    regid: &str,
    complete: &str,
    success: &str,
    score: Option<f64>,
    total_time_secs: f64,
) -> Result<(), String> {
    let r = g
        .registrations
        .get_mut(regid)
        .ok_or_else(|| format!("no registration {regid}"))?;
    r.complete = complete.to_owned();
    r.success = success.to_owned();
    r.score = score;
    r.total_time_secs = total_time_secs;
    Ok(())
}

/// The report a registration posts now (in its postback's results format),
/// and its postback settings.
pub(crate) fn posted_report(g: &Inner, regid: &str) -> Option<(String, Option<Postback>)> {
    let r = g.registrations.get(regid)?;
    let format = r.postback.as_ref().map_or("course", |p| p.format.as_str());
    Some((report_xml(regid, r, format), r.postback.clone()))
}

/// What a registration posts now, in the format of the API it was created
/// with: that version, the body (V1 XML report or V2 JSON, in the postback's
/// results format) and its postback settings.
pub(crate) fn posted_body(
    g: &Inner,
    regid: &str,
) -> Option<(ApiVersion, String, Option<Postback>)> {
    let r = g.registrations.get(regid)?;
    match r.api {
        ApiVersion::V1 => posted_report(g, regid).map(|(report, pb)| (ApiVersion::V1, report, pb)),
        ApiVersion::V2 => {
            let format = r.postback.as_ref().map_or("course", |p| p.format.as_str());
            let body = crate::v2::postback::progress_of(g, regid, format)?.to_string();
            Some((ApiVersion::V2, body, r.postback.clone()))
        }
    }
}

/// Sends a postback in the format of `api`.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    api: ApiVersion,
    pb: &Postback,
    body: &str,
) -> Result<u16, String> {
    match api {
        ApiVersion::V1 => send_postback(http, pb, body).await,
        ApiVersion::V2 => crate::v2::postback::send(http, pb, body).await,
    }
}

pub(crate) async fn send_postback(
    http: &reqwest::Client,
    pb: &Postback,
    xml: &str,
) -> Result<u16, String> {
    let req = if pb.auth == "httpbasic" {
        let cred = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", pb.user, pb.password));
        http.post(&pb.url)
            .header(header::AUTHORIZATION, format!("Basic {cred}"))
            .header(header::CONTENT_TYPE, "text/xml")
            .body(xml.to_owned())
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", xml)
            .append_pair("username", &pb.user)
            .append_pair("password", &pb.password)
            .finish();
        http.post(&pb.url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    };
    req.send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("postback to {}: {e}", pb.url))
}

/// `POST /_fake/progress?regid=…&complete=…&success=…&score=…&totaltime=…`:
/// for try-outs by hand (the binary); tests call [`crate::FakeScormCloud::progress`].
pub(crate) async fn control_progress(
    State(s): State<Arc<Mutex<Inner>>>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params_of(q.as_deref());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(regid) = get("regid") else {
        return (StatusCode::BAD_REQUEST, "regid is required").into_response();
    };
    let (api, body, pb) = {
        let mut g = lock(&s);
        if let Err(e) = set_state(
            &mut g,
            &regid,
            &get("complete").unwrap_or_else(|| "incomplete".into()),
            &get("success").unwrap_or_else(|| "unknown".into()),
            get("score").and_then(|v| v.parse().ok()),
            get("totaltime").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        ) {
            return (StatusCode::NOT_FOUND, e).into_response();
        }
        match posted_body(&g, &regid) {
            Some(r) => r,
            None => return (StatusCode::NOT_FOUND, "no such registration").into_response(),
        }
    };
    let Some(pb) = pb else {
        return (StatusCode::OK, "updated; no postback URL").into_response();
    };
    let http = reqwest::Client::new();
    match deliver(&http, api, &pb, &body).await {
        Ok(status) => (StatusCode::OK, format!("postback answered {status}")).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}
