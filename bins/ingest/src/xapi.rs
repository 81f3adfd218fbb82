//! The xAPI statements resource (1.0.3, accepting 2.0.0) and About.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use records::{Outcome, Prepared, RecordError};

use crate::writer::WriteError;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::atomic::Ordering::Relaxed;
use store::StatementFilter;
use time::OffsetDateTime;
use xapi_model::format::{Criteria, Format};
use xapi_model::{Account, Actor, Agent, Ifi, LearnerKey};

use crate::error::ApiError;
use crate::state::{AppState, now};

pub const VERSION_HEADER: &str = "x-experience-api-version";

/// The version to answer with, from the request's `X-Experience-API-Version`.
pub fn xapi_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let v = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "X-Experience-API-Version: the header is required (1.0.x or 2.0.x)",
            )
        })?;
    let v = v.trim();
    if v == "1.0" || v.starts_with("1.0.") {
        Ok("1.0.3")
    } else if v == "2.0" || v.starts_with("2.0.") {
        Ok("2.0.0")
    } else {
        Err(ApiError::bad_request(format!(
            "X-Experience-API-Version: {v:?} is not supported (1.0.x or 2.0.x)"
        )))
    }
}

/// The version whose rules a request answered with `version` follows.
fn api_version(version: &str) -> xapi_model::ApiVersion {
    if version == "2.0.0" {
        xapi_model::ApiVersion::V2_0
    } else {
        xapi_model::ApiVersion::V1_0
    }
}

fn with_version(mut r: Response, version: &'static str) -> Response {
    r.headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(version));
    r
}

