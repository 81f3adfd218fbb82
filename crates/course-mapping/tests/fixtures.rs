//! One snapshot per catalog fixture: every course mapped, or rejected with its reason.

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/catalog")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

fn snapshot(
    provider: &str,
    items_key: &str,
    map: fn(&serde_json::Value) -> Result<course_mapping::MappedCourse, course_mapping::Rejected>,
) {
    for f in files(provider) {
        let page: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
        let items = page[items_key].as_array().expect("items");
        let out: Vec<serde_json::Value> = items
            .iter()
            .map(|c| match map(c) {
                Ok(m) => serde_json::json!({"mapped": m, "content_hash": m.content_hash()}),
                Err(r) => serde_json::json!({"rejected": r}),
            })
            .collect();
        let name = format!(
            "{provider}__{}",
            f.file_stem().expect("stem").to_string_lossy()
        );
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path("snapshots");
        s.set_prepend_module_to_snapshot(false);
        s.bind(|| insta::assert_snapshot!(name, serde_json::to_string_pretty(&out).expect("json")));
    }
}

#[test]
fn opensesame_catalogs() {
    snapshot("opensesame", "data", course_mapping::opensesame::map);
}

#[test]
fn udemy_catalogs() {
    snapshot("udemy", "results", course_mapping::udemy::map);
}
