//! SCORM Cloud stops answering: a server on loopback that takes the
//! connection and the request and never says a word. Every flow that calls
//! it — an upload, a registration created at assignment, one created at the
//! first launch — fails at its time limit as `timed out`, and records
//! nothing: no import job, no registration recorded as created in SCORM
//! Cloud, no launch in the statistics — and while it waits, other writes go
//! on (no database lock is held across a call).
//! After it, the same flows against an answering SCORM Cloud work. On SQLite
//! and (with `--ignored`) PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fake_scorm_cloud::{FakeScormCloud, v2_ops};
use scorm_flows::import::{self, Quiet};
use scorm_flows::registrations::{self, Assignment, Launcher};
use scorm_flows::{Remote, ScormError, Settings, Timeouts};
use serde_json::json;
use stats_rules::EntryPoint;
use store::{Integration, Store};
use testkit::{Engine, TestDatabase};
use tokio::io::AsyncReadExt;

const SECRET: &str = "fake-secret-key";
const LIMITS: Timeouts = Timeouts {
    call: Duration::from_secs(3),
    upload: Duration::from_secs(4),
};

/// A server that accepts connections, reads what comes, and never answers;
/// its URL and how many connections it took (the calls under way).
async fn silent_server() -> (String, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    (format!("http://{addr}/api"), accepted)
}

fn integration(base_url: &str, creation: &str) -> Integration {
    Integration {
        id: format!("scorm-{creation}"),
        provider: "scorm-cloud".into(),
        lms_group: "g1".into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({
            "base_url": base_url,
            "app_id": "APP1",
            "secret_env": "FAKE_SCORM_SECRET",
            "public_url": "http://127.0.0.1:9/",
            "registrations": creation,
        }),
        active: true,
        created_ms: 0,
        updated_ms: 0,
        deactivated_ms: None,
    }
}

fn remote_for(i: &Integration, base_url: &str) -> (Settings, Remote) {
    let mut settings = Settings::from_integration(i, &|name| {
        (name == "FAKE_SCORM_SECRET").then(|| SECRET.to_owned())
    })
    .expect("settings");
    settings.base_url = base_url.parse().expect("url");
    let remote =
        Remote::new(&settings, scorm_flows::http_client().expect("http")).with_timeouts(LIMITS);
    (settings, remote)
}

/// Fails at the time limit, as `timed out`.
fn assert_timed_out<T: std::fmt::Debug>(r: Result<T, ScormError>, started: Instant, what: &str) {
    let err = r.expect_err(what);
    assert!(
        matches!(&err, ScormError::Http { detail, .. } if detail == "timed out"),
        "{what}: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{what} was bounded by its time limit"
    );
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod a_silent_scorm_cloud_times_out_and_records_nothing, on);

async fn on(engine: Engine, check: impl AsyncFnOnce(&Store, &std::path::Path)) {
    let db = TestDatabase::create(engine, "scorm-hang").await;
    let store = db.open().await;
    check(&store, db.dir()).await;
    store.close().await;
    db.remove().await;
}

