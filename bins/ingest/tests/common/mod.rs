//! Set-up shared by the ingest test suites: the Udemy Business integration
//! `ub-acme`, its course, learners, a webhook credential, statements from the
//! fixtures. (Each suite uses what it needs.)
#![allow(dead_code)]

pub mod served;

use serde_json::{Value, json};
use store::{CourseFields, Credential, Integration, Store};

pub const T0: i64 = 1_727_000_000_000;

/// The activity id of the seeded course (`1565838`).
pub const COURSE_ACTIVITY: &str = "http://udemy.com/course/1565838";

/// A valid statement fixture of `fixtures/statements/valid/`.
pub fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/statements/valid")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// A Udemy course progress statement with this id and scaled score (the
/// fixture's actor unless `mbox` is given).
pub fn progressed(id: &str, mbox: Option<&str>, scaled: f64) -> Value {
    let mut s = fixture("udemy-course-progressed-mbox");
    s["id"] = json!(id);
    if let Some(m) = mbox {
        s["actor"] = json!({ "mbox": format!("mailto:{m}") });
    }
    s["result"]["score"]["scaled"] = json!(scaled);
    s
}

/// The Udemy Business integration `ub-acme`.
pub fn ub_integration() -> Integration {
    Integration {
        id: "ub-acme".into(),
        provider: "udemy-business".into(),
        lms_group: "g1".into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({}),
        active: true,
        created_ms: T0,
        updated_ms: T0,
        deactivated_ms: None,
    }
}

/// `ub-acme`, its course [`COURSE_ACTIVITY`] and a learner per email
/// (`u-0`, `u-1`, … mapped by mbox), committed.
pub async fn seed_ub(store: &Store, emails: &[&str]) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&ub_integration())
        .await
        .expect("integration");
    let course = tx
        .upsert_course(
            "ub-acme",
            "course",
            "1565838",
            &CourseFields {
                name: "JavaScript".into(),
                ..CourseFields::default()
            },
            false,
            "h",
            T0,
        )
        .await
        .expect("course");
    tx.set_activity_ids("ub-acme", course, &[COURSE_ACTIVITY.into()])
        .await
        .expect("ids");
    for (n, email) in emails.iter().enumerate() {
        let learner = tx
            .upsert_learner(&format!("u-{n}"), Some(email), None, T0)
            .await
            .expect("learner");
        tx.map_identity(&format!("mbox:{email}"), learner)
            .await
            .expect("identity");
    }
    tx.commit().await.expect("commit");
}

/// A webhook credential `client_id` for `ub-acme`; returns its secret.
pub async fn ub_credential(store: &Store, client_id: &str) -> String {
    let secret = ingest_server::auth::new_secret();
    let mut tx = store.begin().await.expect("begin");
    tx.insert_credential(&Credential {
        client_id: client_id.into(),
        integration_id: "ub-acme".into(),
        secret_hash: ingest_server::auth::hash_secret(&secret),
        created_ms: T0,
        revoked_ms: None,
    })
    .await
    .expect("credential");
    tx.commit().await.expect("commit");
    secret
}
