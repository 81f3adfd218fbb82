//! Changes to an integration's settings on both engines: the settings and
//! `updated_ms` change, nothing else of the integration does, the change is
//! recorded (who, when, which keys, never a value) in the same transaction,
//! and an unknown integration changes and records nothing.

use serde_json::json;
use store::{Integration, NewSettingChange, SettingChange, Store};
use testkit::{Engine, TestDatabase};

async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "setting-changes").await;
    let store = db.open().await;
    check(store.clone()).await;
    store.close().await;
    db.remove().await;
}

const T0: i64 = 1_727_000_000_000;

fn integration(id: &str, active: bool) -> Integration {
    Integration {
        id: id.into(),
        provider: "opensesame".into(),
        lms_group: "group-1".into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({"base_url": "https://a.example", "client_secret_env": "OLD_VAR"}),
        active,
        created_ms: T0,
        updated_ms: T0,
        deactivated_ms: (!active).then_some(T0),
    }
}

fn names(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

async fn settings_changes_are_recorded_without_values(store: Store) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&integration("os-acme", true))
        .await
        .expect("insert");
    tx.insert_integration(&integration("os-off", false))
        .await
        .expect("insert");
    tx.commit().await.expect("commit");

    let new = json!({"base_url": "https://b.example", "client_secret_env": "NEW_VAR"});
    let (set, unset) = (names(&["base_url", "client_secret_env"]), names(&[]));
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.change_integration_settings(
            "os-acme",
            &new,
            &NewSettingChange {
                changed_ms: T0 + 5,
                author: "ops@acme.example",
                keys_set: &set,
                keys_unset: &unset,
            },
        )
        .await
        .expect("change")
    );
    tx.commit().await.expect("commit");

    // a rolled-back change leaves neither settings nor a record
    let mut tx = store.begin().await.expect("begin");
    let gone = names(&["rules.launch_progress"]);
    assert!(
        tx.change_integration_settings(
            "os-acme",
            &json!({}),
            &NewSettingChange {
                changed_ms: T0 + 6,
                author: "ops@acme.example",
                keys_set: &[],
                keys_unset: &gone,
            },
        )
        .await
        .expect("change")
    );
    tx.rollback().await.expect("rollback");

    // an unknown integration: nothing changed, nothing recorded
    let mut tx = store.begin().await.expect("begin");
    assert!(
        !tx.change_integration_settings(
            "nope",
            &new,
            &NewSettingChange {
                changed_ms: T0 + 7,
                author: "ops",
                keys_set: &set,
                keys_unset: &unset,
            },
        )
        .await
        .expect("unknown")
    );
    // a deactivated integration stays deactivated
    let unset_one = names(&["client_secret_env"]);
    assert!(
        tx.change_integration_settings(
            "os-off",
            &json!({"base_url": "https://a.example"}),
            &NewSettingChange {
                changed_ms: T0 + 8,
                author: "cli",
                keys_set: &[],
                keys_unset: &unset_one,
            },
        )
        .await
        .expect("change")
    );
    tx.commit().await.expect("commit");

    let mut tx = store.read().await.expect("read");
    let i = tx
        .integration("os-acme")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        i,
        Integration {
            settings: new.clone(),
            updated_ms: T0 + 5,
            ..integration("os-acme", true)
        },
        "settings and updated_ms changed, nothing else"
    );
    let off = tx
        .integration("os-off")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (off.active, off.deactivated_ms, off.updated_ms),
        (false, Some(T0), T0 + 8)
    );
    let changes = tx.setting_changes("os-acme").await.expect("history");
    assert_eq!(
        changes,
        [SettingChange {
            id: changes[0].id,
            integration_id: "os-acme".into(),
            changed_ms: T0 + 5,
            author: "ops@acme.example".into(),
            keys_set: set.clone(),
            keys_unset: vec![],
        }]
    );
    let off_changes = tx.setting_changes("os-off").await.expect("history");
    assert_eq!(off_changes.len(), 1);
    assert_eq!(
        (
            off_changes[0].keys_set.len(),
            off_changes[0].keys_unset.clone()
        ),
        (0, unset_one)
    );
    assert!(off_changes[0].id > changes[0].id, "ids follow the order");
    assert!(tx.setting_changes("nope").await.expect("none").is_empty());
}

testkit::both!(settings_changes_are_recorded_without_values, on);
