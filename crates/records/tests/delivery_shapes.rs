//! The records the LMS receives, pinned: a course record (the catalog API and
//! the `course.*` events) and a statistic record (the statistics API and
//! `statistic.updated`). A change to either is a change to the public
//! contract (docs/EVENTS.md, docs/openapi.yaml) and shows in these snapshots.

use records::{course_json, statistic_fields};
use stats_rules::{Attempt, EntryPoint, Outcome};
use store::{Course, CourseFields, CourseRecord, StatsRow};
use time::macros::datetime;

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("json")
}

#[test]
fn a_course_record() {
    let _guard = testkit::snapshots_one_at_a_time();
    let record = CourseRecord {
        course: Course {
            id: 7,
            integration_id: "os-acme".into(),
            kind: "course".into(),
            external_id: "3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a00".into(),
            fields: CourseFields {
                name: "Leading Teams".into(),
                description: Some("<p>How to <b>lead</b>.</p>".into()),
                image_url: Some("https://cdn.example.com/lt.png".into()),
                duration_minutes: Some(90),
                author: Some("Pub".into()),
                lang: Some("en".into()),
                launch_url: Some("https://os.example/launch/lt".into()),
                modified_at: Some("2024-09-30T12:00:00Z".into()),
                subjects: vec!["Leadership".into(), "Skills".into()],
                content_type: Some("course".into()),
            },
            archived: true,
            content_hash: "h".into(),
            first_seen_ms: 1_727_000_000_000,
            last_seen_ms: 1_727_100_000_000,
        },
        provider: "opensesame".into(),
        lms_group: "g1".into(),
        activity_ids: vec![
            "https://www.opensesame.com/c/3f6c2b51-9a0e-4a55-8d7e-0c2f1e4b9a00".into(),
        ],
        scorm_course_id: None,
        updated_ms: 1_727_200_000_000,
        archived_ms: Some(1_727_200_000_000),
    };
    insta::assert_snapshot!(pretty(&course_json(&record)));
}

#[test]
fn a_statistic_record() {
    let _guard = testkit::snapshots_one_at_a_time();
    let row = StatsRow {
        course_id: 7,
        learner_id: 3,
        integration_id: "os-acme".into(),
        progress: 100.0,
        completed: true,
        result: Some("success".into()),
        score: Some(87.0),
        time_spent_ms: Some(4_320_000),
        first_activity_ms: Some(1_727_773_920_000),
        last_activity_ms: Some(1_727_773_920_000),
        completed_at_ms: Some(1_727_773_920_000),
        attempts: 1,
        overridden: false,
        state: "{}".into(),
        updated_ms: 1_727_800_000_000,
    };
    let attempts = [Attempt {
        number: 1,
        entry: EntryPoint::Catalog,
        started_at: datetime!(2024-10-01 08:00 UTC),
        completed_at: Some(datetime!(2024-10-01 09:12 UTC)),
        time_spent_ms: Some(4_320_000),
        score: Some(87.0),
        result: Some(Outcome::Success),
        last_activity_at: datetime!(2024-10-01 09:12 UTC),
    }];
    let fields = statistic_fields(&row, &attempts, true, None).expect("fields");
    insta::assert_snapshot!(pretty(&serde_json::Value::Object(fields)));
}
