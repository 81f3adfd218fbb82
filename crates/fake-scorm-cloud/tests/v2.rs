//! The fake's API V2, driven with the requests `scorm_cloud_client::v2::ClientV2`
//! builds and read with its parsers. Postbacks: `tests/v2_postbacks.rs`.

mod common;

use axum::Router;
use axum::routing::get;
use fake_scorm_cloud::{ApiVersion, FakeScormCloud, v2_ops};
use reqwest::Method as HttpMethod;
use scorm_cloud_client::v2::{self, ClientV2};
use scorm_cloud_client::{Completion, Error, ErrorCode, ImportStatus, Success};
use serde_json::json;

use common::{APP, SECRET, env, registration};

#[tokio::test]
async fn calls_without_the_right_basic_credentials_are_refused() {
    let env = env().await;
    let base = env.fake.api_v2_url();
    let url = env.client.registration("reg-1").url;

    let none = env.http.get(&url).send().await.expect("send");
    assert_eq!(none.status().as_u16(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let body = none.bytes().await.expect("body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON error body");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );

    let wrong_secret = ClientV2::new(base.parse().expect("url"), APP, "guess");
    let wrong_app = ClientV2::new(base.parse().expect("url"), "other-app", SECRET);
    for client in [&wrong_secret, &wrong_app] {
        let a = env.send(&client.registration("reg-1")).await;
        assert_eq!(a.status, 401, "{a:?}");
        assert!(a.content_type.starts_with("application/json"), "{a:?}");
        assert!(!a.message().is_empty());
        let head = env.send(&client.registration_exists("reg-1")).await;
        assert!(v2::parse_exists(head.status).is_err(), "{head:?}");
    }
    let bearer = env
        .http
        .get(&url)
        .header("authorization", "Bearer abc")
        .send()
        .await
        .expect("send");
    assert_eq!(bearer.status().as_u16(), 401);
    let unknown_route = env
        .http
        .get(format!("{base}nothing/here"))
        .send()
        .await
        .expect("send");
    assert_eq!(unknown_route.status().as_u16(), 401);
    assert!(env.fake.calls().is_empty(), "{:?}", env.fake.calls());

    let ok = env.send(&env.client.registration("reg-1")).await;
    assert_eq!(ok.status, 404, "authenticated: the registration is unknown");
    assert_eq!(env.fake.calls(), [v2_ops::REGISTRATION_PROGRESS]);
}

async fn poll(env: &common::Env, job: &str) -> scorm_cloud_client::ImportJob {
    let a = env.send(&env.client.import_job(job)).await;
    v2::parse_import_job(a.status, &a.body).expect("a job")
}

#[tokio::test]
async fn an_uploaded_package_becomes_a_course_through_its_job() {
    let env = env().await;
    env.fake.set_polls_before_done(2);
    let upload = env.client.import_upload("course 1").expect("valid");
    let a = env
        .upload(&upload, fake_scorm_cloud::package("Safety Basics"))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    assert_eq!(poll(&env, &job).await.status, ImportStatus::Running);
    assert_eq!(poll(&env, &job).await.status, ImportStatus::Running);
    assert!(env.fake.course("course 1").is_none_or(|c| c.versions == 0));
    let done = poll(&env, &job).await;
    assert_eq!(done.status, ImportStatus::Finished, "{done:?}");
    assert_eq!(done.results.len(), 1);
    assert_eq!(done.results[0].title.as_deref(), Some("Safety Basics"));
    assert!(done.results[0].warnings.is_empty());
    let course = env.fake.course("course 1").expect("imported");
    assert_eq!(
        (course.title.as_str(), course.versions),
        ("Safety Basics", 1)
    );

    // an unknown job is a 404 with a message
    let a = env.send(&env.client.import_job("job-9999")).await;
    assert_eq!(a.status, 404);
    assert!(a.message().contains("job-9999"), "{a:?}");

    // a course that exists is not replaced without mayCreateNewVersion
    // (which the client sends: take it out)
    assert!(
        upload.url.contains("&mayCreateNewVersion=true"),
        "{}",
        upload.url
    );
    let mut no_new_version = upload.clone();
    no_new_version.url = upload.url.replace("&mayCreateNewVersion=true", "");
    env.fake.set_polls_before_done(0);
    let a = env
        .upload(
            &no_new_version,
            fake_scorm_cloud::package("Safety Basics II"),
        )
        .await;
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    let refused = poll(&env, &job).await;
    assert_eq!(refused.status, ImportStatus::Error, "{refused:?}");
    assert!(
        refused
            .message
            .as_deref()
            .is_some_and(|m| m.contains("mayCreateNewVersion")),
        "{refused:?}"
    );
    assert_eq!(
        env.fake.course("course 1").expect("kept").title,
        "Safety Basics"
    );
    let a = env
        .upload(&upload, fake_scorm_cloud::package("Safety Basics II"))
        .await;
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    assert_eq!(poll(&env, &job).await.status, ImportStatus::Finished);
    let course = env.fake.course("course 1").expect("imported");
    assert_eq!(
        (course.title.as_str(), course.versions),
        ("Safety Basics II", 2)
    );

    // not a package: the job ends in ERROR, and no course is left behind
    let broken = env.client.import_upload("broken").expect("valid");
    let a = env.upload(&broken, b"not a zip".to_vec()).await;
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    let failed = poll(&env, &job).await;
    assert_eq!(failed.status, ImportStatus::Error);
    assert!(failed.message.is_some_and(|m| m.contains("zip")));
    assert!(env.fake.course("broken").is_none());
}

#[tokio::test]
async fn uploads_missing_the_course_id_or_the_file_part_are_refused() {
    let env = env().await;
    let upload = env.client.import_upload("c-1").expect("valid");
    let a = env
        .upload_as(&upload, "filedata", fake_scorm_cloud::package("X"))
        .await;
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.message().contains("'file'"), "{a:?}");

    let mut no_course = upload.clone();
    no_course.url = format!("{}courses/importJobs/upload", env.fake.api_v2_url());
    let a = env.upload(&no_course, fake_scorm_cloud::package("X")).await;
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.message().contains("courseId"), "{a:?}");

    let a = env
        .raw(
            HttpMethod::POST,
            "courses/importJobs/upload?courseId=c-1",
            "application/zip",
            "PK",
        )
        .await;
    assert_eq!(a.status, 415, "{a:?}");
    assert!(env.fake.course("c-1").is_none());
    assert_eq!(env.fake.last_token(), None, "no job was started");
}

