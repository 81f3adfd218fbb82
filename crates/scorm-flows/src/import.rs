//! Importing a package (seed 003 "Importing Courses"): `importCourseAsync` with
//! the file streamed, then `getAsyncImportResult` until `finished` or `error`.
//! The job is recorded as soon as SCORM Cloud answers with its token, so an
//! interrupted import can be followed up ([`follow`]) rather than lost.

use lms_delivery::EventType;
use std::path::Path;
use std::time::Duration;

use scorm_cloud_client::{ImportJob, ImportStatus, check_id};
use store::{CourseFields, Integration, ScormCourse, Store};

use crate::{Remote, ScormError, ms};

/// What an import produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub course_id: String,
    pub token: String,
    pub title: String,
    pub warnings: Vec<String>,
    /// The LMS course record the SCORM course is reported under.
    pub lms_course: i64,
}

/// How often an upload's progress is reported ([`Observer::sending`]).
pub const SENDING_EVERY: Duration = Duration::from_millis(200);

/// Observes the upload and the polling (e.g. a progress bar).
pub trait Observer: Send + Sync {
    /// `sent` of the package's `total` bytes handed to the connection so
    /// far: every [`SENDING_EVERY`] during the upload, and once at its end.
    fn sending(&self, _sent: u64, _total: u64) {}
    fn uploaded(&self, _token: &str) {}
    fn polled(&self, _job: &ImportJob) {}
}

pub struct Quiet;
impl Observer for Quiet {}

/// Uploads `package` as course `course_id` and follows the job to its end.
pub async fn import_package(
    store: &Store,
    remote: &Remote,
    integration: &Integration,
    course_id: &str,
    package: &Path,
    delays: impl IntoIterator<Item = Duration>,
    observer: &dyn Observer,
) -> Result<Imported, ScormError> {
    check_id("courseid", course_id)?;
    let meta = tokio::fs::metadata(package)
        .await
        .map_err(|e| ScormError::Io {
            path: package.display().to_string(),
            detail: e.to_string(),
        })?;
    if !meta.is_file() {
        return Err(ScormError::Io {
            path: package.display().to_string(),
            detail: "not a file".into(),
        });
    }
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let upload = remote.import_upload(course_id, package, sent.clone());
    tokio::pin!(upload);
    let read =
        |sent: &std::sync::atomic::AtomicU64| sent.load(std::sync::atomic::Ordering::Relaxed);
    let token = loop {
        tokio::select! {
            answer = &mut upload => break answer,
            () = tokio::time::sleep(SENDING_EVERY) => observer.sending(read(&sent), meta.len()),
        }
    };
    observer.sending(read(&sent), meta.len());
    let token = token?;
    started(
        store,
        remote,
        integration,
        course_id,
        &token,
        delays,
        observer,
    )
    .await
}

/// An import SCORM Cloud accepted as job `token`: recorded at once (so that
/// an interrupted follow-up can be resumed with `--token`), then followed.
async fn started(
    store: &Store,
    remote: &Remote,
    integration: &Integration,
    course_id: &str,
    token: &str,
    delays: impl IntoIterator<Item = Duration>,
    observer: &dyn Observer,
) -> Result<Imported, ScormError> {
    observer.uploaded(token);
    record_job(
        store,
        remote,
        course_id,
        token,
        &JobState::status("created"),
    )
    .await?;
    follow(
        store,
        remote,
        integration,
        course_id,
        token,
        delays,
        observer,
    )
    .await
}

/// Has SCORM Cloud fetch the package at `url` itself (API V2: no bytes pass
/// through us, the way to import a package too large to upload from here),
/// then follows the job to its end like an upload. `url` must be http(s).
pub async fn import_from_url(
    store: &Store,
    remote: &Remote,
    integration: &Integration,
    course_id: &str,
    url: &str,
    delays: impl IntoIterator<Item = Duration>,
    observer: &dyn Observer,
) -> Result<Imported, ScormError> {
    check_id("courseid", course_id)?;
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(ScormError::Invalid(format!(
                "url: {url:?} is not an http(s) URL"
            )));
        }
    }
    let token = remote.import_from_url(course_id, url).await?;
    started(
        store,
        remote,
        integration,
        course_id,
        &token,
        delays,
        observer,
    )
    .await
}

/// A freshly signed URL a browser form can POST the package to (valid about
/// 15 minutes: make it when the user submits). Follow up with [`follow`] and
/// the token SCORM Cloud gives.
pub fn browser_upload_url(
    remote: &Remote,
    course_id: &str,
    redirect_url: &str,
) -> Result<String, ScormError> {
    if remote.api == crate::ApiVersion::V2 {
        return Err(ScormError::Invalid(
            "browser uploads are an API V1 feature: import with a PACKAGE or --url on api_version=v2"
                .into(),
        ));
    }
    Ok(remote
        .client
        .import_upload_url(course_id, redirect_url, remote.now())?)
}

/// An import job's state, as recorded.
struct JobState<'a> {
    status: &'a str,
    message: Option<&'a str>,
    title: Option<&'a str>,
    warnings: &'a [String],
}

impl JobState<'_> {
    fn status(status: &str) -> JobState<'_> {
        JobState {
            status,
            message: None,
            title: None,
            warnings: &[],
        }
    }
}

