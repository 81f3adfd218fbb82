//! A learner's launch from the LMS, as both binaries record it: the learner
//! the LMS names (its user id and email) and the identity its email gives
//! ([`upsert_lms_learner`]), and the launch's learning event
//! ([`record_launch`]: seed 000's progress at launch, last activity, a new
//! attempt). The ingest server's course launches and SCORM launches and
//! assignments (`scorm-flows`) go through here.

use stats_rules::{EntryPoint, Event, EventKind, Launch, LearnerStats};
use store::{StoreError, Tx};
use time::OffsetDateTime;
use xapi_model::LearnerKey;

use crate::{IntegrationRules, RecordError, record_event};

/// The learner an LMS named, after [`upsert_lms_learner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LmsLearner {
    /// The learner's id.
    pub id: i64,
    /// Whether this call mapped the email's identity key to the learner:
    /// statements parked for that email may now be matched
    /// ([`crate::apply_pending`]).
    pub new_identity: bool,
}

/// The learner with this LMS user id, created or updated (email), and, when
/// the LMS gave an email, its identity key (`mbox:` of the email, the key a
/// statement's actor gives) mapped to that learner — unless the key is mapped
/// already: an identity mapping never changes once made, so a key first
/// mapped to another learner stays theirs.
pub async fn upsert_lms_learner(
    tx: &mut Tx<'_>,
    lms_user_id: &str,
    email: Option<&str>,
    now_ms: i64,
) -> Result<LmsLearner, StoreError> {
    let id = tx.upsert_learner(lms_user_id, email, None, now_ms).await?;
    let mut new_identity = false;
    if let Some(email) = email {
        let key = LearnerKey::from_email(email);
        if tx.learner_by_identity(key.as_str()).await?.is_none() {
            new_identity = tx.map_identity(key.as_str(), id).await?;
        }
    }
    Ok(LmsLearner { id, new_identity })
}

/// Records that `learner` launched `course` from the LMS at `at` (entering
/// from `entry`): a launch event of its own id, stored at `at`, and the
/// learner's statistics brought up to date with it.
pub async fn record_launch(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    entry: EntryPoint,
    at: OffsetDateTime,
) -> Result<LearnerStats, RecordError> {
    let event = Event {
        id: uuid::Uuid::new_v4(),
        at,
        stored: at,
        kind: EventKind::Launch(Launch { entry }),
    };
    record_event(tx, rules, course, learner, &event, crate::ms(at)).await
}