#[tokio::test]
async fn a_package_at_a_url_is_fetched_and_imported() {
    let env = env().await;
    env.fake.set_polls_before_done(0);
    let files = common::serve(Router::new().route(
        "/pkg.zip",
        get(|| async { fake_scorm_cloud::package("Fetched Course") }),
    ))
    .await;

    let r = env
        .client
        .import_from_url("c-url", &format!("http://{files}/pkg.zip"))
        .expect("valid");
    let a = env.send(&r).await;
    assert_eq!(a.status, 200, "{a:?}");
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    let done = poll(&env, &job).await;
    assert_eq!(done.status, ImportStatus::Finished, "{done:?}");
    assert_eq!(done.results[0].title.as_deref(), Some("Fetched Course"));
    assert_eq!(env.fake.course("c-url").expect("imported").versions, 1);

    // a URL that answers 404: the job ends in ERROR
    let r = env
        .client
        .import_from_url("c-missing", &format!("http://{files}/missing.zip"))
        .expect("valid");
    let a = env.send(&r).await;
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    let failed = poll(&env, &job).await;
    assert_eq!(failed.status, ImportStatus::Error);
    assert!(failed.message.is_some_and(|m| m.contains("404")));
    assert!(env.fake.course("c-missing").is_none());

    // the body: {url}, an http(s) URL, sent as JSON
    let a = env
        .post_json("courses/importJobs?courseId=c-2", &json!({}))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("'url'"), "{a:?}");
    let a = env
        .post_json(
            "courses/importJobs?courseId=c-2",
            &json!({"url": "ftp://files/pkg.zip"}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("'url'"), "{a:?}");
    let a = env
        .post_json("courses/importJobs", &json!({"url": "http://x/p.zip"}))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("courseId"), "{a:?}");
    let a = env
        .raw(
            HttpMethod::POST,
            "courses/importJobs?courseId=c-2",
            "text/plain",
            r#"{"url": "http://x/p.zip"}"#,
        )
        .await;
    assert_eq!(a.status, 415, "{a:?}");
}

