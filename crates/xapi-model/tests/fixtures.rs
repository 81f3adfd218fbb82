//! Fixture-driven snapshots: `fixtures/statements/valid/*.json` → the normalized
//! parse; `fixtures/statements/invalid/*.json` → the exact error list.
//! One snapshot per fixture, named after it; every fixture that does not
//! match is reported (insta's `glob!`), not just the first.

use std::path::Path;

fn name(p: &Path) -> String {
    p.file_stem()
        .expect("file stem")
        .to_string_lossy()
        .into_owned()
}

/// The snapshot keeps the fixture's name alone (no `glob!` suffix).
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.remove_snapshot_suffix();
    s
}

/// A valid fixture's normalized form, which is itself valid and parses to
/// the same value.
fn normalized_form(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read fixture");
    let statement = xapi_model::parse_statement(&bytes)
        .unwrap_or_else(|e| panic!("{} should be valid: {e}", path.display()));
    let normalized = serde_json::to_string_pretty(&statement).expect("serialize");
    let again = xapi_model::parse_statement(normalized.as_bytes())
        .unwrap_or_else(|e| panic!("{}: normalized form invalid: {e}", path.display()));
    assert_eq!(
        again,
        statement,
        "{}: round trip changed the meaning",
        path.display()
    );
    normalized
}

/// An invalid fixture's error, which must be exactly one.
fn error_report(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read fixture");
    let errors = match xapi_model::parse_statement(&bytes) {
        Ok(_) => panic!("{} should be invalid", path.display()),
        Err(e) => e.errors(),
    };
    assert_eq!(
        errors.len(),
        1,
        "{} should break exactly one rule, got {errors:?}",
        path.display()
    );
    errors.iter().map(|e| format!("{e}\n")).collect()
}

#[test]
fn valid_statements_parse_to_their_normalized_form() {
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    insta::glob!("../../../fixtures/statements/valid", "*.json", |path| {
        if let Some(normalized) = checks.run(path, || normalized_form(path)) {
            settings()
                .bind(|| insta::assert_snapshot!(format!("valid__{}", name(path)), normalized));
        }
    });
    checks.assert_all_passed();
}

#[test]
fn invalid_statements_report_exactly_their_broken_rule() {
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    let mut fixtures = 0;
    insta::glob!("../../../fixtures/statements/invalid", "*.json", |path| {
        fixtures += 1;
        if let Some(report) = checks.run(path, || error_report(path)) {
            settings().bind(|| insta::assert_snapshot!(format!("invalid__{}", name(path)), report));
        }
    });
    checks.assert_all_passed();
    assert!(
        fixtures >= 40,
        "at least 40 invalid fixtures, found {fixtures}"
    );
}

#[test]
fn all_errors_of_a_statement_are_reported() {
    let bytes = br#"{
        "id": "nope",
        "actor": {"mbox": "ada@example.com", "name": null},
        "verb": {"id": "completed"},
        "object": {"id": "https://example.com/c"},
        "result": {"score": {"scaled": 2}, "duration": "10 minutes"},
        "timestamp": "2024-01-01T00:00:00",
        "extra": true
    }"#;
    let errors: Vec<String> = xapi_model::parse_statement(bytes)
        .expect_err("invalid")
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "id: must be a UUID in the hyphenated form (RFC 4122)",
            "actor.name: must not be null",
            "actor.mbox: must be a mailto: IRI",
            "verb.id: must be an absolute IRI",
            "result.score.scaled: must be between -1 and 1",
            "result.duration: must be an ISO 8601 duration starting with P (e.g. PT1H30M)",
            "timestamp: must include a time zone offset (Z or ±hh:mm)",
            "extra: unknown property",
        ]
    );
}

/// Under an xAPI 1.0.x request a statement of version 2.0.x, or one using
/// 2.0's context agents, is refused with its path; under 2.0.x both pass.
#[test]
fn statements_follow_the_version_of_their_request() {
    use xapi_model::{ApiVersion, parse_statement, version_errors};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/statements/valid/xapi2-context-agents.json");
    let bytes = std::fs::read(path).expect("fixture");
    let s = parse_statement(&bytes).expect("valid");
    let paths = |api| {
        version_errors(&s, api)
            .into_iter()
            .map(|e| e.path)
            .collect::<Vec<_>>()
    };
    assert!(paths(ApiVersion::V2_0).is_empty());
    let v1 = paths(ApiVersion::V1_0);
    assert!(v1.contains(&"context.contextAgents".to_owned()), "{v1:?}");
    let mut plain: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    plain["context"]
        .as_object_mut()
        .expect("context")
        .remove("contextAgents");
    plain["context"]
        .as_object_mut()
        .expect("context")
        .remove("contextGroups");
    plain["version"] = serde_json::json!("2.0.0");
    let s = parse_statement(plain.to_string().as_bytes()).expect("valid");
    assert_eq!(
        version_errors(&s, ApiVersion::V1_0)
            .into_iter()
            .map(|e| e.path)
            .collect::<Vec<_>>(),
        ["version"]
    );
    plain["version"] = serde_json::json!("1.0.3");
    let s = parse_statement(plain.to_string().as_bytes()).expect("valid");
    assert!(version_errors(&s, ApiVersion::V1_0).is_empty());
}
