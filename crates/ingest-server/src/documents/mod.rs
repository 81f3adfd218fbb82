//! The xAPI Document resources — State (`/xapi/activities/state`), Activity
//! Profile (`/xapi/activities/profile`), Agent Profile
//! (`/xapi/agents/profile`) — and the Agents (`/xapi/agents`) and Activities
//! (`/xapi/activities`) resources, for xAPI 1.0.3 and 2.0.0.
//!
//! The rules (which parameters, preconditions, merging, ETags, the Person
//! object, the canonical Activity) are the pure `xapi_model::documents`;
//! here: authentication (a document belongs to the credential's
//! integration), the version header, limits, and the way to the store —
//! writes through the group writer (`crate::writer::DocumentWrite`: durable
//! before the answer), reads on a read transaction. `resources` serves the
//! three Document resources, `people` the Agents and Activities resources.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use xapi_model::documents::{ApiVersion, DocumentError};

use crate::error::ApiError;
use crate::state::AppState;
use crate::xapi::{answer, api_version, negotiated_version, response_version, versioned};

mod people;
mod resources;

/// The routes of the Document, Agents and Activities resources (`HEAD` is
/// answered as `GET`, without a body).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/xapi/activities/state",
            versioned(
                get(resources::state)
                    .put(resources::state)
                    .post(resources::state)
                    .delete(resources::state),
            ),
        )
        .route(
            "/xapi/activities/profile",
            versioned(
                get(resources::activity_profile)
                    .put(resources::activity_profile)
                    .post(resources::activity_profile)
                    .delete(resources::activity_profile),
            ),
        )
        .route(
            "/xapi/agents/profile",
            versioned(
                get(resources::agent_profile)
                    .put(resources::agent_profile)
                    .post(resources::agent_profile)
                    .delete(resources::agent_profile),
            ),
        )
        .route(
            "/xapi/agents",
            versioned(get(people::agents).post(people::agents_alternate)),
        )
        .route(
            "/xapi/activities",
            versioned(get(people::activities).post(people::activities_alternate)),
        )
}

/// The request's version: the version to answer with (`1.0.3`, `2.0.0`) and
/// whose rules apply; or the 400 to send (`crate::xapi::negotiated_version`).
fn version(headers: &HeaderMap) -> Result<(&'static str, ApiVersion), Box<Response>> {
    match negotiated_version(headers) {
        Ok(v) => Ok((v, api_version(v))),
        Err(e) => Err(Box::new(answer(response_version(headers), Err(e)))),
    }
}

/// The query string's parameters in order, decoded (a parameter given twice
/// is the pure parser's to refuse).
fn params(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn bad_params(e: DocumentError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// `ETag` and `Last-Modified` values as headers.
fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(ApiError::internal)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
