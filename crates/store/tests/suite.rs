//! One test-suite, two engines. Every check runs on SQLite (a temporary file);
//! the PostgreSQL variants are ignored unless asked for (`cargo test -- --ignored`)
//! and then need `COURSEBRIDGE_TEST_POSTGRES_URL` (an admin URL: each test
//! creates and drops its own database). `.ci/run` starts a throwaway cluster and
//! runs them every time.

use std::future::Future;

use store::*;
use testkit::{Engine, TestDatabase};

// The checks run on both engines, named by `testkit::both!` below.
use checks::*;

/// A fresh SQLite store, migrated, for the SQLite-only checks; remove the
/// database when done.
async fn sqlite_store() -> (Store, TestDatabase) {
    let db = TestDatabase::create(Engine::Sqlite, "store").await;
    (db.open().await, db)
}

/// Runs a check on a fresh store, migrated to the current schema.
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "store").await;
    let store = db.open().await;
    check(store.clone()).await;
    store.close().await;
    db.remove().await;
}

/// Runs an upgrade check on a fresh database, not migrated.
async fn on_fresh<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "store").await;
    let store = db.connect().await;
    check(store.clone()).await;
    store.close().await;
    db.remove().await;
}

testkit::both!(migrations_are_versioned_and_idempotent, on);
testkit::both!(integrations_and_credentials, on);
testkit::both!(courses_keep_one_record_per_external_id, on);
testkit::both!(statements_log_duplicates_voiding_and_paging, on);
testkit::both!(rolled_back_transactions_leave_nothing, on);
testkit::both!(statistics_and_cursor_paging, on);
testkit::both!(pending_statements_are_parked_and_listed, on);
testkit::both!(sync_lock_is_exclusive_and_expires, on);
testkit::both!(sync_runs_are_recorded, on);
testkit::both!(scorm_state, on);
testkit::both!(concurrent_read_modify_write_is_serialized, on);
testkit::both!(concurrent_sync_lock_has_one_winner, on);
testkit::both!(bulk_course_writes, on);
testkit::both!(attachments_are_kept_per_integration, on);
testkit::both!(actors_are_found_across_moves, on);
testkit::both!(actor_lists_stay_bounded, on);

/// Upgrading a v5 database moves statements' learning events onto the
/// statements (schema v6) and keeps the other events where they are.
async fn upgrade_moves_statement_events(store: Store) {
    assert_eq!(store.migrate_to(5).await.expect("to v5"), [1, 2, 3, 4, 5]);
    let (course, learner) = checks::seed(&store).await;
    for sql in [
        format!(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, actor_key, voided, course_id, learner_id) \
             VALUES ('s-1', 'os-acme', '{{}}', '{{}}', 20, 10, 'v', 'mbox:ada@example.com', 0, {course}, {learner}), \
                    ('s-2', 'os-acme', '{{}}', '{{}}', 21, 11, 'v', 'mbox:ada@example.com', 0, NULL, NULL)"
        ),
        format!(
            "INSERT INTO learning_events (id, integration_id, course_id, learner_id, statement_id, kind, at_ms, stored_ms, payload) \
             VALUES ('s-1', 'os-acme', {course}, {learner}, 's-1', 'statement', 10, 20, '{{\"from\":\"s-1\"}}'), \
                    ('l-1', 'os-acme', {course}, {learner}, NULL, 'launch', 5, 5, '{{\"launch\":true}}')"
        ),
    ] {
        store.execute_admin(&sql).await.expect("v5 rows");
    }
    assert_eq!(store.migrate_to(6).await.expect("to v6"), [6]);
    // Read with today's queries, which know today's schema.
    store.migrate().await.expect("to the latest");
    let mut tx = store.read().await.expect("read");
    let events = tx
        .learning_events_for_target(course, learner)
        .await
        .expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.id.as_str(), e.kind.as_str(), e.payload.as_str()))
            .collect::<Vec<_>>(),
        [
            ("l-1", "launch", "{\"launch\":true}"),
            ("s-1", "statement", "{\"from\":\"s-1\"}")
        ]
    );
    assert_eq!(
        tx.statements_with_events()
            .await
            .expect("with events")
            .iter()
            .map(|(id, _, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["s-1"],
        "a statement without an event stays without one"
    );
}

/// Upgrading a v6 database drops the JSON copy of the statistics (schema v7)
/// and keeps every column and the folded state of the rows.
async fn upgrade_drops_stats_copy(store: Store) {
    assert_eq!(
        store.migrate_to(6).await.expect("to v6"),
        [1, 2, 3, 4, 5, 6]
    );
    let (course, learner) = checks::seed(&store).await;
    store
        .execute_admin(&format!(
            "INSERT INTO learner_stats (course_id, learner_id, integration_id, progress, completed, result, score, time_spent_ms, \
             first_activity_ms, last_activity_ms, completed_at_ms, attempts, overridden, stats, state, updated_ms) \
             VALUES ({course}, {learner}, 'os-acme', 50.0, 0, NULL, 80.0, 1000, 10, 20, NULL, 1, 0, '{{\"copy\":true}}', '{{\"state\":1}}', 30)"
        ))
        .await
        .expect("v6 row");
    assert_eq!(store.migrate_to(7).await.expect("to v7"), [7]);
    let mut tx = store.read().await.expect("read");
    let row = tx
        .stats_for(course, learner)
        .await
        .expect("read the row")
        .expect("the row is kept");
    assert_eq!(
        (
            row.progress,
            row.score,
            row.time_spent_ms,
            row.first_activity_ms,
            row.last_activity_ms,
            row.attempts,
            row.state.as_str(),
            row.updated_ms
        ),
        (
            50.0,
            Some(80.0),
            Some(1000),
            Some(10),
            Some(20),
            1,
            "{\"state\":1}",
            30
        )
    );
}

/// Upgrading a v7 database replaces the actor index and the course/learner
/// index by one index on (actor, seq, course) (schema v8): a learner's
/// learning events are still found — only those of that course and learner,
/// not voided — and the `agent` filter still lists newest first.
async fn upgrade_merges_actor_indexes(store: Store) {
    assert_eq!(
        store.migrate_to(7).await.expect("to v7"),
        [1, 2, 3, 4, 5, 6, 7]
    );
    let (course, learner) = checks::seed(&store).await;
    let other_course = {
        // Schema v7's columns.
        store
            .execute_admin(
                "INSERT INTO courses (integration_id, kind, external_id, name, subjects, archived, content_hash, first_seen_ms, last_seen_ms) \
                 VALUES ('os-acme', 'course', 'ext-2', 'Other', '[]', 0, 'h2', 30, 30)",
            )
            .await
            .expect("course");
        let mut tx = store.read().await.expect("read");
        tx.course_by_external_id("os-acme", "ext-2")
            .await
            .expect("read")
            .expect("course")
            .id
    };
    store
        .execute_admin(&format!(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, actor_key, voided, course_id, learner_id, event) \
             VALUES ('s-1', 'os-acme', '{{}}', '{{}}', 20, 10, 'v', 'mbox:ada@example.com', 0, {course}, {learner}, '{{\"e\":1}}'), \
                    ('s-2', 'os-acme', '{{}}', '{{}}', 21, 11, 'v', 'mbox:ada@example.com', 0, {other_course}, {learner}, '{{\"e\":2}}'), \
                    ('s-3', 'os-acme', '{{}}', '{{}}', 22, 12, 'v', 'mbox:ada@example.com', 1, {course}, {learner}, '{{\"e\":3}}'), \
                    ('s-4', 'os-acme', '{{}}', '{{}}', 23, 13, 'v', 'mbox:bob@example.com', 0, NULL, NULL, NULL), \
                    ('s-5', 'os-acme', '{{}}', '{{}}', 24, 14, 'v', 'mbox:ada@example.com', 0, {course}, {learner}, '{{\"e\":5}}')"
        ))
        .await
        .expect("v7 rows");
    assert_eq!(store.migrate_to(8).await.expect("to v8"), [8]);
    // Read with today's queries, which know today's schema.
    store.migrate().await.expect("to the latest");
    let mut tx = store.read().await.expect("read");
    let events = tx
        .learning_events_for_target(course, learner)
        .await
        .expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.id.as_str(), e.payload.as_str()))
            .collect::<Vec<_>>(),
        [("s-1", "{\"e\":1}"), ("s-5", "{\"e\":5}")],
        "this course only, voided left out"
    );
    let by_agent = tx
        .statements(&StatementFilter {
            actor_key: Some("mbox:ada@example.com".into()),
            limit: 10,
            ..StatementFilter::default()
        })
        .await
        .expect("agent filter");
    assert_eq!(
        by_agent.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s-5", "s-2", "s-1"],
        "newest first, voided hidden"
    );
}

