//! Registration results: postbacks and manual refreshes share one code path
//! ([`apply_report`]), as seed 003 suggests; overrides sit beside them.
//!
//! Idempotence and order: a report equal to the stored one changes nothing
//! (a redelivered postback). SCORM Cloud's reports are cumulative, so a
//! postback whose tracked time is lower than the stored report's — or equal
//! with a less complete status — is an older one delivered late and is
//! ignored. A manual refresh is the state SCORM Cloud holds now and is always
//! applied (after a `resetRegistration`, that is how the reset arrives).

use scorm_cloud_client::postback::{self, PostbackError};
use scorm_cloud_client::{Completion, RegistrationReport, Success};
use serde::{Deserialize, Serialize};
use stats_rules::{
    Event, EventKind, LearnerStats, Override, ScormCompletion, ScormResult, ScormSuccess,
};
use store::{Registration, Store, Tx};
use time::OffsetDateTime;

use crate::registrations::target;
use crate::{Remote, ScormError, ms, registration_key, verify_secret};

/// Where a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Postback,
    Refresh,
}

/// The latest result of a registration, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub complete: ScormCompletion,
    pub success: ScormSuccess,
    pub score: Option<f64>,
    pub total_time_secs: Option<f64>,
    pub source: Source,
    /// Values SCORM Cloud sent that we do not know (kept, not guessed at).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrecognised: Vec<String>,
}

impl StoredResult {
    fn big_four(&self) -> ScormResult {
        ScormResult {
            complete: self.complete,
            success: self.success,
            score: self.score,
            total_time_secs: self.total_time_secs,
        }
    }
}

/// What applying a report did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Applied {
    /// Stored, and the learner's statistics updated.
    Recorded { stats: Box<LearnerStats> },
    /// The same as the stored result: nothing to do.
    Unchanged,
    /// Older than the stored result (a late postback): ignored.
    Stale,
}

/// The big four of a report, in stats-rules' terms.
pub fn to_result(r: &RegistrationReport, source: Source) -> StoredResult {
    let mut unrecognised = Vec::new();
    let complete = match &r.complete {
        Completion::Complete => ScormCompletion::Complete,
        Completion::Incomplete => ScormCompletion::Incomplete,
        Completion::Unknown => ScormCompletion::Unknown,
        Completion::Other(o) => {
            unrecognised.push(format!("complete={o}"));
            ScormCompletion::Unknown
        }
    };
    let success = match &r.success {
        Success::Passed => ScormSuccess::Passed,
        Success::Failed => ScormSuccess::Failed,
        Success::Unknown => ScormSuccess::Unknown,
        Success::Other(o) => {
            unrecognised.push(format!("success={o}"));
            ScormSuccess::Unknown
        }
    };
    StoredResult {
        complete,
        success,
        score: r.score,
        total_time_secs: r.total_time_secs,
        source,
        unrecognised,
    }
}

fn rank(c: ScormCompletion) -> u8 {
    match c {
        ScormCompletion::Unknown => 0,
        ScormCompletion::Incomplete => 1,
        ScormCompletion::Complete => 2,
    }
}

/// Whether `new` is an older state than `stored` (reports are cumulative).
pub fn is_older(new: &StoredResult, stored: &StoredResult) -> bool {
    let t = |r: &StoredResult| r.total_time_secs.unwrap_or(0.0);
    t(new) < t(stored) || (t(new) == t(stored) && rank(new.complete) < rank(stored.complete))
}

