//! Response fixtures (`fixtures/scorm-cloud/<parser>--<case>.xml`) → one
//! snapshot each, every fixture that does not match reported (insta's
//! `glob!`), not just the first; request building at a fixed time → one
//! snapshot.

use std::path::Path;

use scorm_cloud_client::{AuthType, Client, NewRegistration, Postback, ResultsFormat, parse};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    // Inside `glob!`: the snapshot keeps the fixture's name alone (no suffix).
    s.remove_snapshot_suffix();
    s
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned()
}

fn json<T: serde::Serialize, E: serde::Serialize>(r: Result<T, E>) -> String {
    let v = match r {
        Ok(t) => serde_json::json!({ "ok": t }),
        Err(e) => serde_json::json!({ "err": e }),
    };
    serde_json::to_string_pretty(&v).expect("json")
}

/// A response fixture through the parser its name starts with.
fn parsed(path: &Path) -> String {
    let name = stem(path);
    let bytes = std::fs::read(path).expect("read");
    match name.split("--").next().expect("prefix") {
        "report" => json(parse::registration_report(&bytes)),
        "import" => json(parse::import_job(&bytes)),
        "success" => json(parse::success(&bytes)),
        "exists" => json(parse::exists(&bytes)),
        "token" => json(parse::import_token(&bytes)),
        "courses" => json(parse::course_list(&bytes)),
        "time" => json(parse::server_time(&bytes)),
        other => panic!("{name}: no parser for prefix {other}"),
    }
}

#[test]
fn responses() {
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    let mut fixtures = 0;
    insta::glob!("../../../fixtures/scorm-cloud", "*.xml", |path| {
        fixtures += 1;
        if let Some(out) = checks.run(path, || parsed(path)) {
            settings().bind(|| insta::assert_snapshot!(format!("response__{}", stem(path)), out));
        }
    });
    checks.assert_all_passed();
    assert!(fixtures >= 20);
}

#[test]
fn requests() {
    let _serial = testkit::snapshots_one_at_a_time();
    let client = Client::new(
        "https://cloud.scorm.com/api".parse().expect("url"),
        "MYAPPID",
        "SECRETKEY123",
    );
    let now = time::macros::datetime!(2024-01-01 12:00:00 UTC);
    let pb = Postback {
        url: "https://lms.example.com/scorm/postback".into(),
        auth: AuthType::Form,
        user: "reg-1".into(),
        password: "s3cret".into(),
        format: ResultsFormat::Course,
    };
    let reg = NewRegistration {
        course_id: "course-1".into(),
        registration_id: "reg-1".into(),
        learner_id: "u-42".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: None,
        postback: Some(pb.clone()),
    };
    let lines = [
        format!(
            "import            {}",
            client
                .import_course_async("course-1", now)
                .expect("valid id")
                .url
        ),
        format!(
            "upload url        {}",
            client
                .import_upload_url("course-1", "https://lms.example.com/imports/pending", now)
                .expect("valid id")
        ),
        format!(
            "import result     {}",
            client.get_async_import_result("tok-1", now).url
        ),
        format!(
            "course exists     {}",
            client.course_exists("course-1", now).url
        ),
        format!(
            "course list       {}",
            client.get_course_list(None, now).url
        ),
        format!(
            "delete course     {}",
            client.delete_course("course-1", now).url
        ),
        format!(
            "create reg        {}",
            client
                .create_registration(&reg, now)
                .expect("valid ids")
                .url
        ),
        format!(
            "reg result        {}",
            client
                .get_registration_result("reg 42", ResultsFormat::Course, now)
                .url
        ),
        format!(
            "launch            {}",
            client.launch_url("reg-1", "https://lms.example.com/scorm/return/reg-1", now)
        ),
        format!(
            "reg exists        {}",
            client.registration_exists("reg-1", now).url
        ),
        format!(
            "delete reg        {}",
            client.delete_registration("reg-1", now).url
        ),
        format!(
            "reset reg         {}",
            client.reset_registration("reg-1", now).url
        ),
        format!(
            "update postback   {}",
            client.update_postback_info("reg-1", &pb, now).url
        ),
        format!(
            "test postback     {}",
            client.test_registration_post_url(&pb, now).url
        ),
        format!("time              {}", client.get_time().url),
    ];
    settings().bind(|| insta::assert_snapshot!("requests", lines.join("\n")));
    let upload = client
        .import_course_async("course-1", now)
        .expect("valid id");
    assert_eq!(
        (upload.method.clone(), upload.file_part.as_deref()),
        (scorm_cloud_client::HttpMethod::Post, Some("filedata")),
        "a multipart upload the caller streams"
    );
    let shown = format!(
        "{:?}",
        client.create_registration(&reg, now).expect("valid ids")
    );
    assert!(
        shown.contains("rustici.registration.createRegistration") && !shown.contains("s3cret"),
        "Debug never shows credentials: {shown}"
    );
}

