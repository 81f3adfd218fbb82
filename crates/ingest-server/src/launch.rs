//! `GET /launch/{integration}/{course}`: verify the LMS's signed link, record
//! the launch (seed 000: progress to the default, last activity, attempt), and
//! redirect to the course's launch URL from the catalog — never to a URL taken
//! from the request.
//!
//! Minting those links ([`mint_link`]) is shared by `coursebridge-ingest
//! launch-link` and `POST /api/v1/launch-links` (`launch_links.rs`), so that
//! both give the same link.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use stats_rules::EntryPoint;

use crate::clock::{now, now_ms};
use crate::config::Config;
use crate::error::ApiError;
use crate::scorm::{course_launch_path, launch_path, path_segment};
use crate::state::AppState;

/// What a launch link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchTarget<'a> {
    /// A catalog course: `/launch/{integration}/{course}`.
    Course {
        /// The integration's id.
        integration: &'a str,
        /// The course's external id in that integration's catalog.
        course: &'a str,
    },
    /// A SCORM Cloud registration: `/scorm/launch/{registration}`.
    ScormRegistration(&'a str),
    /// A SCORM course, the learner's registration created if needed.
    ScormCourse(&'a str),
}

impl LaunchTarget<'_> {
    /// The path the signature covers, as the route that verifies it rebuilds
    /// it: a course launch from its decoded path parameters, SCORM launches
    /// from their encoded paths.
    fn signed_path(&self) -> String {
        match self {
            LaunchTarget::Course {
                integration,
                course,
            } => format!("/launch/{integration}/{course}"),
            LaunchTarget::ScormRegistration(r) => launch_path(r),
            LaunchTarget::ScormCourse(c) => course_launch_path(c),
        }
    }

    /// The path in the link, each segment percent-encoded (ids may hold `/`,
    /// spaces, `?`…).
    fn url_path(&self) -> String {
        match self {
            LaunchTarget::Course {
                integration,
                course,
            } => format!(
                "/launch/{}/{}",
                path_segment(integration),
                path_segment(course)
            ),
            other => other.signed_path(),
        }
    }
}

/// Why a link could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// No `launch_secret` is configured.
    #[error(
        "launch links are not configured on this server: set launch_secret (COURSEBRIDGE_LAUNCH_SECRET)"
    )]
    NotConfigured,
    /// Signing refused: the configured secret is under 32 bytes, or a claim
    /// holds a line break.
    #[error("launch_secret: {0}")]
    Secret(launch_link::LaunchError),
    /// The learner is empty.
    #[error("learner: must not be empty")]
    Learner,
    /// The entry point is neither `catalog` nor `path:<id>`.
    #[error("entry: must be catalog or path:<path id>")]
    Entry,
}

/// A minted link and when it expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedLink {
    /// The link, on the configured `public_url`.
    pub url: String,
    /// When it expires (Unix seconds).
    pub exp: i64,
}

/// The signed link for `learner` (optionally with their email) to open
/// `target` from `entry` (`catalog` or `path:<id>`), valid for `ttl_secs`
/// from `now` (Unix seconds), on the configured `public_url`.
pub fn mint_link(
    config: &Config,
    target: LaunchTarget<'_>,
    learner: &str,
    email: Option<&str>,
    entry: &str,
    ttl_secs: i64,
    now: i64,
) -> Result<MintedLink, MintError> {
    let secret = config
        .launch_secret
        .as_deref()
        .ok_or(MintError::NotConfigured)?;
    if learner.is_empty() {
        return Err(MintError::Learner);
    }
    if entry != "catalog" && entry.strip_prefix("path:").is_none_or(str::is_empty) {
        return Err(MintError::Entry);
    }
    let claims = launch_link::LaunchClaims {
        path: target.signed_path(),
        learner: learner.to_owned(),
        email: email.map(str::to_owned),
        entry: entry.to_owned(),
        exp: now.saturating_add(ttl_secs),
    };
    let query = launch_link::sign_query(secret.as_bytes(), &claims).map_err(MintError::Secret)?;
    Ok(MintedLink {
        url: format!(
            "{}{}?{query}",
            config.public_url.trim_end_matches('/'),
            target.url_path()
        ),
        exp: claims.exp,
    })
}

/// A signed `entry` claim as an entry point: `path:<id>` is that learning
/// path, anything else the catalog.
pub fn entry_point(entry: &str) -> EntryPoint {
    match entry.strip_prefix("path:") {
        Some(p) => EntryPoint::Path(p.to_owned()),
        None => EntryPoint::Catalog,
    }
}

/// `GET /launch/{integration}/{course}`: verifies the signed launch link,
/// records the launch and redirects the learner to the course.
pub async fn launch(
    State(app): State<AppState>,
    Path((integration, course)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    async {
        let secret = app.config.launch_secret.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "launch links are not configured (launch_secret)",
            )
        })?;
        let path = format!("/launch/{integration}/{course}");
        let claims = launch_link::verify(
            secret.as_bytes(),
            &path,
            query.as_deref().unwrap_or(""),
            now().unix_timestamp(),
        )
        .map_err(|e| ApiError::forbidden(format!("launch link refused: {e}")))?;
        let mut tx = app.store.begin().await?;
        let integ = tx
            .integration(&integration)
            .await?
            .filter(|i| i.active)
            .ok_or_else(|| ApiError::not_found("no active integration by that id"))?;
        let rules = records::rules_for(&integ).map_err(ApiError::internal)?;
        let c = tx
            .course_by_external_id(&integ.id, &course)
            .await?
            .filter(|c| !c.archived && c.kind == "course")
            .ok_or_else(|| ApiError::not_found("no such course in the catalog"))?;
        let target = c
            .fields
            .launch_url
            .clone()
            .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http")))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "the course has no usable launch URL in the catalog",
                )
            })?;
        let learner = records::upsert_lms_learner(
            &mut tx,
            &claims.learner,
            claims.email.as_deref(),
            now_ms(),
        )
        .await?;
        records::record_launch(
            &mut tx,
            &rules,
            c.id,
            learner.id,
            entry_point(&claims.entry),
            now(),
        )
        .await?;
        if learner.new_identity {
            // a completion may have arrived before the LMS told us this email
            records::apply_pending(&mut tx, &rules, now_ms()).await?;
        }
        tx.commit().await?;
        app.metrics.launches.inc();
        tracing::info!(integration = %integ.id, course = %course, "launch recorded");
        Ok::<_, ApiError>(
            (
                StatusCode::FOUND,
                [
                    (header::LOCATION, target),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response(),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
