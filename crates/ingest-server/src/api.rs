//! The LMS-facing API: statistics (JSON or CSV, cursor paging), pending
//! statements, administrator overrides, learner identity mappings.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stats_rules::{Event, EventKind, Override};
use store::{StatsFilter, StatsItem};
use xapi_model::{Account, Ifi, LearnerKey};

use crate::clock::{now, now_ms};
use crate::error::ApiError;
use crate::listing;
use crate::state::AppState;
use crate::xapi::rfc3339_ms;

/// A statistics item as the API shows it: the row's columns, and from the
/// folded state kept with them the attempts, whether the learner launched
/// from the LMS and the override in force. A state that cannot be read is a
/// server error naming the row, never an item with parts missing.
fn item_json(i: &StatsItem) -> Result<Value, ApiError> {
    let state = records::state_of(&i.row).map_err(ApiError::internal)?;
    let mut item = records::statistic_fields(
        &i.row,
        state.attempts(),
        state.launched_from_lms(),
        state.override_record(),
    )
    .map_err(ApiError::internal)?;
    item.insert("course".into(), i.course_external_id.clone().into());
    item.insert("kind".into(), i.course_kind.clone().into());
    item.insert("learner".into(), i.learner_lms_id.clone().into());
    Ok(Value::Object(item))
}

const CSV_COLUMNS: [&str; 14] = [
    "integration",
    "course",
    "kind",
    "learner",
    "progress",
    "completed",
    "result",
    "score",
    "time_spent_ms",
    "first_activity_at",
    "last_activity_at",
    "completed_at",
    "attempts",
    "overridden",
];

async fn statistics_of_kind(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    kind: &str,
) -> Result<Response, ApiError> {
    app.lms(headers).await?;
    const KNOWN: &[&str] = &[
        "course",
        "path",
        "learner",
        "integration",
        "updated_since",
        "cursor",
        "limit",
        "format",
    ];
    listing::refuse_unknown(q, KNOWN)?;
    let limit = listing::limit(q, app.config.limits.max_page)?;
    let updated_since_ms = listing::updated_since(q)?;
    let filter = StatsFilter {
        integration_id: q.get("integration").cloned(),
        course_external_id: q
            .get(if kind == "path" { "path" } else { "course" })
            .cloned(),
        learner_lms_id: q.get("learner").cloned(),
        kind: Some(kind.to_owned()),
        updated_since_ms,
        after: q
            .get("cursor")
            .map(|c| listing::decode_cursor::<3>(c).map(|[u, c, l]| (u, c, l)))
            .transpose()?,
        limit,
    };
    let mut tx = app.store.read().await?;
    let items = tx.list_stats(&filter).await?;
    let next = if items.len() as i64 == limit {
        items
            .last()
            .map(|i| listing::encode_cursor(&[i.row.updated_ms, i.row.course_id, i.row.learner_id]))
    } else {
        None
    };
    let items = items.iter().map(item_json).collect::<Result<Vec<_>, _>>()?;
    if listing::wants_csv(q, headers) {
        return Ok(listing::csv_page(&CSV_COLUMNS, &items, next));
    }
    Ok(listing::json_page(items, next))
}

