//! A launch's learner, identity and event (`records::upsert_lms_learner`,
//! `records::record_launch`), the one place both launch routes use.

mod common;

use records::{LmsLearner, record_launch, upsert_lms_learner};
use stats_rules::EntryPoint;
use time::macros::datetime;

/// The email's key is mapped once, to the first learner that names it:
/// `new_identity` says when this call mapped it; a learner without an
/// email maps nothing; the same user id is the same learner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_learner_keeps_an_email_identity() {
    let (store, _, _, dir) = common::store_with_course("launch").await;
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
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A launch is a launch event at its time: statistics launched from the
/// LMS, progress at the default, the activity dated, one attempt from the
/// entry point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_updates_the_statistics() {
    let (store, rules, course, dir) = common::store_with_course("launch").await;
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
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
