//! `/api/v1/webhooks` (LMS credentials): create (201, the secret shown this
//! once), list, get, disable, enable, redeliver from a `seq`, and the
//! attempts. Bad input is a 400 whose message starts with the field.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::manage::{self, CreateRequest, ManageError};
use crate::api::json_body;
use crate::error::ApiError;
use crate::state::AppState;

/// Most attempts listed at once.
const MAX_ATTEMPTS: i64 = 1_000;

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(i) => ApiError::bad_request(i.to_string()),
            ManageError::BadField(m) => ApiError::bad_request(m),
            e @ ManageError::NotFound(_) => ApiError::not_found(e.to_string()),
            ManageError::Store(s) => s.into(),
        }
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn answer(
    f: impl Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
) -> Response {
    match f.await {
        Ok((status, body)) => json_response(status, body),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/webhooks` (LMS credentials): creates a subscription; 201
/// with its secret, shown this once.
pub async fn create(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(async {
        app.lms(&headers).await?;
        let req: CreateRequest = json_body(&body)?;
        let created = manage::create(&app.store, &app.config.delivery, &req).await?;
        let mut body = manage::webhook_json(&created.webhook);
        body["secret"] = json!(created.secret);
        Ok((StatusCode::CREATED, body))
    })
    .await
}

/// `GET /api/v1/webhooks` (LMS credentials): every subscription.
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    answer(async {
        app.lms(&headers).await?;
        let all = app.store.read().await?.webhooks().await?;
        let items: Vec<_> = all.iter().map(manage::webhook_json).collect();
        Ok((StatusCode::OK, json!({ "webhooks": items })))
    })
    .await
}

/// `GET /api/v1/webhooks/{id}` (LMS credentials): one subscription.
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        app.lms(&headers).await?;
        let w = manage::get(&app.store, &id).await?;
        Ok((StatusCode::OK, manage::webhook_json(&w)))
    })
    .await
}

/// `POST /api/v1/webhooks/{id}/disable` (LMS credentials).
pub async fn disable(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    set_enabled(&app, &id, &headers, false).await
}

/// `POST /api/v1/webhooks/{id}/enable` (LMS credentials).
pub async fn enable(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    set_enabled(&app, &id, &headers, true).await
}

async fn set_enabled(app: &AppState, id: &str, headers: &HeaderMap, enabled: bool) -> Response {
    answer(async {
        app.lms(headers).await?;
        let w = manage::set_enabled(&app.store, id, enabled).await?;
        Ok((StatusCode::OK, manage::webhook_json(&w)))
    })
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeliverRequest {
    from_seq: i64,
}

/// `POST /api/v1/webhooks/{id}/redeliver` (LMS credentials): delivers again
/// from `from_seq`.
pub async fn redeliver(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(async {
        app.lms(&headers).await?;
        let req: RedeliverRequest = json_body(&body)?;
        let w = manage::redeliver(&app.store, &id, req.from_seq).await?;
        Ok((StatusCode::OK, manage::webhook_json(&w)))
    })
    .await
}

/// `GET /api/v1/webhooks/{id}/attempts` (LMS credentials): the latest
/// delivery attempts, newest first.
pub async fn attempts(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    answer(async {
        app.lms(&headers).await?;
        if let Some(bad) = q.keys().find(|k| k.as_str() != "limit") {
            return Err(ApiError::bad_request(format!("{bad}: unknown parameter")));
        }
        let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
            None => 100,
            Some(Ok(n)) if (1..=MAX_ATTEMPTS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit: must be between 1 and {MAX_ATTEMPTS}"
                )));
            }
        };
        let list = manage::attempts(&app.store, &id, limit).await?;
        let items: Vec<_> = list.iter().map(manage::attempt_json).collect();
        Ok((StatusCode::OK, json!({ "attempts": items })))
    })
    .await
}

/// The routes, for `server::router`.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get as get_, post};
    axum::Router::new()
        .route("/api/v1/webhooks", post(create).get(list))
        .route("/api/v1/webhooks/{id}", get_(get))
        .route("/api/v1/webhooks/{id}/disable", post(disable))
        .route("/api/v1/webhooks/{id}/enable", post(enable))
        .route("/api/v1/webhooks/{id}/redeliver", post(redeliver))
        .route("/api/v1/webhooks/{id}/attempts", get_(attempts))
}
