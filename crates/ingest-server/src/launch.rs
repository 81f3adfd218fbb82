//! `GET /launch/{integration}/{course}`: verify the LMS's signed link, record
//! the launch (seed 000: progress to the default, last activity, attempt), and
//! redirect to the course's launch URL from the catalog — never to a URL taken
//! from the request.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use stats_rules::EntryPoint;
use std::sync::atomic::Ordering::Relaxed;

use crate::clock::{now, now_ms};
use crate::error::ApiError;
use crate::state::AppState;

pub fn entry_point(entry: &str) -> EntryPoint {
    match entry.strip_prefix("path:") {
        Some(p) => EntryPoint::Path(p.to_owned()),
        None => EntryPoint::Catalog,
    }
}

pub async fn launch(
    State(app): State<AppState>,
    Path((integration, course)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    async {
        let secret = app.config.launch_secret.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "launch links are not configured (launch_secret)",
            )
        })?;
        let path = format!("/launch/{integration}/{course}");
        let claims = launch_link::verify(
            secret.as_bytes(),
            &path,
            query.as_deref().unwrap_or(""),
            now().unix_timestamp(),
        )
        .map_err(|e| ApiError::forbidden(format!("launch link refused: {e}")))?;
        let mut tx = app.store.begin().await?;
        let integ = tx
            .integration(&integration)
            .await?
            .filter(|i| i.active)
            .ok_or_else(|| ApiError::not_found("no active integration by that id"))?;
        let rules = records::rules_for(&integ).map_err(ApiError::internal)?;
        let c = tx
            .course_by_external_id(&integ.id, &course)
            .await?
            .filter(|c| !c.archived && c.kind == "course")
            .ok_or_else(|| ApiError::not_found("no such course in the catalog"))?;
        let target = c
            .fields
            .launch_url
            .clone()
            .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http")))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "the course has no usable launch URL in the catalog",
                )
            })?;
        let learner = records::upsert_lms_learner(
            &mut tx,
            &claims.learner,
            claims.email.as_deref(),
            now_ms(),
        )
        .await?;
        records::record_launch(
            &mut tx,
            &rules,
            c.id,
            learner.id,
            entry_point(&claims.entry),
            now(),
        )
        .await
        .map_err(ApiError::internal)?;
        if learner.new_identity {
            // a completion may have arrived before the LMS told us this email
            records::apply_pending(&mut tx, &rules, now_ms())
                .await
                .map_err(ApiError::internal)?;
        }
        tx.commit().await?;
        app.metrics.launches.fetch_add(1, Relaxed);
        tracing::info!(integration = %integ.id, course = %course, "launch recorded");
        Ok::<_, ApiError>(
            (
                StatusCode::FOUND,
                [
                    (header::LOCATION, target),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response(),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
