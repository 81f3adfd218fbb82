//! `POST /oauth/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4)
//! that Udemy Business, LinkedIn Learning and Pluralsight use, scope `xapi:write`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth;
use crate::clock::now;
use crate::state::AppState;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"coursebridge\""),
        );
    }
    r
}

/// `POST /oauth/token`: a bearer token for a provider's webhook client id and
/// secret (HTTP Basic or form fields), valid for `token_ttl_secs`.
pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let requested: Vec<String> = get("scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if requested.iter().any(|s| s != "xapi:write") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the only scope is xapi:write",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::parse_basic);
    let (client_id, secret) = match (basic, get("client_id"), get("client_secret")) {
        (Some(b), _, _) => b,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            );
        }
    };
    if app
        .check_provider_secret(&client_id, &secret)
        .await
        .is_err()
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let ttl = app.config.token_ttl_secs;
    let token = auth::mint_token(&app.token_secret, &client_id, now().unix_timestamp() + ttl);
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "xapi:write"}).to_string(),
    )
        .into_response()
}
