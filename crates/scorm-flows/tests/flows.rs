//! The SCORM Cloud flows against the fake SCORM Cloud on loopback (which
//! checks every signature and the 15-minute window, and every parameter the
//! API requires), on API V1 and API V2 — every check runs once on each —
//! on SQLite and — with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL —
//! PostgreSQL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fake_scorm_cloud::{FakeScormCloud, v2_ops};
use scorm_flows::import::{self, Quiet};
use scorm_flows::registrations::{self, Assignment, Launcher};
use scorm_flows::results::{self, Applied};
use scorm_flows::{ApiVersion, Remote, ScormError, Settings};
use serde_json::json;
use stats_rules::{EntryPoint, Override};
use store::{Integration, Store};
use testkit::{Engine, TestDatabase};

const SECRET: &str = "fake-secret-key";

struct Env {
    store: Store,
    fake: FakeScormCloud,
    dir: std::path::PathBuf,
    /// The API the integration speaks in this run.
    api: ApiVersion,
}

impl Env {
    /// The fake's name of an operation, by API version (for `fail_next` and
    /// the calls log).
    fn op(&self, v1: &'static str, v2: &'static str) -> &'static str {
        match self.api {
            ApiVersion::V1 => v1,
            ApiVersion::V2 => v2,
        }
    }

    fn create_op(&self) -> &'static str {
        self.op(
            "rustici.registration.createRegistration",
            v2_ops::CREATE_REGISTRATION,
        )
    }

    /// The report a postback of this registration would carry now.
    fn report(&self, id: &str) -> String {
        match self.api {
            ApiVersion::V1 => self.fake.report(id),
            ApiVersion::V2 => self.fake.report_v2(id),
        }
        .expect("report")
    }

    fn integration(&self, creation: &str, auth: &str) -> Integration {
        Integration {
            id: format!("scorm-{creation}"),
            provider: "scorm-cloud".into(),
            lms_group: "g1".into(),
            connector_author: "admin@acme.example".into(),
            settings: json!({
                "api_version": match self.api { ApiVersion::V1 => "v1", ApiVersion::V2 => "v2" },
                "base_url": match self.api {
                    ApiVersion::V1 => self.fake.api_url(),
                    ApiVersion::V2 => self.fake.api_v2_url(),
                },
                "app_id": "APP1",
                "secret_env": "FAKE_SCORM_SECRET",
                "public_url": "http://127.0.0.1:9/",
                "registrations": creation,
                "postback_auth": auth,
            }),
            active: true,
            created_ms: 0,
            updated_ms: 0,
            deactivated_ms: None,
        }
    }

    async fn setup(&self, creation: &str, auth: &str) -> (Integration, Settings, Remote) {
        let i = self.integration(creation, auth);
        let mut tx = self.store.begin().await.expect("begin");
        if tx.integration(&i.id).await.expect("read").is_none() {
            tx.insert_integration(&i).await.expect("integration");
        }
        tx.commit().await.expect("commit");
        let settings = Settings::from_integration(&i, &|name| {
            (name == "FAKE_SCORM_SECRET").then(|| SECRET.to_owned())
        })
        .expect("settings");
        let remote = Remote::new(&settings, scorm_flows::http_client().expect("http"));
        (i, settings, remote)
    }

    fn package(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).expect("write package");
        p
    }

    async fn import(&self, i: &Integration, remote: &Remote, course: &str) -> import::Imported {
        let p = self.package(
            &format!("{course}.zip"),
            &fake_scorm_cloud::package("Safety Basics"),
        );
        import::import_package(&self.store, remote, i, course, &p, fast_polls(), &Quiet)
            .await
            .expect("import")
    }
}

/// Serves `body` over HTTP on loopback to whoever asks (the fake, for an
/// import from a URL); the URL.
async fn serve_once(body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}/package.zip")
}

fn fast_polls() -> Vec<Duration> {
    vec![Duration::from_millis(10); 5]
}

fn who(learner: &str) -> Launcher {
    Launcher {
        learner: learner.into(),
        email: Some(format!("{learner}@example.com")),
        entry: EntryPoint::Catalog,
    }
}

