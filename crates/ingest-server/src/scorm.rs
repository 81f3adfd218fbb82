//! The SCORM Cloud routes (seed 003), thin over `scorm-flows`:
//!
//! - `GET /scorm/launch/{registration}` and `GET /scorm/courses/{course}/launch`:
//!   LMS-signed links (as for other launches); the SCORM Cloud launch URL is
//!   built at that moment and answered as a 302 — never embedded in a page.
//! - `GET /scorm/return/{registration}`: the `redirecturl` the learner may come
//!   back to; it triggers a refresh in the background. Nothing depends on it.
//! - `POST /scorm/postback`: SCORM Cloud's webhook; 200 once the result and
//!   the statistics it changes are committed.
//! - `/api/v1/scorm/registrations…`: the LMS assigns, reads, refreshes and
//!   overrides registrations.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scorm_cloud_client::postback::PostbackError;
use scorm_flows::registrations::{self, Assignment, Launcher};
use scorm_flows::{Remote, ScormError, Settings, results};
use serde::Deserialize;

use crate::api::json_body;
use crate::clock::now;
use crate::error::ApiError;
use crate::launch::entry_point;
use crate::state::AppState;

/// How long the return link in a launch stays valid (a learner may stay in a
/// course for hours; after that the page still answers, without a refresh).
const RETURN_LINK_SECS: i64 = 24 * 3600;

impl From<ScormError> for ApiError {
    fn from(e: ScormError) -> Self {
        match e {
            ScormError::NotFound(m) => ApiError::not_found(m),
            ScormError::Forbidden(m) => ApiError::forbidden(m),
            ScormError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            ScormError::Id(e) => ApiError::bad_request(e.to_string()),
            ScormError::Invalid(m) => ApiError::bad_request(m),
            ScormError::Postback(PostbackError::BadCredentials | PostbackError::NoCredentials) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "postback credentials refused")
            }
            ScormError::Postback(e) => ApiError::bad_request(e.to_string()),
            e @ (ScormError::Settings { .. } | ScormError::NotScorm(_)) => {
                tracing::error!(error = %e, "SCORM Cloud integration misconfigured");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the SCORM Cloud integration is not configured correctly",
                )
            }
            ScormError::Http { op, detail } if detail == "timed out" => {
                tracing::warn!(op, "SCORM Cloud did not answer in time");
                ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("SCORM Cloud {op}: timed out"),
                )
            }
            e @ (ScormError::Api { .. }
            | ScormError::Http { .. }
            | ScormError::ImportFailed(_)
            | ScormError::ImportTimeout(_)) => {
                tracing::warn!(error = %e, "SCORM Cloud call failed");
                ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())
            }
            ScormError::Store(e) => ApiError::from(e),
            ScormError::Record(e) => ApiError::from(e),
            e => ApiError::internal(e),
        }
    }
}

fn active(c: scorm_flows::Connection) -> Result<(Settings, Remote), ApiError> {
    if !c.integration.active {
        return Err(ApiError::forbidden("the integration is deactivated"));
    }
    Ok((c.settings, c.remote))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The settings and client of the integration a SCORM course belongs to.
async fn remote_for_course(app: &AppState, course: &str) -> Result<(Settings, Remote), ApiError> {
    active(scorm_flows::connect_course(&app.store, course, &env, app.scorm_http.clone()).await?)
}

async fn remote_for_registration(
    app: &AppState,
    registration: &str,
) -> Result<(Settings, Remote), ApiError> {
    active(
        scorm_flows::connect_registration(&app.store, registration, &env, app.scorm_http.clone())
            .await?,
    )
}

fn launch_secret(app: &AppState) -> Result<&[u8], ApiError> {
    app.config
        .launch_secret
        .as_deref()
        .map(str::as_bytes)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "launch links are not configured (launch_secret)",
            )
        })
}

fn verify(app: &AppState, path: &str, query: Option<&str>) -> Result<Launcher, ApiError> {
    let claims = launch_link::verify(
        launch_secret(app)?,
        path,
        query.unwrap_or(""),
        now().unix_timestamp(),
    )
    .map_err(|e| ApiError::forbidden(format!("launch link refused: {e}")))?;
    Ok(Launcher {
        entry: entry_point(&claims.entry),
        learner: claims.learner,
        email: claims.email,
    })
}