/// Upgrading a v8 database makes the registration and activity indexes
/// partial (schema v9): statements without a registration or an activity
/// have no entry, and both filters still find exactly the statements with
/// the value asked for.
async fn upgrade_makes_indexes_partial(store: Store) {
    assert_eq!(
        store.migrate_to(8).await.expect("to v8"),
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
    checks::seed(&store).await;
    store
        .execute_admin(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, activity_id, registration, actor_key, voided) \
             VALUES ('s-1', 'os-acme', '{}', '{}', 20, 10, 'v', 'https://a/1', 'r-1', 'mbox:ada@example.com', 0), \
                    ('s-2', 'os-acme', '{}', '{}', 21, 11, 'v', 'https://a/1', NULL, 'mbox:ada@example.com', 0), \
                    ('s-3', 'os-acme', '{}', '{}', 22, 12, 'v', NULL, 'r-1', 'mbox:ada@example.com', 0), \
                    ('s-4', 'os-acme', '{}', '{}', 23, 13, 'v', 'https://a/2', 'r-2', 'mbox:ada@example.com', 0)",
        )
        .await
        .expect("v8 rows");
    assert_eq!(store.migrate_to(9).await.expect("to v9"), [9]);
    let mut tx = store.read().await.expect("read");
    let ids = |v: Vec<StoredStatement>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let by_registration = tx
        .statements(&StatementFilter {
            registration: Some("r-1".into()),
            limit: 10,
            ..StatementFilter::default()
        })
        .await
        .expect("registration filter");
    assert_eq!(ids(by_registration), ["s-3", "s-1"]);
    let by_activity = tx
        .statements(&StatementFilter {
            activity_id: Some("https://a/1".into()),
            limit: 10,
            ..StatementFilter::default()
        })
        .await
        .expect("activity filter");
    assert_eq!(ids(by_activity), ["s-2", "s-1"]);
}

testkit::both!(#[tokio::test] fn upgrade_makes_indexes_partial_sqlite, upgrade_makes_indexes_partial_postgres = on_fresh(upgrade_makes_indexes_partial));

/// Upgrading a v9 database marks the statements that are not plain as broad
/// (schema v10), from their stored JSON: a SubStatement or StatementRef
/// object, an Agent object, a group actor with members, an instructor, team
/// or context activities. The rest stay plain, and the `broad` filter lists
/// exactly the broad ones.
async fn upgrade_marks_broad_statements(store: Store) {
    assert_eq!(
        store.migrate_to(9).await.expect("to v9"),
        [1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    checks::seed(&store).await;
    let agent = r#"{"objectType":"Agent","mbox":"mailto:ada@example.com"}"#;
    let activity = r#"{"objectType":"Activity","id":"https://a/1"}"#;
    let shapes = [
        (
            "plain",
            format!(r#"{{"actor":{agent},"object":{activity}}}"#),
        ),
        (
            "plain-registration",
            format!(
                r#"{{"actor":{agent},"object":{activity},"context":{{"registration":"1e4f7f9c-3a0b-4d2e-9f00-6c2d1c8f5a11"}}}}"#
            ),
        ),
        (
            "plain-group-no-members",
            format!(
                r#"{{"actor":{{"objectType":"Group","mbox":"mailto:team@example.com"}},"object":{activity}}}"#
            ),
        ),
        (
            "ref",
            format!(
                r#"{{"actor":{agent},"object":{{"objectType":"StatementRef","id":"1e4f7f9c-3a0b-4d2e-9f00-6c2d1c8f5a11"}}}}"#
            ),
        ),
        (
            "agent-object",
            format!(r#"{{"actor":{agent},"object":{agent}}}"#),
        ),
        (
            "sub",
            format!(
                r#"{{"actor":{agent},"object":{{"objectType":"SubStatement","actor":{agent},"verb":{{"id":"v"}},"object":{activity}}}}}"#
            ),
        ),
        (
            "group-members",
            format!(
                r#"{{"actor":{{"objectType":"Group","member":[{agent}]}},"object":{activity}}}"#
            ),
        ),
        (
            "instructor",
            format!(
                r#"{{"actor":{agent},"object":{activity},"context":{{"instructor":{agent}}}}}"#
            ),
        ),
        (
            "context-activities",
            format!(
                r#"{{"actor":{agent},"object":{activity},"context":{{"contextActivities":{{"parent":[{activity}]}}}}}}"#
            ),
        ),
    ];
    for (i, (id, canonical)) in shapes.iter().enumerate() {
        let canonical = canonical.replace('\'', "''");
        store
            .execute_admin(&format!(
                "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, voided) \
                 VALUES ('{id}', 'os-acme', '{{}}', '{canonical}', {i}, {i}, 'v', 0)"
            ))
            .await
            .expect("v9 row");
    }
    assert_eq!(store.migrate_to(10).await.expect("to v10"), [10]);
    let mut tx = store.read().await.expect("read");
    let mut broad: Vec<String> = tx
        .statements(&StatementFilter {
            broad: true,
            ascending: true,
            limit: 100,
            ..StatementFilter::default()
        })
        .await
        .expect("broad statements")
        .into_iter()
        .map(|s| s.id)
        .collect();
    broad.sort();
    assert_eq!(
        broad,
        [
            "agent-object",
            "context-activities",
            "group-members",
            "instructor",
            "ref",
            "sub"
        ]
    );
}

testkit::both!(#[tokio::test] fn upgrade_marks_broad_statements_sqlite, upgrade_marks_broad_statements_postgres = on_fresh(upgrade_marks_broad_statements));

/// Upgrading a v11 database (schema v12) marks voided the statements that
/// arrived after the voiding statement of their own integration, and only
/// those.
async fn upgrade_voids_late_targets(store: Store) {
    store.migrate_to(11).await.expect("to v11");
    checks::seed(&store).await;
    store
        .execute_admin(
            "INSERT INTO integrations (id, provider, lms_group, connector_author, settings, active, created_ms, updated_ms) \
             VALUES ('ub-other', 'udemy-business', 'g', 'a@example.com', '{}', 1, 0, 0)",
        )
        .await
        .expect("second integration");
    store
        .execute_admin(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, voided, voids) \
             VALUES ('v-1', 'os-acme', '{}', '{}', 1, 1, 'voided', 0, 't-late'), \
                    ('t-late', 'os-acme', '{}', '{}', 2, 2, 'v', 0, NULL), \
                    ('t-kept', 'os-acme', '{}', '{}', 3, 3, 'v', 0, NULL), \
                    ('v-2', 'ub-other', '{}', '{}', 4, 4, 'voided', 0, 't-kept')",
        )
        .await
        .expect("v11 rows");
    assert_eq!(
        store.migrate().await.expect("to the latest"),
        [12, 13, 14, 15]
    );
    assert!(
        tx_voided(&store, "t-late").await,
        "it came after its voiding statement"
    );
    assert!(
        !tx_voided(&store, "t-kept").await,
        "another integration's voiding statement voids nothing"
    );
    assert!(!tx_voided(&store, "v-1").await);
    // Later, the same repair on demand (replay): a target that missed its
    // voiding statement (two PostgreSQL writers at the same moment).
    store
        .execute_admin(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, voided, voids) \
             VALUES ('v-3', 'os-acme', '{}', '{}', 5, 5, 'voided', 0, 't-raced'), \
                    ('t-raced', 'os-acme', '{}', '{}', 6, 6, 'v', 0, NULL)",
        )
        .await
        .expect("raced rows");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.void_late_targets().await.expect("repair"), 1);
    assert_eq!(
        tx.void_late_targets().await.expect("again"),
        0,
        "idempotent"
    );
    tx.commit().await.expect("commit");
    assert!(tx_voided(&store, "t-raced").await);
}

/// Upgrading a v12 database (schema v13) lists every stored statement's
/// actor in SQLite's long actor list, in runs of at most 16,384 `seq`s; the
/// `agent` filter and the refold find the same statements as before, a long
/// history's first and last pages included, and statements stored
/// afterwards are listed too. (PostgreSQL: nothing changes.)
async fn upgrade_lists_actors(store: Store) {
    store.migrate_to(12).await.expect("to v12");
    let (course, learner) = checks::seed(&store).await;
    store
        .execute_admin(&format!(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, actor_key, voided, course_id, learner_id, event) \
             VALUES ('s-1', 'os-acme', '{{}}', '{{}}', 20, 10, 'v', 'mbox:ada@example.com', 0, {course}, {learner}, '{{\"e\":1}}'), \
                    ('s-2', 'os-acme', '{{}}', '{{}}', 21, 11, 'v', 'mbox:bob@example.com', 0, NULL, NULL, NULL), \
                    ('s-3', 'os-acme', '{{}}', '{{}}', 22, 12, 'v', 'mbox:ada@example.com', 1, {course}, {learner}, '{{\"e\":3}}'), \
                    ('s-4', 'os-acme', '{{}}', '{{}}', 23, 13, 'v', NULL, 0, NULL, NULL, NULL), \
                    ('s-5', 'os-acme', '{{}}', '{{}}', 24, 14, 'v', 'mbox:ada@example.com', 0, {course}, {learner}, '{{\"e\":5}}')"
        ))
        .await
        .expect("v12 rows");
    // An actor with a long history: more than one run's worth.
    store
        .execute_admin(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 16390) \
             INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, actor_key, voided) \
             SELECT 'c-' || i, 'os-acme', '{}', '{}', 100 + i, 100 + i, 'v', 'mbox:carol@example.com', 0 FROM n",
        )
        .await
        .expect("a long history");
    assert_eq!(store.migrate().await.expect("to the latest"), [13, 14, 15]);
    let carol = "mbox:carol@example.com";
    let mut tx = store.read().await.expect("read");
    for (ascending, expected) in [
        (true, ["c-1", "c-2", "c-3"]),
        (false, ["c-16390", "c-16389", "c-16388"]),
    ] {
        let page: Vec<String> = tx
            .statements(&StatementFilter {
                actor_key: Some(carol.to_owned()),
                ascending,
                limit: 3,
                ..StatementFilter::default()
            })
            .await
            .expect("carol")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(page, expected, "ascending: {ascending}");
    }
    drop(tx);
    let ada = "mbox:ada@example.com";
    assert_eq!(
        checks::ids_of_actor(&store, ada, 1).await,
        ["s-1", "s-5"],
        "voided hidden"
    );
    assert_eq!(
        checks::ids_of_actor(&store, "mbox:bob@example.com", 1).await,
        ["s-2"]
    );
    let mut tx = store.read().await.expect("read");
    let refold: Vec<String> = tx
        .statements_for_target(course, learner)
        .await
        .expect("refold")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(refold, ["s-1", "s-5"]);
    if let Some(lists) = tx.actor_lists().await.expect("sizes") {
        // ada and bob one run each; carol's history two, split by seq.
        assert_eq!(lists, ActorLists { recent: 0, runs: 4 });
    }
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    let later = checks::new_statement("s-6", 25, "v");
    tx.insert_statements(&[later]).await.expect("later");
    tx.commit().await.expect("commit");
    assert_eq!(
        checks::ids_of_actor(&store, ada, 1).await,
        ["s-1", "s-5", "s-6"]
    );
}