#[tokio::test]
async fn registrations_need_their_required_fields_and_a_fresh_id() {
    let env = env().await;
    env.fake.add_course("c-1", "Course One");

    // names are optional in V2
    env.register(&registration("r-1", "c-1", "u-1")).await;
    let r = env.fake.registration("r-1").expect("created");
    assert_eq!(
        (r.course_id.as_str(), r.learner_id.as_str()),
        ("c-1", "u-1")
    );
    assert_eq!((r.first_name.as_str(), r.last_name.as_str()), ("", ""));
    assert_eq!(r.api, ApiVersion::V2);
    let mut named = registration("r-2", "c-1", "u-2");
    named.first_name = "Ada".into();
    named.last_name = "Lovelace".into();
    named.email = Some("ada@example.com".into());
    env.register(&named).await;
    let r = env.fake.registration("r-2").expect("created");
    assert_eq!(
        (r.first_name.as_str(), r.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(r.email.as_deref(), Some("ada@example.com"));

    let long = "x".repeat(256);
    let refused = [
        (
            json!({"registrationId": "r-9", "learner": {"id": "u"}}),
            "'courseId'",
        ),
        (
            json!({"courseId": "c-1", "learner": {"id": "u"}}),
            "'registrationId'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "r-9"}),
            "'learner'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "r-9", "learner": {"firstName": "A"}}),
            "'learner.id'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "", "learner": {"id": "u"}}),
            "'registrationId'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": long, "learner": {"id": "u"}}),
            "'registrationId'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": 9, "learner": {"id": "u"}}),
            "'registrationId'",
        ),
        (
            json!({"courseId": "nope", "registrationId": "r-9", "learner": {"id": "u"}}),
            "'courseId'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "r-9", "learner": {"id": "u"},
                   "postBack": {"url": "http://lms/pb", "authType": "digest"}}),
            "'postBack.authType'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "r-9", "learner": {"id": "u"},
                   "postBack": {"url": "http://lms/pb", "resultsFormat": "summary"}}),
            "'postBack.resultsFormat'",
        ),
        (
            json!({"courseId": "c-1", "registrationId": "r-9", "learner": {"id": "u"},
                   "postBack": {"url": "not a url"}}),
            "'postBack.url'",
        ),
    ];
    for (body, field) in refused {
        let a = env.post_json("registrations", &body).await;
        assert_eq!(a.status, 400, "{body}: {a:?}");
        assert!(a.message().contains(field), "{body}: {a:?}");
    }
    assert!(env.fake.registration("r-9").is_none());

    // a duplicate id is a 400, and the first registration is kept
    let dup = env
        .send(
            &env.client
                .create_registration(&registration("r-1", "c-1", "u-other"))
                .expect("valid"),
        )
        .await;
    assert_eq!(dup.status, 400, "{dup:?}");
    assert!(dup.message().contains("already exists"), "{dup:?}");
    assert_eq!(
        env.fake.registration("r-1").expect("kept").learner_id,
        "u-1"
    );

    let a = env
        .raw(HttpMethod::POST, "registrations", "text/plain", "{}")
        .await;
    assert_eq!(a.status, 415);
    let a = env
        .raw(
            HttpMethod::POST,
            "registrations",
            "application/json",
            "{nope",
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(env.fake.registration_ids(), ["r-1", "r-2"]);
}

