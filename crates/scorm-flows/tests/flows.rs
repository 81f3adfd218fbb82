//! The SCORM Cloud import, registration and launch flows against the fake
//! SCORM Cloud on loopback (which checks every signature and the 15-minute
//! window, and every parameter the API requires), on API V1 and API V2 —
//! every check runs once on each — on SQLite and — with `--ignored` and
//! COURSEBRIDGE_TEST_POSTGRES_URL — PostgreSQL. Results: `results.rs`.

use std::sync::Arc;

use fake_scorm_cloud::v2_ops;
use scorm_flows::import::{self, Quiet};
use scorm_flows::registrations::{self, Assignment};
use scorm_flows::results::{self};
use scorm_flows::{ApiVersion, Remote, ScormError, Settings};

mod env;

use env::*;

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod import_streams_polls_and_records_the_course, on);
async fn import_streams_polls_and_records_the_course(env: Env) -> Env {
    let (i, _, remote) = env.setup("at-launch", "form").await;
    env.fake.set_polls_before_done(2);
    let imported = env.import(&i, &remote, "course-1").await;
    assert_eq!(imported.title, "Safety Basics");
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    let poll = env.op("rustici.course.getAsyncImportResult", v2_ops::IMPORT_JOB);
    assert_eq!(
        env.fake.calls(),
        [
            env.op("rustici.course.importCourseAsync", v2_ops::IMPORT_UPLOAD),
            poll,
            poll,
            poll
        ],
        "polled until finished"
    );
    let size = fake_scorm_cloud::package("Safety Basics").len() as u64;
    assert_eq!(env.fake.course("course-1").map(|c| c.bytes), Some(size));
    // SCORM Cloud fetches a package itself: API V2 only
    let url = serve_once(fake_scorm_cloud::package("Fire Safety")).await;
    let fetched = import::import_from_url(
        &env.store,
        &remote,
        &i,
        "course-2",
        &url,
        fast_polls(),
        &Quiet,
    )
    .await;
    match env.api {
        ApiVersion::V1 => assert!(
            matches!(&fetched, Err(ScormError::Invalid(m)) if m.contains("api_version=v2")),
            "{fetched:?}"
        ),
        ApiVersion::V2 => {
            let fetched = fetched.expect("imported from the URL");
            assert_eq!(fetched.title, "Fire Safety");
            assert!(env.fake.calls().contains(&v2_ops::IMPORT_FETCH.to_owned()));
        }
    }
    let bad = import::import_from_url(
        &env.store,
        &remote,
        &i,
        "course-3",
        "ftp://x/p.zip",
        fast_polls(),
        &Quiet,
    )
    .await;
    assert!(matches!(bad, Err(ScormError::Invalid(_))), "{bad:?}");
    let mut tx = env.store.read().await.expect("read");
    let job = tx
        .import_job(&imported.token)
        .await
        .expect("job")
        .expect("recorded");
    assert_eq!(
        (job.status.as_str(), job.title.as_deref()),
        ("finished", Some("Safety Basics"))
    );
    let course = tx
        .course_by_id(imported.lms_course)
        .await
        .expect("course")
        .expect("LMS course record");
    assert_eq!(
        (
            course.integration_id.as_str(),
            course.external_id.as_str(),
            course.fields.name.as_str()
        ),
        (i.id.as_str(), "course-1", "Safety Basics")
    );
    drop(tx);

    // not a package: the job ends in error, nothing is recorded as a course
    let bad = env.package("bad.zip", b"this is not a zip");
    let err = import::import_package(
        &env.store,
        &remote,
        &i,
        "course-bad",
        &bad,
        fast_polls(),
        &Quiet,
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&err, ScormError::ImportFailed(m) if m.contains("not a zip")),
        "{err}"
    );
    let mut tx = env.store.read().await.expect("read");
    assert!(tx.scorm_course("course-bad").await.expect("read").is_none());
    // an id SCORM Cloud cannot store is refused before anything is sent
    let long = "x".repeat(256);
    let calls = env.fake.calls().len();
    drop(tx);
    assert!(matches!(
        import::import_package(&env.store, &remote, &i, &long, &bad, fast_polls(), &Quiet).await,
        Err(ScormError::Id(_))
    ));
    assert_eq!(env.fake.calls().len(), calls);
    env
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod a_refused_registration_is_not_recorded_as_created, on);
async fn a_refused_registration_is_not_recorded_as_created(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    env.fake
        .fail_next(env.create_op(), 503, "simulated refusal");
    // No names and no email to derive them from: refused before anything
    // is recorded or sent, naming the field.
    let nameless = Assignment {
        course_id: "course-1".into(),
        learner: "u-1".into(),
        registration_id: Some("reg-1".into()),
        ..Assignment::default()
    };
    let calls = env.fake.calls().len();
    let err = registrations::assign(&env.store, &remote, &settings, &nameless)
        .await
        .expect_err("no names");
    assert!(
        matches!(&err, ScormError::Invalid(m) if m.starts_with("first_name: required")),
        "{err}"
    );
    assert_eq!(env.fake.calls().len(), calls, "nothing sent");
    {
        let mut tx = env.store.read().await.expect("read");
        assert!(tx.registration("reg-1").await.expect("read").is_none());
    }
    let a = Assignment {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        ..nameless
    };
    let err = registrations::assign(&env.store, &remote, &settings, &a)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("simulated refusal"), "{err}");
    {
        let mut tx = env.store.read().await.expect("read");
        let kept = tx.registration("reg-1").await.expect("read");
        assert!(
            kept.as_ref().is_some_and(|r| r.remote_created_ms.is_none()),
            "the assignment is kept, not recorded as created remotely"
        );
        assert!(
            kept.is_some_and(|r| r.postback_secret_hash.is_empty()),
            "a refusal is no unknown outcome: the next attempt does not ask, it creates"
        );
    }
    assert!(env.fake.registration("reg-1").is_none());
    // again, accepted: local and remote agree, with postback settings
    let ok = registrations::assign(&env.store, &remote, &settings, &a)
        .await
        .expect("assigned");
    assert!(ok.created && ok.registration.remote_created_ms.is_some());
    let remote_reg = env.fake.registration("reg-1").expect("in SCORM Cloud");
    assert_eq!(
        (
            remote_reg.first_name.as_str(),
            remote_reg.last_name.as_str()
        ),
        ("Ada", "Lovelace"),
        "created with the assignment's names"
    );
    let pb = remote_reg.postback.expect("postback settings");
    assert_eq!(pb.url, "http://127.0.0.1:9/scorm/postback");
    assert_eq!((pb.user.as_str(), pb.auth.as_str()), ("reg-1", "form"));
    assert!(
        scorm_flows::verify_secret(&pb.password, &ok.registration.postback_secret_hash),
        "only the hash of the postback password is stored"
    );
    assert_ne!(ok.registration.postback_secret_hash, pb.password);
    // assigning again gives the same registration, with no second remote call
    let calls = env.fake.calls().len();
    let again = registrations::assign(&env.store, &remote, &settings, &a)
        .await
        .expect("again");
    assert!(!again.created);
    assert_eq!(again.registration.registration_id, "reg-1");
    assert_eq!(env.fake.calls().len(), calls);
    env
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod launch_creates_lazily_and_signs_at_launch_time, on);
async fn launch_creates_lazily_and_signs_at_launch_time(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-launch", "form").await;
    env.import(&i, &remote, "course-1").await;
    let assigned = registrations::assign(
        &env.store,
        &remote,
        &settings,
        &Assignment {
            course_id: "course-1".into(),
            learner: "u-1".into(),
            email: Some("ada.lovelace@example.com".into()),
            ..Assignment::default()
        },
    )
    .await
    .expect("assign");
    let id = assigned.registration.registration_id.clone();
    assert!(assigned.registration.remote_created_ms.is_none());
    assert!(
        env.fake.registration(&id).is_none(),
        "not created before the launch"
    );
    // another learner's link is refused
    let err = registrations::launch(
        &env.store,
        &remote,
        &settings,
        &id,
        &who("u-2"),
        "https://back.example/",
    )
    .await
    .expect_err("not theirs");
    assert!(matches!(err, ScormError::Forbidden(_)));
    // a refused creation at launch rolls back and can be tried again
    env.fake.fail_next(env.create_op(), 503, "busy");
    assert!(
        registrations::launch(
            &env.store,
            &remote,
            &settings,
            &id,
            &who("u-1"),
            "https://back.example/"
        )
        .await
        .is_err()
    );
    assert!(env.fake.registration(&id).is_none());
    let url = registrations::launch(
        &env.store,
        &remote,
        &settings,
        &id,
        &who("u-1"),
        "https://back.example/r",
    )
    .await
    .expect("launch");
    let created = env
        .fake
        .registration(&id)
        .expect("created at the first launch");
    assert_eq!(
        (created.first_name.as_str(), created.last_name.as_str()),
        ("ada.lovelace", "example.com"),
        "with the names kept at assignment (derived from the email, none given)"
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    if env.api == ApiVersion::V1 {
        v1_launch_urls_are_signed_at_launch(&env, &http, &url, &remote, &settings, &id).await;
    } else {
        // V2: a launch link SCORM Cloud made now, valid for minutes only
        let r = http.get(&url).send().await.expect("launch");
        assert_eq!(r.status().as_u16(), 200, "{url}");
        assert!(r.text().await.expect("body").contains("Playing"));
        env.fake.set_clock_offset(5 * 60);
        let r = http.get(&url).send().await.expect("late launch");
        assert_eq!(r.status().as_u16(), 403, "an expired launch link");
        env.fake.set_clock_offset(0);
        // a second launch does not create again: it asks for a new link
        let before = env.fake.calls().len();
        registrations::launch(
            &env.store,
            &remote,
            &settings,
            &id,
            &who("u-1"),
            "https://back.example/r",
        )
        .await
        .expect("launch again");
        assert_eq!(env.fake.calls()[before..], [v2_ops::LAUNCH_LINK]);
    }
    let view = results::view(&env.store, &id).await.expect("view");
    let stats = view.statistics.expect("statistics");
    assert!(stats["first_activity_at"].is_string(), "{stats}");
    assert_eq!(stats["attempts"].as_array().map(Vec::len), Some(1));
    // seed 003's lazy workflow: assign on the way, then launch
    let id2 = self::assigned(&env, &settings, &remote, "u-3")
        .await
        .registration_id;
    registrations::launch(
        &env.store,
        &remote,
        &settings,
        &id2,
        &who("u-3"),
        "https://back.example/",
    )
    .await
    .expect("launch course");
    assert!(env.fake.registration(&id2).is_some());
    env
}

/// API V1's launch URLs are signed here, at launch time: the fake checks the
/// signature and the 15-minute window, so a URL is good now and not 16
/// minutes later, a second launch calls nothing, and a client with a skewed
/// clock makes URLs SCORM Cloud refuses.
async fn v1_launch_urls_are_signed_at_launch(
    env: &Env,
    http: &reqwest::Client,
    url: &str,
    remote: &Remote,
    settings: &Settings,
    id: &str,
) {
    let r = http.get(url).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let player = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(player.contains("/player/"), "{player}");
    env.fake.set_clock_offset(16 * 60);
    let r = http.get(url).send().await.expect("late launch");
    let body = r.text().await.expect("body");
    assert!(body.contains("outside of expiration limit"), "{body}");
    env.fake.set_clock_offset(0);
    let calls = env.fake.calls();
    registrations::launch(
        &env.store,
        remote,
        settings,
        id,
        &who("u-1"),
        "https://back.example/r",
    )
    .await
    .expect("launch again");
    assert_eq!(env.fake.calls(), calls, "the launch URL is signed locally");
    let skewed = remote.clone().with_clock(Arc::new(|| {
        time::OffsetDateTime::now_utc() - time::Duration::minutes(20)
    }));
    let url = skewed
        .client
        .launch_url(id, "https://back.example/r", skewed.now());
    let body = http
        .get(&url)
        .send()
        .await
        .expect("skewed")
        .text()
        .await
        .expect("body");
    assert!(body.contains("outside of expiration limit"), "{body}");
}
