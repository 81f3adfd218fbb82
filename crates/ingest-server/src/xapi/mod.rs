//! The xAPI statements resource (1.0.3, accepting 2.0.0) and About.
//!
//! The handlers here only choose the way a request goes: `write` (POST and
//! PUT: limits, validation, the batch rules, then the writer's queue),
//! `read` (GET: one statement or a page of them), `alternate` (1.0.3's
//! alternate request syntax, turned into the request it stands for), and
//! `respond` (the version header — the negotiation every xAPI resource
//! shares, documented there — `X-Experience-API-Consistent-Through` and the
//! times written in answers). The `stored` stamps a batch takes are
//! `crate::in_flight`'s.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

mod alternate;
mod read;
mod respond;
mod write;

pub use respond::{
    LATEST_VERSION, VERSION_HEADER, answer, api_version, negotiated_version, response_version,
    rfc3339_ms, versioned, with_version, xapi_version,
};

pub(crate) use alternate::{AlternateForm, decode_form};

/// An HTTP date (`Last-Modified`) of a time in milliseconds since the epoch.
pub fn http_date_ms(ms: i64) -> String {
    respond::http_date(respond::from_ms(ms))
}

use alternate::alternate;
use read::get_inner;
use respond::with_consistency;
use write::{post_inner, put_inner};

/// `POST /xapi/statements` (provider credentials): stores a statement or a
/// batch (JSON or `multipart/mixed` with attachments) through the group
/// writer and answers their ids; with `?method=`, the alternate request
/// syntax.
pub async fn post_statements(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = if q.contains_key("method") {
        alternate(&app, uri.path(), &q, &headers, &body).await
    } else if let Some(k) = q.keys().next() {
        answer(
            response_version(&headers),
            Err(ApiError::bad_request(format!(
                "{k}: POST /xapi/statements takes no query parameters (except method, the alternate request syntax)"
            ))),
        )
    } else {
        post_inner(&app, &headers, &body).await
    };
    with_consistency(&app, r)
}

/// `PUT /xapi/statements?statementId=…` (provider credentials): stores one
/// statement under the given id; 204.
pub async fn put_statement(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = if q.contains_key("method") {
        answer(
            response_version(&headers),
            Err(ApiError::bad_request(
                "method: the alternate request syntax is a POST (xAPI 1.0.3, 1.3)",
            )),
        )
    } else {
        put_inner(&app, &q, &headers, &body).await
    };
    with_consistency(&app, r)
}

/// `GET /xapi/statements` (provider credentials): one statement by id, or a
/// filtered page of the integration's statements with its `more` link.
pub async fn get_statements(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = match negotiated_version(&headers) {
        Ok(version) => answer(version, get_inner(&app, uri.path(), &q, &headers).await),
        Err(e) => answer(LATEST_VERSION, Err(e)),
    };
    with_consistency(&app, r)
}

/// `GET /xapi/about` (and HEAD): needs no version header; answered in the
/// version the request named, or the latest (Communication 2.8, 3.3).
pub async fn about(headers: HeaderMap) -> Response {
    with_version(
        (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"version": ["1.0.3", "2.0.0"], "extensions": {}}).to_string(),
        )
            .into_response(),
        response_version(&headers),
    )
}
