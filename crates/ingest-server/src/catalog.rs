//! The catalog read API (LMS credentials): `GET /api/v1/courses` (filters,
//! cursor paging, JSON or CSV) and `GET /api/v1/courses/{integration}/{external_id}`.
//! A course is shown as [`records::course_json`], the one shape the LMS
//! receives (also in the `course.*` events).
//!
//! Pages are in (last change, id) order and a cursor is the last record's
//! (`updated_ms`, id): a record changed after the consumer passed it moves
//! behind the cursor and comes again later, none is skipped for having
//! changed. Both courses and learning paths are listed unless `kind` says
//! which.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use store::{CourseFilter, CourseRecord};

use crate::error::ApiError;
use crate::listing;
use crate::state::AppState;

/// The CSV columns: every scalar field of [`records::course_json`]; the two
/// lists (`subjects`, `activity_ids`) are their values joined with `|`.
pub const CSV_COLUMNS: [&str; 21] = [
    "integration",
    "provider",
    "lms_group",
    "external_id",
    "kind",
    "name",
    "description",
    "image",
    "duration_minutes",
    "author",
    "lang",
    "launch_url",
    "modified_at",
    "subjects",
    "archived",
    "content_type",
    "activity_ids",
    "scorm_course_id",
    "created_at",
    "updated_at",
    "archived_at",
];

/// The separator of list values in a CSV cell.
pub const CSV_LIST_SEPARATOR: &str = "|";

/// A record as a CSV row's values: lists joined with [`CSV_LIST_SEPARATOR`].
fn csv_values(r: &CourseRecord) -> Value {
    let mut j = records::course_json(r);
    if let Value::Object(map) = &mut j {
        for list in ["subjects", "activity_ids"] {
            if let Some(Value::Array(items)) = map.get(list) {
                let joined = items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(CSV_LIST_SEPARATOR);
                map.insert(list.to_owned(), Value::String(joined));
            }
        }
    }
    j
}

const KNOWN: &[&str] = &[
    "integration",
    "status",
    "kind",
    "updated_since",
    "cursor",
    "limit",
    "format",
];

/// The filter a list request asks for; 400 naming the parameter and its rule.
fn filter(q: &HashMap<String, String>, max_page: i64) -> Result<CourseFilter, ApiError> {
    listing::refuse_unknown(q, KNOWN)?;
    let archived = match q.get("status").map(String::as_str) {
        None => None,
        Some("active") => Some(false),
        Some("archived") => Some(true),
        Some(_) => {
            return Err(ApiError::bad_request("status: must be active or archived"));
        }
    };
    let kind = match q.get("kind").map(String::as_str) {
        None => None,
        Some(k @ ("course" | "path")) => Some(k.to_owned()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "kind: must be course or path (both when not given)",
            ));
        }
    };
    if q.get("format").is_some_and(|f| f != "csv" && f != "json") {
        return Err(ApiError::bad_request("format: must be json or csv"));
    }
    Ok(CourseFilter {
        integration_id: q.get("integration").cloned(),
        archived,
        kind,
        updated_since_ms: listing::updated_since(q)?,
        after: q
            .get("cursor")
            .map(|c| listing::decode_cursor::<2>(c).map(|[u, id]| (u, id)))
            .transpose()?,
        limit: listing::limit(q, max_page)?,
    })
}

async fn list_inner(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    app.lms(headers).await?;
    let f = filter(q, app.config.limits.max_page)?;
    let mut tx = app.store.read().await?;
    let page = tx.list_course_records(&f).await?;
    drop(tx);
    let next = if page.len() as i64 == f.limit {
        page.last()
            .map(|r| listing::encode_cursor(&[r.updated_ms, r.course.id]))
    } else {
        None
    };
    if listing::wants_csv(q, headers) && q.get("format").is_none_or(|f| f == "csv") {
        let rows: Vec<Value> = page.iter().map(csv_values).collect();
        return Ok(listing::csv_page(&CSV_COLUMNS, &rows, next));
    }
    Ok(listing::json_page(
        page.iter().map(records::course_json).collect(),
        next,
    ))
}

/// `GET /api/v1/courses`.
pub async fn list(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    list_inner(&app, &q, &headers)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn one_inner(
    app: &AppState,
    integration: &str,
    external_id: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    app.lms(headers).await?;
    listing::refuse_unknown(q, &[])?;
    let mut tx = app.store.read().await?;
    let Some(record) = tx.course_record(integration, external_id).await? else {
        let known = tx.integration(integration).await?.is_some();
        return Err(ApiError::not_found(if known {
            format!("course {external_id:?} not found in integration {integration:?}")
        } else {
            format!("integration {integration:?} not found")
        }));
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        records::course_json(&record).to_string(),
    )
        .into_response())
}

/// `GET /api/v1/courses/{integration}/{external_id}` (the external id
/// percent-encoded when it holds `/`, spaces or other reserved characters).
pub async fn one(
    State(app): State<AppState>,
    Path((integration, external_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    one_inner(&app, &integration, &external_id, &q, &headers)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}
