//! Errors as HTTP answers: a status and a JSON body that says what is wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: `status` with the JSON body `{"error": message,
/// "details": [...]}` (details only when there are some). Handlers return it
/// as `Err`; it is an [`IntoResponse`].
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status; an error status (4xx or 5xx) is expected.
    pub status: StatusCode,
    /// What is wrong, for the client.
    pub message: String,
    /// Further detail (for example, one entry per refused statement).
    pub details: Vec<serde_json::Value>,
    /// `WWW-Authenticate` for 401s.
    pub challenge: bool,
    /// `Retry-After` (seconds) for 503s: the same request may succeed then.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`, no details and no extra headers.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
            challenge: false,
            retry_after: None,
        }
    }
    /// The database is unavailable (`reason`: disk full, connection lost, …):
    /// the request is not acknowledged, and the same request may succeed
    /// later. (Where a connection was lost during a commit its outcome is
    /// unknown: a statement sent again is then a duplicate, not a conflict.)
    pub fn unavailable(reason: &str, e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, reason, "the database is unavailable");
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the database is unavailable ({reason}); the request is not acknowledged: \
                     send it again later"
                ),
            )
        }
    }
    /// 400: the request is malformed or invalid.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401 with a `WWW-Authenticate` challenge (Basic and Bearer).
    pub fn unauthorized() -> Self {
        Self {
            challenge: true,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "valid credentials are required (HTTP Basic or an OAuth2 bearer token)",
            )
        }
    }
    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 500; `e` is logged, not shown to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; nothing was stored",
        )
    }
    /// The same error with `details`.
    pub fn with_details(mut self, details: Vec<serde_json::Value>) -> Self {
        self.details = details;
        self
    }
}

impl From<records::RecordError> for ApiError {
    fn from(e: records::RecordError) -> Self {
        match e {
            records::RecordError::Store(e) => e.into(),
            e => ApiError::internal(e),
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        if let store::StoreError::Busy(what) = &e {
            return Self {
                retry_after: Some(1),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{what}: another request on it is in progress; retry later"),
                )
            };
        }
        match e.unavailable() {
            Some(reason) => ApiError::unavailable(reason, e),
            None => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if !self.details.is_empty() {
            body["details"] = serde_json::Value::Array(self.details);
        }
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.challenge {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"coursebridge\", Bearer"),
            );
        }
        r
    }
}