/// Records a job's state in the caller's transaction (keeping when it began).
async fn save_job(
    tx: &mut store::Tx<'_>,
    course_id: &str,
    token: &str,
    state: &JobState<'_>,
    now: i64,
) -> Result<(), ScormError> {
    let created_ms = tx.import_job(token).await?.map_or(now, |j| j.created_ms);
    tx.upsert_import_job(&store::ImportJob {
        token: token.to_owned(),
        course_id: course_id.to_owned(),
        status: state.status.to_owned(),
        message: state.message.map(str::to_owned),
        title: state.title.map(str::to_owned),
        warnings: serde_json::to_string(state.warnings).unwrap_or_else(|_| "[]".into()),
        created_ms,
        updated_ms: now,
    })
    .await?;
    Ok(())
}

/// Records a job's state in a transaction of its own.
async fn record_job(
    store: &Store,
    remote: &Remote,
    course_id: &str,
    token: &str,
    state: &JobState<'_>,
) -> Result<(), ScormError> {
    let mut tx = store.begin().await?;
    save_job(&mut tx, course_id, token, state, ms(remote.now())).await?;
    tx.commit().await?;
    Ok(())
}

fn status_name(s: &ImportStatus) -> String {
    match s {
        ImportStatus::Created => "created".into(),
        ImportStatus::Running => "running".into(),
        ImportStatus::Finished => "finished".into(),
        ImportStatus::Error => "error".into(),
        ImportStatus::Other(o) => o.clone(),
    }
}

/// Polls an import job (by its token) until it is finished or failed, then
/// records the course — the SCORM course row and its LMS course record in the
/// integration's catalog — in one transaction.
pub async fn follow(
    store: &Store,
    remote: &Remote,
    integration: &Integration,
    course_id: &str,
    token: &str,
    delays: impl IntoIterator<Item = Duration>,
    observer: &dyn Observer,
) -> Result<Imported, ScormError> {
    check_id("courseid", course_id)?;
    let mut polls = 0usize;
    let mut delays = delays.into_iter();
    let job = loop {
        let job = remote.import_status(token).await?;
        polls += 1;
        observer.polled(&job);
        if job.is_done() {
            break job;
        }
        let status = status_name(&job.status);
        let state = JobState {
            message: job.message.as_deref(),
            ..JobState::status(&status)
        };
        record_job(store, remote, course_id, token, &state).await?;
        match delays.next() {
            Some(d) => tokio::time::sleep(d).await,
            None => return Err(ScormError::ImportTimeout(polls)),
        }
    };
    let result = job.results.iter().find(|r| r.successful);
    let failure = match (&job.status, result) {
        (ImportStatus::Finished, Some(_)) => None,
        (ImportStatus::Finished, None) => Some(
            job.results
                .iter()
                .find_map(|r| r.message.clone())
                .unwrap_or_else(|| "SCORM Cloud reported no successful import".into()),
        ),
        _ => Some(
            job.error
                .as_ref()
                .map(|(code, m)| format!("{m} (code {code})"))
                .or_else(|| job.message.clone())
                .unwrap_or_else(|| "the import failed".into()),
        ),
    };
    if let Some(message) = failure {
        let state = JobState {
            message: Some(&message),
            ..JobState::status("error")
        };
        record_job(store, remote, course_id, token, &state).await?;
        return Err(ScormError::ImportFailed(message));
    }
    let result = result.ok_or_else(|| ScormError::ImportFailed("no result".into()))?;
    let title = result
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| course_id.to_owned());
    let warnings = result.warnings.clone();
    let now = ms(remote.now());
    let mut tx = store.begin().await?;
    let existing = tx.scorm_course(course_id).await?;
    if existing
        .as_ref()
        .and_then(|c| c.integration_id.as_deref())
        .is_some_and(|i| i != integration.id)
    {
        return Err(ScormError::Conflict(format!(
            "SCORM course {course_id} belongs to another integration"
        )));
    }
    let created = existing.map_or(now, |c| c.created_ms);
    let state = JobState {
        status: "finished",
        message: result.message.as_deref(),
        title: Some(&title),
        warnings: &warnings,
    };
    save_job(&mut tx, course_id, token, &state, now).await?;
    let fields = CourseFields {
        name: title.clone(),
        content_type: Some("SCORM".into()),
        ..CourseFields::default()
    };
    let content_hash = format!("scorm:{token}");
    let before = tx.course_by_external_id(&integration.id, course_id).await?;
    let lms_course = tx
        .upsert_course(
            &integration.id,
            "course",
            course_id,
            &fields,
            false,
            &content_hash,
            now,
        )
        .await?;
    tx.upsert_scorm_course(&ScormCourse {
        course_id: course_id.to_owned(),
        integration_id: Some(integration.id.clone()),
        title: Some(title.clone()),
        lms_course: Some(lms_course),
        created_ms: created,
        updated_ms: now,
    })
    .await?;
    // What the LMS is told: a new course, or what a new version changed.
    let change = match &before {
        None => records::CourseChange::new(lms_course, EventType::CourseCreated),
        Some(b) => {
            let mut changed = Vec::new();
            if b.fields.name != fields.name {
                changed.push("name".to_owned());
            }
            if b.fields.content_type != fields.content_type {
                changed.push("content_type".to_owned());
            }
            records::CourseChange {
                course_id: lms_course,
                event: if b.archived {
                    EventType::CourseReactivated
                } else {
                    EventType::CourseUpdated
                },
                changed_fields: changed,
            }
        }
    };
    records::append_course_events(&mut tx, &[change], now).await?;
    tx.commit().await?;
    tracing::info!(integration = %integration.id, course = course_id, polls, "SCORM course imported");
    Ok(Imported {
        course_id: course_id.to_owned(),
        token: token.to_owned(),
        title,
        warnings,
        lms_course,
    })
}
