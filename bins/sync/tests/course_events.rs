//! A catalog sync tells the LMS exactly what changed: one `course.*` event
//! per created, updated, archived or re-activated course, in the sync's
//! transactions, each with the whole new record (docs/EVENTS.md); an
//! unchanged rerun tells nothing. On both engines.

use std::path::Path;

use serde_json::{Value, json};
use store::Store;
use sync::lifecycle::{self, Activation};
use sync::run::{self, Options, Quiet};
use testkit::{Engine, TestDatabase};

fn os_course(i: usize, title: &str, active: bool) -> Value {
    json!({"id": format!("os-{i}"), "title": title, "duration": "00:30:00", "languages": ["en"],
           "categories": ["|Skills|Topic"], "publisherName": "Pub", "active": active,
           "quickLaunchUrl": format!("https://os.example/launch/{i}"),
           "xApiActivityId": format!("https://www.opensesame.com/c/os-{i}"), "type": "course"})
}

fn write_catalog(path: &Path, courses: &[Value]) {
    std::fs::write(path, json!({"data": courses}).to_string()).expect("catalog");
}

async fn sync_once(store: &Store) -> run::Report {
    let i = {
        let mut tx = store.read().await.expect("read");
        tx.integration("it").await.expect("read").expect("exists")
    };
    let source = sync::config::source_with(&i, sync::retry::RetryPolicy::default(), &|_| None)
        .expect("source");
    let r = run::run(store, &i, source, &Options::default(), &Quiet).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    r
}

/// The events after `after`, as (type, external id, changed fields), and the
/// last seq read. PostgreSQL's events get their seq from the sequencer.
async fn events_after(store: &Store, after: i64) -> (Vec<(String, String, Vec<String>)>, i64) {
    let mut tx = store.begin().await.expect("begin");
    tx.sequence_events(100_000).await.expect("sequence");
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.expect("read");
    let events = tx.events_after(after, 10_000).await.expect("events");
    let last = events.last().map_or(after, |e| e.seq);
    let mut seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    seqs.dedup();
    assert_eq!(
        seqs,
        ((after + 1)..=last).collect::<Vec<_>>(),
        "seqs follow each other"
    );
    let out = events
        .iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).expect("json");
            assert_eq!(
                data["external_id"].as_str(),
                e.course_external_id.as_deref()
            );
            let changed = data["changed_fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|f| f.as_str().expect("name").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                e.event_type.clone(),
                data["external_id"].as_str().expect("id").to_owned(),
                changed,
            )
        })
        .collect::<Vec<_>>();
    (out, last)
}

fn sorted(mut v: Vec<(String, String, Vec<String>)>) -> Vec<(String, String, Vec<String>)> {
    v.sort();
    v
}

fn ev(t: &str, id: &str, changed: &[&str]) -> (String, String, Vec<String>) {
    (
        t.to_owned(),
        id.to_owned(),
        changed.iter().map(|s| (*s).to_owned()).collect(),
    )
}