testkit::both!(#[tokio::test] fn upgrade_lists_actors_sqlite, upgrade_lists_actors_postgres = on_fresh(upgrade_lists_actors));

async fn tx_voided(store: &Store, id: &str) -> bool {
    let mut tx = store.read().await.expect("read");
    tx.statement(id).await.expect("read").expect("there").voided
}

testkit::both!(#[tokio::test] fn upgrade_voids_late_targets_sqlite, upgrade_voids_late_targets_postgres = on_fresh(upgrade_voids_late_targets));

/// On SQLite the registration and activity filters read the partial indexes
/// (a value asked for implies it is not NULL), not the whole log; the
/// indexes are defined for statements with a value only.
#[tokio::test]
async fn sqlite_filters_read_the_partial_indexes() {
    let (store, db) = sqlite_store().await;
    checks::seed(&store).await;
    store
        .execute_admin(
            "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, activity_id, registration, actor_key, voided) \
             VALUES ('s-1', 'os-acme', '{}', '{}', 20, 10, 'v', 'https://a/1', NULL, 'mbox:ada@example.com', 0), \
                    ('s-2', 'os-acme', '{}', '{}', 21, 11, 'v', NULL, 'r-1', 'mbox:ada@example.com', 0)",
        )
        .await
        .expect("rows");
    let conn = rusqlite::Connection::open(db.url()).expect("open");
    let plan = |filter: &str| -> String {
        let mut st = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT id FROM statements WHERE voided = 0 AND {filter} = ?1 ORDER BY seq DESC LIMIT 10"
            ))
            .expect("plan");
        let rows = st
            .query_map(["x"], |r| r.get::<_, String>(3))
            .expect("plan rows");
        rows.map(|r| r.expect("plan row"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        plan("registration").contains("USING INDEX statements_registration"),
        "{}",
        plan("registration")
    );
    assert!(
        plan("activity_id").contains("USING INDEX statements_activity"),
        "{}",
        plan("activity_id")
    );
    for (index, column) in [
        ("statements_registration", "registration"),
        ("statements_activity", "activity_id"),
    ] {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [index],
                |r| r.get(0),
            )
            .expect("index definition");
        assert!(
            sql.ends_with(&format!("WHERE {column} IS NOT NULL")),
            "{sql}"
        );
    }
    drop(conn);
    store.close().await;
    db.remove().await;
}

testkit::both!(#[tokio::test] fn upgrade_moves_statement_events_sqlite, upgrade_moves_statement_events_postgres = on_fresh(upgrade_moves_statement_events));

testkit::both!(#[tokio::test] fn upgrade_drops_stats_copy_sqlite, upgrade_drops_stats_copy_postgres = on_fresh(upgrade_drops_stats_copy));

testkit::both!(#[tokio::test] fn upgrade_merges_actor_indexes_sqlite, upgrade_merges_actor_indexes_postgres = on_fresh(upgrade_merges_actor_indexes));

mod checks {
    use store::*;

    pub const T0: i64 = 1_727_000_000_000;

    pub async fn seed(store: &Store) -> (i64, i64) {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_integration(&Integration {
            id: "os-acme".into(),
            provider: "opensesame".into(),
            lms_group: "group-1".into(),
            connector_author: "admin@acme.example".into(),
            settings: serde_json::json!({"customer_integration_id": "ci-1"}),
            active: true,
            created_ms: T0,
            updated_ms: T0,
            deactivated_ms: None,
        })
        .await
        .expect("integration");
        // Upgrade tests seed older schemas: today's course upsert writes
        // columns of schema v14.
        let course = if store.schema_version().await.expect("version") >= 14 {
            tx.upsert_course(
                "os-acme",
                "course",
                "ext-1",
                &CourseFields {
                    name: "Leading Teams".into(),
                    ..CourseFields::default()
                },
                false,
                "h1",
                T0,
            )
            .await
            .expect("course")
        } else {
            tx.commit().await.expect("commit");
            store
                .execute_admin(&format!(
                    "INSERT INTO courses (integration_id, kind, external_id, name, subjects, archived, content_hash, first_seen_ms, last_seen_ms) \
                     VALUES ('os-acme', 'course', 'ext-1', 'Leading Teams', '[]', 0, 'h1', {T0}, {T0})"
                ))
                .await
                .expect("course");
            tx = store.begin().await.expect("begin");
            tx.course_by_external_id("os-acme", "ext-1")
                .await
                .expect("read")
                .expect("course")
                .id
        };
        let learner = tx
            .upsert_learner("u-1", Some("ada@example.com"), Some("Ada"), T0)
            .await
            .expect("learner");
        // The identity key of the statements below: a statement's learner is
        // the learner its actor key maps to (the refold finds them that way).
        assert!(
            tx.map_identity("mbox:ada@example.com", learner)
                .await
                .expect("identity")
        );
        tx.commit().await.expect("commit");
        (course, learner)
    }

    /// Attachment data is stored once per integration and SHA-2 (the same
    /// data again changes nothing), read back byte for byte, and only by the
    /// integration that sent it; a rolled-back transaction leaves none.
    pub async fn attachments_are_kept_per_integration(store: Store) {
        seed(&store).await;
        let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let row = |sha2, content| NewAttachment {
            integration_id: "os-acme",
            sha2,
            content_type: "application/octet-stream",
            content,
            stored_ms: T0,
        };
        let mut tx = store.begin().await.expect("begin");
        tx.insert_attachments(&[row("aa11", &data), row("bb22", b"")])
            .await
            .expect("insert");
        tx.insert_attachments(&[row("aa11", &data)])
            .await
            .expect("the same again");
        tx.commit().await.expect("commit");
        let mut tx = store.begin().await.expect("begin");
        tx.insert_attachments(&[row("cc33", b"gone")])
            .await
            .expect("insert");
        tx.rollback().await.expect("rollback");
        let mut tx = store.read().await.expect("read");
        let wanted: Vec<String> = ["aa11", "bb22", "cc33", "dd44"].map(String::from).to_vec();
        let got = tx.attachments("os-acme", &wanted).await.expect("read");
        assert_eq!(
            got.iter()
                .map(|a| (a.sha2.as_str(), a.content.len()))
                .collect::<Vec<_>>(),
            [("aa11", 70_000), ("bb22", 0)]
        );
        assert_eq!(got[0].content, data, "byte for byte");
        assert_eq!(got[0].content_type, "application/octet-stream");
        assert!(
            tx.attachments("ub-other", &wanted)
                .await
                .expect("read")
                .is_empty(),
            "another integration reads none of it"
        );
    }

    pub async fn migrations_are_versioned_and_idempotent(store: Store) {
        assert_eq!(store.schema_version().await.expect("version"), 15);
        assert_eq!(
            store.migrate().await.expect("again"),
            Vec::<i64>::new(),
            "nothing left to apply"
        );
        store.ping().await.expect("ping");
    }

    pub async fn integrations_and_credentials(store: Store) {
        seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        let i = tx
            .integration("os-acme")
            .await
            .expect("read")
            .expect("exists");
        assert!(i.active);
        assert_eq!(i.settings["customer_integration_id"], "ci-1");
        assert!(
            tx.set_integration_active("os-acme", false, T0 + 1)
                .await
                .expect("deactivate")
        );
        assert!(
            !tx.set_integration_active("nope", false, T0)
                .await
                .expect("missing")
        );
        assert!(tx.integrations(true).await.expect("list").is_empty());
        assert_eq!(tx.integrations(false).await.expect("list").len(), 1);
        let i = tx
            .integration("os-acme")
            .await
            .expect("read")
            .expect("exists");
        assert_eq!((i.active, i.deactivated_ms), (false, Some(T0 + 1)));
        assert!(
            tx.set_integration_active("os-acme", true, T0 + 2)
                .await
                .expect("reactivate")
        );
        assert_eq!(
            tx.integration("os-acme")
                .await
                .expect("read")
                .expect("exists")
                .deactivated_ms,
            None
        );

        tx.insert_credential(&Credential {
            client_id: "cid".into(),
            integration_id: "os-acme".into(),
            secret_hash: "h".into(),
            created_ms: T0,
            revoked_ms: None,
        })
        .await
        .expect("credential");
        tx.commit().await.expect("commit");
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.insert_credential(&Credential {
                client_id: "cid".into(),
                integration_id: "os-acme".into(),
                secret_hash: "h2".into(),
                created_ms: T0,
                revoked_ms: None
            })
            .await
            .is_err(),
            "client ids are unique"
        );
        if store.backend() == Backend::Postgres {
            assert!(
                tx.commit().await.is_err(),
                "a transaction with a failed statement is not committed silently"
            );
        } else {
            drop(tx);
        }
        let mut tx = store.begin().await.expect("begin");
        assert_eq!(
            tx.credential("cid")
                .await
                .expect("read")
                .expect("exists")
                .secret_hash,
            "h"
        );
        assert!(tx.revoke_credential("cid", T0 + 5).await.expect("revoke"));
        assert!(
            !tx.revoke_credential("cid", T0 + 6)
                .await
                .expect("revoke twice")
        );
        assert_eq!(
            tx.credential("cid")
                .await
                .expect("read")
                .expect("exists")
                .revoked_ms,
            Some(T0 + 5)
        );
        tx.commit().await.expect("commit");
    }

    pub async fn courses_keep_one_record_per_external_id(store: Store) {
        let (course, _) = seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        let fields = CourseFields {
            name: "Leading Teams 2".into(),
            subjects: vec!["Leadership".into()],
            duration_minutes: Some(90),
            ..CourseFields::default()
        };
        let again = tx
            .upsert_course("os-acme", "course", "ext-1", &fields, false, "h2", T0 + 10)
            .await
            .expect("update");
        assert_eq!(again, course, "same record, no duplicate");
        tx.set_activity_ids(
            "os-acme",
            course,
            &["http://opensesame.com/c/ext-1".into(), "ext-1".into()],
        )
        .await
        .expect("ids");
        let found = tx
            .course_by_activity_id("os-acme", "http://opensesame.com/c/ext-1")
            .await
            .expect("lookup")
            .expect("found");
        assert_eq!(
            (
                found.id,
                found.fields.name.as_str(),
                found.fields.subjects.clone()
            ),
            (course, "Leading Teams 2", vec!["Leadership".to_owned()])
        );
        assert!(
            tx.course_by_activity_id("other", "ext-1")
                .await
                .expect("lookup")
                .is_none(),
            "activity ids are per integration"
        );
        assert_eq!(
            tx.archive_all_courses("os-acme", T0 + 20)
                .await
                .expect("archive"),
            vec![course]
        );
        tx.set_hashes(course, "{\"name\":\"ab\"}", "src")
            .await
            .expect("hashes");
        let c = tx
            .course_by_external_id("os-acme", "ext-1")
            .await
            .expect("read")
            .expect("exists");
        assert!(c.archived);
        assert_eq!((c.first_seen_ms, c.last_seen_ms), (T0, T0 + 10));
        assert_eq!(
            tx.catalog("os-acme").await.expect("catalog"),
            vec![CatalogEntry {
                id: course,
                external_id: "ext-1".into(),
                content_hash: "h2".into(),
                field_hashes: "{\"name\":\"ab\"}".into(),
                source_hash: "src".into(),
                archived: true
            }]
        );
        tx.commit().await.expect("commit");
    }

    pub fn new_statement<'a>(id: &'a str, stored: i64, verb: &'a str) -> NewStatement<'a> {
        NewStatement {
            id,
            integration_id: "os-acme",
            raw: "{\"raw\":true}",
            canonical: "{}",
            stored_ms: stored,
            timestamp_ms: stored - 1000,
            verb,
            activity_id: Some("http://x/c"),
            registration: None,
            actor_key: Some("mbox:ada@example.com"),
            voids: None,
            course_id: None,
            learner_id: None,
            event: None,
            broad: false,
        }
    }

    /// What the `agent` filter gives for `actor`, oldest first, all of it
    /// (one query) and again in pages of `page` (ascending and descending):
    /// the three must agree.
    pub async fn ids_of_actor(store: &Store, actor: &str, page: i64) -> Vec<String> {
        let mut tx = store.read().await.expect("read");
        let filter = |ascending, cursor, limit| StatementFilter {
            actor_key: Some(actor.to_owned()),
            ascending,
            cursor,
            limit,
            ..StatementFilter::default()
        };
        let all: Vec<String> = tx
            .statements(&filter(true, None, 10_000))
            .await
            .expect("agent filter")
            .into_iter()
            .map(|s| s.id)
            .collect();
        for ascending in [true, false] {
            assert_eq!(
                paged_ids(&mut tx, filter(ascending, None, page)).await,
                all,
                "paged (ascending: {ascending}) = in one query"
            );
        }
        all
    }

    /// Every statement `filter` gives, page by page (`limit` a page) in its
    /// direction, following the cursor; their ids oldest first.
    async fn paged_ids(tx: &mut Tx<'_>, mut filter: StatementFilter) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let page = tx.statements(&filter).await.expect("a page");
            let Some(last) = page.last() else { break };
            filter.cursor = Some(last.seq);
            ids.extend(page.into_iter().map(|s| s.id));
        }
        if !filter.ascending {
            ids.reverse();
        }
        ids
    }

    /// A statement row for the actor-list checks: the learner's when the
    /// actor is ada's (`target`), pending otherwise.
    fn actor_statement<'a>(
        id: &'a str,
        actor: &'a str,
        stored: i64,
        target: Option<(i64, i64)>,
    ) -> NewStatement<'a> {
        NewStatement {
            actor_key: Some(actor),
            course_id: target.map(|t| t.0),
            learner_id: target.map(|t| t.1),
            event: target.map(|_| "{\"e\":1}"),
            ..new_statement(id, stored, "progressed")
        }
    }

    /// Every statement of an actor is found, once, by the `agent` filter
    /// (both orders, paged) and its learner's by the refold's queries,
    /// whichever of SQLite's two actor lists holds it (schema v13): listed
    /// in the recent one, moved to a run of the long one, moved with later
    /// statements of the same actor, or rolled back with its transaction.
    /// PostgreSQL's index gives the same answers.
    pub async fn actors_are_found_across_moves(store: Store) {
        let (course, learner) = seed(&store).await;
        let actors = [
            "mbox:ada@example.com",
            "mbox:bob@example.com",
            "account:https://sso.example.com|42",
        ];
        let mut expected: Vec<Vec<String>> = vec![Vec::new(); actors.len()];
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut made = 0u64;
        for step in 0..40 {
            let count = 1 + next(6);
            let picks: Vec<(String, usize)> = (0..count)
                .map(|_| {
                    made += 1;
                    (
                        format!("{made:08x}-0000-4000-8000-000000000000"),
                        next(actors.len() as u64) as usize,
                    )
                })
                .collect();
            let mut rows: Vec<NewStatement<'_>> = picks
                .iter()
                .map(|(id, a)| {
                    actor_statement(
                        id,
                        actors[*a],
                        T0 + made as i64,
                        (*a == 0).then_some((course, learner)),
                    )
                })
                .collect();
            // Now and then a sender's retry of an earlier statement: not
            // stored again, so not listed again.
            if step % 3 == 2 {
                if let Some(first) = expected[0].first() {
                    rows.push(actor_statement(
                        first,
                        actors[0],
                        T0,
                        Some((course, learner)),
                    ));
                }
            }
            let mut tx = store.begin().await.expect("begin");
            let inserted = tx.insert_statements(&rows).await.expect("insert");
            assert_eq!(inserted.len(), picks.len(), "the retry is not inserted");
            if step % 4 == 3 {
                tx.move_recent_actors().await.expect("move");
            }
            if step % 7 == 6 {
                tx.rollback().await.expect("rollback");
                continue;
            }
            tx.commit().await.expect("commit");
            for (id, a) in &picks {
                expected[*a].push(id.clone());
            }
            for (a, actor) in actors.iter().enumerate() {
                assert_eq!(
                    ids_of_actor(&store, actor, 2).await,
                    expected[a],
                    "step {step}, {actor}"
                );
            }
            let mut tx = store.read().await.expect("read");
            let refold: Vec<String> = tx
                .statements_for_target(course, learner)
                .await
                .expect("a learner's statements")
                .into_iter()
                .map(|s| s.id)
                .collect();
            assert_eq!(refold, expected[0], "step {step}: the refold's statements");
            let events = tx
                .learning_events_for_target(course, learner)
                .await
                .expect("a learner's events");
            assert_eq!(
                events.len(),
                expected[0].len(),
                "step {step}: one event each"
            );
        }
        if let Some(lists) = store
            .read()
            .await
            .expect("read")
            .actor_lists()
            .await
            .expect("sizes")
        {
            assert!(lists.runs > 0, "moves made runs: {lists:?}");
        }

        // An actor with forty runs of one statement each and five recent
        // statements: few of the runs have the verb asked for, most of the
        // recent ones do. Pages that the first windows of runs cannot fill,
        // both ways, and that the recent list must not fill ascending
        // before the runs.
        let carol = "mbox:carol@example.com";
        let ids: Vec<String> = (0..45)
            .map(|i| format!("{i:08x}-0000-4000-8000-0000000000cc"))
            .collect();
        let verb = |i: usize| {
            if i % 10 == 9 || i >= 41 {
                "completed"
            } else {
                "progressed"
            }
        };
        for (i, id) in ids.iter().enumerate() {
            let mut tx = store.begin().await.expect("begin");
            let row = NewStatement {
                verb: verb(i),
                ..actor_statement(id, carol, T0 + 1000 + i as i64, None)
            };
            tx.insert_statements(&[row]).await.expect("insert");
            if i < 40 {
                tx.move_recent_actors().await.expect("move");
            }
            tx.commit().await.expect("commit");
        }
        let completed: Vec<String> = (0..45)
            .filter(|&i| verb(i) == "completed")
            .map(|i| ids[i].clone())
            .collect();
        let mut tx = store.read().await.expect("read");
        for ascending in [true, false] {
            let filter = StatementFilter {
                actor_key: Some(carol.to_owned()),
                verb: Some("completed".to_owned()),
                ascending,
                limit: 3,
                ..StatementFilter::default()
            };
            assert_eq!(
                paged_ids(&mut tx, filter).await,
                completed,
                "ascending: {ascending}"
            );
        }
    }

    /// A transaction that finds SQLite's recent actor list full moves it to
    /// the long one by itself: after every commit the recent list holds
    /// fewer than `RECENT_ACTORS_BOUND` entries, one run per actor and
    /// move, and every statement is still found.
    pub async fn actor_lists_stay_bounded(store: Store) {
        seed(&store).await;
        let bound = usize::try_from(RECENT_ACTORS_BOUND).expect("bound");
        let ids: Vec<String> = (0..bound + 10)
            .map(|i| format!("{i:08x}-0000-4000-8000-00000000000b"))
            .collect();
        let actor = |i: usize| {
            if i % 2 == 0 {
                "mbox:ada@example.com"
            } else {
                "mbox:bob@example.com"
            }
        };
        // In two transactions: the first fills the list to one short of
        // the bound, the second passes it.
        for range in [0..bound - 1, bound - 1..bound + 10] {
            let rows: Vec<NewStatement<'_>> = range
                .clone()
                .map(|i| actor_statement(&ids[i], actor(i), T0 + i as i64, None))
                .collect();
            let mut tx = store.begin().await.expect("begin");
            tx.insert_statements(&rows).await.expect("insert");
            tx.commit().await.expect("commit");
            let lists = store
                .read()
                .await
                .expect("read")
                .actor_lists()
                .await
                .expect("sizes");
            if let Some(lists) = lists {
                if range.start == 0 {
                    assert_eq!(
                        lists,
                        ActorLists {
                            recent: RECENT_ACTORS_BOUND - 1,
                            runs: 0
                        }
                    );
                } else {
                    assert_eq!(
                        lists,
                        ActorLists { recent: 0, runs: 2 },
                        "moved, one run per actor"
                    );
                }
            }
        }
        for (a, actor) in ["mbox:ada@example.com", "mbox:bob@example.com"]
            .iter()
            .enumerate()
        {
            let expected: Vec<String> = (0..bound + 10)
                .filter(|i| i % 2 == a)
                .map(|i| ids[i].clone())
                .collect();
            assert_eq!(ids_of_actor(&store, actor, 1000).await, expected, "{actor}");
        }
    }

    pub async fn statements_log_duplicates_voiding_and_paging(store: Store) {
        let (course, learner) = seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        for i in 0..5 {
            let id = format!("00000000-0000-4000-8000-00000000000{i}");
            let verb = if i % 2 == 0 {
                "completed"
            } else {
                "progressed"
            };
            assert!(
                tx.insert_statement(&new_statement(&id, T0 + i, verb))
                    .await
                    .expect("insert")
            );
        }
        assert!(
            !tx.insert_statement(&new_statement(
                "00000000-0000-4000-8000-000000000000",
                T0,
                "completed"
            ))
            .await
            .expect("dup"),
            "a stored id is not inserted twice"
        );
        tx.set_statement_target(
            "00000000-0000-4000-8000-000000000001",
            course,
            learner,
            "{\"event\":1}",
        )
        .await
        .expect("target");
        tx.set_statement_target(
            "00000000-0000-4000-8000-000000000002",
            course,
            learner,
            "{\"event\":2}",
        )
        .await
        .expect("target");
        tx.insert_learning_event(&LearningEventRow {
            id: "launch-1".into(),
            integration_id: "os-acme".into(),
            course_id: course,
            learner_id: learner,
            statement_id: None,
            kind: "launch".into(),
            at_ms: T0 - 5000,
            stored_ms: T0 - 5000,
            payload: "{\"launch\":1}".into(),
        })
        .await
        .expect("launch event");
        assert!(
            tx.void_statement("os-acme", "00000000-0000-4000-8000-000000000002")
                .await
                .expect("void")
        );
        let mut voiding = new_statement("00000000-0000-4000-8000-0000000000ff", T0 + 9, "voided");
        voiding.voids = Some("00000000-0000-4000-8000-000000000002");
        tx.insert_statement(&voiding).await.expect("voiding");
        assert!(
            !tx.void_statement("os-acme", "00000000-0000-4000-8000-0000000000ff")
                .await
                .expect("void a voiding statement"),
            "voiding statements cannot be voided"
        );
        tx.commit().await.expect("commit");

        let mut tx = store.read().await.expect("read");
        let s = tx
            .statement("00000000-0000-4000-8000-000000000002")
            .await
            .expect("get")
            .expect("exists");
        assert!(s.voided);
        assert_eq!(s.raw, "{\"raw\":true}", "the statement as received is kept");
        let all = tx
            .statements(&StatementFilter {
                limit: 100,
                ..StatementFilter::default()
            })
            .await
            .expect("list");
        let ids: Vec<_> = all.iter().map(|s| &s.id[34..]).collect();
        assert_eq!(
            ids,
            ["ff", "04", "03", "01", "00"],
            "newest first, voided hidden"
        );
        let page1 = tx
            .statements(&StatementFilter {
                limit: 2,
                ascending: true,
                ..StatementFilter::default()
            })
            .await
            .expect("page 1");
        let page2 = tx
            .statements(&StatementFilter {
                limit: 2,
                ascending: true,
                cursor: Some(page1[1].seq),
                ..StatementFilter::default()
            })
            .await
            .expect("page 2");
        assert_eq!(
            [
                &page1[0].id[34..],
                &page1[1].id[34..],
                &page2[0].id[34..],
                &page2[1].id[34..]
            ],
            ["00", "01", "03", "04"]
        );
        let completed = tx
            .statements(&StatementFilter {
                verb: Some("completed".into()),
                since_ms: Some(T0),
                limit: 10,
                ..StatementFilter::default()
            })
            .await
            .expect("filter");
        assert_eq!(
            completed.iter().map(|s| &s.id[34..]).collect::<Vec<_>>(),
            ["04"]
        );
        assert_eq!(
            tx.statements_for_target(course, learner)
                .await
                .expect("target")
                .len(),
            1,
            "voided statements are not folded"
        );
        let events = tx
            .learning_events_for_target(course, learner)
            .await
            .expect("events");
        assert_eq!(
            events
                .iter()
                .map(|e| (
                    e.kind.as_str(),
                    e.payload.as_str(),
                    e.statement_id.as_deref()
                ))
                .collect::<Vec<_>>(),
            [
                ("launch", "{\"launch\":1}", None),
                (
                    "statement",
                    "{\"event\":1}",
                    Some("00000000-0000-4000-8000-000000000001")
                ),
            ],
            "stored events and the events of statements not voided, oldest first"
        );
        assert_eq!(
            events[1].at_ms,
            T0 + 1 - 1000,
            "a statement's event is at its timestamp"
        );
        assert_eq!(
            tx.learning_targets().await.expect("targets"),
            [("os-acme".to_owned(), course, learner)],
            "one target, from both kinds of events"
        );
        assert_eq!(
            tx.statements_with_events()
                .await
                .expect("with events")
                .iter()
                .map(|(id, _, _)| &id[34..])
                .collect::<Vec<_>>(),
            ["01", "02"]
        );
        assert_eq!(tx.last_stored_ms().await.expect("last"), Some(T0 + 9));
    }

    pub async fn rolled_back_transactions_leave_nothing(store: Store) {
        let (course, learner) = seed(&store).await;
        {
            let mut tx = store.begin().await.expect("begin");
            tx.insert_statement(&new_statement(
                "00000000-0000-4000-8000-0000000000aa",
                T0,
                "completed",
            ))
            .await
            .expect("insert");
            tx.upsert_stats(&stats_row(course, learner, 1, T0), Some(&[]))
                .await
                .expect("stats");
            tx.rollback().await.expect("rollback");
        }
        {
            // dropped without commit
            let mut tx = store.begin().await.expect("begin");
            tx.insert_statement(&new_statement(
                "00000000-0000-4000-8000-0000000000bb",
                T0,
                "completed",
            ))
            .await
            .expect("insert");
        }
        {
            // a failing statement does not leave the earlier ones behind once rolled back
            let mut tx = store.begin().await.expect("begin");
            tx.insert_statement(&new_statement(
                "00000000-0000-4000-8000-0000000000cc",
                T0,
                "completed",
            ))
            .await
            .expect("insert");
            let bad = tx
                .upsert_stats(&stats_row(course, 999_999, 1, T0), Some(&[]))
                .await;
            assert!(bad.is_err(), "foreign keys are enforced");
            drop(tx);
        }
        let mut tx = store.read().await.expect("read");
        for id in ["aa", "bb", "cc"] {
            assert!(
                tx.statement(&format!("00000000-0000-4000-8000-0000000000{id}"))
                    .await
                    .expect("get")
                    .is_none(),
                "{id} must not exist"
            );
        }
        assert!(
            tx.stats_for(course, learner)
                .await
                .expect("stats")
                .is_none()
        );
    }

    pub fn stats_row(course_id: i64, learner_id: i64, attempts: i64, updated_ms: i64) -> StatsRow {
        StatsRow {
            course_id,
            learner_id,
            integration_id: "os-acme".into(),
            progress: 50.0,
            completed: false,
            result: None,
            score: None,
            time_spent_ms: None,
            first_activity_ms: Some(T0),
            last_activity_ms: Some(T0),
            completed_at_ms: None,
            attempts,
            overridden: false,
            state: "{}".into(),
            updated_ms,
        }
    }

    pub async fn statistics_and_cursor_paging(store: Store) {
        let (course, learner) = seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        let mut learners = vec![learner];
        for i in 2..=4 {
            learners.push(
                tx.upsert_learner(&format!("u-{i}"), None, None, T0)
                    .await
                    .expect("learner"),
            );
        }
        for (n, l) in learners.iter().enumerate() {
            let attempt = AttemptRow {
                number: 1,
                entry: "catalog".into(),
                started_ms: T0,
                completed_ms: None,
                time_spent_ms: Some(1000),
                score: Some(80.0),
                result: Some("success".into()),
            };
            tx.upsert_stats(
                &stats_row(course, *l, 1, T0 + n as i64 / 2),
                Some(&[attempt]),
            )
            .await
            .expect("stats");
        }
        // an update replaces the row and its attempts
        let mut row = stats_row(course, learner, 2, T0 + 5);
        row.progress = 100.0;
        row.completed = true;
        row.score = Some(91.5);
        let a1 = AttemptRow {
            number: 1,
            entry: "catalog".into(),
            started_ms: T0,
            completed_ms: Some(T0 + 1),
            time_spent_ms: None,
            score: None,
            result: None,
        };
        let a2 = AttemptRow {
            number: 2,
            entry: "path:p".into(),
            started_ms: T0 + 2,
            completed_ms: None,
            time_spent_ms: None,
            score: None,
            result: None,
        };
        tx.upsert_stats(&row, Some(&[a1, a2.clone()]))
            .await
            .expect("update");
        tx.commit().await.expect("commit");

        let mut tx = store.read().await.expect("read");
        let s = tx
            .stats_for(course, learner)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (s.progress, s.completed, s.score, s.attempts),
            (100.0, true, Some(91.5), 2)
        );
        assert_eq!(
            tx.attempts_for(course, learner).await.expect("attempts")[1],
            a2
        );
        drop(tx);
        let mut tx = store.begin().await.expect("begin");
        tx.upsert_stats(&row, None).await.expect("without attempts");
        assert_eq!(
            tx.attempts_for(course, learner)
                .await
                .expect("attempts")
                .len(),
            2,
            "None keeps the attempts"
        );
        tx.commit().await.expect("commit");
        let mut tx = store.read().await.expect("read");
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = tx
                .list_stats(&StatsFilter {
                    integration_id: Some("os-acme".into()),
                    after,
                    limit: 3,
                    ..StatsFilter::default()
                })
                .await
                .expect("page");
            if page.is_empty() {
                break;
            }
            let last = &page[page.len() - 1].row;
            after = Some((last.updated_ms, last.course_id, last.learner_id));
            seen.extend(page.into_iter().map(|i| i.learner_lms_id.expect("lms id")));
        }
        assert_eq!(
            seen,
            ["u-2", "u-3", "u-4", "u-1"],
            "ordered by update time, each row once"
        );
        let since = tx
            .list_stats(&StatsFilter {
                updated_since_ms: Some(T0 + 1),
                learner_lms_id: Some("u-4".into()),
                limit: 10,
                ..StatsFilter::default()
            })
            .await
            .expect("filter");
        assert_eq!(since.len(), 1);
        assert_eq!(since[0].course_external_id, "ext-1");
    }

    pub async fn pending_statements_are_parked_and_listed(store: Store) {
        seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        for i in 0..3 {
            let id = format!("00000000-0000-4000-8000-00000000010{i}");
            tx.insert_statement(&new_statement(&id, T0 + i, "completed"))
                .await
                .expect("insert");
            tx.park(&PendingRow {
                statement_id: id,
                integration_id: "os-acme".into(),
                reason: "unknown-course".into(),
                detail: "http://x/c".into(),
                parked_ms: T0,
            })
            .await
            .expect("park");
        }
        assert_eq!(tx.pending_count(Some("os-acme")).await.expect("count"), 3);
        let first = tx.pending(None, None, 2).await.expect("list");
        let rest = tx
            .pending(Some("os-acme"), Some(&first[1].statement_id), 10)
            .await
            .expect("rest");
        assert_eq!(first.len() + rest.len(), 3);
        assert!(tx.unpark(&first[0].statement_id).await.expect("unpark"));
        assert!(
            !tx.unpark(&first[0].statement_id)
                .await
                .expect("unpark twice")
        );
        assert_eq!(tx.pending_count(None).await.expect("count"), 2);
        assert_eq!(tx.pending_count(Some("other")).await.expect("count"), 0);
        tx.commit().await.expect("commit");
    }

    pub async fn sync_lock_is_exclusive_and_expires(store: Store) {
        seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.acquire_sync_lock("os-acme", "A", T0, 60_000)
                .await
                .expect("A")
        );
        assert!(
            !tx.acquire_sync_lock("os-acme", "B", T0 + 1, 60_000)
                .await
                .expect("B"),
            "held by A"
        );
        assert!(
            tx.acquire_sync_lock("os-acme", "A", T0 + 2, 60_000)
                .await
                .expect("A renews")
        );
        assert!(
            tx.acquire_sync_lock("os-acme", "B", T0 + 60_003, 60_000)
                .await
                .expect("B after expiry"),
            "a crashed holder's lease expires"
        );
        tx.release_sync_lock("os-acme", "A")
            .await
            .expect("A releases nothing");
        assert!(
            !tx.acquire_sync_lock("os-acme", "A", T0 + 60_004, 60_000)
                .await
                .expect("still B's")
        );
        tx.release_sync_lock("os-acme", "B")
            .await
            .expect("B releases");
        assert!(
            tx.acquire_sync_lock("os-acme", "A", T0 + 60_005, 60_000)
                .await
                .expect("free again")
        );
        tx.commit().await.expect("commit");
    }

    pub async fn sync_runs_are_recorded(store: Store) {
        seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        let run = tx.start_run("os-acme", T0, false).await.expect("start");
        let counts = RunCounts {
            created: 3,
            updated: 1,
            archived: 0,
            reactivated: 0,
            unchanged: 40,
            rejected: 2,
            pages: 1,
        };
        tx.finish_run(run, T0 + 500, "ok", &counts, None)
            .await
            .expect("finish");
        let failed = tx
            .start_run("os-acme", T0 + 1000, false)
            .await
            .expect("start");
        tx.finish_run(
            failed,
            T0 + 1500,
            "failed",
            &RunCounts::default(),
            Some("page 3: HTTP 502"),
        )
        .await
        .expect("finish");
        let runs = tx.runs("os-acme", 10).await.expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].outcome.as_str(), runs[0].error.as_deref()),
            ("failed", Some("page 3: HTTP 502"))
        );
        assert_eq!(
            (runs[1].counts.clone(), runs[1].finished_ms),
            (counts, Some(T0 + 500))
        );
        tx.commit().await.expect("commit");
    }

    pub async fn scorm_state(store: Store) {
        let (course, learner) = seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        tx.upsert_scorm_course(&ScormCourse {
            course_id: "sc-1".into(),
            integration_id: Some("os-acme".into()),
            title: None,
            lms_course: Some(course),
            created_ms: T0,
            updated_ms: T0,
        })
        .await
        .expect("course");
        tx.upsert_scorm_course(&ScormCourse {
            course_id: "sc-1".into(),
            integration_id: None,
            title: Some("Golf".into()),
            lms_course: None,
            created_ms: T0,
            updated_ms: T0 + 1,
        })
        .await
        .expect("course");
        let c = tx
            .scorm_course("sc-1")
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            (
                c.title.as_deref(),
                c.lms_course,
                c.integration_id.as_deref()
            ),
            (Some("Golf"), Some(course), Some("os-acme"))
        );
        tx.upsert_import_job(&ImportJob {
            token: "t1".into(),
            course_id: "sc-1".into(),
            status: "running".into(),
            message: None,
            title: None,
            warnings: "[]".into(),
            created_ms: T0,
            updated_ms: T0,
        })
        .await
        .expect("job");
        tx.upsert_import_job(&ImportJob {
            token: "t1".into(),
            course_id: "sc-1".into(),
            status: "finished".into(),
            message: Some("ok".into()),
            title: Some("Golf".into()),
            warnings: "[\"w\"]".into(),
            created_ms: T0,
            updated_ms: T0 + 5,
        })
        .await
        .expect("job");
        assert_eq!(
            tx.import_job("t1")
                .await
                .expect("job")
                .expect("exists")
                .status,
            "finished"
        );
        let reg = Registration {
            registration_id: "reg-1".into(),
            scorm_course_id: "sc-1".into(),
            learner_id: learner,
            learner_ref: "u-1".into(),
            postback_user: "pb".into(),
            postback_secret_hash: "hash".into(),
            created_ms: T0,
            remote_created_ms: None,
            result: None,
            result_ms: None,
            override_: None,
        };
        assert!(tx.insert_registration(&reg).await.expect("reg"));
        assert!(!tx.insert_registration(&reg).await.expect("reg again"));
        let other_id = Registration {
            registration_id: "reg-2".into(),
            ..reg.clone()
        };
        assert!(
            !tx.insert_registration(&other_id).await.expect("reg twice"),
            "one registration per learner and course"
        );
        assert!(
            tx.stale_registrations("os-acme", T0, 10)
                .await
                .expect("stale")
                .is_empty(),
            "a registration SCORM Cloud does not know yet is never refreshed"
        );
        assert!(
            tx.set_registration_remote("reg-1", "hash2", T0)
                .await
                .expect("remote")
        );
        assert_eq!(
            tx.stale_registrations("os-acme", T0, 10)
                .await
                .expect("stale"),
            ["reg-1"]
        );
        assert!(
            tx.stale_registrations("other", T0, 10)
                .await
                .expect("stale")
                .is_empty(),
            "only the integration's own registrations"
        );
        assert_eq!(
            tx.registration_for("sc-1", learner)
                .await
                .expect("for")
                .map(|r| (
                    r.registration_id,
                    r.postback_secret_hash,
                    r.remote_created_ms
                )),
            Some(("reg-1".to_owned(), "hash2".to_owned(), Some(T0)))
        );
        assert!(
            tx.set_registration_result("reg-1", "{\"complete\":\"complete\"}", T0 + 10)
                .await
                .expect("result")
        );
        assert!(
            !tx.set_registration_result("reg-1", "{\"complete\":\"incomplete\"}", T0 + 5)
                .await
                .expect("older result"),
            "an older result never replaces a newer one"
        );
        assert!(
            tx.set_registration_override("reg-1", Some("{\"complete\":true}"))
                .await
                .expect("override")
        );
        let r = tx
            .registration("reg-1")
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            (r.result.as_deref(), r.result_ms, r.override_.as_deref()),
            (
                Some("{\"complete\":\"complete\"}"),
                Some(T0 + 10),
                Some("{\"complete\":true}")
            )
        );
        assert!(
            tx.stale_registrations("os-acme", T0 + 5, 10)
                .await
                .expect("stale")
                .is_empty()
        );
        tx.commit().await.expect("commit");
    }

    /// Many writers do read-modify-write on one statistics row under `lock_key`:
    /// no update is lost on either engine.
    pub async fn concurrent_read_modify_write_is_serialized(store: Store) {
        let (course, learner) = seed(&store).await;
        {
            let mut tx = store.begin().await.expect("begin");
            tx.upsert_stats(&stats_row(course, learner, 0, T0), Some(&[]))
                .await
                .expect("init");
            tx.commit().await.expect("commit");
        }
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..15 {
                    let mut tx = store.begin().await.expect("begin");
                    tx.lock_key(course * 1_000_003 + learner)
                        .await
                        .expect("lock");
                    let n = tx
                        .stats_for(course, learner)
                        .await
                        .expect("read")
                        .expect("exists")
                        .attempts;
                    tokio::task::yield_now().await;
                    tx.upsert_stats(&stats_row(course, learner, n + 1, T0), Some(&[]))
                        .await
                        .expect("write");
                    tx.commit().await.expect("commit");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let mut tx = store.read().await.expect("read");
        assert_eq!(
            tx.stats_for(course, learner)
                .await
                .expect("read")
                .expect("exists")
                .attempts,
            60
        );
    }

    pub async fn concurrent_sync_lock_has_one_winner(store: Store) {
        seed(&store).await;
        let mut tasks = Vec::new();
        for holder in ["A", "B", "C", "D"] {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                let won = tx
                    .acquire_sync_lock("os-acme", holder, T0, 60_000)
                    .await
                    .expect("acquire");
                tx.commit().await.expect("commit");
                won
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.expect("task"));
        }
        assert_eq!(winners, 1);
    }

    pub async fn bulk_course_writes(store: Store) {
        let (existing, _) = seed(&store).await;
        let upsert = |ext: &str, name: &str, archived: bool| CourseUpsert {
            external_id: ext.into(),
            fields: CourseFields {
                name: name.into(),
                subjects: vec!["S".into()],
                duration_minutes: Some(5),
                ..CourseFields::default()
            },
            archived,
            content_hash: format!("h-{name}"),
            field_hashes: "{}".into(),
            source_hash: format!("s-{name}"),
        };
        let mut tx = store.begin().await.expect("begin");
        let ids = tx
            .upsert_courses(
                "os-acme",
                T0 + 1,
                &[
                    upsert("ext-1", "Renamed", false),
                    upsert("ext-2", "Two", false),
                    upsert("ext-3", "Three", true),
                ],
            )
            .await
            .expect("bulk upsert");
        assert_eq!(ids.len(), 3);
        assert_eq!(
            ids["ext-1"], existing,
            "an existing course keeps its record"
        );
        tx.replace_activity_ids(
            "os-acme",
            &[
                (ids["ext-1"], vec!["a-1".into(), "shared".into()]),
                (ids["ext-2"], vec!["a-2".into(), "shared".into()]),
                (ids["ext-3"], vec![]),
            ],
        )
        .await
        .expect("activity ids");
        tx.commit().await.expect("commit");
        let mut tx = store.read().await.expect("read");
        let c = tx
            .course_by_activity_id("os-acme", "a-1")
            .await
            .expect("lookup")
            .expect("found");
        assert_eq!(
            (
                c.id,
                c.fields.name.as_str(),
                c.first_seen_ms,
                c.last_seen_ms
            ),
            (existing, "Renamed", T0, T0 + 1)
        );
        assert_eq!(
            tx.course_by_activity_id("os-acme", "shared")
                .await
                .expect("lookup")
                .expect("found")
                .id,
            existing,
            "a shared activity id stays with the first course"
        );
        let catalog = tx.catalog("os-acme").await.expect("catalog");
        assert_eq!(
            catalog
                .iter()
                .map(|e| (e.external_id.as_str(), e.archived, e.source_hash.as_str()))
                .collect::<Vec<_>>(),
            [
                ("ext-1", false, "s-Renamed"),
                ("ext-2", false, "s-Two"),
                ("ext-3", true, "s-Three")
            ]
        );
    }
}