#[tokio::test]
async fn registrations_exist_report_progress_reset_and_go() {
    let env = env().await;
    env.fake.add_course("c-1", "Course One");
    env.register(&registration("r 1/a", "c-1", "u-1")).await;
    let c = &env.client;

    let head = env.send(&c.registration_exists("r 1/a")).await;
    assert_eq!(v2::parse_exists(head.status), Ok(true));
    assert!(head.body.is_empty());
    let head = env.send(&c.registration_exists("r-2")).await;
    assert_eq!(v2::parse_exists(head.status), Ok(false));

    let a = env.send(&c.registration("r 1/a")).await;
    let fresh = v2::parse_registration(a.status, &a.body).expect("progress");
    assert_eq!(fresh.registration_id.as_deref(), Some("r 1/a"));
    assert_eq!(
        (fresh.complete, fresh.success, fresh.score),
        (Completion::Unknown, Success::Unknown, None)
    );

    let sent = env
        .fake
        .progress("r 1/a", "complete", "passed", Some(90.0), 600.0)
        .await;
    assert_eq!(sent, Ok(None), "no postback configured");
    let a = env.send(&c.registration("r 1/a")).await;
    assert!(a.content_type.starts_with("application/json"));
    let done = v2::parse_registration(a.status, &a.body).expect("progress");
    assert_eq!(done.complete, Completion::Complete);
    assert_eq!(done.success, Success::Passed);
    assert_eq!(done.score, Some(90.0));
    assert_eq!(done.total_time_secs, Some(600.0));

    let a = env.send(&c.reset_registration("r 1/a")).await;
    assert_eq!(a.status, 204, "{a:?}");
    let a = env.send(&c.registration("r 1/a")).await;
    let reset = v2::parse_registration(a.status, &a.body).expect("progress");
    assert_eq!((reset.complete, reset.score), (Completion::Unknown, None));
    assert_eq!(reset.total_time_secs, Some(0.0));

    let a = env.send(&c.delete_registration("r 1/a")).await;
    assert_eq!(a.status, 204, "{a:?}");
    assert!(env.fake.registration("r 1/a").is_none());
    let head = env.send(&c.registration_exists("r 1/a")).await;
    assert_eq!(v2::parse_exists(head.status), Ok(false));
    for r in [
        c.registration("r 1/a"),
        c.delete_registration("r 1/a"),
        c.reset_registration("r 1/a"),
    ] {
        let a = env.send(&r).await;
        assert_eq!(a.status, 404, "{r:?}: {a:?}");
        assert!(a.message().contains("r 1/a"), "{a:?}");
    }
    let a = env.send(&c.registration("r 1/a")).await;
    assert!(matches!(
        v2::parse_registration(a.status, &a.body),
        Err(Error::Api {
            code: ErrorCode::Other(404),
            ..
        })
    ));
}

#[tokio::test]
async fn launch_links_need_a_return_url_and_an_expiry_from_10_to_300_seconds() {
    let env = env().await;
    env.fake.add_course("c-1", "Course One");
    env.register(&registration("r-1", "c-1", "u-1")).await;

    let back = "http://lms.example/scorm/return/r-1";
    for (body, field) in [
        (json!({"expiry": 60}), "'redirectOnExitUrl'"),
        (json!({"redirectOnExitUrl": back, "expiry": 9}), "'expiry'"),
        (
            json!({"redirectOnExitUrl": back, "expiry": 301}),
            "'expiry'",
        ),
        (
            json!({"redirectOnExitUrl": back, "expiry": "60"}),
            "'expiry'",
        ),
    ] {
        let a = env.post_json("registrations/r-1/launchLink", &body).await;
        assert_eq!(a.status, 400, "{body}: {a:?}");
        assert!(a.message().contains(field), "{body}: {a:?}");
    }
    let a = env.send(&env.client.launch_link("r-2", back, 60)).await;
    assert_eq!(a.status, 404, "{a:?}");

    let a = env.send(&env.client.launch_link("r-1", back, 60)).await;
    let link = v2::parse_launch_link(a.status, &a.body).expect("a link");
    assert!(
        link.starts_with(&format!("http://{}/player/r-1?", env.fake.addr())),
        "{link}"
    );
    let page = env.http.get(&link).send().await.expect("player");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.expect("page");
    assert!(page.contains("Playing c-1 for u-1"), "{page}");
    assert!(page.contains(back), "the player links back: {page}");

    // the link expires with the fake's clock
    env.fake.set_clock_offset(61);
    let late = env.http.get(&link).send().await.expect("player");
    assert_eq!(late.status().as_u16(), 403);
}

