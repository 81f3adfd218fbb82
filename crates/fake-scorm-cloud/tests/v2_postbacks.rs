//! V2 postbacks: a registration created through API V2 posts the
//! registration-progress JSON (`form`: the field `data` with `userName` and
//! `password`; `httpbasic`: `application/json` with a Basic header); one
//! created through V1 still posts the XML report.

mod common;

use base64::Engine;
use scorm_cloud_client::v2;
use scorm_cloud_client::{AuthType, Completion, Postback, ResultsFormat, Success};
use serde_json::Value;

use common::{APP, SECRET, env, receiver, registration};

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn postback(url: String, auth: AuthType, user: &str, format: ResultsFormat) -> Postback {
    Postback {
        url,
        auth,
        user: user.into(),
        password: format!("{user}-password"),
        format,
    }
}

#[tokio::test]
async fn a_form_postback_carries_the_progress_json_as_data_with_the_credentials() {
    let env = env().await;
    let (at, got) = receiver().await;
    env.fake.add_course("c-1", "Course One");
    let mut reg = registration("r-form", "c-1", "u-1");
    reg.postback = Some(postback(
        format!("http://{at}/pb/form"),
        AuthType::Form,
        "r-form",
        ResultsFormat::Course,
    ));
    env.register(&reg).await;
    let stored = env.fake.registration("r-form").expect("created");
    let pb = stored.postback.expect("postback kept");
    assert_eq!((pb.auth.as_str(), pb.format.as_str()), ("form", "course"));

    let status = env
        .fake
        .progress("r-form", "complete", "passed", Some(90.0), 600.0)
        .await;
    assert_eq!(status, Ok(Some(200)));
    let received = got.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!(r.path, "form");
    assert!(
        r.content_type
            .starts_with("application/x-www-form-urlencoded"),
        "{r:?}"
    );
    assert_eq!(r.authorization, None);
    let fields = form_fields(&r.body);
    assert_eq!(field(&fields, "userName"), Some("r-form"));
    assert_eq!(field(&fields, "password"), Some("r-form-password"));
    assert_eq!(field(&fields, "username"), None, "V2 spells it userName");
    let data = field(&fields, "data").expect("data");
    let report = v2::parse_registration(200, data.as_bytes()).expect("progress JSON");
    assert_eq!(report.registration_id.as_deref(), Some("r-form"));
    assert_eq!(report.complete, Completion::Complete);
    assert_eq!(report.success, Success::Passed);
    assert_eq!(report.score, Some(90.0));
    assert_eq!(report.total_time_secs, Some(600.0));
    assert_eq!(env.fake.report_v2("r-form").as_deref(), Some(data));
    let json: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(json["course"]["title"], "Course One");
    assert!(json.get("activityDetails").is_none(), "course format");

    // the client's postback reader accepts it (as JSON in place of XML)
    let delivery =
        scorm_cloud_client::postback::read(Some(&r.content_type), None, &r.body).expect("readable");
    assert_eq!(delivery.user, "r-form");
    assert_eq!(delivery.password, "r-form-password");
    assert_eq!(delivery.xml, data.as_bytes());
}

#[tokio::test]
async fn an_httpbasic_postback_is_json_with_a_basic_header() {
    let env = env().await;
    let (at, got) = receiver().await;
    env.fake.add_course("c-1", "Course One");
    let mut reg = registration("r-basic", "c-1", "u-2");
    reg.postback = Some(postback(
        format!("http://{at}/pb/basic"),
        AuthType::HttpBasic,
        "r-basic",
        ResultsFormat::Activity,
    ));
    env.register(&reg).await;

    let early = env.fake.report_v2("r-basic").expect("report");
    let status = env
        .fake
        .progress("r-basic", "incomplete", "failed", Some(40.0), 120.0)
        .await;
    assert_eq!(status, Ok(Some(200)));
    let received = got.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert!(r.content_type.starts_with("application/json"), "{r:?}");
    let expected = base64::engine::general_purpose::STANDARD.encode("r-basic:r-basic-password");
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("Basic {expected}").as_str())
    );
    let report = v2::parse_registration(200, &r.body).expect("progress JSON");
    assert_eq!(report.complete, Completion::Incomplete);
    assert_eq!(report.success, Success::Failed);
    assert_eq!(report.score, Some(40.0));
    let json: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(
        json["activityDetails"]["activityCompletion"], "INCOMPLETE",
        "activity format: {json}"
    );

    // an old report sent again (a late duplicate) arrives as it was
    let pb = env
        .fake
        .registration("r-basic")
        .and_then(|r| r.postback)
        .expect("postback");
    assert_eq!(env.fake.send_postback_v2(&pb, &early).await, Ok(200));
    let received = got.lock().expect("lock").clone();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].body, early.as_bytes());
    let old = v2::parse_registration(200, early.as_bytes()).expect("JSON");
    assert_eq!(old.complete, Completion::Unknown);
}

#[tokio::test]
async fn a_registration_created_through_v1_still_posts_xml() {
    let env = env().await;
    let (at, got) = receiver().await;
    env.fake.add_course("c-1", "Course One");
    let v1 = scorm_cloud_client::Client::new(env.fake.api_url().parse().expect("url"), APP, SECRET);
    let mut reg = registration("r-v1", "c-1", "u-3");
    reg.first_name = "Ada".into();
    reg.last_name = "Lovelace".into();
    reg.postback = Some(postback(
        format!("http://{at}/pb/v1"),
        AuthType::Form,
        "r-v1",
        ResultsFormat::Course,
    ));
    let r = v1
        .create_registration(&reg, time::OffsetDateTime::now_utc())
        .expect("valid");
    let xml = env.http.get(&r.url).send().await.expect("send");
    assert!(xml.text().await.expect("body").contains("<success"));

    let status = env
        .fake
        .progress("r-v1", "complete", "passed", Some(75.0), 60.0)
        .await;
    assert_eq!(status, Ok(Some(200)));
    let received = got.lock().expect("lock").clone();
    let fields = form_fields(&received[0].body);
    assert_eq!(field(&fields, "username"), Some("r-v1"), "V1 spelling");
    let data = field(&fields, "data").expect("data");
    assert!(data.contains("<registrationreport"), "{data}");
    assert_eq!(env.fake.report("r-v1").as_deref(), Some(data));
}
