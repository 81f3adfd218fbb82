//! The LMS-facing API: statistics (JSON or CSV, cursor paging), pending
//! statements, administrator overrides, learner identity mappings.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use stats_rules::{Event, EventKind, Override};
use store::{StatsFilter, StatsItem};
use xapi_model::{Account, Ifi, LearnerKey};

use crate::clock::{now, now_ms};
use crate::error::ApiError;
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

fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.len().to_string(),
        Value::Object(_) => "true".into(),
        other => other.to_string(),
    };
    // Quote when needed; neutralize spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@']) && v.is_string() {
        format!("'{s}")
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn encode_cursor(i: &StatsItem) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}:{}",
        i.row.updated_ms, i.row.course_id, i.row.learner_id
    ))
}

fn decode_cursor(c: &str) -> Result<(i64, i64, i64), ApiError> {
    let bad =
        || ApiError::bad_request("cursor: malformed (use the next_cursor of a previous page)");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut p = text.split(':').map(str::parse::<i64>);
    match (p.next(), p.next(), p.next(), p.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) => Ok((a, b, c)),
        _ => Err(bad()),
    }
}

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
    if let Some(bad) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("{bad}: unknown parameter")));
    }
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(n)) if (1..=app.config.limits.max_page).contains(&n) => n,
        _ => {
            return Err(ApiError::bad_request(format!(
                "limit: must be between 1 and {}",
                app.config.limits.max_page
            )));
        }
    };
    let updated_since_ms = q
        .get("updated_since")
        .map(|v| {
            xapi_model::parse_timestamp(v)
                .map(|t| i64::try_from(t.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|rule| ApiError::bad_request(format!("updated_since: {rule}")))
        })
        .transpose()?;
    let filter = StatsFilter {
        integration_id: q.get("integration").cloned(),
        course_external_id: q
            .get(if kind == "path" { "path" } else { "course" })
            .cloned(),
        learner_lms_id: q.get("learner").cloned(),
        kind: Some(kind.to_owned()),
        updated_since_ms,
        after: q.get("cursor").map(|c| decode_cursor(c)).transpose()?,
        limit,
    };
    let mut tx = app.store.read().await?;
    let items = tx.list_stats(&filter).await?;
    let next = if items.len() as i64 == limit {
        items.last().map(encode_cursor)
    } else {
        None
    };
    let wants_csv = q.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    if wants_csv {
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        for i in &items {
            let j = item_json(i)?;
            out.push_str(
                &CSV_COLUMNS
                    .iter()
                    .map(|c| csv_field(&j[c]))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        let mut r = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
        if let Some(Ok(v)) = next.map(|n| axum::http::HeaderValue::from_str(&n)) {
            r.headers_mut().insert("x-next-cursor", v);
        }
        return Ok(r);
    }
    let items = items.iter().map(item_json).collect::<Result<Vec<_>, _>>()?;
    let body = json!({ "items": items, "next_cursor": next });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

pub async fn statistics(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    statistics_of_kind(&app, &q, &headers, "course")
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn path_statistics(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    statistics_of_kind(&app, &q, &headers, "path")
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn pending(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    async {
        app.lms(&headers).await?;
        let limit = q.get("limit").and_then(|l| l.parse::<i64>().ok()).unwrap_or(100).clamp(1, app.config.limits.max_page);
        let mut tx = app.store.read().await?;
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
        let stats = records::record_event(&mut tx, &rules, course.id, learner.id, &event, now_ms()).await.map_err(ApiError::internal)?;
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
            applied += records::apply_pending(&mut tx, &rules, now_ms()).await.map_err(ApiError::internal)?;
        }
        tx.commit().await?;
        let body = json!({"learner": req.lms_user_id, "identities": keys.iter().map(ToString::to_string).collect::<Vec<_>>(), "applied": applied});
        Ok(([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