async fn a_silent_scorm_cloud_times_out_and_records_nothing(store: &Store, dir: &std::path::Path) {
    let fake = FakeScormCloud::start("APP1", SECRET).await.expect("fake");
    let (silent, accepted) = silent_server().await;
    let package = dir.join("course.zip");
    std::fs::write(&package, fake_scorm_cloud::package("Safety Basics")).expect("package");
    let polls = vec![Duration::from_millis(10); 5];

    for creation in ["at-assignment", "at-launch"] {
        let i = integration(&fake.api_url(), creation);
        let mut tx = store.begin().await.expect("begin");
        tx.insert_integration(&i).await.expect("integration");
        tx.commit().await.expect("commit");
        let (good_settings, good) = remote_for(&i, &fake.api_url());
        let (settings, hung) = remote_for(&i, &silent);
        let course = format!("course-{creation}");

        // An upload to a silent service: no job, no course.
        let started = Instant::now();
        let r = import::import_package(store, &hung, &i, &course, &package, polls.clone(), &Quiet)
            .await;
        assert_timed_out(r, started, "the upload");
        {
            let mut tx = store.read().await.expect("read");
            assert!(tx.scorm_course(&course).await.expect("read").is_none());
        }
        import::import_package(store, &good, &i, &course, &package, polls.clone(), &Quiet)
            .await
            .expect("the same upload, answered");

        let assignment = Assignment {
            course_id: course.clone(),
            learner: "u-1".into(),
            email: Some("u-1@example.com".into()),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            registration_id: Some(format!("reg-{creation}")),
        };
        let id = assignment.registration_id.clone().expect("id");
        if creation == "at-assignment" {
            // Created at assignment: the assignment is kept, not as created.
            let started = Instant::now();
            let r = registrations::assign(store, &hung, &settings, &assignment).await;
            assert_timed_out(r, started, "the assignment");
            let mut tx = store.read().await.expect("read");
            let kept = tx.registration(&id).await.expect("read").expect("kept");
            assert!(kept.remote_created_ms.is_none(), "not recorded as created");
            drop(tx);
            let again = registrations::assign(store, &good, &good_settings, &assignment)
                .await
                .expect("the same assignment, answered");
            assert!(again.created && again.registration.remote_created_ms.is_some());
            let pb = fake
                .registration(&id)
                .expect("created")
                .postback
                .expect("postback");
            assert!(scorm_flows::verify_secret(
                &pb.password,
                &again.registration.postback_secret_hash
            ));
        } else {
            // Created at the first launch: the launch fails, nothing is recorded.
            registrations::assign(store, &good, &good_settings, &assignment)
                .await
                .expect("assigned locally");
            let who = Launcher {
                learner: "u-1".into(),
                email: Some("u-1@example.com".into()),
                entry: EntryPoint::Catalog,
            };
            // While the launch waits for SCORM Cloud, other writes go on.
            let started = Instant::now();
            let calls = accepted.load(Ordering::SeqCst);
            let waiting = {
                let (store, settings, id, who) =
                    (store.clone(), settings.clone(), id.clone(), who.clone());
                tokio::spawn(async move {
                    registrations::launch(
                        &store,
                        &hung,
                        &settings,
                        &id,
                        &who,
                        "https://back.example/",
                    )
                    .await
                })
            };
            // once the launch's call is under way …
            tokio::time::timeout(Duration::from_secs(2), async {
                while accepted.load(Ordering::SeqCst) == calls {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .expect("the launch called SCORM Cloud");
            let mut tx = tokio::time::timeout(Duration::from_secs(1), store.begin())
                .await
                .expect("a write transaction begins while SCORM Cloud is silent")
                .expect("begin");
            tx.upsert_learner("u-other", Some("other@example.com"), None, 0)
                .await
                .expect("write");
            tx.commit().await.expect("commit");
            assert!(!waiting.is_finished(), "the launch was still waiting");
            assert_timed_out(waiting.await.expect("launch task"), started, "the launch");
            {
                let mut tx = store.read().await.expect("read");
                let reg = tx.registration(&id).await.expect("read").expect("kept");
                assert!(reg.remote_created_ms.is_none(), "not marked created");
                let stats = tx
                    .list_stats(&store::StatsFilter {
                        limit: 10,
                        ..Default::default()
                    })
                    .await
                    .expect("stats");
                assert!(stats.is_empty(), "no launch recorded: {stats:?}");
            }
            registrations::launch(
                store,
                &good,
                &good_settings,
                &id,
                &who,
                "https://back.example/",
            )
            .await
            .expect("the same launch, answered");
            assert!(fake.registration(&id).is_some());
        }
    }
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod an_attempt_of_unknown_outcome_is_asked_about, on);

/// A creation SCORM Cloud carried out but whose answer never arrived (or
/// whose record failed): the next attempt finds the registration there and
/// only moves its postback settings to a new password (V1
/// `updatePostbackInfo`; V2 has no such call: deleted and created again,
/// but never when a learner has made progress on it), instead of creating
/// it again (which SCORM Cloud refuses). On both APIs.
async fn an_attempt_of_unknown_outcome_is_asked_about(store: &Store, dir: &std::path::Path) {
    let fake = FakeScormCloud::start("APP1", SECRET).await.expect("fake");
    let package = dir.join("course.zip");
    std::fs::write(&package, fake_scorm_cloud::package("Safety Basics")).expect("package");
    for api in ["v1", "v2"] {
        let base = if api == "v1" {
            fake.api_url()
        } else {
            fake.api_v2_url()
        };
        let mut i = integration(&base, "at-launch");
        i.id = format!("scorm-{api}");
        i.settings["api_version"] = json!(api);
        let mut tx = store.begin().await.expect("begin");
        tx.insert_integration(&i).await.expect("integration");
        tx.commit().await.expect("commit");
        let (settings, remote) = remote_for(&i, &base);
        let course = format!("course-{api}");
        import::import_package(
            store,
            &remote,
            &i,
            &course,
            &package,
            vec![Duration::from_millis(10); 5],
            &Quiet,
        )
        .await
        .expect("import");
        let learner = format!("u-{api}");
        let assign = |id: &str| Assignment {
            course_id: course.clone(),
            learner: learner.clone(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            registration_id: Some(id.to_owned()),
            ..Assignment::default()
        };
        let mut reg =
            registrations::assign(store, &remote, &settings, &assign(&format!("reg-{api}")))
                .await
                .expect("assign")
                .registration;
        // SCORM Cloud creates it; our side never records that.
        registrations::ensure_remote(store, &remote, &settings, &mut reg, None)
            .await
            .expect("created remotely");
        let first = fake
            .registration(&reg.registration_id)
            .expect("there")
            .postback
            .expect("pb");
        let who = Launcher {
            learner: learner.clone(),
            email: None,
            entry: EntryPoint::Catalog,
        };
        let before = fake.calls().len();
        registrations::launch(
            store,
            &remote,
            &settings,
            &reg.registration_id,
            &who,
            "https://back.example/",
        )
        .await
        .expect("the launch finds it and goes on");
        let calls = fake.calls();
        let expected: &[&str] = if api == "v1" {
            &[
                "rustici.registration.exists",
                "rustici.registration.updatePostbackInfo",
            ]
        } else {
            &[
                v2_ops::REGISTRATION_EXISTS,
                v2_ops::REGISTRATION_PROGRESS,
                v2_ops::DELETE_REGISTRATION,
                v2_ops::CREATE_REGISTRATION,
                v2_ops::LAUNCH_LINK,
            ]
        };
        assert_eq!(
            &calls[before..before + expected.len()],
            expected,
            "{calls:?}"
        );
        let mut tx = store.read().await.expect("read");
        let stored = tx
            .registration(&reg.registration_id)
            .await
            .expect("read")
            .expect("kept");
        assert!(stored.remote_created_ms.is_some());
        drop(tx);
        let now = fake
            .registration(&reg.registration_id)
            .expect("there")
            .postback
            .expect("pb");
        assert_ne!(now.password, first.password, "a new password");
        assert!(scorm_flows::verify_secret(
            &now.password,
            &stored.postback_secret_hash
        ));
    }

    // V2, a registration of unknown outcome that a learner has used: not replaced
    let mut i = integration(&fake.api_v2_url(), "at-launch");
    i.id = "scorm-v2".into();
    i.settings["api_version"] = json!("v2");
    let (settings, remote) = remote_for(&i, &fake.api_v2_url());
    let mut reg = registrations::assign(
        store,
        &remote,
        &settings,
        &Assignment {
            course_id: "course-v2".into(),
            learner: "u-used".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            registration_id: Some("reg-used".into()),
            ..Assignment::default()
        },
    )
    .await
    .expect("assign")
    .registration;
    registrations::ensure_remote(store, &remote, &settings, &mut reg, None)
        .await
        .expect("created remotely");
    fake.update("reg-used", "incomplete", "unknown", Some(30.0), 120.0)
        .expect("progress");
    let who = Launcher {
        learner: "u-used".into(),
        email: None,
        entry: EntryPoint::Catalog,
    };
    let err = registrations::launch(
        store,
        &remote,
        &settings,
        "reg-used",
        &who,
        "https://back.example/",
    )
    .await
    .expect_err("not replaced");
    assert!(matches!(err, ScormError::Conflict(_)), "{err}");
    assert_eq!(
        fake.registration("reg-used").expect("kept").total_time_secs,
        120.0,
        "its progress is kept"
    );
}