/// The signed return link for a registration's launch.
fn return_link(
    app: &AppState,
    settings: &Settings,
    registration: &str,
    who: &Launcher,
) -> Result<String, ApiError> {
    let claims = launch_link::LaunchClaims {
        path: return_path(registration),
        learner: who.learner.clone(),
        email: None,
        entry: "catalog".into(),
        exp: now().unix_timestamp() + RETURN_LINK_SECS,
    };
    launch_link::mint(settings.public_url.as_str(), launch_secret(app)?, &claims)
        .map_err(ApiError::internal)
}

/// The signed path of a registration launch (ids percent-encoded as in the URL).
pub fn launch_path(registration: &str) -> String {
    format!("/scorm/launch/{}", path_segment(registration))
}

/// The signed path of a registration's return page.
fn return_path(registration: &str) -> String {
    format!("/scorm/return/{}", path_segment(registration))
}

/// The signed path of a SCORM course launch.
pub fn course_launch_path(course: &str) -> String {
    format!("/scorm/courses/{}/launch", path_segment(course))
}

pub(crate) fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, to.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// Launches a registration (created in SCORM Cloud first if need be) and
/// returns the launch URL, signed now, that comes back to the return page.
async fn launch_url(
    app: &AppState,
    settings: &Settings,
    remote: &Remote,
    registration: &str,
    who: &Launcher,
) -> Result<String, ApiError> {
    let back = return_link(app, settings, registration, who)?;
    Ok(registrations::launch(&app.store, remote, settings, registration, who, &back).await?)
}

