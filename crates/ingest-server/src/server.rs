//! The HTTP server: routes, limits, metrics middleware, graceful shutdown.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use store::Store;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::{App, AppState};
use crate::{api, catalog, console, delivery, documents, launch, launch_links, oauth, scorm, xapi};

/// Every route of the server over `app`, with its body limit and metrics
/// layer: the router to serve, or to nest under a prefix in a host's router
/// (see the crate docs). Inside a Tokio runtime it also starts the console's
/// per-minute sampler (once per app).
pub fn router(app: AppState) -> Router {
    let limit = app.config.limits.max_body_bytes;
    console::spawn_sampler(&app);
    Router::new()
        .route(
            "/xapi/statements",
            xapi::versioned(
                post(xapi::post_statements)
                    .put(xapi::put_statement)
                    .get(xapi::get_statements),
            ),
        )
        .route("/xapi/about", xapi::versioned(get(xapi::about)))
        .merge(documents::router())
        .merge(console::router())
        .route("/oauth/token", post(oauth::token))
        .route("/launch/{integration}/{course}", get(launch::launch))
        .route("/scorm/launch/{registration}", get(scorm::launch))
        .route("/scorm/courses/{course}/launch", get(scorm::launch_course))
        .route("/scorm/return/{registration}", get(scorm::return_page))
        .route("/scorm/postback", post(scorm::postback))
        .route("/api/v1/scorm/registrations", post(scorm::assign))
        .route(
            "/api/v1/scorm/registrations/{id}",
            get(scorm::registration).delete(scorm::delete),
        )
        .route("/api/v1/scorm/registrations/{id}/reset", post(scorm::reset))
        .route(
            "/api/v1/scorm/registrations/{id}/refresh",
            post(scorm::refresh),
        )
        .route(
            "/api/v1/scorm/registrations/{id}/override",
            post(scorm::set_override),
        )
        .route("/api/v1/statistics", get(api::statistics))
        .route("/api/v1/path-statistics", get(api::path_statistics))
        .route("/api/v1/pending", get(api::pending))
        .route("/api/v1/overrides", post(api::overrides))
        .route("/api/v1/learners", post(api::learners))
        .route("/api/v1/events", get(delivery::feed::events))
        .route("/api/v1/courses", get(catalog::list))
        .route(
            "/api/v1/courses/{integration}/{external_id}",
            get(catalog::one),
        )
        .route("/api/v1/launch-links", post(launch_links::launch_links))
        .merge(delivery::webhooks::routes::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn readyz(State(app): State<AppState>) -> Response {
    if !app.writer.is_durable() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the write-ahead log could not be synced: restart the server",
        )
            .into_response();
    }
    match app.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database not reachable").into_response()
        }
    }
}

async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.lms(&headers).await {
        Ok(_) => (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            app.scrape().await,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Times every request by its route as declared (`MatchedPath`, present
/// because `Router::layer` wraps each route; a request no route matched is
/// `unmatched`), and gives a 413 from the body limit our JSON error.
async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let r = next.run(req).await;
    app.metrics.observe_request(
        &route,
        method.as_str(),
        r.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE
        && r.headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|c| c != "application/json")
    {
        let mut too_large = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body: larger than {} bytes",
                app.config.limits.max_body_bytes
            ),
        )
        .into_response();
        // An xAPI resource's answer keeps the version it speaks.
        if let Some(v) = r.headers().get(xapi::VERSION_HEADER) {
            too_large
                .headers_mut()
                .insert(xapi::VERSION_HEADER, v.clone());
        }
        return too_large;
    }
    r
}

/// A running server (for tests and `serve`).
pub struct Running {
    /// The address it is bound to.
    pub addr: std::net::SocketAddr,
    /// Its state.
    pub app: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests, stops webhook delivery
    /// (leases released: [`crate::state::App::stop_delivery`]), returns.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        let served = self.handle.await.map_err(std::io::Error::other)?;
        self.app.stop_delivery().await;
        served
    }
}

/// Binds and serves in the background until [`Running::stop`].
pub async fn start(store: Store, config: Config) -> std::io::Result<Running> {
    start_with_sync(store, config, None).await
}

/// [`start`] with [`App::with_sync`] (tests).
pub async fn start_with_sync(
    store: Store,
    config: Config,
    sync: Option<crate::writer::SyncFn>,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::with_sync(store, config, sync));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = router(app.clone());
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await
    });
    Ok(Running {
        addr,
        app,
        shutdown: tx,
        handle,
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