/// `GET /api/v1/statistics` (LMS credentials): learners' course statistics,
/// filtered and paged, as JSON or CSV.
pub async fn statistics(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    statistics_of_kind(&app, &q, &headers, "course")
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/path-statistics` (LMS credentials): learners' learning-path
/// statistics, filtered and paged, as JSON or CSV.
pub async fn path_statistics(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    statistics_of_kind(&app, &q, &headers, "path")
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/pending` (LMS credentials): the parked statements (those that
/// matched no course or learner yet), in the order they were stored, with
/// their total.
pub async fn pending(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    async {
        app.lms(&headers).await?;
        // Every parameter checked, as the list APIs do: a mistyped filter
        // must not list every integration's entries.
        crate::listing::refuse_unknown(&q, &["integration", "cursor", "limit"])?;
        let limit = crate::listing::limit(&q, app.config.limits.max_page)?;
        let mut tx = app.store.read().await?;
        if let Some(c) = q.get("cursor") {
            let known = xapi_model::syntax::parse_uuid(c).is_some() && tx.statement(c).await?.is_some();
            if !known {
                return Err(ApiError::bad_request("cursor: not a statement of this log (use the next_cursor of a previous page)"));
            }
        }
        let rows = tx.pending(q.get("integration").map(String::as_str), q.get("cursor").map(String::as_str), limit).await?;
        let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.statement_id.clone())).flatten();
        let total = tx.pending_count(q.get("integration").map(String::as_str)).await?;
        let items: Vec<Value> = rows
            .iter()
            .map(|r| json!({"statement": r.statement_id, "integration": r.integration_id, "reason": r.reason, "detail": r.detail, "parked_at": rfc3339_ms(Some(r.parked_ms))}))
            .collect();
        Ok::<_, ApiError>(([(header::CONTENT_TYPE, "application/json")], json!({"items": items, "total": total, "next_cursor": next}).to_string()).into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    integration: String,
    course: String,
    learner: String,
    #[serde(default)]
    complete: bool,
    success: Option<bool>,
    score: Option<f64>,
    by: String,
    reason: Option<String>,
}

/// `POST /api/v1/overrides` (LMS credentials): records an administrator's
/// override of a learner's course result.
pub async fn overrides(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    async {
        let client = app.lms(&headers).await?;
        let req: OverrideRequest = json_body(&body)?;
        if req.by.trim().is_empty() {
            return Err(ApiError::bad_request("by: who overrides must be given (it is audited)"));
        }
        if req.score.is_some_and(|s| !(0.0..=100.0).contains(&s)) {
            return Err(ApiError::bad_request("score: must be within 0..100"));
        }
        let mut tx = app.store.begin().await?;
        let integration = tx.integration(&req.integration).await?.ok_or_else(|| ApiError::not_found(format!("integration {} not found", req.integration)))?;
        let rules = records::rules_for(&integration).map_err(ApiError::internal)?;
        let course = tx.course_by_external_id(&integration.id, &req.course).await?.ok_or_else(|| ApiError::not_found(format!("course {} not found", req.course)))?;
        let learner = tx.learner_by_lms_id(&req.learner).await?.ok_or_else(|| ApiError::not_found(format!("learner {} not found", req.learner)))?;
        let at = now();
        let event = Event {
            id: uuid::Uuid::new_v4(),
            at,
            stored: at,
            kind: EventKind::Override(Override { complete: req.complete, success: req.success, score: req.score, by: req.by.clone(), reason: req.reason }),
        };
        let stats = records::record_event(&mut tx, &rules, course.id, learner.id, &event, now_ms()).await?;
        tx.commit().await?;
        tracing::info!(integration = %integration.id, course = %req.course, client = %client, "override recorded");
        Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], serde_json::to_string(&stats).unwrap_or_default()).into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRef {
    #[serde(rename = "homePage")]
    home_page: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnerRequest {
    lms_user_id: String,
    email: Option<String>,
    name: Option<String>,
    #[serde(default)]
    accounts: Vec<AccountRef>,
}

/// Maps a learner's identities (email, accounts); parked statements of those
/// identities are applied at once.
pub async fn learners(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    async {
        app.lms(&headers).await?;
        let req: LearnerRequest = json_body(&body)?;
        if req.lms_user_id.trim().is_empty() {
            return Err(ApiError::bad_request("lms_user_id: must not be empty"));
        }
        if req.email.as_deref().is_some_and(|e| !xapi_model::syntax::is_mailto_iri(&format!("mailto:{e}"))) {
            return Err(ApiError::bad_request("email: not an email address"));
        }
        let mut keys = Vec::new();
        if let Some(e) = &req.email {
            keys.push(LearnerKey::from_email(e));
        }
        for a in &req.accounts {
            if !xapi_model::syntax::is_irl(&a.home_page) {
                return Err(ApiError::bad_request("accounts[].homePage: must be an absolute URL"));
            }
            keys.push(LearnerKey::from_ifi(&Ifi::Account(Account { home_page: a.home_page.clone(), name: a.name.clone() })));
        }
        let mut tx = app.store.begin().await?;
        let id = tx.upsert_learner(&req.lms_user_id, req.email.as_deref(), req.name.as_deref(), now_ms()).await?;
        for k in &keys {
            if !tx.map_identity(k.as_str(), id).await? {
                return Err(ApiError::new(StatusCode::CONFLICT, format!("identity {k} already belongs to another learner; nothing was changed")));
            }
        }
        let mut applied = 0;
        for integration in tx.integrations(true).await? {
            let rules = records::rules_for(&integration).map_err(ApiError::internal)?;
            applied += records::apply_pending(&mut tx, &rules, now_ms()).await?;
        }
        tx.commit().await?;
        let body = json!({"learner": req.lms_user_id, "identities": keys.iter().map(ToString::to_string).collect::<Vec<_>>(), "applied": applied});
        Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