#[test]
fn ids_are_checked() {
    use scorm_cloud_client::{IdError, check_id};
    assert_eq!(check_id("regid", ""), Err(IdError::Empty("regid")));
    assert_eq!(
        check_id("regid", &"x".repeat(256)),
        Err(IdError::TooLong("regid"))
    );
    assert_eq!(check_id("regid", "a\nb"), Err(IdError::Control("regid")));
    assert_eq!(check_id("regid", &"é".repeat(255)), Ok(()));
}

#[test]
fn postbacks_form_and_basic() {
    use base64::Engine;
    use scorm_cloud_client::postback::{PostbackError, authenticate, read};
    let xml = "<registrationreport regid=\"reg-1\"><complete>complete</complete><success>passed</success><score>90</score><totaltime>60</totaltime></registrationreport>";
    let check = |p: &str| scorm_cloud_client::postback::same(p, "s3cret");
    for user_field in ["username", "userName"] {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", xml)
            .append_pair(user_field, "reg-1")
            .append_pair("password", "s3cret")
            .finish();
        let d = read(
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
        )
        .expect("form");
        let r = authenticate(&d, "reg-1", check).expect("authentic");
        assert_eq!((r.score, r.total_time_secs), (Some(90.0), Some(60.0)));
    }
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("reg-1:s3cret")
    );
    let wrapped = format!("<rsp stat=\"ok\">{xml}</rsp>");
    let d = read(Some("text/xml"), Some(&auth), wrapped.as_bytes()).expect("basic");
    assert!(authenticate(&d, "reg-1", check).is_ok());
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("reg-1:wrong")
    );
    let d = read(Some("text/xml"), Some(&bad), xml.as_bytes()).expect("basic");
    assert_eq!(
        authenticate(&d, "reg-1", check).err(),
        Some(PostbackError::BadCredentials)
    );
    assert_eq!(
        read(Some("text/xml"), None, xml.as_bytes())
            .err()
            .map(|e| e.to_string()),
        Some("postback credentials missing".into())
    );
}

/// A v2 response fixture through the parser its name starts with (a
/// `not-found` case answered with a 404).
fn parsed_v2(path: &Path) -> String {
    use scorm_cloud_client::v2;
    let name = stem(path);
    let bytes = std::fs::read(path).expect("read");
    let status = if name.ends_with("not-found") {
        404
    } else {
        200
    };
    match name.split("--").next().expect("prefix") {
        "job-id" => json(v2::parse_job_id(status, &bytes)),
        "import" => json(v2::parse_import_job(status, &bytes)),
        "registration" => json(v2::parse_registration(status, &bytes)),
        "launch" => json(v2::parse_launch_link(status, &bytes)),
        other => panic!("{name}: no parser for {other}"),
    }
}

#[test]
fn v2_responses() {
    use scorm_cloud_client::v2;
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    insta::glob!("../../../fixtures/scorm-cloud/v2", "*.json", |path| {
        if let Some(out) = checks.run(path, || parsed_v2(path)) {
            settings().bind(|| insta::assert_snapshot!(format!("v2__{}", stem(path)), out));
        }
    });
    checks.assert_all_passed();
    assert_eq!(v2::parse_exists(404), Ok(false));
    assert_eq!(v2::parse_exists(200), Ok(true));
}

