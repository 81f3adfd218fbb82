//! The read path: `GET /xapi/statements` — one statement by id, or a page
//! of them planned by `crate::query`, in the requested format, with their
//! attachments when asked, and the consistency and `Last-Modified` headers.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use store::StatementFilter;
use xapi_model::format::Format;
use xapi_model::query::StatementsQuery;

use super::respond::{CONSISTENT, consistent_through, from_ms, http_date};
use crate::error::ApiError;
use crate::state::AppState;

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
    let query = xapi_model::query::parse(q).map_err(|e| ApiError::bad_request(e.0))?;
    let languages = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(xapi_model::format::accept_language)
        .unwrap_or_default();
    let mut tx = app.store.read().await?;
    let list = match query {
        StatementsQuery::Single(one) => {
            let s = tx
                .statement(&one.id)
                .await?
                .filter(|s| s.integration_id == provider.integration.id && s.voided == one.voided)
                .ok_or_else(|| ApiError::not_found(format!("statement {} not found", one.id)))?;
            let json = formatted(&s, one.format, &languages)?;
            let resp = if one.attachments {
                let data = attachment_data(&mut tx, &provider.integration.id, [&s]).await?;
                crate::attachments::response(json, &data)
            } else {
                ([(header::CONTENT_TYPE, "application/json")], json).into_response()
            };
            return Ok(statements_headers(resp, &consistent, Some(s.stored_ms)));
        }
        StatementsQuery::List(list) => list,
    };
    let max = app.config.limits.max_page;
    let limit = list.limit.map_or(max, |n| n.min(max));
    let base = StatementFilter {
        integration_id: Some(provider.integration.id.clone()),
        since_ms: list.since_ms,
        until_ms: list.until_ms,
        cursor: list.cursor,
        ascending: list.ascending,
        ..StatementFilter::default()
    };
    let (format, with_attachments) = (list.format, list.attachments);
    let page = crate::query::page(
        &mut tx,
        &base,
        &list.criteria,
        list.agent_ifi.as_ref(),
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
