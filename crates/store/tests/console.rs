//! What the operators' console stores and reads (schema v19), on both
//! engines: operators, sessions (live, expired, of a disabled operator), the
//! audit log, a run's rejections, course search with LIKE's special
//! characters taken literally, course changes in a run's window, statements
//! per minute, credentials and registrations as listed.

use serde_json::json;
use store::{
    AuditEntry, CourseFields, Credential, Integration, NewEvent, Operator, OperatorSession,
    RunCounts, RunRejection, Store,
};
use testkit::{Engine, TestDatabase};

async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "console").await;
    let store = db.open().await;
    check(store.clone()).await;
    store.close().await;
    db.remove().await;
}

fn integration(id: &str) -> Integration {
    Integration {
        id: id.into(),
        provider: "opensesame".into(),
        lms_group: "g".into(),
        connector_author: "a@example.com".into(),
        settings: json!({}),
        active: true,
        created_ms: 0,
        updated_ms: 0,
        deactivated_ms: None,
    }
}

async fn operators_and_sessions(store: Store) {
    let mut tx = store.begin().await.expect("begin");
    let ada = Operator {
        username: "ada".into(),
        password_hash: "$argon2id$…".into(),
        created_ms: 1,
        disabled_ms: None,
    };
    assert!(tx.insert_operator(&ada).await.expect("insert"));
    assert!(
        !tx.insert_operator(&ada).await.expect("again"),
        "a username is taken once"
    );
    let session = OperatorSession {
        username: "ada".into(),
        csrf_token: "c1".into(),
        expires_ms: 1_000,
    };
    tx.insert_operator_session("h-live", &session, 10)
        .await
        .expect("session");
    tx.insert_operator_session(
        "h-old",
        &OperatorSession {
            expires_ms: 20,
            ..session.clone()
        },
        10,
    )
    .await
    .expect("session");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.operator_session("h-live", 100).await.expect("read"),
        Some(session.clone())
    );
    assert_eq!(
        tx.operator_session("h-old", 100).await.expect("read"),
        None,
        "expired"
    );
    assert_eq!(
        tx.operator_session("h-none", 100).await.expect("read"),
        None
    );
    tx.delete_operator_session("h-live").await.expect("end");
    assert_eq!(
        tx.operator_session("h-live", 100).await.expect("read"),
        None,
        "signed out"
    );
    tx.insert_operator_session("h-2", &session, 100)
        .await
        .expect("session");
    assert!(tx.disable_operator("ada", 200).await.expect("disable"));
    assert!(
        !tx.disable_operator("ada", 300).await.expect("disable"),
        "once"
    );
    assert_eq!(
        tx.operator_session("h-2", 150).await.expect("read"),
        None,
        "a disabled operator's sessions end"
    );
    assert_eq!(
        tx.operators().await.expect("list")[0].disabled_ms,
        Some(200)
    );
    for (at, action) in [(1, "sign-in"), (2, "credential-revoke")] {
        tx.audit(&AuditEntry {
            at_ms: at,
            username: "ada".into(),
            action: action.into(),
            detail: "wh_1".into(),
            remote: "127.0.0.1".into(),
        })
        .await
        .expect("audit");
    }
    let log = tx.audit_log(10).await.expect("log");
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["credential-revoke", "sign-in"],
        "newest first"
    );
    tx.commit().await.expect("commit");
}

async fn what_the_pages_read(store: Store) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&integration("os"))
        .await
        .expect("integration");
    let mut ids = Vec::new();
    for (ext, name, archived) in [
        ("c-1", "Leading 100% Remote Teams", false),
        ("c-2", "Leading 1000 Remote Teams", false),
        ("c_3", "Safety_Basics", true),
    ] {
        let id = tx
            .upsert_course(
                "os",
                "course",
                ext,
                &CourseFields {
                    name: name.into(),
                    ..CourseFields::default()
                },
                archived,
                "h",
                1_000,
            )
            .await
            .expect("course");
        ids.push(id);
    }
    let run = tx.start_run("os", 1_000, false).await.expect("run");
    tx.append_events(&[
        NewEvent {
            event_type: "course.created",
            integration_id: "os".into(),
            course_id: Some(ids[0]),
            learner_id: None,
            data: "{}".into(),
            at_ms: 1_500,
        },
        NewEvent {
            event_type: "course.created",
            integration_id: "os".into(),
            course_id: Some(ids[1]),
            learner_id: None,
            data: "{}".into(),
            at_ms: 9_000,
        },
    ])
    .await
    .expect("events");
    tx.finish_run(run, 2_000, "ok", &RunCounts::default(), None)
        .await
        .expect("finish");
    tx.insert_run_rejections(
        run,
        &[
            RunRejection {
                external_id: Some("x-1".into()),
                reason: "title: missing".into(),
            },
            RunRejection {
                external_id: None,
                reason: "id: missing".into(),
            },
        ],
    )
    .await
    .expect("rejections");
    tx.insert_credential(&Credential {
        client_id: "wh_1".into(),
        integration_id: "os".into(),
        secret_hash: "hash".into(),
        created_ms: 5,
        revoked_ms: None,
    })
    .await
    .expect("credential");
    tx.commit().await.expect("commit");

    let mut tx = store.read().await.expect("read");
    let names = |found: Vec<store::FoundCourse>| {
        found.into_iter().map(|c| c.external_id).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            tx.search_courses("100%", Some(false), 10)
                .await
                .expect("search")
        ),
        ["c-1"],
        "% is a character"
    );
    assert_eq!(
        names(
            tx.search_courses("REMOTE", Some(false), 10)
                .await
                .expect("search")
        ),
        ["c-1", "c-2"],
        "any case"
    );
    assert_eq!(
        names(tx.search_courses("_", None, 10).await.expect("search")),
        ["c_3"],
        "_ is a character"
    );
    assert!(
        tx.search_courses("safety", Some(false), 10)
            .await
            .expect("search")
            .is_empty(),
        "archived left out"
    );
    assert_eq!(
        names(tx.search_courses("", Some(true), 10).await.expect("search")),
        ["c_3"]
    );
    let changes = tx
        .course_events_between("os", 1_000, 2_000, 10)
        .await
        .expect("changes");
    assert_eq!(changes.len(), 1, "only the run's window: {changes:?}");
    assert_eq!(
        (changes[0].external_id.as_str(), changes[0].name.as_str()),
        ("c-1", "Leading 100% Remote Teams")
    );
    let rejected = tx.run_rejections(run).await.expect("rejections");
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[1].external_id, None);
    assert_eq!(
        tx.sync_run(run)
            .await
            .expect("run")
            .expect("found")
            .finished_ms,
        Some(2_000)
    );
    assert!(tx.sync_run(run + 1000).await.expect("run").is_none());
    let creds = tx.credential_list().await.expect("credentials");
    assert_eq!(
        (creds[0].client_id.as_str(), creds[0].revoked_ms),
        ("wh_1", None)
    );
    assert!(
        tx.registration_list(10)
            .await
            .expect("registrations")
            .is_empty()
    );
    assert!(
        tx.statements_per_minute(0)
            .await
            .expect("minutes")
            .is_empty()
    );
}

testkit::both!(operators_and_sessions, on);
testkit::both!(what_the_pages_read, on);
