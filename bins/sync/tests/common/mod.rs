//! Shared by the `configure` suites: the binary run against a database
//! location (SQLite file or PostgreSQL URL), with the fakes' secrets in its
//! environment; a fresh database per check; what the database holds.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use store::Store;
use testkit::{Engine, TestDatabase};

pub const SCORM_SECRET: &str = "configure-scorm-secret";

/// Runs a check on a fresh database (its `--database` location) with a
/// scratch directory; SQLite, and PostgreSQL with `--ignored`.
pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(String, PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "sync-configure").await;
    check(db.url().to_owned(), db.dir().to_owned()).await;
    db.remove().await;
}

/// Runs `coursebridge-sync --database DB ARGS…` from the repository root:
/// exit code, stdout, stderr.
pub async fn sync(db: &str, args: &[&str]) -> (i32, String, String) {
    let db = db.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_coursebridge-sync"))
            .current_dir(&root)
            .arg("--database")
            .arg(&db)
            .args(&args)
            .env("COURSEBRIDGE_LOG", "warn")
            .env("CB_TEST_OS_SECRET_A", "secret-a")
            .env("CB_TEST_OS_SECRET_B", "secret-b")
            .env("CB_TEST_SCORM_SECRET", SCORM_SECRET)
            .output()
            .expect("run coursebridge-sync");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

/// What the database holds: the integration's settings, active flag and
/// update time; its courses; the change feed's length; the recorded changes.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub settings: Value,
    pub active: bool,
    pub updated_ms: i64,
    pub courses: Vec<store::Course>,
    pub events: usize,
    pub changes: usize,
}

pub async fn snapshot(db: &str, id: &str) -> Snapshot {
    let store = Store::open(db).await.expect("open");
    // PostgreSQL: events are in the feed once sequenced (the server does it).
    let mut tx = store.begin().await.expect("begin");
    tx.sequence_events(1_000_000).await.expect("sequence");
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.expect("read");
    let i = tx.integration(id).await.expect("read").expect("exists");
    let s = Snapshot {
        settings: i.settings,
        active: i.active,
        updated_ms: i.updated_ms,
        courses: tx.courses(id).await.expect("courses"),
        events: tx.events_after(0, 1_000_000).await.expect("feed").len(),
        changes: tx.setting_changes(id).await.expect("history").len(),
    };
    drop(tx);
    store.close().await;
    s
}
