//! What the records suites share: a SQLite store with one OpenSesame
//! integration (`os`) and one course.

use std::path::PathBuf;

use records::IntegrationRules;
use serde_json::json;
use store::{CourseFields, Integration, Store};

/// A fresh store (in a scratch folder named after `name`) with integration
/// `os` and its course `c`: the store, the integration's rules, the course's
/// id and the folder (for the test to remove).
pub async fn store_with_course(name: &str) -> (Store, IntegrationRules, i64, PathBuf) {
    let dir = testkit::scratch_dir(&format!("cb-records-{name}"));
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
    let rules = records::rules_for(&integration).expect("rules");
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
    (store, rules, course, dir)
}
