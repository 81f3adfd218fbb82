//! `POST /api/v1/launch-links` (LMS credentials): the signed launch link of a
//! catalog course for a learner — the link `coursebridge-ingest launch-link`
//! prints ([`crate::launch::mint_link`]), so that an LMS needs no HMAC code.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::clock::now;
use crate::error::ApiError;
use crate::launch::{LaunchTarget, MintError, mint_link};
use crate::state::AppState;

/// Validity of a link when the request does not say.
pub const DEFAULT_TTL_SECS: i64 = 300;
/// Longest validity a request may ask for (one day).
pub const MAX_TTL_SECS: i64 = 86_400;

const FIELDS: &[&str] = &[
    "integration",
    "course",
    "learner",
    "email",
    "entry",
    "ttl_secs",
];

/// A request's fields, each checked with its name in the message.
struct LinkRequest {
    integration: String,
    course: String,
    learner: String,
    email: Option<String>,
    entry: String,
    ttl_secs: i64,
}

fn text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ApiError::bad_request(format!("{field}: must not be empty")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{field}: must be a string"))),
    }
}

fn required(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    text(body, field)?.ok_or_else(|| ApiError::bad_request(format!("{field}: missing")))
}

fn parse(bytes: &[u8]) -> Result<LinkRequest, ApiError> {
    let body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ApiError::bad_request("body: must be a JSON object")),
        Err(e) => return Err(ApiError::bad_request(format!("body: {e}"))),
    };
    if let Some(bad) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "{bad}: unknown field (known: {})",
            FIELDS.join(", ")
        )));
    }
    let integration = required(&body, "integration")?;
    let course = required(&body, "course")?;
    let learner = required(&body, "learner")?;
    let email = text(&body, "email")?;
    if email
        .as_deref()
        .is_some_and(|e| !xapi_model::syntax::is_mailto_iri(&format!("mailto:{e}")))
    {
        return Err(ApiError::bad_request("email: not an email address"));
    }
    let entry = text(&body, "entry")?.unwrap_or_else(|| "catalog".to_owned());
    if entry != "catalog" && entry.strip_prefix("path:").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "entry: must be catalog or path:<path id>",
        ));
    }
    let ttl_secs = match body.get("ttl_secs") {
        None | Some(Value::Null) => DEFAULT_TTL_SECS,
        Some(v) => v
            .as_i64()
            .filter(|t| (1..=MAX_TTL_SECS).contains(t))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "ttl_secs: must be a whole number of seconds between 1 and {MAX_TTL_SECS}"
                ))
            })?,
    };
    Ok(LinkRequest {
        integration,
        course,
        learner,
        email,
        entry,
        ttl_secs,
    })
}

fn mint_error(e: MintError) -> ApiError {
    match e {
        MintError::Learner | MintError::Entry => ApiError::bad_request(e.to_string()),
        MintError::NotConfigured | MintError::Secret(_) => {
            ApiError::new(StatusCode::CONFLICT, e.to_string())
        }
    }
}

async fn launch_links_inner(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let client = app.lms(headers).await?;
    let req = parse(body)?;
    if app.config.launch_secret.is_none() {
        return Err(mint_error(MintError::NotConfigured));
    }
    // Only a link the launch route would follow: an active integration and
    // a course of its catalog that is not archived.
    let mut tx = app.store.read().await?;
    let integration = tx.integration(&req.integration).await?.ok_or_else(|| {
        ApiError::not_found(format!("integration {:?} not found", req.integration))
    })?;
    if !integration.active {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("integration {:?} is deactivated", req.integration),
        ));
    }
    let course = tx
        .course_by_external_id(&integration.id, &req.course)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "course {:?} not found in integration {:?}",
                req.course, req.integration
            ))
        })?;
    drop(tx);
    if course.kind != "course" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "course {:?} is a learning path: links open its courses (entry path:{})",
                req.course, req.course
            ),
        ));
    }
    if course.archived {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("course {:?} is archived", req.course),
        ));
    }
    let link = mint_link(
        &app.config,
        LaunchTarget::Course {
            integration: &integration.id,
            course: &course.external_id,
        },
        &req.learner,
        req.email.as_deref(),
        &req.entry,
        req.ttl_secs,
        now().unix_timestamp(),
    )
    .map_err(mint_error)?;
    tracing::info!(integration = %integration.id, course = %course.external_id, client = %client, "launch link minted");
    let body = json!({
        "url": link.url,
        "expires_at": crate::xapi::rfc3339_ms(Some(link.exp.saturating_mul(1000))),
    });
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response())
}

/// `POST /api/v1/launch-links`.
pub async fn launch_links(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    launch_links_inner(&app, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}
