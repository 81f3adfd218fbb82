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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stats_rules::EntryPoint;
    use store::{CourseFields, Integration, Store};
    use time::macros::datetime;

    use super::{LmsLearner, record_launch, upsert_lms_learner};
    use crate::IntegrationRules;

    async fn store() -> (Store, IntegrationRules, i64) {
        let dir = std::env::temp_dir().join(format!("cb-records-launch-{}", uuid::Uuid::new_v4()));
        let store = Store::open(dir.join("r.db").to_str().expect("utf8"))
            .await
            .expect("open");
        let integration = Integration {
            id: "os".into(),
            provider: "opensesame".into(),
            lms_group: "g".into(),
            connector_author: "a".into(),
            settings: json!({}),
            active: true,
            created_ms: 0,
            updated_ms: 0,
            deactivated_ms: None,
        };
        let rules = crate::rules_for(&integration).expect("rules");
        let mut tx = store.begin().await.expect("begin");
        tx.insert_integration(&integration)
            .await
            .expect("integration");
        let course = tx
            .upsert_course(
                "os",
                "course",
                "c",
                &CourseFields {
                    name: "C".into(),
                    ..CourseFields::default()
                },
                false,
                "h",
                0,
            )
            .await
            .expect("course");
        tx.commit().await.expect("commit");
        (store, rules, course)
    }

    /// The email's key is mapped once, to the first learner that names it:
    /// `new_identity` says when this call mapped it; a learner without an
    /// email maps nothing; the same user id is the same learner.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_learner_keeps_an_email_identity() {
        let (store, _, _) = store().await;
        let mut tx = store.begin().await.expect("begin");
        let ada = upsert_lms_learner(&mut tx, "u-1", Some("Ada@Example.com"), 1)
            .await
            .expect("ada");
        assert!(ada.new_identity);
        let key = xapi_model::LearnerKey::from_email("ada@example.com");
        assert_eq!(
            tx.learner_by_identity(key.as_str()).await.expect("key"),
            Some(ada.id)
        );
        let again = upsert_lms_learner(&mut tx, "u-1", Some("ada@example.com"), 2)
            .await
            .expect("again");
        assert_eq!(
            again,
            LmsLearner {
                id: ada.id,
                new_identity: false
            }
        );
        let other = upsert_lms_learner(&mut tx, "u-2", Some("ada@example.com"), 3)
            .await
            .expect("other");
        assert_ne!(other.id, ada.id);
        assert!(!other.new_identity, "the key stays the first learner's");
        assert_eq!(
            tx.learner_by_identity(key.as_str()).await.expect("key"),
            Some(ada.id)
        );
        let anonymous = upsert_lms_learner(&mut tx, "u-3", None, 4)
            .await
            .expect("no email");
        assert!(!anonymous.new_identity);
        tx.commit().await.expect("commit");
    }

    /// A launch is a launch event at its time: statistics launched from the
    /// LMS, progress at the default, the activity dated, one attempt from the
    /// entry point.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_launch_updates_the_statistics() {
        let (store, rules, course) = store().await;
        let mut tx = store.begin().await.expect("begin");
        let learner = upsert_lms_learner(&mut tx, "u-1", None, 0)
            .await
            .expect("learner")
            .id;
        let at = datetime!(2024-10-01 09:00 UTC);
        let stats = record_launch(
            &mut tx,
            &rules,
            course,
            learner,
            EntryPoint::Path("p".into()),
            at,
        )
        .await
        .expect("launch");
        assert!(stats.launched_from_lms);
        assert_eq!(stats.progress, 50.0, "the integration's default at launch");
        assert_eq!(stats.last_activity_at, Some(at));
        assert_eq!(stats.events, 1);
        assert_eq!(stats.attempts.len(), 1);
        assert_eq!(stats.attempts[0].entry, EntryPoint::Path("p".into()));
        tx.commit().await.expect("commit");
    }
}
