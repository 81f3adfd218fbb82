//! Every crate takes the workspace's lints; `wal-coalesce`, the one crate
//! allowed `unsafe` (a SQLite VFS is a table of C callbacks), repeats every
//! other workspace lint as it stands (docs/ARCHITECTURE.md, "`unsafe` lives
//! in `crates/wal-coalesce` only").

use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `key = value` lines of each `[prefix.NAME]` table of a manifest, as
/// (NAME, key, value).
fn lint_tables(manifest: &str, prefix: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut table: Option<String> = None;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = header
                .strip_prefix(prefix)
                .and_then(|t| t.strip_prefix('.'))
                .map(str::to_owned);
            continue;
        }
        if let (Some(t), Some((k, v))) = (&table, line.split_once('=')) {
            if !line.starts_with('#') {
                out.push((t.clone(), k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn wal_coalesce_repeats_every_workspace_lint_but_unsafe_code() {
    let root = read(&workspace().join("Cargo.toml"));
    let wanted = lint_tables(&root, "workspace.lints");
    assert!(!wanted.is_empty(), "no workspace lints found");
    let own = lint_tables(
        &read(&workspace().join("crates/wal-coalesce/Cargo.toml")),
        "lints",
    );
    for lint in &wanted {
        if lint.1 == "unsafe_code" {
            continue;
        }
        assert!(
            own.contains(lint),
            "wal-coalesce lacks the workspace lint {lint:?}"
        );
    }
    assert!(
        own.iter()
            .all(|l| l.1 == "unsafe_code" || wanted.contains(l)),
        "wal-coalesce sets a lint the workspace does not: {own:?}"
    );
}

#[test]
fn every_other_crate_takes_the_workspace_lints() {
    for dir in ["crates", "bins"] {
        for entry in std::fs::read_dir(workspace().join(dir)).expect("a folder") {
            let path = entry.expect("an entry").path().join("Cargo.toml");
            if !path.exists() || path.parent().is_some_and(|p| p.ends_with("wal-coalesce")) {
                continue;
            }
            let manifest = read(&path);
            assert!(
                manifest.contains("[lints]\nworkspace = true"),
                "{} does not take the workspace lints",
                path.display()
            );
        }
    }
}
