//! The State, Activity Profile and Agent Profile resources: one document by
//! its id (GET, PUT, POST, DELETE), the ids of a scope (GET without an id,
//! `since`), and State's multiple-document DELETE.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, header};
use axum::response::{IntoResponse, Response};
use store::DocumentKey;
use xapi_model::documents::{
    self as docs, ApiVersion, DocumentQuery, Method, Precondition, Resource,
};

use super::{answer, bad_params, header_value, no_content, params, version};
use crate::error::ApiError;
use crate::state::AppState;
use crate::writer::{DocumentOp, DocumentWrite, DocumentWriteError, WriteError, scope_of};
use crate::xapi::http_date_ms;
use crate::xapi::{api_version, decode_form, response_version};

/// `/xapi/activities/state`: the State resource (GET, PUT, POST, DELETE).
pub async fn state(
    State(app): State<AppState>,
    method: HttpMethod,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &app,
        Resource::State,
        method,
        raw.as_deref(),
        &headers,
        body,
    )
    .await
}

/// `/xapi/activities/profile`: the Activity Profile resource.
pub async fn activity_profile(
    State(app): State<AppState>,
    method: HttpMethod,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &app,
        Resource::ActivityProfile,
        method,
        raw.as_deref(),
        &headers,
        body,
    )
    .await
}

/// `/xapi/agents/profile`: the Agent Profile resource.
pub async fn agent_profile(
    State(app): State<AppState>,
    method: HttpMethod,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(
        &app,
        Resource::AgentProfile,
        method,
        raw.as_deref(),
        &headers,
        body,
    )
    .await
}

async fn serve(
    app: &AppState,
    resource: Resource,
    method: HttpMethod,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(raw);
    if method == HttpMethod::POST && params.iter().any(|(k, _)| k == "method") {
        return alternate(app, resource, &params, headers, &body).await;
    }
    let (v, api) = match version(headers) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(method) = method_of(method.as_str()) else {
        return answer(v, Err(not_allowed()));
    };
    answer(
        v,
        serve_inner(app, resource, method, api, &params, headers, body).await,
    )
}

fn method_of(m: &str) -> Option<Method> {
    Some(match m {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => return None,
    })
}

fn not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// xAPI 1.0.3's alternate request syntax on a Document resource (1.0.3
/// Communication 1.3: "The LRS MUST support the syntax above"): `POST
/// …?method=GET|PUT|POST|DELETE` with the headers, parameters and content
/// as form fields. Refused under 2.0.0, which removed it.
async fn alternate(
    app: &AppState,
    resource: Resource,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let form = match query {
        [(_, _)] => decode_form(headers, body),
        _ => Err(ApiError::bad_request(
            "method: the alternate request syntax takes no other query parameter; send them as form fields",
        )),
    };
    let form = match form {
        Ok(f) => f,
        Err(e) => return answer(response_version(headers), Err(e)),
    };
    let Some(method) = query.first().and_then(|(_, m)| method_of(m)) else {
        return answer(
            form.version,
            Err(ApiError::bad_request(
                "method: one of GET, PUT, POST and DELETE",
            )),
        );
    };
    let content = Bytes::from(form.content.unwrap_or_default());
    let api = api_version(form.version);
    answer(
        form.version,
        serve_inner(
            app,
            resource,
            method,
            api,
            &form.params,
            &form.headers,
            content,
        )
        .await,
    )
}

async fn serve_inner(
    app: &AppState,
    resource: Resource,
    method: Method,
    api: ApiVersion,
    params: &[(String, String)],
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let provider = app.provider(headers).await?;
    let q = docs::parse_document_query(resource, method, api, params).map_err(bad_params)?;
    let integration = provider.integration.id.as_str();
    match method {
        Method::Get | Method::Head => match &q.document_id {
            Some(_) => one(app, integration, &q, headers).await,
            None => ids(app, integration, &q).await,
        },
        Method::Put | Method::Post | Method::Delete => {
            write(app, integration, resource, method, api, &q, headers, body).await
        }
    }
}

fn key_of(integration: &str, q: &DocumentQuery) -> DocumentKey {
    DocumentKey {
        scope: scope_of(integration, q),
        document_id: q.document_id.clone().unwrap_or_default(),
    }
}

