//! One snapshot per catalog fixture: every course mapped, or rejected with its
//! reason. Every fixture that does not match is reported (insta's `glob!`),
//! not just the first.

use std::path::Path;

/// A catalog page: each course mapped, or rejected.
fn mapped(
    path: &Path,
    items_key: &str,
    map: fn(&serde_json::Value) -> Result<course_mapping::MappedCourse, course_mapping::Rejected>,
) -> Vec<serde_json::Value> {
    let page: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
    let items = page[items_key].as_array().expect("items");
    items
        .iter()
        .map(|c| match map(c) {
            Ok(m) => serde_json::json!({"mapped": m, "content_hash": m.content_hash()}),
            Err(r) => serde_json::json!({"rejected": r}),
        })
        .collect()
}

fn snapshot(
    provider: &str,
    items_key: &str,
    map: fn(&serde_json::Value) -> Result<course_mapping::MappedCourse, course_mapping::Rejected>,
) {
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    insta::glob!(
        "../../../fixtures/catalog",
        &format!("{provider}/*"),
        |path| {
            if let Some(out) = checks.run(path, || mapped(path, items_key, map)) {
                let name = format!(
                    "{provider}__{}",
                    path.file_stem().expect("stem").to_string_lossy()
                );
                let mut s = insta::Settings::clone_current();
                s.set_snapshot_path("snapshots");
                s.set_prepend_module_to_snapshot(false);
                // The snapshot keeps the fixture's name alone (no `glob!` suffix).
                s.remove_snapshot_suffix();
                s.bind(|| {
                    insta::assert_snapshot!(name, serde_json::to_string_pretty(&out).expect("json"))
                });
            }
        }
    );
    checks.assert_all_passed();
}

#[test]
fn opensesame_catalogs() {
    snapshot("opensesame", "data", course_mapping::opensesame::map);
}

#[test]
fn udemy_catalogs() {
    snapshot("udemy", "results", course_mapping::udemy::map);
}