async fn a_changed_catalog_produces_exactly_its_events(engine: Engine) {
    let db = TestDatabase::create(engine, "course-events").await;
    let store = db.open().await;
    let catalog = db.dir().join("catalog.json");
    // Twelve: the changes below archive 2 of them, within the mass-archive guard.
    let mut courses: Vec<Value> = (0..12)
        .map(|i| os_course(i, &format!("Course {i}"), true))
        .collect();
    write_catalog(&catalog, &courses);
    lifecycle::activate(
        &store,
        &Activation {
            id: "it".into(),
            provider: "opensesame".into(),
            group: "g1".into(),
            author: "admin@acme.example".into(),
            settings: json!({"catalog_file": catalog.to_str().expect("utf8")}),
            force: false,
        },
        0,
    )
    .await
    .expect("activate");

    sync_once(&store).await;
    let (events, last) = events_after(&store, 0).await;
    assert_eq!(
        sorted(events),
        sorted(
            (0..12)
                .map(|i| ev("course.created", &format!("os-{i}"), &[]))
                .collect()
        )
    );
    // The record is whole: seed 000's fields, where it comes from, and when.
    {
        let mut tx = store.read().await.expect("read");
        let e = tx.events_after(0, 1).await.expect("events").remove(0);
        let data: Value = serde_json::from_str(&e.data).expect("json");
        for field in [
            "integration",
            "provider",
            "lms_group",
            "external_id",
            "kind",
            "name",
            "description",
            "image",
            "duration_minutes",
            "author",
            "lang",
            "launch_url",
            "modified_at",
            "subjects",
            "archived",
            "content_type",
            "activity_ids",
            "scorm_course_id",
            "created_at",
            "updated_at",
            "archived_at",
        ] {
            assert!(data.get(field).is_some(), "{field} in {data}");
        }
        assert_eq!(
            (
                &data["provider"],
                &data["lms_group"],
                &data["duration_minutes"],
                &data["archived"]
            ),
            (
                &json!("opensesame"),
                &json!("g1"),
                &json!(30),
                &json!(false)
            )
        );
        // The xApiActivityId and the external id both designate it.
        let id = data["external_id"].as_str().expect("id");
        assert_eq!(
            data["activity_ids"],
            json!([format!("https://www.opensesame.com/c/{id}"), id])
        );
    }

    // An unchanged rerun tells nothing.
    sync_once(&store).await;
    assert_eq!(events_after(&store, last).await.0, vec![]);

    // One renamed, one gone, one inactive, one new.
    courses[0] = os_course(0, "Course zero, renamed", true);
    courses[2] = os_course(2, "Course 2", false);
    courses.remove(1);
    courses.push(os_course(12, "Course 12", true));
    write_catalog(&catalog, &courses);
    let r = sync_once(&store).await;
    assert_eq!((r.created, r.updated, r.archived), (1, 1, 2), "{r:?}");
    let (events, last) = events_after(&store, last).await;
    assert_eq!(
        sorted(events),
        vec![
            ev("course.archived", "os-1", &[]),
            ev("course.archived", "os-2", &[]),
            ev("course.created", "os-12", &[]),
            ev("course.updated", "os-0", &["name"]),
        ]
    );
    {
        let mut tx = store.read().await.expect("read");
        let archived = tx.events_after(last - 2, 2).await.expect("events");
        for e in archived {
            let data: Value = serde_json::from_str(&e.data).expect("json");
            assert_eq!(data["archived"], json!(true), "{data}");
            assert!(data["archived_at"].is_string(), "{data}");
        }
    }

    // Back in the catalog: re-activated.
    courses[1] = os_course(2, "Course 2", true);
    write_catalog(&catalog, &courses);
    sync_once(&store).await;
    let (events, last) = events_after(&store, last).await;
    assert_eq!(events, vec![ev("course.reactivated", "os-2", &[])]);

    // Deactivating the integration archives every active course; after
    // re-activation the next sync brings them back, the same records.
    lifecycle::deactivate(&store, "it", 10)
        .await
        .expect("deactivate");
    let active: Vec<String> = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        .iter()
        .map(|i| format!("os-{i}"))
        .collect();
    let (events, last) = events_after(&store, last).await;
    assert_eq!(
        sorted(events),
        sorted(
            active
                .iter()
                .map(|id| ev("course.archived", id, &[]))
                .collect()
        )
    );
    let again = Activation {
        id: "it".into(),
        provider: "opensesame".into(),
        group: "g1".into(),
        author: "admin@acme.example".into(),
        settings: json!({"catalog_file": catalog.to_str().expect("utf8")}),
        force: false,
    };
    lifecycle::activate(&store, &again, 11)
        .await
        .expect("reactivate");
    sync_once(&store).await;
    let (events, last) = events_after(&store, last).await;
    assert_eq!(
        sorted(events),
        sorted(
            active
                .iter()
                .map(|id| ev("course.reactivated", id, &[]))
                .collect()
        )
    );

    // Re-activated in another group (forced): every record of the
    // integration, archived ones too, tells its new group.
    lifecycle::deactivate(&store, "it", 20)
        .await
        .expect("deactivate");
    let (_, last) = events_after(&store, last).await;
    lifecycle::activate(
        &store,
        &Activation {
            group: "g2".into(),
            force: true,
            ..again
        },
        21,
    )
    .await
    .expect("moved");
    let (events, _) = events_after(&store, last).await;
    let mut all: Vec<String> = active.clone();
    all.push("os-1".into());
    assert_eq!(
        sorted(events),
        sorted(
            all.iter()
                .map(|id| ev("course.updated", id, &["lms_group"]))
                .collect()
        )
    );
    store.close().await;
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn a_changed_catalog_produces_exactly_its_events_sqlite,
    a_changed_catalog_produces_exactly_its_events_postgres =
        a_changed_catalog_produces_exactly_its_events()
);
