//! xAPI 1.0.3's alternate request syntax: a form `POST` that stands for a
//! `GET`, `PUT` or `POST` of the statements resource, turned into that
//! request and answered by the write or read path.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::read::get_inner;
use super::respond::{answer, negotiated_version, response_version};
use super::write::{post_inner, put_inner};
use crate::error::ApiError;
use crate::state::AppState;

/// The form parameters of the alternate request syntax that are headers.
const FORM_HEADERS: [&str; 6] = [
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
];

/// A form POST of the alternate request syntax, decoded: the version it
/// speaks (1.0.x only), the headers it carries over the request's own, its
/// query parameters in order, and its content.
pub(crate) struct AlternateForm {
    pub version: &'static str,
    pub headers: HeaderMap,
    pub params: Vec<(String, String)>,
    pub content: Option<String>,
}

/// Decodes the form body of an alternate-syntax request (every xAPI
/// resource's; the caller has checked that `method` is its only query
/// parameter). Refused under xAPI 2.0, which removed the syntax.
pub(crate) fn decode_form(headers: &HeaderMap, body: &[u8]) -> Result<AlternateForm, ApiError> {
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
    let mut params = Vec::new();
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
            params.push((k.into_owned(), v.into_owned()));
        }
    }
    let version = negotiated_version(&inner)?;
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
    Ok(AlternateForm {
        version,
        headers: inner,
        params,
        content,
    })
}

/// xAPI 1.0.3's alternate request syntax (Communication 1.3): `POST
/// /xapi/statements?method=GET|PUT|POST` with a form body whose fields are
/// the headers (Authorization, X-Experience-API-Version, Content-Type, …),
/// the request body (`content`) and the query parameters. Refused under
/// xAPI 2.0, which removed it.
pub(super) async fn alternate(
    app: &AppState,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let r = if q.len() != 1 {
        Err(ApiError::bad_request(
            "method: the alternate request syntax takes no other query parameter; send them as form fields",
        ))
    } else {
        decode_form(headers, body)
    };
    let AlternateForm {
        version,
        headers: inner,
        params,
        content,
    } = match r {
        Ok(x) => x,
        // Before its version is read (or when it is 2.0): the latest.
        Err(e) => return answer(response_version(headers), Err(e)),
    };
    let params: HashMap<String, String> = params.into_iter().collect();
    let content = content.unwrap_or_default();
    match q.get("method").map(String::as_str) {
        Some("GET") => answer(version, get_inner(app, path, &params, &inner).await),
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
