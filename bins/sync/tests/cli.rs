//! The binary's contract: exit codes and reports.

use std::path::Path;
use std::process::Command;

fn sync(db: &Path, args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_coursebridge-sync"))
        .current_dir(&root)
        .arg("--database")
        .arg(db)
        .args(args)
        .env("COURSEBRIDGE_LOG", "warn")
        .output()
        .expect("run coursebridge-sync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_and_json_report() {
    let dir = testkit::scratch_dir("cb-sync-cli");
    let db = dir.join("cli.db");
    // 0: the demo on the embedded default
    let (code, out, err) = sync(&db, &["demo"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("opensesame-sample: ok — 12 created"), "{out}");
    // 3: ok, but some courses were rejected
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "edge",
            "--provider",
            "opensesame",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            "catalog_file=fixtures/catalog/opensesame/edge-cases.json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = sync(&db, &["run", "--integration", "edge", "--json"]);
    assert_eq!(code, 3, "{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON report");
    for key in [
        "created",
        "updated",
        "archived",
        "reactivated",
        "unchanged",
        "rejected",
        "pages",
        "outcome",
        "error",
    ] {
        assert!(report.get(key).is_some(), "report key {key}");
    }
    assert_eq!(
        (report["outcome"].as_str(), report["rejected"].as_i64()),
        (Some("ok"), Some(2))
    );
    // Not a terminal: progress as log lines on stderr (one per page, at
    // `info`); stdout still holds the one JSON report.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_coursebridge-sync"))
        .current_dir(&root)
        .arg("--database")
        .arg(&db)
        .args(["run", "--integration", "edge", "--json"])
        .env("COURSEBRIDGE_LOG", "info")
        .output()
        .expect("run coursebridge-sync");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let pages = stderr.lines().filter(|l| l.contains("page synced")).count();
    assert_eq!(
        pages as i64,
        report["pages"].as_i64().expect("pages"),
        "{stderr}"
    );
    let again: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    assert_eq!(again["pages"], report["pages"]);
    // 2: usage and configuration errors
    assert_eq!(sync(&db, &["run", "--integration", "nope"]).0, 2);
    assert_eq!(sync(&db, &["run", "--max-archive-share", "7"]).0, 2);
    assert_eq!(
        sync(&db, &["run", "--daily-at", "25:00", "--tz", "Europe/Paris"]).0,
        2
    );
    assert_eq!(
        sync(&db, &["run", "--daily-at", "06:50", "--tz", "Mars/Olympus"]).0,
        2
    );
    assert_eq!(
        sync(&db, &["run", "--daily-at", "06:50"]).0,
        2,
        "--daily-at needs --tz"
    );
    let (code, _, err) = sync(
        &db,
        &[
            "activate",
            "--integration",
            "x",
            "--provider",
            "opensesame",
            "--group",
            "g",
            "--author",
            "a@example.com",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("base_url") && err.contains("client_secret_env"),
        "names the missing settings: {err}"
    );
    // 1: the run failed (the catalog file is gone)
    sync(
        &db,
        &[
            "activate",
            "--integration",
            "gone",
            "--provider",
            "opensesame",
            "--group",
            "g",
            "--author",
            "a@example.com",
            "--setting",
            "catalog_file=/nonexistent/catalog.json",
        ],
    );
    let (code, out, _) = sync(&db, &["run", "--integration", "gone"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("gone: failed"), "{out}");
    // deactivate keeps the records, archives them
    let (code, out, _) = sync(&db, &["deactivate", "--integration", "opensesame-sample"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("11 courses archived"),
        "one sample course was inactive already: {out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
