//! `coursebridge-sync scorm …` as an operator runs it, against the fake SCORM
//! Cloud on loopback (signatures and the 15-minute window checked).

use std::path::{Path, PathBuf};

use fake_scorm_cloud::FakeScormCloud;

mod common;

use common::SCORM_SECRET as SECRET;

/// `coursebridge-sync --database DB ARGS…` (the suites' runner, with the fake's secret).
async fn sync(db: &Path, args: &[&str]) -> (i32, String, String) {
    common::sync(db.to_str().expect("a UTF-8 path"), args).await
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_flow() {
    let dir = testkit::scratch_dir("cb-sync-scorm");
    let db = dir.join("t.db");
    let fake = FakeScormCloud::start("APP1", SECRET).await.expect("fake");
    fake.set_polls_before_done(0);
    let base = format!("base_url={}", fake.api_url());
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "scorm",
            "--provider",
            "scorm-cloud",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            &base,
            "--setting",
            "app_id=APP1",
            "--setting",
            "secret_env=CB_TEST_SCORM_SECRET",
            "--setting",
            "public_url=http://127.0.0.1:9",
            "--setting",
            "registrations=at-assignment",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // a missing secret setting is refused at activation
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "scorm2",
            "--provider",
            "scorm-cloud",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            "app_id=APP1",
            "--setting",
            "public_url=http://127.0.0.1:9",
        ],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("secret_env"), "{err}");

    // import: streamed upload, polled, recorded
    let pkg = write(
        &dir,
        "safety.zip",
        &fake_scorm_cloud::package("Safety Basics"),
    );
    let pkg = pkg.to_str().expect("utf8");
    let (code, out, err) = sync(
        &db,
        &[
            "scorm",
            "import",
            pkg,
            "--integration",
            "scorm",
            "--course-id",
            "c1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim_end(),
        "imported Safety Basics as course c1 (LMS course record 1)",
        "stdout holds the result alone"
    );
    assert!(err.contains("import Finished"), "progress is shown: {err}");
    // Not a terminal: the upload's progress as plain lines, the last one whole.
    let len = std::fs::metadata(pkg).expect("package").len();
    // (A line at most every 2 s while it runs: a loopback upload shows one.)
    let upload: Vec<&str> = err.lines().filter(|l| l.starts_with("upload: ")).collect();
    assert_eq!(upload, [format!("upload: {len}/{len} bytes")], "{err}");
    // a file that is not a package: the job's error is reported
    let bad = write(&dir, "bad.zip", b"not a zip");
    let (code, _, err) = sync(
        &db,
        &[
            "scorm",
            "import",
            bad.to_str().expect("utf8"),
            "--integration",
            "scorm",
            "--course-id",
            "c9",
        ],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a zip"), "{err}");

    // the browser flow: a signed URL, a browser POST, then the follow-up by token
    let (code, url, err) = sync(
        &db,
        &[
            "scorm",
            "import",
            "--integration",
            "scorm",
            "--course-id",
            "c2",
            "--browser-url",
            "--redirect-url",
            "https://lms.example.com/imports/c2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let url = url.trim().to_owned();
    assert!(
        url.starts_with(&fake.api_url()) && url.contains("sig="),
        "{url}"
    );
    let form = reqwest::multipart::Form::new().part(
        "filedata",
        reqwest::multipart::Part::bytes(fake_scorm_cloud::package("Fire Drill"))
            .file_name("fire.zip"),
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(&url)
        .multipart(form)
        .send()
        .await
        .expect("browser upload");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://lms.example.com/imports/c2"
    );
    let token = fake.last_token().expect("token");
    let (code, out, err) = sync(
        &db,
        &[
            "scorm",
            "import",
            "--integration",
            "scorm",
            "--course-id",
            "c2",
            "--token",
            &token,
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let imported: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(imported["title"], "Fire Drill");

    // a catalog run skips SCORM Cloud integrations; naming one is explained
    let (code, _, err) = sync(&db, &["run", "--integration", "scorm"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no catalog to sync"), "{err}");

    // assign: created in SCORM Cloud now (registrations=at-assignment)
    fake.fail_next("rustici.registration.createRegistration", 1, "try later");
    let args = [
        "scorm",
        "assign",
        "--course-id",
        "c1",
        "--learner",
        "u-1",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--registration-id",
        "reg-1",
    ];
    let (code, _, err) = sync(&db, &args).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("try later"), "{err}");
    let (code, out, _) = sync(&db, &["scorm", "show", "reg-1"]).await;
    assert_eq!(code, 0, "the assignment is kept: {out}");
    assert!(
        out.contains(r#""remote_created_at_ms":null"#),
        "not recorded as created in SCORM Cloud: {out}"
    );
    let (code, out, err) = sync(&db, &args).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("registration reg-1 created (in SCORM Cloud)"),
        "{out}"
    );
    assert!(fake.registration("reg-1").is_some());

    // refresh one, then every stale one
    fake.update("reg-1", "complete", "passed", Some(80.0), 300.0)
        .expect("update");
    let (code, out, err) = sync(&db, &["scorm", "refresh", "reg-1"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("reg-1: recorded (completed=true, score=80"),
        "{out}"
    );
    let (code, out, err) = sync(
        &db,
        &["scorm", "refresh", "--all-stale", "--older-than-mins", "0"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("reg-1: unchanged") && out.contains("1 refreshed, 0 failed"),
        "{out}"
    );

    // override, then show
    let (code, out, err) = sync(
        &db,
        &[
            "scorm",
            "override",
            "reg-1",
            "--by",
            "admin@example.com",
            "--score",
            "100",
            "--reason",
            "re-graded",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let view: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(view["overridden"]["score"], 100.0);
    assert_eq!(view["statistics"]["score"], 100.0);
    let (code, _, _) = sync(&db, &["scorm", "override", "reg-1", "--by", "admin"]).await;
    assert_eq!(code, 2, "an override must set something");
    let (code, out, _) = sync(
        &db,
        &["scorm", "override", "reg-1", "--by", "admin", "--clear"],
    )
    .await;
    assert_eq!(code, 0);
    let view: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(view["overridden"].is_null(), "{view}");
    assert_eq!(view["statistics"]["score"], 80.0);

    // deactivate archives the SCORM course records; re-activation brings them back
    let (code, out, _) = sync(&db, &["deactivate", "--integration", "scorm"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("2 courses archived"), "{out}");
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "scorm",
            "--provider",
            "scorm-cloud",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            &base,
            "--setting",
            "app_id=APP1",
            "--setting",
            "secret_env=CB_TEST_SCORM_SECRET",
            "--setting",
            "public_url=http://127.0.0.1:9",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let store = store::Store::open(db.to_str().expect("utf8"))
        .await
        .expect("open");
    let mut tx = store.read().await.expect("read");
    let courses = tx.courses("scorm").await.expect("courses");
    assert_eq!(courses.len(), 2);
    assert!(courses.iter().all(|c| !c.archived), "{courses:?}");
    drop(tx);
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