/// A checkpoint of a log longer than `restart` pages: every page is copied
/// back.
async fn checkpoint_long_log(store: &Store, restart: i64) {
    let (log, copied) = store
        .checkpoint(restart)
        .await
        .expect("checkpoint")
        .expect("sqlite");
    assert!(log >= restart, "the log is long: {log} pages");
    assert_eq!(copied, log, "every page was copied back");
}

/// Writes about 8 MiB (2,000 pages) into the log, in a table of its own.
async fn fill_log(store: &Store) {
    store
        .execute_admin("CREATE TABLE IF NOT EXISTS filler (x BLOB NOT NULL)")
        .await
        .expect("table");
    store
        .execute_admin(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO filler (x) SELECT randomblob(4000) FROM n",
        )
        .await
        .expect("fill");
}

/// The background checkpoint copies the whole log back, and once the log is
/// past the restart length (the last pass holding writers back) the next
/// write starts it again from the beginning (so that it cannot grow without
/// end under constant writes).
#[tokio::test]
async fn sqlite_checkpoint_restarts_a_long_log() {
    let (store, db) = sqlite_store().await;
    fill_log(&store).await;
    let restart = 1000;
    checkpoint_long_log(&store, restart).await;
    let tx = store.begin().await.expect("begin");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_api_client("lms_after", "sha256:00", 1)
        .await
        .expect("a small write");
    tx.commit().await.expect("commit");
    let (log, _) = store
        .checkpoint(restart)
        .await
        .expect("checkpoint")
        .expect("sqlite");
    assert!(
        log < 100,
        "the write after a full copy started the log again: {log} pages"
    );
    store.close().await;
    db.remove().await;
}