#[test]
fn v2_requests() {
    let _serial = testkit::snapshots_one_at_a_time();
    use scorm_cloud_client::v2::ClientV2;
    let c = ClientV2::new(
        "https://cloud.scorm.com/api/v2".parse().expect("url"),
        "MYAPPID",
        "SECRETKEY123",
    );
    let reg = NewRegistration {
        course_id: "course 1".into(),
        registration_id: "reg-1".into(),
        learner_id: "u-42".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: Some("ada@example.com".into()),
        postback: Some(Postback {
            url: "https://lms.example.com/scorm/postback".into(),
            auth: AuthType::HttpBasic,
            user: "reg-1".into(),
            password: "s3cret".into(),
            format: ResultsFormat::Course,
        }),
    };
    let rs = [
        c.import_upload("course 1").expect("valid"),
        c.import_from_url("course-1", "https://files.example.com/pkg.zip")
            .expect("valid"),
        c.import_job("job-1"),
        c.create_registration(&reg).expect("valid"),
        c.registration_exists("reg-1"),
        c.registration("reg-1"),
        c.delete_registration("reg-1"),
        c.reset_registration("reg-1"),
        c.launch_link("reg-1", "https://lms.example.com/scorm/return/reg-1", 120),
    ];
    let lines: Vec<String> = rs
        .iter()
        .map(|r| {
            format!(
                "{:?} {} {}",
                r.method,
                r.url,
                r.json.clone().unwrap_or_default()
            )
        })
        .collect();
    settings().bind(|| insta::assert_snapshot!("v2_requests", lines.join("\n")));
    assert_eq!(
        rs[0].authorization, "Basic TVlBUFBJRDpTRUNSRVRLRVkxMjM=",
        "HTTP Basic appId:secret"
    );
    assert_eq!(rs[0].file_part.as_deref(), Some("file"));
    assert!(
        !format!("{:?}", rs[3]).contains("TVlBUFBJRDpTRUNSRVRLRVkxMjM"),
        "Debug never shows the credentials"
    );
}

/// API V1's createRegistration requires `fname` and `lname`: a request that
/// would leave one out (an empty value is dropped from the signed query) is
/// refused before it is built, naming the parameter. V2's names are
/// optional: left out when empty, never sent as "".
#[test]
fn required_names_are_checked_before_sending() {
    use scorm_cloud_client::IdError;
    use scorm_cloud_client::v2::ClientV2;
    let base = url::Url::parse("https://cloud.example/api").expect("url");
    let reg = |first: &str, last: &str| NewRegistration {
        course_id: "c1".into(),
        registration_id: "r1".into(),
        learner_id: "u1".into(),
        first_name: first.into(),
        last_name: last.into(),
        email: None,
        postback: None,
    };
    let v1 = Client::new(base.clone(), "APP", "secret");
    let now = time::OffsetDateTime::UNIX_EPOCH;
    assert_eq!(
        v1.create_registration(&reg("", "Lovelace"), now).err(),
        Some(IdError::Required("fname"))
    );
    assert_eq!(
        v1.create_registration(&reg("Ada", " "), now).err(),
        Some(IdError::Required("lname"))
    );
    let ok = v1
        .create_registration(&reg("Ada", "Lovelace"), now)
        .expect("both names");
    assert!(
        ok.url.contains("fname=Ada") && ok.url.contains("lname=Lovelace"),
        "{}",
        ok.url
    );

    let v2 = ClientV2::new(base, "APP", "secret");
    let body = |r: &NewRegistration| -> serde_json::Value {
        serde_json::from_str(&v2.create_registration(r).expect("v2").json.expect("body"))
            .expect("json")
    };
    assert_eq!(
        body(&reg("", ""))["learner"],
        serde_json::json!({"id": "u1"})
    );
    assert_eq!(
        body(&reg("Ada", "Lovelace"))["learner"],
        serde_json::json!({"id": "u1", "firstName": "Ada", "lastName": "Lovelace"})
    );
}