async fn one(
    app: &AppState,
    integration: &str,
    q: &DocumentQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let key = key_of(integration, q);
    let doc = app
        .store
        .read()
        .await?
        .document(&key)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("{}: no such document", q.resource.id_param()))
        })?;
    let if_none_match = header_text(headers, header::IF_NONE_MATCH)?;
    let mut r = if docs::not_modified(Some(&doc.etag), if_none_match) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, header_value(&doc.content_type)?)],
            doc.content,
        )
            .into_response()
    };
    let h = r.headers_mut();
    h.insert(header::ETAG, header_value(&doc.etag)?);
    h.insert(
        header::LAST_MODIFIED,
        header_value(&http_date_ms(doc.updated_ms))?,
    );
    Ok(r)
}

async fn ids(app: &AppState, integration: &str, q: &DocumentQuery) -> Result<Response, ApiError> {
    let scope = scope_of(integration, q);
    let since_ms = q
        .since
        .map(|t| i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MIN));
    let found = app
        .store
        .read()
        .await?
        .document_ids(&scope, since_ms)
        .await?;
    let newest = found.iter().map(|d| d.updated_ms).max();
    let list: Vec<&str> = found.iter().map(|d| d.document_id.as_str()).collect();
    let body = serde_json::to_vec(&list).map_err(ApiError::internal)?;
    let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(ms) = newest {
        r.headers_mut()
            .insert(header::LAST_MODIFIED, header_value(&http_date_ms(ms))?);
    }
    Ok(r)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ApiError> {
    headers
        .get(&name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request(format!("{name}: not visible ASCII")))
        })
        .transpose()
}

#[allow(clippy::too_many_arguments)]
async fn write(
    app: &AppState,
    integration: &str,
    resource: Resource,
    method: Method,
    api: ApiVersion,
    q: &DocumentQuery,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let max = app.config.limits.max_document_bytes;
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body: a document is at most {max} bytes; this one is {}",
                body.len()
            ),
        ));
    }
    let content_type = header_text(headers, header::CONTENT_TYPE)?
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let json = docs::is_json(&content_type);
    if json && method != Method::Delete {
        // A JSON document is JSON (what a POST merges, what a GET gives back).
        serde_json::from_slice::<serde::de::IgnoredAny>(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "body: not valid JSON ({e}) although Content-Type is {content_type}"
            ))
        })?;
    }
    let op = match method {
        Method::Put => DocumentOp::Put {
            content_type,
            content: body.to_vec(),
        },
        Method::Post => DocumentOp::Post {
            content_type,
            content: body.to_vec(),
        },
        _ if q.document_id.is_none() => DocumentOp::DeleteAll,
        _ => DocumentOp::Delete,
    };
    let write = DocumentWrite {
        key: key_of(integration, q),
        op,
        version: api,
        resource,
        if_match: header_text(headers, header::IF_MATCH)?.map(str::to_owned),
        if_none_match: header_text(headers, header::IF_NONE_MATCH)?.map(str::to_owned),
        strict: app.config.documents.require_preconditions,
        max_bytes: max,
    };
    match app.writer.submit_document(write).await {
        Ok(w) => {
            let mut r = no_content();
            if let Some(etag) = w.etag {
                r.headers_mut().insert(header::ETAG, header_value(&etag)?);
            }
            Ok(r)
        }
        Err(e) => Err(write_error(e)),
    }
}

fn write_error(e: DocumentWriteError) -> ApiError {
    match e {
        DocumentWriteError::Precondition(p) => {
            let (status, why) = match p {
                Precondition::Failed => (
                    StatusCode::PRECONDITION_FAILED,
                    "If-Match / If-None-Match: the document's current ETag does not satisfy the precondition; nothing changed",
                ),
                Precondition::Conflict => (
                    StatusCode::CONFLICT,
                    "the document exists and the request has neither If-Match nor If-None-Match: GET it, then send If-Match with its ETag (or If-None-Match: * to create only); nothing changed",
                ),
                Precondition::Missing => (
                    StatusCode::BAD_REQUEST,
                    "If-Match / If-None-Match: a profile document is PUT with If-None-Match: * to create it, or If-Match with its current ETag to replace it; nothing changed",
                ),
                Precondition::Required => (
                    StatusCode::PRECONDITION_REQUIRED,
                    "If-Match or If-None-Match is required for this request; nothing changed",
                ),
            };
            ApiError::new(status, why)
        }
        DocumentWriteError::Merge(m) => {
            ApiError::bad_request(format!("body: {m}; nothing changed"))
        }
        e @ DocumentWriteError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body: {e}; nothing changed"),
        ),
        DocumentWriteError::Write(WriteError::Unavailable { reason, message }) => {
            ApiError::unavailable(reason, message)
        }
        DocumentWriteError::Write(e @ WriteError::NotDurable(_)) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        DocumentWriteError::Write(e) => ApiError::internal(e),
    }
}