#[tokio::test]
async fn injected_failures_answer_v2_calls_with_their_status() {
    let env = env().await;
    assert_eq!(v2_ops::CREATE_REGISTRATION, "v2 POST /registrations");
    env.fake.add_course("c-1", "Course One");
    let create = env
        .client
        .create_registration(&registration("r-1", "c-1", "u-1"))
        .expect("valid");

    env.fake
        .fail_next("v2 POST /registrations", 503, "maintenance");
    let a = env.send(&create).await;
    assert_eq!(a.status, 503, "{a:?}");
    assert_eq!(a.message(), "maintenance");
    assert!(env.fake.registration("r-1").is_none());
    env.register(&registration("r-1", "c-1", "u-1")).await;

    env.fake.fail_next(v2_ops::LAUNCH_LINK, 409, "conflict");
    let a = env
        .send(&env.client.launch_link("r-1", "http://lms/back", 60))
        .await;
    assert_eq!((a.status, a.message().as_str()), (409, "conflict"));
    env.fake.fail_next(v2_ops::REGISTRATION_EXISTS, 500, "");
    let a = env.send(&env.client.registration_exists("r-1")).await;
    assert_eq!(a.status, 500);
    env.fake
        .fail_next(v2_ops::IMPORT_JOB, 42, "not an HTTP status");
    let a = env.send(&env.client.import_job("job-0001")).await;
    assert_eq!(a.status, 500, "{a:?}");
    assert_eq!(a.message(), "not an HTTP status");
    // a V1 name does not fail the V2 call
    env.fake
        .fail_next("rustici.registration.deleteRegistration", 1, "no");
    let a = env.send(&env.client.delete_registration("r-1")).await;
    assert_eq!(a.status, 204);

    assert_eq!(
        env.fake.calls(),
        [
            "v2 POST /registrations (failed)",
            "v2 POST /registrations",
            "v2 POST /registrations/{registrationId}/launchLink (failed)",
            "v2 HEAD /registrations/{registrationId} (failed)",
            "v2 GET /courses/importJobs/{jobId} (failed)",
            "v2 DELETE /registrations/{registrationId}",
        ]
    );
}

#[tokio::test]
async fn v1_and_v2_share_courses_and_registrations() {
    let env = env().await;
    env.fake.set_polls_before_done(0);
    let a = env
        .upload(
            &env.client.import_upload("shared").expect("valid"),
            fake_scorm_cloud::package("Shared"),
        )
        .await;
    let job = v2::parse_job_id(a.status, &a.body).expect("job id");
    assert_eq!(env.fake.last_token().as_deref(), Some(job.as_str()));
    poll(&env, &job).await;

    // a V1 client sees the course V2 imported, and registers to it
    let v1 = scorm_cloud_client::Client::new(env.fake.api_url().parse().expect("url"), APP, SECRET);
    let mut reg = registration("r-v1", "shared", "u-1");
    reg.first_name = "Ada".into();
    reg.last_name = "Lovelace".into();
    let now = time::OffsetDateTime::now_utc();
    let r = v1.create_registration(&reg, now).expect("valid");
    let xml = env.http.get(&r.url).send().await.expect("send");
    let xml = xml.text().await.expect("body");
    assert!(xml.contains("<success"), "{xml}");
    assert_eq!(
        env.fake.registration("r-v1").expect("created").api,
        ApiVersion::V1
    );
    // … which V2 then reads
    let head = env.send(&env.client.registration_exists("r-v1")).await;
    assert_eq!(v2::parse_exists(head.status), Ok(true));
}

/// The base the client is configured with.
#[tokio::test]
async fn the_v2_base_url_ends_with_a_slash() {
    let fake = FakeScormCloud::start(APP, SECRET).await.expect("start");
    let base = fake.api_v2_url();
    assert_eq!(base, format!("http://{}/api/v2/", fake.addr()));
}