/// Stores a report for a registration and updates the learner's statistics,
/// in the caller's transaction (which must hold the registration's lock).
pub async fn apply_report(
    tx: &mut Tx<'_>,
    reg: &Registration,
    report: &RegistrationReport,
    source: Source,
    now: OffsetDateTime,
) -> Result<Applied, ScormError> {
    let new = to_result(report, source);
    if let Some(stored) = reg
        .result
        .as_deref()
        .and_then(|s| serde_json::from_str::<StoredResult>(s).ok())
    {
        if stored.big_four() == new.big_four() {
            return Ok(Applied::Unchanged);
        }
        if source == Source::Postback && is_older(&new, &stored) {
            tracing::info!(registration = %reg.registration_id, "stale postback ignored");
            return Ok(Applied::Stale);
        }
    }
    let target = target(tx, &reg.scorm_course_id).await?;
    let json =
        serde_json::to_string(&new).map_err(|e| records::RecordError::Corrupt(e.to_string()))?;
    tx.set_registration_result(&reg.registration_id, &json, ms(now))
        .await?;
    let event = Event {
        id: uuid::Uuid::new_v4(),
        at: now,
        stored: now,
        kind: EventKind::Scorm(new.big_four()),
    };
    let stats = records::record_event(
        tx,
        &target.rules,
        target.lms_course,
        reg.learner_id,
        &event,
        ms(now),
    )
    .await?;
    Ok(Applied::Recorded {
        stats: Box::new(stats),
    })
}

