//! What every answer of the statements resource carries: the version it
//! speaks (`X-Experience-API-Version`), `X-Experience-API-Consistent-Through`,
//! and the times written in answers.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::clock::now;
use crate::error::ApiError;
use crate::state::AppState;

/// The request and response header that carries the xAPI version.
pub const VERSION_HEADER: &str = "x-experience-api-version";

/// The version to answer with, from the request's `X-Experience-API-Version`.
pub fn xapi_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
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

/// The version whose rules a request answered with `version` follows.
pub(super) fn api_version(version: &str) -> xapi_model::ApiVersion {
    if version == "2.0.0" {
        xapi_model::ApiVersion::V2_0
    } else {
        xapi_model::ApiVersion::V1_0
    }
}

pub(super) fn with_version(mut r: Response, version: &'static str) -> Response {
    r.headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(version));
    r
}

/// Answers with the version header whatever the outcome.
pub(super) fn answer(version: &'static str, r: Result<Response, ApiError>) -> Response {
    with_version(r.unwrap_or_else(IntoResponse::into_response), version)
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
        xapi_version(&h).map_err(|e| e.message)
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
