//! The write path: `POST` and `PUT /xapi/statements` — the body split into
//! statements (depth and count limits), every statement validated, the
//! batch rules (`xapi_model::batch`), attachments matched, then the batch
//! prepared, stamped and queued for the group writer.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use records::{Outcome, PlanError, Prepared, RecordError};
use serde_json::json;
use serde_json::value::RawValue;
use xapi_model::{Account, Actor, Agent, Ifi};

use super::respond::{LATEST_VERSION, answer, api_version, negotiated_version};
use crate::clock::now;
use crate::error::ApiError;
use crate::state::AppState;
use crate::writer::WriteError;

/// Splits a body into statements, each with its exact text: one statement or an array.
fn split_body(
    app: &AppState,
    body: &[u8],
    single_only: bool,
) -> Result<Vec<Box<RawValue>>, ApiError> {
    let limits = &app.config.limits;
    if xapi_model::batch::json_depth_exceeds(body, limits.max_json_depth) {
        return Err(ApiError::bad_request(format!(
            "body: JSON nested deeper than {} levels",
            limits.max_json_depth
        )));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let raws: Vec<Box<RawValue>> = if first == Some(b'[') && !single_only {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("body: invalid JSON: {e}")))?
    } else {
        vec![
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("body: invalid JSON: {e}")))?,
        ]
    };
    if raws.is_empty() {
        return Err(ApiError::bad_request("body: the array holds no statement"));
    }
    if raws.len() > limits.max_statements {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body: {} statements in one request; at most {} are accepted",
                raws.len(),
                limits.max_statements
            ),
        ));
    }
    Ok(raws)
}

fn authority(app: &AppState, client_id: &str) -> Actor {
    Actor::Agent(Agent {
        name: None,
        ifi: Ifi::Account(Account {
            home_page: app.config.public_url.clone(),
            name: client_id.to_owned(),
        }),
    })
}

/// Validates every statement; all errors of all statements, or the statements.
fn validate(
    app: &AppState,
    raws: &[Box<RawValue>],
    version: &'static str,
) -> Result<Vec<(xapi_model::Statement, String)>, ApiError> {
    let api = api_version(version);
    let mut ok = Vec::with_capacity(raws.len());
    let mut details = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        match xapi_model::parse_statement(raw.get().as_bytes()) {
            Ok(s) => {
                let errors = xapi_model::version_errors(&s, api);
                if errors.is_empty() {
                    ok.push((s, raw.get().to_owned()));
                }
                details.extend(
                    errors
                        .into_iter()
                        .map(|err| json!({"index": i, "path": err.path, "rule": err.rule})),
                );
            }
            Err(e) => details.extend(
                e.errors()
                    .into_iter()
                    .map(|err| json!({"index": i, "path": err.path, "rule": err.rule})),
            ),
        }
    }
    if details.is_empty() {
        return Ok(ok);
    }
    app.metrics.rejected.inc_by(raws.len() as u64);
    let first = details[0].clone();
    Err(ApiError::bad_request(format!(
        "invalid statement (index {}): {}: {}{}; nothing from this request was stored",
        first["index"],
        first["path"].as_str().unwrap_or_default(),
        first["rule"].as_str().unwrap_or_default(),
        if details.len() > 1 {
            format!(" (and {} more)", details.len() - 1)
        } else {
            String::new()
        }
    ))
    .with_details(details))
}