/// With the group writer's direct connection open, the checkpoint's last
/// pass is the writer's: the checkpointer asks for it and leaves the log to
/// the writer for a while, the writer's next transaction makes it first —
/// copying what was written since the checkpointer's passes — and its write
/// starts the log again.
#[tokio::test]
async fn sqlite_last_pass_is_made_by_the_direct_writer() {
    let (store, db) = sqlite_store().await;
    let (course, learner) = checks::seed(&store).await;
    let mut native = NativeWriter::open(&store).expect("open").expect("sqlite");
    fill_log(&store).await;
    let restart = 1000;
    checkpoint_long_log(&store, restart).await;
    assert_eq!(
        store.checkpoint(restart).await.expect("checkpoint"),
        None,
        "the last pass is left to the writer"
    );
    // Written after the checkpointer's passes: only the last pass copies it.
    fill_log(&store).await;
    let mut tx = native.begin().await.expect("begin direct");
    let inserted = tx
        .insert_statements(&[NewStatement {
            id: "00000000-0000-4000-8000-0000000000f1",
            integration_id: "os-acme",
            raw: "{}",
            canonical: "{}",
            stored_ms: 10,
            timestamp_ms: 10,
            verb: "http://adlnet.gov/expapi/verbs/completed",
            activity_id: None,
            registration: None,
            actor_key: Some("mbox:ada@example.com"),
            voids: None,
            course_id: Some(course),
            learner_id: Some(learner),
            event: None,
            broad: false,
        }])
        .await
        .expect("a write");
    assert_eq!(inserted.len(), 1);
    tx.commit().await.expect("commit");
    let (log, _) = store
        .checkpoint(restart)
        .await
        .expect("checkpoint")
        .expect("the last pass was made");
    assert!(
        log < 100,
        "the writer's write after its last pass started the log again: {log} pages"
    );
    drop(native);
    store.close().await;
    db.remove().await;
}

