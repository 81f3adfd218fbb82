//! The `validate` command end to end: the real binary on every fixture
//! (every fixture that fails is reported, not just the first).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = root().join("fixtures/statements").join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

fn validate(args: &[&Path]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .arg("validate")
        .args(args)
        .output()
        .expect("run coursebridge-ingest");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf8"),
    )
}

/// The documented message of an invalid fixture: the body of its snapshot.
fn documented_message(fixture: &Path) -> String {
    let name = fixture.file_stem().expect("stem").to_string_lossy();
    let snap = root().join(format!(
        "crates/xapi-model/tests/snapshots/invalid__{name}.snap"
    ));
    let text = std::fs::read_to_string(&snap).unwrap_or_else(|e| panic!("{}: {e}", snap.display()));
    text.splitn(3, "---\n")
        .nth(2)
        .expect("snapshot body")
        .trim_end()
        .to_owned()
}

#[test]
fn every_valid_fixture_is_accepted() {
    let mut checks = testkit::FixtureChecks::default();
    for f in fixtures("valid") {
        checks.run(&f, || {
            let (code, out) = validate(&[&f]);
            assert_eq!(code, 0, "{}: {out}", f.display());
            assert!(
                out.starts_with("ok ") && out.lines().count() == 1,
                "{}: {out}",
                f.display()
            );
        });
    }
    checks.assert_all_passed();
}

#[test]
fn every_invalid_fixture_is_rejected_with_its_documented_message() {
    let files = fixtures("invalid");
    assert!(files.len() >= 40);
    let mut checks = testkit::FixtureChecks::default();
    for f in files {
        checks.run(&f, || {
            let (code, out) = validate(&[&f]);
            assert_eq!(code, 1, "{}: {out}", f.display());
            assert_eq!(
                out.trim_end(),
                format!("error 0 {}", documented_message(&f)),
                "{}",
                f.display()
            );
        });
    }
    checks.assert_all_passed();
}

#[test]
fn json_lines_on_stdin_and_exit_codes() {
    let valid = std::fs::read_to_string(root().join("fixtures/statements/valid/voiding.json"))
        .expect("fixture");
    let compact: serde_json::Value = serde_json::from_str(&valid).expect("json");
    let input = format!("{compact}\n{{\"actor\":{{}}}}\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text,
        "ok 0b9d1f2e-3c4a-4b5d-8e6f-7a8b9c0d1e2f\n\
         error 1 actor: an Agent must have exactly one identifier (mbox, mbox_sha1sum, openid or account), found none\n\
         error 1 verb: is required\n\
         error 1 object: is required\n"
    );

    let (code, _) = validate(&[Path::new("/nonexistent/statement.json")]);
    assert_eq!(code, 2, "unreadable input is a usage error");
}
