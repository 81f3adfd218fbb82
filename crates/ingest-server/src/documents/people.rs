//! The Agents resource (the Person object: every identifier and name this
//! integration has seen for the person an Agent stands for) and the
//! Activities resource (the canonical Activity: the definitions in this
//! integration's statements about it, merged).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use store::StatementFilter;
use xapi_model::documents as docs;
use xapi_model::{Actor, Agent, LearnerKey};

use super::{answer, bad_params, params, version};
use crate::error::ApiError;
use crate::state::AppState;
use crate::xapi::{api_version, decode_form, response_version};

/// Statements read per identifier for the names of a Person (the newest):
/// docs/xapi-lrs.md.
pub const PERSON_STATEMENTS: i64 = 50;
/// Statements read about an Activity for its definition (the newest):
/// docs/xapi-lrs.md.
pub const ACTIVITY_STATEMENTS: i64 = 200;
/// Identifiers of one person looked at, at most.
pub const PERSON_IDENTIFIERS: usize = 20;

/// `GET /xapi/agents`: the Person object of an agent.
pub async fn agents(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, api) = match version(&headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    answer(
        v,
        agents_inner(&app, api, &params(raw.as_deref()), &headers).await,
    )
}

/// `GET /xapi/activities`: the full Activity object of an activity id.
pub async fn activities(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (v, _) = match version(&headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    answer(
        v,
        activities_inner(&app, &params(raw.as_deref()), &headers).await,
    )
}

/// `POST /xapi/agents?method=GET` (1.0.3's alternate request syntax); any
/// other POST: 405.
pub async fn agents_alternate(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match get_form(&headers, raw.as_deref(), &body) {
        Ok((v, form)) => answer(
            v,
            agents_inner(&app, api_version(v), &form.params, &form.headers).await,
        ),
        Err(r) => *r,
    }
}

/// `POST /xapi/activities?method=GET` (1.0.3's alternate request syntax);
/// any other POST: 405.
pub async fn activities_alternate(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match get_form(&headers, raw.as_deref(), &body) {
        Ok((v, form)) => answer(v, activities_inner(&app, &form.params, &form.headers).await),
        Err(r) => *r,
    }
}

/// The form of a `POST …?method=GET`; a POST without `method` is not served
/// on these read-only resources (405).
fn get_form(
    headers: &HeaderMap,
    raw: Option<&str>,
    body: &[u8],
) -> Result<(&'static str, crate::xapi::AlternateForm), Box<Response>> {
    let query = params(raw);
    let latest = response_version(headers);
    match query.as_slice() {
        [(k, m)] if k == "method" && m == "GET" => match decode_form(headers, body) {
            Ok(form) => Ok((form.version, form)),
            Err(e) => Err(Box::new(answer(latest, Err(e)))),
        },
        q if q.iter().any(|(k, _)| k == "method") => Err(Box::new(answer(
            latest,
            Err(ApiError::bad_request(
                "method: only GET, and no other query parameter (send them as form fields)",
            )),
        ))),
        _ => Err(Box::new(answer(
            latest,
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            )),
        ))),
    }
}

async fn agents_inner(
    app: &AppState,
    api: docs::ApiVersion,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let provider = app.provider(headers).await?;
    let actor = docs::parse_agents_query(api, params).map_err(bad_params)?;
    let person = person(app, &provider.integration.id, &actor).await?;
    Ok(json(&person))
}

async fn activities_inner(
    app: &AppState,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let provider = app.provider(headers).await?;
    let id = docs::parse_activities_query(params).map_err(bad_params)?;
    let mut tx = app.store.read().await?;
    let found = tx
        .statements(&StatementFilter {
            integration_id: Some(provider.integration.id.clone()),
            activity_id: Some(id.clone()),
            limit: ACTIVITY_STATEMENTS,
            ..StatementFilter::default()
        })
        .await?;
    // Oldest first: a later definition wins.
    let definitions: Vec<Value> = found
        .iter()
        .rev()
        .filter_map(|s| {
            let raw: Value = serde_json::from_str(&s.raw).ok()?;
            (raw["object"]["id"].as_str() == Some(id.as_str()))
                .then(|| raw["object"]["definition"].clone())
                .filter(Value::is_object)
        })
        .collect();
    Ok(json(&docs::canonical_activity(&id, &definitions)))
}

fn json(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// The agent asked about, and every identifier mapped to the same learner
/// that this integration's statements used, with the names they gave.
async fn person(app: &AppState, integration: &str, actor: &Actor) -> Result<Value, ApiError> {
    let mut agents: Vec<Agent> = Vec::new();
    if let Actor::Agent(a) = actor {
        agents.push(a.clone());
    }
    let Some(key) = LearnerKey::from_actor(actor) else {
        return Ok(docs::person(&agents));
    };
    let mut tx = app.store.read().await?;
    let keys = match tx.learner_by_identity(key.as_str()).await? {
        Some(learner) => tx.learner_identity_keys(learner).await?,
        None => vec![key.as_str().to_owned()],
    };
    for k in keys.into_iter().take(PERSON_IDENTIFIERS) {
        let seen = tx
            .statements(&StatementFilter {
                integration_id: Some(integration.to_owned()),
                actor_key: Some(k),
                limit: PERSON_STATEMENTS,
                ..StatementFilter::default()
            })
            .await?;
        for s in seen {
            let Ok(raw) = serde_json::from_str::<Value>(&s.raw) else {
                continue;
            };
            if let Ok(Actor::Agent(a)) = xapi_model::actor_from_value(raw["actor"].clone()) {
                agents.push(a);
            }
        }
    }
    Ok(docs::person(&agents))
}
