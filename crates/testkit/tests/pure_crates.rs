//! The pure crates do no I/O: none depends, directly or through another
//! crate, on an async runtime, an HTTP stack or a database driver, and none
//! opens files or sockets or reads the clock outside its tests
//! (docs/ARCHITECTURE.md, "Pure crates do no I/O").

use std::path::Path;
use std::process::Command;

const PURE: &[&str] = &[
    "xapi-model",
    "course-mapping",
    "stats-rules",
    "record-plan",
    "scorm-cloud-client",
    "launch-link",
    "lms-delivery",
];

const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "async-std",
    "hyper",
    "axum",
    "reqwest",
    "sqlx",
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "tokio-postgres",
];

const IO_CALLS: &[&str] = &[
    "std::net",
    "std::fs",
    "SystemTime::now",
    "OffsetDateTime::now",
    "Instant::now",
    "Utc::now",
    // Randomness is the operating system's: a caller draws it.
    "new_v4",
];

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn pure_crates_depend_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for krate in PURE {
        let out = Command::new(&cargo)
            .current_dir(workspace())
            .args([
                "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", krate,
            ])
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let names: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(
            names.contains(krate),
            "{krate} is not in its own tree: {tree}"
        );
        for io in IO_CRATES {
            assert!(!names.contains(io), "{krate} depends on {io}:\n{tree}");
        }
    }
}

/// Source files of a crate, without their `#[cfg(test)]` modules (which
/// stand at the end of a file here).
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.push((path.display().to_string(), code.to_owned()));
        }
    }
}

#[test]
fn pure_crates_touch_no_file_socket_or_clock() {
    for krate in PURE {
        let mut files = Vec::new();
        sources(
            &workspace().join("crates").join(krate).join("src"),
            &mut files,
        );
        assert!(!files.is_empty(), "no sources for {krate}");
        for (path, code) in files {
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                for call in IO_CALLS {
                    assert!(
                        !line.contains(call),
                        "{path}:{}: {call} in a pure crate",
                        n + 1
                    );
                }
            }
        }
    }
}