async fn store_batch(
    app: &AppState,
    headers: &HeaderMap,
    version: &'static str,
    body: &[u8],
    single: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let provider = app.provider(headers).await?;
    let mut incoming = crate::attachments::split(headers, body).inspect_err(|_| {
        app.metrics.rejected.inc();
    })?;
    let raws = split_body(app, incoming.json, single.is_some())?;
    let mut parsed = validate(app, &raws, version)?;
    if let Some(id) = single {
        let id = xapi_model::syntax::parse_uuid(id)
            .ok_or_else(|| ApiError::bad_request("statementId: must be a UUID"))?;
        let (s, _) = &mut parsed[0];
        match s.id {
            Some(existing) if existing != id => {
                return Err(ApiError::bad_request(
                    "id: differs from the statementId parameter",
                ));
            }
            _ => s.id = Some(id),
        }
    }
    // xAPI 2.0: each id once in a batch (under 1.0.x the writer decides).
    if let Err(e) =
        xapi_model::batch::duplicate_id(parsed.iter().map(|(s, _)| s.id), api_version(version))
    {
        app.metrics.rejected.inc_by(raws.len() as u64);
        return Err(ApiError::bad_request(format!(
            "{e}; nothing from this request was stored"
        )));
    }
    let data = crate::attachments::attach(&mut incoming, &parsed, api_version(version))
        .inspect_err(|_| {
            app.metrics.rejected.inc_by(raws.len() as u64);
        })?;
    let rules = records::rules_for(&provider.integration).map_err(ApiError::internal)?;
    let statement_version = if version == "2.0.0" { "2.0.0" } else { "1.0.0" };
    let authority = authority(app, &provider.client_id);
    let stored_at = now();
    let prepared: Vec<Prepared> = parsed
        .into_iter()
        .zip(data)
        .map(|((s, raw), attachments)| {
            records::prepare(
                s,
                raw,
                stored_at,
                uuid::Uuid::new_v4(),
                &authority,
                statement_version,
            )
            .and_then(|mut p| {
                p.attachments = attachments;
                // Here rather than in the one writer: see docs/PERFORMANCE.md.
                p.derive(&rules)
            })
        })
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    let ids: Vec<String> = prepared
        .iter()
        .filter_map(|p| p.statement.id)
        .map(|id| id.to_string())
        .collect();
    // `stored` is taken again as the batch enters the writer's queue, in
    // queue order: the order in which statements are written is the order of
    // `stored`, and `Consistent-Through` counts the batch from that moment.
    let stamp = |batch: &mut [Prepared]| {
        let (stored, guard) = app.in_flight.enter_now();
        for p in batch {
            p.restamp(stored)?;
        }
        Ok(guard)
    };
    let outcomes = match app
        .writer
        .submit_stamped(std::sync::Arc::new(rules), prepared, stamp)
        .await
    {
        Ok(o) => o,
        Err(WriteError::Record(RecordError::Plan(PlanError::Conflict { id }))) => {
            app.metrics.conflicts.inc();
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "statement {id}: a different statement is already stored under this id; nothing from this request was stored"
                ),
            ));
        }
        Err(WriteError::Record(
            e @ RecordError::Plan(PlanError::BatchConflict { .. } | PlanError::VoidsVoiding { .. }),
        )) => {
            return Err(ApiError::bad_request(format!(
                "{e}; nothing from this request was stored"
            )));
        }
        // Not known to be on disk: not acknowledged, so the sender retries.
        Err(e @ WriteError::NotDurable(_)) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
            ));
        }
        Err(WriteError::Record(RecordError::Store(e))) => return Err(e.into()),
        Err(WriteError::Unavailable { reason, message }) => {
            return Err(ApiError::unavailable(reason, message));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    for o in &outcomes {
        match o {
            Outcome::Duplicate => app.metrics.duplicate.inc(),
            Outcome::Stored { parked: Some(_) } => {
                app.metrics.accepted.inc();
                app.metrics.pending.inc()
            }
            Outcome::Stored { parked: None } => app.metrics.accepted.inc(),
        };
    }
    tracing::info!(integration = %provider.integration.id, statements = outcomes.len(), "statements stored");
    Ok(ids)
}

pub(super) async fn post_inner(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let version = match negotiated_version(headers) {
        Ok(v) => v,
        Err(e) => return answer(LATEST_VERSION, Err(e)),
    };
    let r = store_batch(app, headers, version, body, None)
        .await
        .map(|ids| {
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::Value::from(ids).to_string(),
            )
                .into_response()
        });
    answer(version, r)
}

pub(super) async fn put_inner(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let version = match negotiated_version(headers) {
        Ok(v) => v,
        Err(e) => return answer(LATEST_VERSION, Err(e)),
    };
    let r = async {
        if let Some(k) = q.keys().find(|k| k.as_str() != "statementId") {
            return Err(ApiError::bad_request(format!(
                "{k}: PUT /xapi/statements takes only statementId"
            )));
        }
        let id = q.get("statementId").ok_or_else(|| {
            ApiError::bad_request("statementId: the parameter is required for PUT")
        })?;
        store_batch(app, headers, version, body, Some(id)).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    answer(version, r)
}