/// `GET /scorm/launch/{registration}`: verifies the LMS-signed link and
/// redirects (302) to the SCORM Cloud launch URL built at that moment.
pub async fn launch(
    State(app): State<AppState>,
    Path(registration): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    async {
        let who = verify(&app, &launch_path(&registration), query.as_deref())?;
        let (settings, remote) = remote_for_registration(&app, &registration).await?;
        let url = launch_url(&app, &settings, &remote, &registration, &who).await?;
        tracing::info!(registration = %registration, "SCORM launch");
        Ok::<_, ApiError>(redirect(&url))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /scorm/courses/{course}/launch`: verifies the LMS-signed link,
/// creates the learner's registration if needed, and redirects (302) to its
/// SCORM Cloud launch URL.
pub async fn launch_course(
    State(app): State<AppState>,
    Path(course): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    async {
        let who = verify(&app, &course_launch_path(&course), query.as_deref())?;
        let (settings, remote) = remote_for_course(&app, &course).await?;
        // seed 003: launch the learner's registration, creating it if there is none
        let assigned = registrations::assign(
            &app.store,
            &remote,
            &settings,
            &Assignment {
                course_id: course.clone(),
                learner: who.learner.clone(),
                email: who.email.clone(),
                ..Assignment::default()
            },
        )
        .await?;
        let registration = assigned.registration.registration_id;
        let url = launch_url(&app, &settings, &remote, &registration, &who).await?;
        tracing::info!(registration = %registration, course = %course, "SCORM course launch");
        Ok::<_, ApiError>(redirect(&url))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /scorm/return/{registration}`: the page SCORM Cloud sends the learner
/// back to; starts a refresh of the registration's result in the background.
pub async fn return_page(
    State(app): State<AppState>,
    Path(registration): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    async {
        verify(&app, &return_path(&registration), query.as_deref())?;
        let (settings, remote) = remote_for_registration(&app, &registration).await?;
        // The refresh runs on its own: the learner's page does not wait for
        // SCORM Cloud, and postbacks cover what it might miss.
        let store = app.store.clone();
        let id = registration.clone();
        tokio::spawn(async move {
            match results::refresh(&store, &remote, &id).await {
                Ok(applied) => tracing::info!(registration = %id, ?applied, "refreshed on return"),
                Err(e) => {
                    tracing::warn!(registration = %id, error = %e, "refresh on return failed")
                }
            }
        });
        Ok::<_, ApiError>(match &settings.return_url {
            Some(u) => redirect(u.as_str()),
            None => (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                "<!doctype html><meta charset=\"utf-8\"><title>Saved</title>\
                 <p>Your progress is being saved. You can close this window.</p>",
            )
                .into_response(),
        })
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /scorm/postback`: SCORM Cloud's result postback (per-registration
/// credentials); 200 once the result and the statistics it changes are
/// committed.
pub async fn postback(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let header_str = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    match results::accept_postback(
        &app.store,
        header_str(header::CONTENT_TYPE),
        header_str(header::AUTHORIZATION),
        &body,
        now(),
    )
    .await
    {
        Ok((registration, applied)) => {
            app.metrics.postback(true);
            tracing::info!(registration = %registration, ?applied, "SCORM postback");
            (StatusCode::OK, "ok").into_response()
        }
        Err(e) => {
            app.metrics.postback(false);
            tracing::warn!(error = %e, "SCORM postback refused");
            ApiError::from(e).into_response()
        }
    }
}

fn json(value: &impl serde::Serialize, status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).unwrap_or_default(),
    )
        .into_response()
}

/// `POST /api/v1/scorm/registrations` (LMS credentials): assigns a SCORM
/// course to a learner, creating the registration at SCORM Cloud (201) or
/// answering the existing one (200).
pub async fn assign(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    async {
        app.lms(&headers).await?;
        let a: Assignment = json_body(&body)?;
        let (settings, remote) = remote_for_course(&app, &a.course_id).await?;
        let assigned = registrations::assign(&app.store, &remote, &settings, &a).await?;
        let view = results::view(&app.store, &assigned.registration.registration_id).await?;
        Ok::<_, ApiError>(json(
            &view,
            if assigned.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
        ))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/scorm/registrations/{id}` (LMS credentials): a registration
/// and its latest result.
pub async fn registration(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    async {
        app.lms(&headers).await?;
        Ok::<_, ApiError>(json(&results::view(&app.store, &id).await?, StatusCode::OK))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/v1/scorm/registrations/{id}/refresh` (LMS credentials): reads
/// the registration's result from SCORM Cloud now; answers the registration.
pub async fn refresh(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    then_view(app, headers, id, Change::Refresh).await
}

/// Asks SCORM Cloud for a registration's result now (the console's refresh).
pub async fn refresh_registration(app: &AppState, id: &str) -> Result<(), ApiError> {
    let (_, remote) = remote_for_registration(app, id).await?;
    results::refresh(&app.store, &remote, id).await?;
    Ok(())
}

/// `POST /api/v1/scorm/registrations/{id}/reset`: the learner starts again.
pub async fn reset(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    then_view(app, headers, id, Change::Reset).await
}

/// What the LMS asks of SCORM Cloud before it reads the registration again.
enum Change {
    Refresh,
    Reset,
}

async fn then_view(app: AppState, headers: HeaderMap, id: String, change: Change) -> Response {
    async {
        app.lms(&headers).await?;
        let (_, remote) = remote_for_registration(&app, &id).await?;
        match change {
            Change::Refresh => results::refresh(&app.store, &remote, &id).await?,
            Change::Reset => registrations::reset(&app.store, &remote, &id).await?,
        };
        Ok::<_, ApiError>(json(&results::view(&app.store, &id).await?, StatusCode::OK))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /api/v1/scorm/registrations/{id}`: from SCORM Cloud and here.
pub async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    async {
        app.lms(&headers).await?;
        let (_, remote) = remote_for_registration(&app, &id).await?;
        registrations::delete(&app.store, &remote, &id).await?;
        Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    #[serde(default)]
    complete: bool,
    success: Option<bool>,
    score: Option<f64>,
    by: String,
    reason: Option<String>,
}

/// `POST /api/v1/scorm/registrations/{id}/override` (LMS credentials): an
/// administrator's override of the registration's result.
pub async fn set_override(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    async {
        let client = app.lms(&headers).await?;
        let b: OverrideBody = json_body(&body)?;
        let value = stats_rules::Override {
            complete: b.complete,
            success: b.success,
            score: b.score,
            by: b.by,
            reason: b.reason,
        };
        results::set_override(&app.store, &id, &value, now()).await?;
        tracing::info!(registration = %id, client = %client, "registration override recorded");
        Ok::<_, ApiError>(json(&results::view(&app.store, &id).await?, StatusCode::OK))
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
