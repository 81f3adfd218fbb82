//! `coursebridge-sync configure` on a SCORM Cloud integration (issue 29):
//! a moved `base_url` and a changed `registrations` are used by the next
//! flow; a bad value changes nothing and names the setting; a required key
//! cannot be removed. Against two fake SCORM Clouds on loopback; SQLite, and
//! PostgreSQL with `--ignored`.

mod common;

use std::path::{Path, PathBuf};

use common::{SCORM_SECRET, on, snapshot, sync};
use fake_scorm_cloud::FakeScormCloud;

fn package(dir: &Path, name: &str, title: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, fake_scorm_cloud::package(title)).expect("write");
    p
}

testkit::both!(scorm_cloud_settings_apply_to_the_next_flow, on);
/// SCORM Cloud: a moved `base_url` is used by the next flow, and a changed
/// `registrations` too; a bad value changes nothing.
async fn scorm_cloud_settings_apply_to_the_next_flow(url: String, dir: PathBuf) {
    let db = url.as_str();
    let old = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    let new = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    old.set_polls_before_done(0);
    new.set_polls_before_done(0);
    let base = format!("base_url={}", old.api_url());
    let (code, _, err) = sync(
        db,
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
    let import = |pkg: PathBuf, course: &'static str| {
        let db = url.clone();
        async move {
            let pkg = pkg.to_str().expect("utf8").to_owned();
            sync(
                &db,
                &[
                    "scorm",
                    "import",
                    &pkg,
                    "--integration",
                    "scorm",
                    "--course-id",
                    course,
                ],
            )
            .await
        }
    };
    let (code, out, err) = import(package(&dir, "a.zip", "Safety Basics"), "c1").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(old.course("c1").is_some());

    let before = snapshot(db, "scorm").await;
    for (bad, names) in [
        ("registrations=sometimes", "registrations"),
        ("public_url=ftp://cb.example", "public_url"),
        ("base_url=not a url", "base_url"),
    ] {
        let (code, _, err) = sync(
            db,
            &["configure", "--integration", "scorm", "--setting", bad],
        )
        .await;
        assert_eq!(code, 2, "{bad}");
        assert!(err.contains(&format!("setting {names}")), "{bad}: {err}");
        assert_eq!(snapshot(db, "scorm").await, before, "{bad}");
    }
    let (code, _, err) = sync(
        db,
        &[
            "configure",
            "--integration",
            "scorm",
            "--unset",
            "secret_env",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("--unset secret_env"), "{err}");

    let moved = format!("base_url={}", new.api_url());
    let (code, out, err) = sync(
        db,
        &[
            "configure",
            "--integration",
            "scorm",
            "--setting",
            &moved,
            "--setting",
            "registrations=at-assignment",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the next SCORM Cloud request"), "{out}");
    let after = snapshot(db, "scorm").await;
    assert_eq!(after.courses, before.courses, "no course touched");
    assert!(after.active);

    // the next import goes to the new address
    let (code, out, err) = import(package(&dir, "b.zip", "Fire Drill"), "c2").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(new.course("c2").is_some(), "imported at the new address");
    assert!(old.course("c2").is_none());
    // and an assignment is created in SCORM Cloud at once (at-assignment)
    let (code, out, err) = sync(
        db,
        &[
            "scorm",
            "assign",
            "--course-id",
            "c2",
            "--learner",
            "u-1",
            "--email",
            "u-1@example.com",
            "--registration-id",
            "reg-1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("registration reg-1 created (in SCORM Cloud)"),
        "{out}"
    );
    assert!(new.registration("reg-1").is_some());
    assert!(old.registration("reg-1").is_none());
}
