//! The operators' console at `/console`: server-rendered HTML pages that
//! answer "what happened last night?" — integrations and their sync runs,
//! the catalog, parked statements, learner statistics, SCORM registrations,
//! credentials, webhooks, the audit log — with SVG charts and no JavaScript.
//!
//! `auth`: operators, sign-in (rate-limited), sessions, CSRF, the audit log;
//! `html`: escaping, the layout and the charts; `pages`: what the pages
//! read and show; `actions`: what the forms change (each audited).
//! docs/console.md.

// A handler's early return is a whole page (`Result<_, Response>`): its size
// is an HTTP answer's, and each is made once per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::clock::now_ms;
use crate::state::AppState;

mod actions;
pub mod auth;
pub mod html;
mod lists;
mod pages;

pub use auth::{ConsoleState, hash_password};

pub(crate) use auth::{LOGIN_COOKIE, SESSION_COOKIE, Signed, cookie, same, set_cookie};

/// The console's routes (mounted by `server::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console", get(pages::overview))
        .route("/console/integrations", get(pages::integrations))
        .route("/console/integrations/{id}", get(pages::integration))
        .route("/console/runs/{id}", get(pages::run))
        .route("/console/catalog", get(lists::catalog))
        .route("/console/pending", get(lists::pending))
        .route("/console/statistics", get(lists::statistics))
        .route("/console/statistics.csv", get(lists::statistics_csv))
        .route("/console/scorm", get(lists::scorm))
        .route(
            "/console/scorm/{id}/refresh",
            post(actions::refresh_registration),
        )
        .route("/console/credentials", get(lists::credentials))
        .route(
            "/console/credentials/{id}/revoke",
            post(actions::revoke_credential),
        )
        .route("/console/webhooks", get(lists::webhooks))
        .route("/console/audit", get(lists::audit))
        .layer(axum::middleware::from_fn(remote_layer))
}

/// A form body's fields (`application/x-www-form-urlencoded`); a field
/// given twice keeps its last value.
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// An HTML answer.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn login_page(csrf: &str, message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"error\">{}</p>", html::esc(m)))
        .unwrap_or_default();
    html::page(
        "Sign in",
        None,
        &format!(
            "{message}<form method=\"post\" action=\"/console/login\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <p><label>Username<br><input name=\"username\" autocomplete=\"username\" required></label></p>\
             <p><label>Password<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
             <p><button>Sign in</button></p></form>",
            html::esc(csrf)
        ),
    )
}

/// `GET /console/login`: the form, with a fresh CSRF token in a cookie of
/// its own (double submit: there is no session yet).
async fn login_form(State(app): State<AppState>) -> Response {
    let csrf = auth::token();
    let mut r = html(StatusCode::OK, login_page(&csrf, None));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, LOGIN_COOKIE, &csrf, 3600),
    );
    r
}

/// `POST /console/login`.
async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    request_extensions: axum::extract::Extension<RemoteAddr>,
    body: Bytes,
) -> Response {
    let remote = request_extensions.0.0;
    let form = form_fields(&body);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let (username, password) = (field("username").trim().to_owned(), field("password"));
    // A new form for every answer but success.
    let again = |status: StatusCode, message: &str| {
        let csrf = auth::token();
        let mut r = html(status, login_page(&csrf, Some(message)));
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&app, LOGIN_COOKIE, &csrf, 3600),
        );
        r
    };
    let sent = field("csrf");
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| !sent.is_empty() && same(c, sent)) {
        let _ = auth::audit(
            &app,
            &username,
            &remote,
            "sign-in-refused",
            "CSRF token missing or not this form's",
        )
        .await;
        return again(
            StatusCode::FORBIDDEN,
            "This form has expired or was not sent by this browser. Please sign in again.",
        );
    }
    if !app.console.may_try(&username, &remote) {
        let _ = auth::audit(
            &app,
            &username,
            &remote,
            "sign-in-throttled",
            "too many failed attempts",
        )
        .await;
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts for this username from this address. Wait 15 minutes.",
        );
    }
    let operator = match async { app.store.read().await?.operator(&username).await }.await {
        Ok(o) => o.filter(|o| o.disabled_ms.is_none()),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    // The same work whether or not the operator exists.
    let phc = operator
        .as_ref()
        .map(|o| o.password_hash.clone())
        .unwrap_or_else(|| app.console.dummy_hash().to_owned());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
        .await
        .unwrap_or(false)
        && operator.is_some();
    if !ok {
        app.console.failed(&username, &remote);
        let _ = auth::audit(
            &app,
            &username,
            &remote,
            "sign-in-refused",
            "wrong username or password",
        )
        .await;
        return again(StatusCode::UNAUTHORIZED, "Wrong username or password.");
    }
    let token = auth::token();
    let session = store::OperatorSession {
        username: username.clone(),
        csrf_token: auth::token(),
        expires_ms: now_ms() + i64::try_from(auth::SESSION_TTL.as_millis()).unwrap_or(i64::MAX),
    };
    let started = async {
        let mut tx = app.store.begin().await?;
        tx.insert_operator_session(&auth::token_hash(&token), &session, now_ms())
            .await?;
        tx.audit(&store::AuditEntry {
            at_ms: now_ms(),
            username: username.clone(),
            action: "sign-in".into(),
            detail: String::new(),
            remote: remote.clone(),
        })
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = started {
        return crate::error::ApiError::from(e).into_response();
    }
    let mut r = Redirect::to("/console").into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, &token, auth::SESSION_TTL.as_secs()),
    );
    h.append(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, "", 0));
    r
}

