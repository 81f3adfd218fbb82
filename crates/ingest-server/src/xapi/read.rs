//! The read path: `GET /xapi/statements` — one statement by id, or a page
//! of them planned by `crate::query`, in the requested format, with their
//! attachments when asked, and the consistency and `Last-Modified` headers.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use store::StatementFilter;
use xapi_model::LearnerKey;
use xapi_model::format::{Criteria, Format};

use super::respond::{CONSISTENT, consistent_through, from_ms, http_date};
use crate::error::ApiError;
use crate::state::AppState;

/// A boolean query parameter (`true` / `false`, absent: false).
fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request(format!(
            "{name}: must be true or false"
        ))),
    }
}

fn ts_param(q: &HashMap<String, String>, name: &'static str) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|v| {
            xapi_model::parse_timestamp(v)
                .map(|t| i64::try_from(t.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|rule| ApiError::bad_request(format!("{name}: {rule}")))
        })
        .transpose()
}

const LIST_PARAMS: &[&str] = &[
    "agent",
    "verb",
    "activity",
    "registration",
    "since",
    "until",
    "limit",
    "ascending",
    "format",
    "attachments",
    "related_activities",
    "related_agents",
    "cursor",
];

/// `path` is the statements resource's path as the client sent it (the
/// routes may be mounted under a prefix): the `more` link is built on it.
pub(super) async fn get_inner(
    app: &AppState,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let provider = app.provider(headers).await?;
    // Taken before the read: everything stored before it is in what we read.
    let consistent = consistent_through(app);
    let single = match (q.get("statementId"), q.get("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "statementId and voidedStatementId cannot be used together",
            ));
        }
        (Some(id), None) => Some((id, false)),
        (None, Some(id)) => Some((id, true)),
        (None, None) => None,
    };
    let format = match q.get("format") {
        None => Format::Exact,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad_request(format!("format: {f:?} is not one of ids, exact, canonical"))
        })?,
    };
    let languages = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(xapi_model::format::accept_language)
        .unwrap_or_default();
    let with_attachments = bool_param(q, "attachments")?;
    let mut tx = app.store.read().await?;
    if let Some((id, voided)) = single {
        if let Some(other) = q.keys().find(|k| {
            !matches!(
                k.as_str(),
                "statementId" | "voidedStatementId" | "format" | "attachments"
            )
        }) {
            return Err(ApiError::bad_request(format!(
                "{other}: not allowed with statementId/voidedStatementId"
            )));
        }
        let s = tx
            .statement(id)
            .await?
            .filter(|s| s.integration_id == provider.integration.id && s.voided == voided)
            .ok_or_else(|| ApiError::not_found(format!("statement {id} not found")))?;
        let json = formatted(&s, format, &languages)?;
        let resp = if with_attachments {
            let data = attachment_data(&mut tx, &provider.integration.id, [&s]).await?;
            crate::attachments::response(json, &data)
        } else {
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        };
        return Ok(statements_headers(resp, &consistent, Some(s.stored_ms)));
    }
    if let Some(bad) = q.keys().find(|k| !LIST_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("{bad}: unknown parameter")));
    }
    let related_agents = bool_param(q, "related_agents")?;
    let related_activities = bool_param(q, "related_activities")?;
    let (agent, agent_ifi) = match q.get("agent") {
        Some(a) => {
            let v: serde_json::Value = serde_json::from_str(a)
                .map_err(|e| ApiError::bad_request(format!("agent: invalid JSON: {e}")))?;
            let actor = xapi_model::actor_from_value(v).map_err(|errs| {
                ApiError::bad_request(format!(
                    "agent: {}",
                    errs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
            let ifi = actor.ifi().cloned().ok_or_else(|| {
                ApiError::bad_request("agent: an anonymous group cannot be used as a filter")
            })?;
            (Some(LearnerKey::from_ifi(&ifi)), Some(ifi))
        }
        None => (None, None),
    };
    let max = app.config.limits.max_page;
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None | Some(Ok(0)) => max,
        Some(Ok(n)) if n > 0 => n.min(max),
        _ => {
            return Err(ApiError::bad_request(
                "limit: must be a non-negative integer",
            ));
        }
    };
    let ascending = bool_param(q, "ascending")?;
    let cursor = q
        .get("cursor")
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor: malformed"))
        })
        .transpose()?;
    let registration = q
        .get("registration")
        .map(|r| {
            xapi_model::syntax::parse_uuid(r)
                .ok_or_else(|| ApiError::bad_request("registration: must be a UUID"))
        })
        .transpose()?;
    let criteria = Criteria {
        agent,
        verb: q.get("verb").cloned(),
        activity: q.get("activity").cloned(),
        registration,
        related_agents,
        related_activities,
    };
    let base = StatementFilter {
        integration_id: Some(provider.integration.id.clone()),
        since_ms: ts_param(q, "since")?,
        until_ms: ts_param(q, "until")?,
        cursor,
        ascending,
        ..StatementFilter::default()
    };
    let page = crate::query::page(
        &mut tx,
        &base,
        &criteria,
        agent_ifi.as_ref(),
        limit,
        app.config.limits.scan_window,
    )
    .await?;
    let rows = page.rows;
    let more = match page.next {
        Some(last) => {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            let mut keys: Vec<_> = q.iter().filter(|(k, _)| k.as_str() != "cursor").collect();
            keys.sort();
            for (k, v) in keys {
                qs.append_pair(k, v);
            }
            qs.append_pair("cursor", &last.to_string());
            format!("{path}?{}", qs.finish())
        }
        None => String::new(),
    };
    let last_modified = rows.iter().map(|r| r.stored_ms).max();
    let mut body = String::from("{\"statements\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&formatted(r, format, &languages)?);
    }
    body.push_str("],\"more\":");
    body.push_str(&serde_json::Value::from(more).to_string());
    body.push('}');
    let resp = if with_attachments {
        let data = attachment_data(&mut tx, &provider.integration.id, &rows).await?;
        crate::attachments::response(body, &data)
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    Ok(statements_headers(resp, &consistent, last_modified))
}

/// `X-Experience-API-Consistent-Through` (taken before the read) and
/// `Last-Modified` (the newest `stored` served) on a GET's answer.
fn statements_headers(
    mut resp: Response,
    consistent: &str,
    last_modified_ms: Option<i64>,
) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(consistent) {
        h.insert(CONSISTENT, v);
    }
    if let Some(Ok(v)) = last_modified_ms.map(|m| HeaderValue::from_str(&http_date(from_ms(m)))) {
        h.insert(header::LAST_MODIFIED, v);
    }
    resp
}

/// The stored data of every attachment these statements name.
async fn attachment_data<'r>(
    tx: &mut store::Tx<'_>,
    integration_id: &str,
    rows: impl IntoIterator<Item = &'r store::StoredStatement>,
) -> Result<Vec<store::StoredAttachment>, ApiError> {
    let statements = rows
        .into_iter()
        .map(crate::query::parse_stored)
        .collect::<Result<Vec<_>, _>>()?;
    let sha2s = crate::attachments::named_sha2s(&statements);
    if sha2s.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tx.attachments(integration_id, &sha2s).await?)
}

/// A stored statement in the requested format (`exact`: as stored).
fn formatted(
    row: &store::StoredStatement,
    format: Format,
    languages: &[String],
) -> Result<String, ApiError> {
    if format == Format::Exact {
        return Ok(row.canonical.clone());
    }
    let mut s = crate::query::parse_stored(row)?;
    xapi_model::format::apply(&mut s, format, languages);
    serde_json::to_string(&s).map_err(ApiError::internal)
}