/// A postback: the credentials are checked (in constant time, against the
/// registration's stored hash) before the report is parsed; the report must
/// be about that registration. Committed before the caller answers 200.
pub async fn accept_postback(
    store: &Store,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(String, Applied), ScormError> {
    let delivery = postback::read(content_type, authorization, body)?;
    // The postback user is the registration id.
    let id = delivery.user.clone();
    let mut tx = store.begin().await?;
    tx.lock_key(registration_key(&id)).await?;
    let reg = tx.registration(&id).await?;
    let stored_hash = reg
        .as_ref()
        .map(|r| r.postback_secret_hash.clone())
        .unwrap_or_default();
    // Verified even when the registration is unknown, so that the answer
    // takes the same time either way.
    let password_ok = verify_secret(&delivery.password, &stored_hash);
    let Some(reg) = reg.filter(|r| password_ok && !r.postback_secret_hash.is_empty()) else {
        return Err(PostbackError::BadCredentials.into());
    };
    let report = postback::report(&delivery.xml).map_err(PostbackError::from)?;
    if let Some(about) = &report.registration_id {
        if about != &reg.registration_id {
            return Err(ScormError::Forbidden(
                "the report is about another registration".into(),
            ));
        }
    }
    let applied = apply_report(&mut tx, &reg, &report, Source::Postback, now).await?;
    tx.commit().await?;
    Ok((id, applied))
}

/// Manual refresh (seed 003): `getRegistrationResult` now, stored through the
/// same path as postbacks.
pub async fn refresh(
    store: &Store,
    remote: &Remote,
    registration_id: &str,
) -> Result<Applied, ScormError> {
    // Under the registration's lease: a reset (or a creation) in progress
    // finishes first, so a report fetched before it is never stored after it.
    let lease = store.hold_key(registration_key(registration_id)).await?;
    let refreshed = refresh_locked(store, remote, registration_id).await;
    lease.release().await;
    refreshed
}

/// [`refresh`] for a caller that holds the registration's lease.
pub(crate) async fn refresh_locked(
    store: &Store,
    remote: &Remote,
    registration_id: &str,
) -> Result<Applied, ScormError> {
    {
        let mut tx = store.read().await?;
        let reg = tx
            .registration(registration_id)
            .await?
            .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?;
        if reg.remote_created_ms.is_none() {
            return Err(ScormError::Conflict(format!(
                "registration {registration_id} is not in SCORM Cloud yet (it is created at the first launch)"
            )));
        }
    }
    // The remote call is made outside any transaction: nothing is held in
    // the database while waiting.
    let report = remote.registration_result(registration_id).await?;
    let mut tx = store.begin().await?;
    tx.lock_key(registration_key(registration_id)).await?;
    let reg = tx
        .registration(registration_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?;
    let applied = apply_report(&mut tx, &reg, &report, Source::Refresh, remote.now()).await?;
    tx.commit().await?;
    Ok(applied)
}

/// One line of a bulk refresh.
#[derive(Debug, Clone, Serialize)]
pub struct Refreshed {
    pub registration: String,
    #[serde(flatten)]
    pub result: Result<Applied, String>,
}

/// Refreshes every registration of the integration that SCORM Cloud knows
/// and whose result is older than `older_than_ms` (or missing), at most
/// `limit`. One failure does not stop the rest.
pub async fn refresh_stale(
    store: &Store,
    remote: &Remote,
    settings: &crate::Settings,
    older_than_ms: i64,
    limit: i64,
) -> Result<Vec<Refreshed>, ScormError> {
    let before = ms(remote.now()) - older_than_ms;
    let ids = {
        let mut tx = store.read().await?;
        tx.stale_registrations(&settings.integration_id, before, limit)
            .await?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = refresh(store, remote, &id).await.map_err(|e| e.to_string());
        out.push(Refreshed {
            registration: id,
            result,
        });
    }
    Ok(out)
}

/// An administrator forces a registration's completion, success or score
/// (seed 003: SCORM Cloud cannot). Kept with the registration and applied to
/// the learner's statistics, which then report it as overridden. An override
/// with nothing set clears it.
pub async fn set_override(
    store: &Store,
    registration_id: &str,
    value: &Override,
    now: OffsetDateTime,
) -> Result<LearnerStats, ScormError> {
    if let Some(s) = value.score {
        if !(0.0..=100.0).contains(&s) || !s.is_finite() {
            return Err(ScormError::Invalid("score: must be within 0..100".into()));
        }
    }
    if value.by.trim().is_empty() {
        return Err(ScormError::Invalid(
            "by: who overrides must be given (it is audited)".into(),
        ));
    }
    let mut tx = store.begin().await?;
    tx.lock_key(registration_key(registration_id)).await?;
    let reg = tx
        .registration(registration_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?;
    let target = target(&mut tx, &reg.scorm_course_id).await?;
    let cleared = !value.complete && value.success.is_none() && value.score.is_none();
    let json =
        serde_json::to_string(value).map_err(|e| records::RecordError::Corrupt(e.to_string()))?;
    tx.set_registration_override(registration_id, (!cleared).then_some(json.as_str()))
        .await?;
    let event = Event {
        id: uuid::Uuid::new_v4(),
        at: now,
        stored: now,
        kind: EventKind::Override(value.clone()),
    };
    let stats = records::record_event(
        &mut tx,
        &target.rules,
        target.lms_course,
        reg.learner_id,
        &event,
        ms(now),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(registration = registration_id, by = %value.by, cleared, "registration override");
    Ok(stats)
}

/// A registration as the LMS sees it: ours, with the latest result, the
/// override and the learner's statistics.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationView {
    pub registration_id: String,
    pub course_id: String,
    pub learner: String,
    pub integration: String,
    pub created_at_ms: i64,
    /// `None` until SCORM Cloud has it (created at the first launch).
    pub remote_created_at_ms: Option<i64>,
    pub result: Option<StoredResult>,
    pub result_at_ms: Option<i64>,
    pub overridden: Option<Override>,
    pub statistics: Option<serde_json::Value>,
}

pub async fn view(store: &Store, registration_id: &str) -> Result<RegistrationView, ScormError> {
    let mut tx = store.read().await?;
    let reg = tx
        .registration(registration_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?;
    let target = target(&mut tx, &reg.scorm_course_id).await?;
    let stats = tx
        .stats_for_many(&[(target.lms_course, reg.learner_id)])
        .await?
        .remove(&(target.lms_course, reg.learner_id))
        .map(|row| records::stats_of(&row, &target.rules))
        .transpose()?
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| {
            records::RecordError::Corrupt(format!(
                "statistics of registration {registration_id}: {e}"
            ))
        })?;
    Ok(RegistrationView {
        registration_id: reg.registration_id,
        course_id: reg.scorm_course_id,
        learner: reg.learner_ref,
        integration: target.integration.id,
        created_at_ms: reg.created_ms,
        remote_created_at_ms: reg.remote_created_ms,
        result: reg
            .result
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        result_at_ms: reg.result_ms,
        overridden: reg
            .override_
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        statistics: stats,
    })
}