/// `POST /console/logout`.
async fn logout(State(app): State<AppState>, signed: Signed, body: Bytes) -> Response {
    if let Err(r) = signed.form(&app, &body).await {
        return r;
    }
    let ended = async {
        let mut tx = app.store.begin().await?;
        tx.delete_operator_session(&signed.token_hash).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = ended {
        return crate::error::ApiError::from(e).into_response();
    }
    if let Err(r) = signed.audit(&app, "sign-out", "").await {
        return r;
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    r
}

/// The client's address, put on every console request by [`remote_layer`].
#[derive(Clone)]
pub struct RemoteAddr(pub String);

/// Every console request: records the client's address (from the server's
/// connection info, when it keeps it) for the rate limit and the audit log;
/// and, when the routes are mounted under a prefix (`Router::nest`), puts
/// the prefix in front of the console's own paths in what it answers — the
/// links and form actions of a page, a redirect's `Location`, the cookies'
/// `Path` — so that the console works wherever it is mounted. (Page text
/// never holds `="/console` of its own: every value is escaped, `"` too.)
pub async fn remote_layer(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let remote = auth::remote(req.extensions());
    req.extensions_mut().insert(RemoteAddr(remote));
    let prefix = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .and_then(|o| o.path().strip_suffix(req.uri().path()).map(str::to_owned))
        .filter(|p| !p.is_empty() && p.starts_with('/'));
    let r = next.run(req).await;
    match prefix {
        None => r,
        Some(prefix) => with_prefix(r, &prefix).await,
    }
}

/// [`remote_layer`]'s rewriting of an answer's own paths.
async fn with_prefix(r: Response, prefix: &str) -> Response {
    let (mut parts, body) = r.into_parts();
    if let Some(loc) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        && loc.starts_with("/console")
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!("{prefix}{loc}"))
    {
        parts.headers.insert(header::LOCATION, v);
    }
    let cookies: Vec<axum::http::HeaderValue> = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| {
            axum::http::HeaderValue::from_str(
                &c.replace("; Path=/console", &format!("; Path={prefix}/console")),
            )
            .ok()
        })
        .collect();
    if !cookies.is_empty() {
        parts.headers.remove(header::SET_COOKIE);
        for c in cookies {
            parts.headers.append(header::SET_COOKIE, c);
        }
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    // Console pages are small (a few hundred KiB at most).
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "a console page could not be read",
        )
            .into_response();
    };
    let text =
        String::from_utf8_lossy(&bytes).replace("=\"/console", &format!("=\"{prefix}/console"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

/// Starts (once per app, when a runtime is running) the task that records
/// the statements refused each minute for the overview's chart: the
/// difference of the `rejected` counter from one minute to the next. It
/// ends when the app is dropped.
pub fn spawn_sampler(app: &AppState) {
    use std::sync::atomic::Ordering::AcqRel;
    if app.console.sampler.swap(true, AcqRel) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = std::sync::Arc::downgrade(app);
    rt.spawn(async move {
        let mut last: Option<u64> = None;
        loop {
            let now = now_ms();
            let next_minute = (now / 60_000 + 1) * 60_000;
            tokio::time::sleep(std::time::Duration::from_millis(
                u64::try_from(next_minute - now).unwrap_or(60_000),
            ))
            .await;
            let Some(app) = weak.upgrade() else { return };
            let total = app.metrics.rejected.get();
            if let Some(before) = last {
                let n = i64::try_from(total.saturating_sub(before)).unwrap_or(i64::MAX);
                if n > 0 {
                    app.console.refused_in(next_minute - 60_000, n);
                }
            }
            last = Some(total);
        }
    });
}