/// A direct connection that is open but idle makes no last pass: after a
/// while the checkpointer copies the log again by itself (what another
/// writer — a sync, a launch — writes is not left in the log).
#[tokio::test]
async fn sqlite_checkpoints_go_on_while_the_direct_writer_is_idle() {
    let (store, db) = sqlite_store().await;
    let _native = NativeWriter::open(&store).expect("open").expect("sqlite");
    fill_log(&store).await;
    let restart = 1000;
    checkpoint_long_log(&store, restart).await;
    fill_log(&store).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (log, copied) = store
        .checkpoint(restart)
        .await
        .expect("checkpoint")
        .expect("passes go on");
    assert!(log >= 2000, "the second fill is in the log: {log} pages");
    assert_eq!(copied, log, "and it was copied back");
    store.close().await;
    db.remove().await;
}

/// The write path's queries, observed from inside the transaction (for
/// [`sqlite_direct_writer_writes_what_the_pool_writes`]).
async fn write_path<C: store::Conn>(tx: &mut Tx<'_, C>, course: i64, learner: i64) -> Vec<String> {
    use checks::T0;
    let mut seen = Vec::new();
    let path = tx
        .upsert_course(
            "os-acme",
            "path",
            "http://x/path",
            &CourseFields {
                name: "A path".into(),
                description: Some("<p>about</p>".into()),
                duration_minutes: Some(90),
                ..CourseFields::default()
            },
            false,
            "",
            T0,
        )
        .await
        .expect("path");
    tx.set_activity_ids("os-acme", path, &["http://x/path".into()])
        .await
        .expect("activity ids");
    seen.push(format!(
        "{:?}",
        tx.course_by_activity_id("os-acme", "http://x/path")
            .await
            .expect("course by activity")
    ));
    seen.push(format!(
        "{:?}",
        tx.course_by_activity_id("os-acme", "http://x/none")
            .await
            .expect("no course")
    ));
    let mut found: Vec<_> = tx
        .learners_by_identities(&["mbox:ada@example.com".into(), "mbox:nobody@x".into()])
        .await
        .expect("learners")
        .into_iter()
        .collect();
    found.sort();
    seen.push(format!("{found:?}"));
    seen.push(format!(
        "{:?}",
        tx.learner_by_identity("mbox:ada@example.com").await
    ));
    let rows = [
        NewStatement {
            id: "00000000-0000-4000-8000-000000000001",
            integration_id: "os-acme",
            raw: "{\"raw\":\"é\"}",
            canonical: "{\"id\":1}",
            stored_ms: T0,
            timestamp_ms: T0 - 1000,
            verb: "http://adlnet.gov/expapi/verbs/completed",
            activity_id: Some("http://x/c"),
            registration: Some("00000000-0000-4000-8000-0000000000aa"),
            actor_key: Some("mbox:ada@example.com"),
            voids: None,
            course_id: Some(course),
            learner_id: Some(learner),
            event: Some("{\"event\":1}"),
            broad: false,
        },
        NewStatement {
            id: "00000000-0000-4000-8000-000000000002",
            integration_id: "os-acme",
            raw: "{}",
            canonical: "{\"id\":2}",
            stored_ms: T0 + 1,
            timestamp_ms: T0 + 1,
            verb: "http://adlnet.gov/expapi/verbs/voided",
            activity_id: None,
            registration: None,
            actor_key: None,
            voids: Some("00000000-0000-4000-8000-000000000001"),
            course_id: None,
            learner_id: None,
            event: None,
            broad: false,
        },
    ];
    let mut inserted: Vec<_> = tx
        .insert_statements(&rows)
        .await
        .expect("insert")
        .into_iter()
        .collect();
    inserted.sort();
    seen.push(format!("{inserted:?}"));
    seen.push(format!(
        "{:?}",
        tx.insert_statements(&rows[..1]).await.expect("again")
    ));
    seen.push(format!(
        "{:?}",
        tx.learning_events_for_target(course, learner)
            .await
            .expect("events")
    ));
    seen.push(format!(
        "{:?}",
        tx.void_statement("os-acme", "00000000-0000-4000-8000-000000000001")
            .await
    ));
    seen.push(format!(
        "{:?}",
        tx.void_statement("os-acme", "00000000-0000-4000-8000-000000000002")
            .await
    ));
    let first = tx
        .statement("00000000-0000-4000-8000-000000000001")
        .await
        .expect("statement");
    seen.push(format!("{first:?}"));
    tx.park(&PendingRow {
        statement_id: "00000000-0000-4000-8000-000000000002".into(),
        integration_id: "os-acme".into(),
        reason: "unknown-learner".into(),
        detail: "learner mbox:nobody@x".into(),
        parked_ms: T0,
    })
    .await
    .expect("park");
    let mut stats = checks::stats_row(course, learner, 1, T0);
    stats.result = Some("passed".into());
    stats.score = Some(0.875);
    let attempts = [AttemptRow {
        number: 1,
        entry: "catalog".into(),
        started_ms: T0,
        completed_ms: None,
        time_spent_ms: Some(60_000),
        score: None,
        result: None,
    }];
    tx.upsert_stats(&stats, Some(&attempts))
        .await
        .expect("stats");
    tx.upsert_stats_many(&[checks::stats_row(path, learner, 0, T0 + 5)])
        .await
        .expect("many");
    let mut many: Vec<_> = tx
        .stats_for_many(&[(course, learner), (path, learner), (path, learner + 99)])
        .await
        .expect("read many")
        .into_iter()
        .collect();
    many.sort_by_key(|(k, _)| *k);
    seen.push(format!("{many:?}"));
    // A savepoint rolled back leaves nothing of what it covered.
    tx.savepoint().await.expect("savepoint");
    let mut third = rows[0].clone();
    third.id = "00000000-0000-4000-8000-000000000003";
    tx.insert_statements(&[third]).await.expect("third");
    tx.rollback_to_savepoint().await.expect("rollback to");
    seen.push(format!(
        "{:?}",
        tx.statement("00000000-0000-4000-8000-000000000003")
            .await
            .expect("third?")
    ));
    // The lookup's read of stored statements (one padded `IN` list).
    seen.push(format!(
        "{:?}",
        tx.statements_by_id(&[
            "00000000-0000-4000-8000-000000000002".into(),
            "00000000-0000-4000-8000-000000000001".into(),
            "00000000-0000-4000-8000-00000000ffff".into(),
        ])
        .await
        .expect("statements by id")
        .iter()
        .map(|s| (s.id.clone(), s.voided, s.course_id))
        .collect::<std::collections::BTreeSet<_>>()
    ));
    seen
}

