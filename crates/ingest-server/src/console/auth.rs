//! Who may use the console: operators' passwords (Argon2id), sign-in with
//! its rate limit, sessions (an `HttpOnly`, `SameSite=Strict` cookie whose
//! token is stored only hashed), the CSRF token every form carries, and the
//! audit log every action writes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::now_ms;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cb_session";
/// The sign-in form's CSRF cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "cb_login";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Failed sign-ins allowed per username and address in [`ATTEMPT_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// Failed sign-ins allowed per address, whatever the usernames, in
/// [`ATTEMPT_WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// The window failed sign-ins are counted in.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than 12 characters.
    #[error("password: at least 12 characters")]
    TooShort,
    /// Argon2 refused (the message says why).
    #[error("password: cannot be hashed ({0})")]
    Hash(String),
}

/// The PHC string of a password (Argon2id with the crate's default costs:
/// 19 MiB, 2 passes, a random 16-byte salt).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < 12 {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::encode_b64(&crate::auth::random_bytes::<16>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches a PHC string (false for one that cannot be read).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random token, hex.
pub fn token() -> String {
    hex::encode(crate::auth::random_bytes::<32>())
}

/// What a session is stored under: the SHA-256 of its token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A cookie's value from the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the console's cookies (`Secure` when the
/// server's public URL is https).
pub fn set_cookie(app: &AppState, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if app.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("cb_invalid=; Max-Age=0"))
}

/// The client's address (for the rate limit and the audit log), when the
/// server records it.
pub fn remote(parts_or_headers: &axum::http::Extensions) -> String {
    parts_or_headers
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The console's memory: failed sign-ins, and refused statements per minute.
#[derive(Default)]
pub struct ConsoleState {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    /// A hash to verify against when the username is unknown (the same work
    /// either way), made at the first sign-in.
    dummy: std::sync::OnceLock<String>,
    /// Whether the refused-statements sampler runs (`super::spawn_sampler`).
    pub(super) sampler: std::sync::atomic::AtomicBool,
    /// (minute start in ms, statements refused in it), the last 24 hours.
    pub(super) refused: Mutex<std::collections::VecDeque<(i64, i64)>>,
}

impl ConsoleState {
    /// A password hash to verify against when the username is unknown, so
    /// that unknown and known usernames take the same time (made once).
    pub fn dummy_hash(&self) -> &str {
        self.dummy
            .get_or_init(|| hash_password(&token()).unwrap_or_default())
    }

    fn recent(&self, key: &str) -> usize {
        let mut f = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = f.entry(key.to_owned()).or_default();
        list.retain(|t| t.elapsed() < ATTEMPT_WINDOW);
        list.len()
    }

    /// Whether another sign-in may be tried for this username from this address.
    pub fn may_try(&self, username: &str, remote: &str) -> bool {
        self.recent(&format!("{}|{remote}", username.to_lowercase())) < MAX_FAILURES
            && self.recent(&format!("*|{remote}")) < MAX_FAILURES_PER_ADDRESS
    }

    /// Records a failed sign-in for this username from this address.
    pub fn failed(&self, username: &str, remote: &str) {
        let mut f = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.len() > 100_000 {
            f.clear();
        }
        for key in [
            format!("{}|{remote}", username.to_lowercase()),
            format!("*|{remote}"),
        ] {
            f.entry(key).or_default().push(Instant::now());
        }
    }

    /// Records the statements refused in the minute starting at `minute_ms`.
    pub fn refused_in(&self, minute_ms: i64, n: i64) {
        let mut r = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.push_back((minute_ms, n));
        while r.len() > 24 * 60 {
            r.pop_front();
        }
    }
}

/// A signed-in operator (the extractor of every console page but sign-in).
/// Without a live session: a redirect to the sign-in page.
pub struct Signed {
    /// The operator.
    pub username: String,
    /// The session's CSRF token, which every form of the session carries.
    pub csrf: String,
    /// The hash of the session's token (how the session is stored).
    pub token_hash: String,
    /// The client's address, or `unknown` (served without connect info).
    pub remote: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = token_hash(token);
        let found = async {
            app.store
                .read()
                .await?
                .operator_session(&hash, now_ms())
                .await
        }
        .await
        .map_err(|e| crate::error::ApiError::from(e).into_response())?;
        match found {
            Some(s) => Ok(Signed {
                username: s.username,
                csrf: s.csrf_token,
                token_hash: hash,
                remote: remote(&parts.extensions),
            }),
            None => Err(to_login()),
        }
    }
}

impl Signed {
    /// A form's fields, when its CSRF token is the session's; otherwise the
    /// 403 page, the refusal written to the audit log, nothing changed.
    pub async fn form(
        &self,
        app: &AppState,
        body: &[u8],
    ) -> Result<HashMap<String, String>, Response> {
        let form = super::form_fields(body);
        if form.get("csrf").is_some_and(|t| same(t, &self.csrf)) {
            return Ok(form);
        }
        let _ = self
            .audit(
                app,
                "refused",
                "a form whose CSRF token is not its session's",
            )
            .await;
        Err((
            StatusCode::FORBIDDEN,
            super::html::page(
                "Refused",
                None,
                "<p class=\"error\">This form is not from your session (its CSRF token does not match). Nothing was changed. \
                 <a href=\"/console\">Back to the console</a></p>",
            ),
        )
            .into_response())
    }

    /// Appends to the audit log (a failure to write it fails the action).
    pub async fn audit(&self, app: &AppState, action: &str, detail: &str) -> Result<(), Response> {
        audit(app, &self.username, &self.remote, action, detail).await
    }
}

/// Appends an entry to the audit log.
pub async fn audit(
    app: &AppState,
    username: &str,
    remote: &str,
    action: &str,
    detail: &str,
) -> Result<(), Response> {
    let entry = store::AuditEntry {
        at_ms: now_ms(),
        username: username.to_owned(),
        action: action.to_owned(),
        detail: detail.to_owned(),
        remote: remote.to_owned(),
    };
    async {
        let mut tx = app.store.begin().await?;
        tx.audit(&entry).await?;
        tx.commit().await
    }
    .await
    .map_err(|e| crate::error::ApiError::from(e).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_memory_hard_hashes() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(h.contains("m=19456"), "memory-hard: {h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert_ne!(
            hash_password("correct horse battery").expect("hash"),
            h,
            "salted"
        );
    }

    #[test]
    fn sign_in_failures_are_limited() {
        let s = ConsoleState::default();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try("Ada", "10.0.0.1"));
            s.failed("ada", "10.0.0.1");
        }
        assert!(
            !s.may_try("ADA", "10.0.0.1"),
            "the username whatever its case"
        );
        assert!(s.may_try("ada", "10.0.0.2"), "another address");
        assert!(s.may_try("grace", "10.0.0.1"), "another username");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cb_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "cb"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
