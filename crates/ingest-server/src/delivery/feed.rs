//! `GET /api/v1/events?after=SEQ&limit=N`: the change feed, in `seq` order.
//! A consumer keeps the `next_after` of the last page it processed and asks
//! from it again after any outage: nothing committed is skipped.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lms_delivery::{EventType, TypeFilter};

use crate::error::ApiError;
use crate::state::AppState;

/// Most events per page.
pub const MAX_LIMIT: i64 = 5_000;
/// Most events examined by one filtered request (bounded memory).
const MAX_WINDOW: i64 = 10_000;

/// `GET /api/v1/events` (LMS credentials): a page of the change feed after
/// `after`, optionally filtered by event type and integration.
pub async fn events(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match events_inner(&app, &q, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn events_inner(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    app.lms(headers).await?;
    const KNOWN: &[&str] = &["after", "limit", "types", "integration"];
    if let Some(bad) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("{bad}: unknown parameter")));
    }
    let after = match q.get("after").map(|a| a.parse::<i64>()) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n,
        _ => {
            return Err(ApiError::bad_request(
                "after: must be a sequence number (0 or more): the next_after of the last page processed",
            ));
        }
    };
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        _ => {
            return Err(ApiError::bad_request(format!(
                "limit: must be between 1 and {MAX_LIMIT}"
            )));
        }
    };
    let types = match q.get("types") {
        None => None,
        Some(t) => {
            let patterns: Vec<&str> = t.split(',').map(str::trim).collect();
            Some(TypeFilter::new(&patterns).map_err(|bad| {
                ApiError::bad_request(format!(
                    "types: {bad:?} is not an event type (course.created, course.updated, course.archived, course.reactivated, statistic.updated, course.*, statistic.* or *)"
                ))
            })?)
        }
    };
    let integration = q.get("integration");
    // PostgreSQL: what committed a moment ago gets its `seq` now rather than
    // at the background task's next turn.
    super::sequence(&app.store).await?;
    let mut tx = app.store.read().await?;
    // With filters, events are examined in windows (at most `MAX_WINDOW`
    // rows per request); `next_after` is the last one examined, so that a
    // consumer never reads an event twice or skips one.
    let window = if types.is_some() || integration.is_some() {
        limit.saturating_mul(10).clamp(limit, MAX_WINDOW.max(limit))
    } else {
        limit
    };
    let rows = tx.events_after(after, window).await?;
    // The state is read after the events: on PostgreSQL each statement sees
    // what is committed when it starts, so a prune that committed between
    // the two is seen here (410), never taken for a gap-free page; and
    // `last_seq` is never below an event of the page.
    let state = tx.outbox_state().await?;
    if after < state.pruned_through {
        return Err(ApiError::new(
            StatusCode::GONE,
            format!(
                "after: the events up to {} were pruned (retention: {} days). Resynchronize: note last_seq ({}), read /api/v1/courses and /api/v1/statistics, then read this feed from after={}",
                state.pruned_through, app.config.delivery.retention_days, state.last_seq, state.last_seq
            ),
        )
        .with_details(vec![serde_json::json!({
            "pruned_through": state.pruned_through,
            "last_seq": state.last_seq,
        })]));
    }
    if after > state.last_seq {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "after: {after} is beyond the last event ({}); was this database restored from a backup? Resynchronize from the list APIs",
                state.last_seq
            ),
        ));
    }
    let mut out = String::with_capacity(256 * limit as usize);
    out.push_str("{\"events\":[");
    let mut count = 0i64;
    let mut next_after = after;
    for e in &rows {
        if count == limit {
            break;
        }
        next_after = e.seq;
        let wanted = types
            .as_ref()
            .is_none_or(|f| EventType::parse(&e.event_type).is_some_and(|t| f.matches(t)))
            && integration.is_none_or(|i| *i == e.integration_id);
        if !wanted {
            continue;
        }
        if count > 0 {
            out.push(',');
        }
        out.push_str(&super::event::event_json(&state.epoch, e).map_err(ApiError::internal)?);
        count += 1;
    }
    out.push_str(&format!(
        "],\"next_after\":{next_after},\"last_seq\":{}}}",
        state.last_seq
    ));
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}