/// The group writer's direct SQLite connection runs the write path's queries
/// with the results of sqlx's connection: the same operations through each,
/// on two fresh databases, observe the same and leave the same rows.
#[tokio::test]
async fn sqlite_direct_writer_writes_what_the_pool_writes() {
    let mut observed = Vec::new();
    let mut tables = Vec::new();
    for direct in [false, true] {
        let (store, db) = sqlite_store().await;
        let (course, learner) = checks::seed(&store).await;
        let mut tx = store.begin().await.expect("begin");
        tx.map_identity("mbox:ada@example.com", learner)
            .await
            .expect("identity");
        tx.commit().await.expect("commit");
        let mut native = NativeWriter::open(&store).expect("open").expect("sqlite");
        let mut tx = if direct {
            native.begin().await.expect("begin direct")
        } else {
            store.begin().await.expect("begin").into_write_path()
        };
        observed.push(write_path(&mut tx, course, learner).await);
        tx.commit().await.expect("commit");
        assert_eq!(
            store.foreign_key_violations().await.expect("check"),
            Some(0),
            "every reference the write path wrote points to a row"
        );
        let mut r = store.read().await.expect("read");
        tables.push(format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            r.statements(&StatementFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("statements"),
            r.list_stats(&StatsFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("stats"),
            r.attempts_for(course, learner).await.expect("attempts"),
            r.pending(None, None, 10).await.expect("pending"),
        ));
        drop(r);
        drop(native);
        store.close().await;
        db.remove().await;
    }
    let pooled = &observed[0];
    assert!(pooled[0].contains("A path"), "{pooled:?}");
    assert!(pooled[9].contains("voided: true"), "{pooled:?}");
    assert_eq!(pooled[11], "None", "rolled back to the savepoint");
    assert_eq!(observed[0], observed[1]);
    assert_eq!(tables[0], tables[1]);
}

/// The direct connection holds the store's writer lock for its transaction
/// (the store's own writes and the checkpointer's last pass wait), rolls back
/// when dropped, and refuses queries outside the write path with an error.
#[tokio::test]
async fn sqlite_direct_writer_locks_and_rolls_back() {
    let (store, db) = sqlite_store().await;
    let (course, learner) = checks::seed(&store).await;
    let mut native = NativeWriter::open(&store).expect("open").expect("sqlite");
    let mut tx = native.begin().await.expect("begin");
    tx.upsert_stats_many(&[checks::stats_row(course, learner, 0, checks::T0)])
        .await
        .expect("stats");
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), store.begin()).await;
    assert!(
        waited.is_err(),
        "the store's writer waits for the direct one"
    );
    // A query outside the write path does not compile on this transaction
    // (the `compile_fail` example of `store::WritePath`).
    drop(tx);
    let mut r = store.read().await.expect("read");
    assert!(
        r.stats_for(course, learner).await.expect("read").is_none(),
        "dropped without commit: rolled back"
    );
    drop(r);
    let tx = store.begin().await.expect("the lock is free again");
    drop(tx);
    // References are not enforced on this connection (the writer resolves
    // them itself); a dangling one is found by the check, not refused.
    let mut tx = native.begin().await.expect("begin");
    tx.upsert_stats_many(&[checks::stats_row(course, learner + 1000, 0, checks::T0)])
        .await
        .expect("written without a reference check");
    tx.commit().await.expect("commit");
    assert_eq!(
        store.foreign_key_violations().await.expect("check"),
        Some(1),
        "the dangling learner is reported"
    );
    drop(native);
    store.close().await;
    db.remove().await;
}