/// Runs a check on a fresh, migrated store with the fake SCORM Cloud, once
/// on API V1 and once on API V2.
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: Fn(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let db = TestDatabase::create(engine, "scorm").await;
        let store = db.open().await;
        let fake = FakeScormCloud::start("APP1", SECRET).await.expect("fake");
        let dir = db.dir().to_path_buf();
        let env = check(Env {
            store,
            fake,
            dir,
            api,
        })
        .await;
        env.store.close().await;
        db.remove().await;
    }
}

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
async fn assigned(
    env: &Env,
    settings: &Settings,
    remote: &Remote,
    learner: &str,
) -> store::Registration {
    registrations::assign(
        &env.store,
        remote,
        settings,
        &Assignment {
            course_id: "course-1".into(),
            learner: learner.into(),
            first_name: "Test".into(),
            last_name: format!("Learner {learner}"),
            ..Assignment::default()
        },
    )
    .await
    .expect("assign")
    .registration
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod postbacks_are_authenticated_idempotent_and_order_safe, on);
async fn postbacks_are_authenticated_idempotent_and_order_safe(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let reg = assigned(&env, &settings, &remote, "u-1").await;
    let id = reg.registration_id.clone();
    let pb = env
        .fake
        .registration(&id)
        .and_then(|r| r.postback)
        .expect("postback");
    let form = |xml: &str, password: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", xml)
            .append_pair("username", &id)
            .append_pair("password", password)
            .finish()
    };
    let post = |body: String| {
        let store = env.store.clone();
        async move {
            results::accept_postback(
                &store,
                Some("application/x-www-form-urlencoded"),
                None,
                body.as_bytes(),
                time::OffsetDateTime::now_utc(),
            )
            .await
        }
    };
    env.fake
        .update(&id, "incomplete", "unknown", None, 120.0)
        .expect("update");
    let early = env.report(&id);
    env.fake
        .update(&id, "complete", "passed", Some(88.0), 600.0)
        .expect("update");
    let late = env.report(&id);
    // wrong password: refused, nothing stored
    let err = post(form(&late, "wrong")).await.expect_err("refused");
    assert!(err.to_string().contains("do not match"), "{err}");
    // the complete report first …
    let (_, applied) = post(form(&late, &pb.password)).await.expect("postback");
    let Applied::Recorded { stats } = applied else {
        panic!("expected recorded, got {applied:?}")
    };
    assert!(stats.completed);
    assert_eq!(stats.score, Some(88.0));
    assert_eq!(stats.time_spent_ms, Some(600_000));
    // … the same again is harmless, the older one delivered late is ignored
    assert_eq!(
        post(form(&late, &pb.password)).await.expect("dup").1,
        Applied::Unchanged
    );
    assert_eq!(
        post(form(&early, &pb.password)).await.expect("old").1,
        Applied::Stale
    );
    let view = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        view.result.as_ref().map(|r| r.total_time_secs),
        Some(Some(600.0))
    );
    assert_eq!(
        view.statistics.as_ref().map(|s| s["score"].clone()),
        Some(json!(88.0))
    );
    // a report about another registration, with this one's credentials: refused
    let other = assigned(&env, &settings, &remote, "u-2").await;
    env.fake
        .update(
            &other.registration_id,
            "complete",
            "failed",
            Some(10.0),
            50.0,
        )
        .expect("update");
    let foreign = env.report(&other.registration_id);
    assert!(matches!(
        post(form(&foreign, &pb.password)).await,
        Err(ScormError::Forbidden(_))
    ));
    // httpbasic delivery, without the <rsp> wrapper
    let (_, settings_b, remote_b) = env.setup("at-assignment", "httpbasic").await;
    let _ = (settings_b, remote_b);
    let (content_type, inner) = match env.api {
        ApiVersion::V1 => (
            "text/xml",
            late.split_once("<rsp stat=\"ok\">")
                .and_then(|(_, r)| r.strip_suffix("</rsp>"))
                .expect("wrapped"),
        ),
        // V2's httpbasic postbacks are the JSON itself
        ApiVersion::V2 => ("application/json", late.as_str()),
    };
    let auth = format!("Basic {}", base64_encode(&format!("{id}:{}", pb.password)));
    let (_, applied) = results::accept_postback(
        &env.store,
        Some(content_type),
        Some(&auth),
        inner.as_bytes(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("httpbasic");
    assert_eq!(
        applied,
        Applied::Unchanged,
        "same state as the form delivery"
    );
    env
}

fn base64_encode(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod refresh_and_override_share_the_result_path, on);
async fn refresh_and_override_share_the_result_path(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let reg = assigned(&env, &settings, &remote, "u-1").await;
    let id = reg.registration_id.clone();
    // the postback was lost: a refresh fetches the state
    env.fake
        .update(&id, "incomplete", "unknown", Some(40.0), 300.0)
        .expect("update");
    let applied = results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh");
    assert!(matches!(applied, Applied::Recorded { .. }), "{applied:?}");
    assert_eq!(
        results::refresh(&env.store, &remote, &id)
            .await
            .expect("again"),
        Applied::Unchanged
    );
    // a reset arrives through refresh, which is authoritative
    env.fake
        .update(&id, "unknown", "unknown", None, 0.0)
        .expect("reset");
    assert!(matches!(
        results::refresh(&env.store, &remote, &id)
            .await
            .expect("after reset"),
        Applied::Recorded { .. }
    ));
    // --all-stale: everything SCORM Cloud knows that is older than the bound
    let other = assigned(&env, &settings, &remote, "u-2").await;
    env.fake
        .update(
            &other.registration_id,
            "complete",
            "passed",
            Some(95.0),
            900.0,
        )
        .expect("update");
    let refreshed = results::refresh_stale(&env.store, &remote, &settings, 0, 100)
        .await
        .expect("stale");
    let ids: Vec<&str> = refreshed.iter().map(|r| r.registration.as_str()).collect();
    assert!(ids.contains(&other.registration_id.as_str()), "{ids:?}");
    assert!(refreshed.iter().all(|r| r.result.is_ok()), "{refreshed:?}");
    let v = results::view(&env.store, &other.registration_id)
        .await
        .expect("view");
    assert_eq!(
        v.statistics.as_ref().map(|s| s["completed"].clone()),
        Some(json!(true))
    );
    // an administrator forces completion and a score
    let stats = results::set_override(
        &env.store,
        &id,
        &Override {
            complete: true,
            success: Some(true),
            score: Some(100.0),
            by: "admin@acme.example".into(),
            reason: Some("completed on paper".into()),
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("override");
    assert!(stats.completed && stats.overridden.is_some());
    assert_eq!(stats.score, Some(100.0));
    let v = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        v.overridden.as_ref().map(|o| o.by.as_str()),
        Some("admin@acme.example")
    );
    // the override holds against later reports
    env.fake
        .update(&id, "incomplete", "failed", Some(20.0), 400.0)
        .expect("update");
    let Applied::Recorded { stats } = results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh")
    else {
        panic!("recorded")
    };
    assert_eq!((stats.completed, stats.score), (true, Some(100.0)));
    assert!(
        results::set_override(
            &env.store,
            &id,
            &Override {
                complete: false,
                success: None,
                score: Some(101.0),
                by: "a".into(),
                reason: None
            },
            time::OffsetDateTime::now_utc()
        )
        .await
        .is_err()
    );
    env
}

testkit::both!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] mod reset_and_delete_reach_both_sides, on);
async fn reset_and_delete_reach_both_sides(env: Env) -> Env {
    let (i, settings, remote) = env.setup("at-assignment", "form").await;
    env.import(&i, &remote, "course-1").await;
    let id = assigned(&env, &settings, &remote, "u-1")
        .await
        .registration_id;
    env.fake
        .update(&id, "complete", "passed", Some(80.0), 300.0)
        .expect("update");
    results::refresh(&env.store, &remote, &id)
        .await
        .expect("refresh");
    // reset: SCORM Cloud clears the progress; its state is stored at once
    let applied = registrations::reset(&env.store, &remote, &id)
        .await
        .expect("reset");
    assert!(matches!(applied, Applied::Recorded { .. }), "{applied:?}");
    let op = env.op(
        "rustici.registration.resetRegistration",
        v2_ops::RESET_REGISTRATION,
    );
    assert!(
        env.fake.calls().iter().any(|c| c == op),
        "{:?}",
        env.fake.calls()
    );
    let remote_reg = env.fake.registration(&id).expect("still there");
    assert_eq!(remote_reg.complete, "unknown");
    let view = results::view(&env.store, &id).await.expect("view");
    assert_eq!(
        view.result.map(|r| r.total_time_secs),
        Some(Some(0.0)),
        "the reset state is stored"
    );
    // delete: gone from SCORM Cloud and here; assigning again makes a new one
    registrations::delete(&env.store, &remote, &id)
        .await
        .expect("delete");
    assert!(env.fake.registration(&id).is_none());
    assert!(matches!(
        results::view(&env.store, &id).await,
        Err(ScormError::NotFound(_))
    ));
    let again = assigned(&env, &settings, &remote, "u-1").await;
    assert_ne!(again.registration_id, id);
    assert!(env.fake.registration(&again.registration_id).is_some());

    // a registration not in SCORM Cloud (its creation refused): nothing to
    // reset; deleted here only
    env.fake.fail_next(env.create_op(), 503, "busy");
    let kept = registrations::assign(
        &env.store,
        &remote,
        &settings,
        &Assignment {
            course_id: "course-1".into(),
            learner: "u-9".into(),
            first_name: "Lazy".into(),
            last_name: "Learner".into(),
            registration_id: Some("reg-9".into()),
            ..Assignment::default()
        },
    )
    .await;
    assert!(kept.is_err(), "{kept:?}");
    let err = registrations::reset(&env.store, &remote, "reg-9")
        .await
        .expect_err("not there");
    assert!(matches!(err, ScormError::Conflict(_)), "{err}");
    registrations::delete(&env.store, &remote, "reg-9")
        .await
        .expect("deleted here");
    assert!(matches!(
        results::view(&env.store, "reg-9").await,
        Err(ScormError::NotFound(_))
    ));
    let err = registrations::reset(&env.store, &remote, "no-such-registration")
        .await
        .expect_err("unknown");
    assert!(matches!(err, ScormError::NotFound(_)), "{err}");
    env
}
