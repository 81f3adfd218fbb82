//! What every answer of the xAPI resources carries: the version it speaks
//! (`X-Experience-API-Version`), `X-Experience-API-Consistent-Through`
//! (statements), and the times written in answers.
//!
//! # The version header, for every xAPI resource
//!
//! xAPI 1.0.3 Communication 3.3 / IEEE 9274.1.1 Communication 3.3: every
//! response carries `X-Experience-API-Version`; every request but About's
//! must name a version the LRS speaks, or is refused with 400. A resource
//! follows three steps, all here:
//!
//! 1. its routes are wrapped in [`versioned`], which puts the header on any
//!    answer that has none yet (axum's own 405, an extractor's rejection);
//! 2. its handler calls [`negotiated_version`] first: `Ok` is the version to
//!    answer with and whose rules apply ([`api_version`]), `Err` the 400 to
//!    send (with [`answer`] and [`response_version`]);
//! 3. it answers through [`answer`] (or [`with_version`]).
//!
//! The versions: a request naming `1.0` or `1.0.x` is answered `1.0.3`,
//! `2.0` or `2.0.x` is answered `2.0.0`; one naming no version (About) or
//! none we speak (its 400) is answered with the latest, [`LATEST_VERSION`].

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use time::OffsetDateTime;

use crate::clock::now;
use crate::error::ApiError;
use crate::state::AppState;

/// The request and response header that carries the xAPI version.
pub const VERSION_HEADER: &str = "x-experience-api-version";

/// The latest version served: the answer's version when the request named
/// none, or none we speak.
pub const LATEST_VERSION: &str = "2.0.0";

/// The version a request negotiates with its `X-Experience-API-Version`:
/// `1.0.3` for 1.0.x, `2.0.0` for 2.0.x. A missing or unsupported version is
/// the 400 the spec asks for, naming the header (answer it with
/// [`response_version`]'s version). For every resource but About.
pub fn negotiated_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let v = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "X-Experience-API-Version: the header is required (1.0.x or 2.0.x)",
            )
        })?;
    let v = v.trim();
    // `1.0` is 1.0.0; a well-formed 1.0.x or 2.0.x (x digits) is accepted and
    // answered as the patch version served; anything else is refused.
    let patch = |major: &str| {
        v.strip_prefix(major)
            .map(|rest| {
                rest.strip_prefix('.').map_or(rest.is_empty(), |p| {
                    !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit())
                })
            })
            .unwrap_or(false)
    };
    if patch("1.0") {
        Ok("1.0.3")
    } else if patch("2.0") {
        Ok("2.0.0")
    } else {
        Err(ApiError::bad_request(format!(
            "X-Experience-API-Version: {v:?} is not supported (1.0.x or 2.0.x)"
        )))
    }
}

/// The same as [`negotiated_version`] (its former name).
pub fn xapi_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    negotiated_version(headers)
}

/// The version to answer a request with, whatever happens to it: the
/// negotiated one, or [`LATEST_VERSION`] when it named none we speak.
pub fn response_version(headers: &HeaderMap) -> &'static str {
    negotiated_version(headers).unwrap_or(LATEST_VERSION)
}

/// The version whose rules a request answered with `version` follows.
pub fn api_version(version: &str) -> xapi_model::ApiVersion {
    if version == "2.0.0" {
        xapi_model::ApiVersion::V2_0
    } else {
        xapi_model::ApiVersion::V1_0
    }
}

/// `r` with `X-Experience-API-Version: version` (replacing any).
pub fn with_version(mut r: Response, version: &'static str) -> Response {
    r.headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(version));
    r
}

/// Answers with the version header whatever the outcome.
pub fn answer(version: &'static str, r: Result<Response, ApiError>) -> Response {
    with_version(r.unwrap_or_else(IntoResponse::into_response), version)
}

/// An xAPI resource's routes: every answer that leaves them without
/// `X-Experience-API-Version` (axum's 405, a rejected extractor) gets the
/// request's [`response_version`].
pub fn versioned<S>(routes: MethodRouter<S>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(axum::middleware::from_fn(fill_version))
}

async fn fill_version(req: Request, next: Next) -> Response {
    let version = response_version(req.headers());
    let r = next.run(req).await;
    if r.headers().contains_key(VERSION_HEADER) {
        r
    } else {
        with_version(r, version)
    }
}

pub(super) fn http_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

pub(super) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `X-Experience-API-Consistent-Through`: an ISO 8601 (RFC 3339) UTC time
/// before which every statement is visible.
pub(super) fn consistent_through(app: &AppState) -> String {
    rfc3339(
        app.in_flight
            .consistent_through(now())
            .to_offset(time::UtcOffset::UTC),
    )
}

pub(super) const CONSISTENT: &str = "x-experience-api-consistent-through";

/// Adds `X-Experience-API-Consistent-Through` to a statements resource
/// response that has none yet (xAPI: "on all responses to Statements
/// Resource requests", errors included).
pub(super) fn with_consistency(app: &AppState, mut r: Response) -> Response {
    if !r.headers().contains_key(CONSISTENT) {
        if let Ok(v) = HeaderValue::from_str(&consistent_through(app)) {
            r.headers_mut().insert(CONSISTENT, v);
        }
    }
    r
}

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    xapi_model::rfc3339::format(t)
        .map(|text| text.as_str().to_owned())
        .unwrap_or_default()
}

/// Unix milliseconds as an RFC 3339 JSON string (xAPI's format), or `null`
/// for `None`.
pub fn rfc3339_ms(ms: Option<i64>) -> serde_json::Value {
    ms.map_or(serde_json::Value::Null, |m| {
        serde_json::Value::String(rfc3339(from_ms(m)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_of(v: &str) -> Result<&'static str, String> {
        let mut h = HeaderMap::new();
        h.insert(VERSION_HEADER, HeaderValue::from_str(v).expect("header"));
        negotiated_version(&h).map_err(|e| e.message)
    }

    #[test]
    fn only_well_formed_versions_are_accepted() {
        for (v, served) in [
            ("1.0", "1.0.3"),
            ("1.0.0", "1.0.3"),
            ("1.0.3", "1.0.3"),
            ("1.0.9", "1.0.3"),
            (" 1.0.3 ", "1.0.3"),
            ("2.0", "2.0.0"),
            ("2.0.0", "2.0.0"),
            ("2.0.1", "2.0.0"),
        ] {
            assert_eq!(version_of(v), Ok(served), "{v:?}");
        }
        for v in [
            "1.0.3x",
            "2.0.0x",
            "1.0.3.1",
            "1.0.3 x",
            "1.0.",
            "1.0.x",
            "1.0.-1",
            "1",
            "1.1.0",
            "0.95",
            "2.0.0-beta",
            "3.0.0",
            "",
            "1.0.3,2.0.0",
        ] {
            assert!(version_of(v).is_err(), "{v:?} accepted");
        }
    }
}