/// Answers with the version header whatever the outcome.
fn answer(version: &'static str, r: Result<Response, ApiError>) -> Response {
    with_version(r.unwrap_or_else(IntoResponse::into_response), version)
}

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
    app.metrics.rejected.fetch_add(raws.len() as u64, Relaxed);
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
        app.metrics.rejected.fetch_add(1, Relaxed);
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
        app.metrics.rejected.fetch_add(raws.len() as u64, Relaxed);
        return Err(ApiError::bad_request(format!(
            "{e}; nothing from this request was stored"
        )));
    }
    let data = crate::attachments::attach(&mut incoming, &parsed).inspect_err(|_| {
        app.metrics.rejected.fetch_add(raws.len() as u64, Relaxed);
    })?;
    let rules = records::rules_for(&provider.integration).map_err(ApiError::internal)?;
    let statement_version = if version == "2.0.0" { "2.0.0" } else { "1.0.0" };
    let authority = authority(app, &provider.client_id);
    let stored_at = now();
    let prepared: Vec<Prepared> = parsed
        .into_iter()
        .zip(data)
        .map(|((s, raw), attachments)| {
            records::prepare(s, raw, stored_at, &authority, statement_version).and_then(|mut p| {
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
        Err(WriteError::Record(RecordError::Conflict { id })) => {
            app.metrics.conflicts.fetch_add(1, Relaxed);
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "statement {id}: a different statement is already stored under this id; nothing from this request was stored"
                ),
            ));
        }
        Err(WriteError::Record(
            e @ (RecordError::BatchConflict { .. } | RecordError::VoidsVoiding { .. }),
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
        Err(e) => return Err(ApiError::internal(e)),
    };
    for o in &outcomes {
        match o {
            Outcome::Duplicate => app.metrics.duplicate.fetch_add(1, Relaxed),
            Outcome::Stored { parked: Some(_) } => {
                app.metrics.accepted.fetch_add(1, Relaxed);
                app.metrics.pending.fetch_add(1, Relaxed)
            }
            Outcome::Stored { parked: None } => app.metrics.accepted.fetch_add(1, Relaxed),
        };
    }
    tracing::info!(integration = %provider.integration.id, statements = outcomes.len(), "statements stored");
    Ok(ids)
}

pub async fn post_statements(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = if q.contains_key("method") {
        alternate(&app, &q, &headers, &body).await
    } else if let Some(k) = q.keys().next() {
        answer(
            "1.0.3",
            Err(ApiError::bad_request(format!(
                "{k}: POST /xapi/statements takes no query parameters (except method, the alternate request syntax)"
            ))),
        )
    } else {
        post_inner(&app, &headers, &body).await
    };
    with_consistency(&app, r)
}

async fn post_inner(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let version = match xapi_version(headers) {
        Ok(v) => v,
        Err(e) => return answer("1.0.3", Err(e)),
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

pub async fn put_statement(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = if q.contains_key("method") {
        answer(
            "1.0.3",
            Err(ApiError::bad_request(
                "method: the alternate request syntax is a POST (xAPI 1.0.3, 1.3)",
            )),
        )
    } else {
        put_inner(&app, &q, &headers, &body).await
    };
    with_consistency(&app, r)
}

async fn put_inner(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let version = match xapi_version(headers) {
        Ok(v) => v,
        Err(e) => return answer("1.0.3", Err(e)),
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

/// The form parameters of the alternate request syntax that are headers.
const FORM_HEADERS: [&str; 6] = [
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
];

/// xAPI 1.0.3's alternate request syntax (Communication 1.3): `POST
/// /xapi/statements?method=GET|PUT|POST` with a form body whose fields are
/// the headers (Authorization, X-Experience-API-Version, Content-Type, …),
/// the request body (`content`) and the query parameters. Refused under
/// xAPI 2.0, which removed it.
async fn alternate(
    app: &AppState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let r = (|| {
        if q.len() != 1 {
            return Err(ApiError::bad_request(
                "method: the alternate request syntax takes no other query parameter; send them as form fields",
            ));
        }
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(xapi_model::multipart::essence);
        if form_type.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(ApiError::bad_request(
                "Content-Type: the alternate request syntax sends application/x-www-form-urlencoded",
            ));
        }
        let mut inner = headers.clone();
        inner.remove(header::CONTENT_TYPE);
        inner.remove(header::CONTENT_LENGTH);
        let mut params = HashMap::new();
        let mut content = None;
        for (k, v) in url::form_urlencoded::parse(body) {
            let lower = k.to_ascii_lowercase();
            if FORM_HEADERS.contains(&lower.as_str()) {
                let name = header::HeaderName::from_bytes(lower.as_bytes())
                    .map_err(|_| ApiError::bad_request(format!("{k}: not a header name")))?;
                let value = HeaderValue::from_str(&v)
                    .map_err(|_| ApiError::bad_request(format!("{k}: not a header value")))?;
                inner.insert(name, value);
            } else if k == "content" {
                content = Some(v.into_owned());
            } else {
                params.insert(k.into_owned(), v.into_owned());
            }
        }
        let version = xapi_version(&inner)?;
        if version == "2.0.0" {
            return Err(ApiError::bad_request(
                "method: the alternate request syntax was removed in xAPI 2.0",
            ));
        }
        if content.is_some() && !inner.contains_key(header::CONTENT_TYPE) {
            inner.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Ok((version, inner, params, content))
    })();
    let (version, inner, params, content) = match r {
        Ok(x) => x,
        Err(e) => return answer("1.0.3", Err(e)),
    };
    let content = content.unwrap_or_default();
    match q.get("method").map(String::as_str) {
        Some("GET") => answer(version, get_inner(app, &params, &inner).await),
        Some("PUT") if !content.is_empty() => {
            put_inner(app, &params, &inner, content.as_bytes()).await
        }
        Some("POST") if !content.is_empty() && params.is_empty() => {
            post_inner(app, &inner, content.as_bytes()).await
        }
        Some("PUT" | "POST") if content.is_empty() => answer(
            "1.0.3",
            Err(ApiError::bad_request(
                "content: the alternate request syntax sends the statements in the form field content",
            )),
        ),
        Some("POST") => answer(
            "1.0.3",
            Err(ApiError::bad_request(
                "POST /xapi/statements takes no parameters besides the content",
            )),
        ),
        Some(m) => answer(
            "1.0.3",
            Err(ApiError::bad_request(format!(
                "method: {m:?} is not GET, PUT or POST for the statements resource"
            ))),
        ),
        None => answer("1.0.3", Err(ApiError::bad_request("method: missing"))),
    }
}

fn http_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `X-Experience-API-Consistent-Through`: an ISO 8601 (RFC 3339) UTC time
/// before which every statement is visible.
fn consistent_through(app: &AppState) -> String {
    rfc3339(
        app.in_flight
            .consistent_through(now())
            .to_offset(time::UtcOffset::UTC),
    )
}

const CONSISTENT: &str = "x-experience-api-consistent-through";

/// Adds `X-Experience-API-Consistent-Through` to a statements resource
/// response that has none yet (xAPI: "on all responses to Statements
/// Resource requests", errors included).
fn with_consistency(app: &AppState, mut r: Response) -> Response {
    if !r.headers().contains_key(CONSISTENT) {
        if let Ok(v) = HeaderValue::from_str(&consistent_through(app)) {
            r.headers_mut().insert(CONSISTENT, v);
        }
    }
    r
}

fn rfc3339(t: OffsetDateTime) -> String {
    xapi_model::rfc3339::format(t)
        .map(|text| text.as_str().to_owned())
        .unwrap_or_default()
}

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

pub async fn get_statements(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = match xapi_version(&headers) {
        Ok(version) => answer(version, get_inner(&app, &q, &headers).await),
        Err(e) => answer("1.0.3", Err(e)),
    };
    with_consistency(&app, r)
}

async fn get_inner(
    app: &AppState,
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
            format!("/xapi/statements?{}", qs.finish())
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

pub async fn about() -> Response {
    with_version(
        (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"version": ["1.0.3", "2.0.0"], "extensions": {}}).to_string(),
        )
            .into_response(),
        "1.0.3",
    )
}

/// Tracks the `stored` times of write transactions still open in this process,
/// so that `X-Experience-API-Consistent-Through` never claims a time before
/// which a statement could still appear; and hands those times out.
#[derive(Debug, Default)]
pub struct InFlight {
    open: std::sync::Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    /// `stored` (nanoseconds) → batches still open with it.
    times: std::collections::BTreeMap<i128, usize>,
    /// The last time handed out.
    last: i128,
}

pub struct InFlightGuard {
    set: std::sync::Arc<InFlight>,
    key: i128,
}

impl InFlight {
    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A `stored` time for a batch about to be written: now, and later than
    /// every time handed out before (even where the clock steps back), open
    /// until the guard is dropped. Taken under the same lock as
    /// [`InFlight::consistent_through`] reads, so that no answer can claim a
    /// time past it before the batch is counted as open.
    pub fn enter_now(self: &std::sync::Arc<Self>) -> (OffsetDateTime, InFlightGuard) {
        let mut open = self.open();
        let key = now().unix_timestamp_nanos().max(open.last + 1);
        open.last = key;
        *open.times.entry(key).or_default() += 1;
        drop(open);
        let stored = OffsetDateTime::from_unix_timestamp_nanos(key).unwrap_or_else(|_| now());
        (
            stored,
            InFlightGuard {
                set: self.clone(),
                key,
            },
        )
    }

    /// Everything stored before this time is visible.
    pub fn consistent_through(&self, now: OffsetDateTime) -> OffsetDateTime {
        let oldest = self.open().times.keys().next().copied();
        match oldest.and_then(|k| OffsetDateTime::from_unix_timestamp_nanos(k - 1_000_000).ok()) {
            Some(t) if t < now => t,
            _ => now,
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut open = self.set.open();
        if let Some(n) = open.times.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.times.remove(&self.key);
            }
        }
    }
}

pub fn rfc3339_ms(ms: Option<i64>) -> serde_json::Value {
    ms.map_or(serde_json::Value::Null, |m| {
        serde_json::Value::String(rfc3339(from_ms(m)))
    })
}

#[cfg(test)]
mod tests {
    /// Stamps handed out one after another always go up, even many within
    /// one tick of the clock; while one is open, no answer claims
    /// consistency past it; once all are answered, it is now again.
    #[test]
    fn stamps_go_up_and_hold_consistency_back_while_open() {
        let set = std::sync::Arc::new(super::InFlight::default());
        let mut last = None;
        let mut guards = Vec::new();
        for _ in 0..10_000 {
            let (t, guard) = set.enter_now();
            if let Some(last) = last {
                assert!(t > last, "{t} after {last}");
            }
            last = Some(t);
            guards.push((t, guard));
        }
        let oldest = guards[0].0;
        assert!(set.consistent_through(super::now()) < oldest);
        // The oldest answered: the next one holds it back.
        let (_, first) = guards.remove(0);
        drop(first);
        let next = guards[0].0;
        let through = set.consistent_through(super::now());
        assert!(through < next && through >= oldest - time::Duration::milliseconds(1));
        guards.clear();
        let before = super::now();
        assert!(set.consistent_through(super::now()) >= before);
        // After the clock stepped back, still later than the last.
        set.open().last = (super::now() + time::Duration::hours(1)).unix_timestamp_nanos();
        let (t, _g) = set.enter_now();
        assert!(t > super::now() + time::Duration::minutes(59));
    }
}
