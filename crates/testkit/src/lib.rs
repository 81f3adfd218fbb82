//! coursebridge's test kit: a dev-dependency of the test-suites, never a
//! dependency of a shipped crate or binary.
//!
//! - With the `db` feature, the harness of the database suites: an `Engine`
//!   (SQLite or PostgreSQL), a fresh `TestDatabase` on either, and the
//!   `both!` macro that turns one check into a SQLite test and an ignored
//!   PostgreSQL test. The PostgreSQL variants need
//!   `COURSEBRIDGE_TEST_POSTGRES_URL` (an admin URL: each test creates and
//!   drops its own database) and run with `cargo test -- --ignored`;
//!   `.ci/run` starts a throwaway cluster (`.ci/postgres.sh`) and runs them.
//! - Always, for the fixture tests (one snapshot per fixture with insta's
//!   `glob!`; every fixture that does not match reported, not just the
//!   first): [`snapshots_one_at_a_time`] and [`FixtureChecks`].

#[cfg(feature = "db")]
mod db;
#[cfg(feature = "db")]
pub use db::*;

/// Serializes the snapshot tests of one test binary; hold the guard for the
/// whole test.
///
/// insta's `glob!` reports every mismatching fixture of a test (instead of
/// stopping at the first) by counting the failures on a stack that is
/// process-wide, not per thread: while a `glob!` runs, a failing snapshot
/// assertion of any other test of the same binary is counted by that `glob!`
/// (and attributed to its test) instead of failing its own. Every test of a
/// binary that asserts snapshots, with or without `glob!`, takes this guard
/// so that each failure is reported by the test it belongs to. A test that
/// panicked while holding it does not poison it for the others.
pub fn snapshots_one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SNAPSHOTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SNAPSHOTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The checks of a loop over fixtures that are not snapshot assertions (in a
/// `glob!` or a plain loop): a fixture that fails one is recorded and the
/// loop goes on with the next fixture, as `glob!` does after a mismatching
/// snapshot; [`FixtureChecks::assert_all_passed`] then names them all.
/// Dropped with failures not asserted, it fails the test all the same (or,
/// when the test is already failing — a mismatching snapshot ends `glob!`
/// with a panic — prints their list).
///
/// ```ignore
/// let _serial = testkit::snapshots_one_at_a_time();
/// let mut checks = testkit::FixtureChecks::default();
/// insta::glob!("../../../fixtures/x", "*.json", |path| {
///     if let Some(out) = checks.run(path, || render(path)) {
///         insta::assert_snapshot!(name(path), out);
///     }
/// });
/// checks.assert_all_passed();
/// ```
#[derive(Debug, Default)]
pub struct FixtureChecks {
    failed: Vec<String>,
}

impl FixtureChecks {
    /// Runs `check` on `fixture`; `None` if it panicked (its message is
    /// printed as usual, and the fixture recorded).
    pub fn run<T>(&mut self, fixture: &std::path::Path, check: impl FnOnce() -> T) -> Option<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
            Ok(t) => Some(t),
            Err(_) => {
                self.failed.push(fixture.display().to_string());
                None
            }
        }
    }

    /// Panics naming every fixture whose check panicked.
    pub fn assert_all_passed(mut self) {
        let failed = std::mem::take(&mut self.failed);
        assert!(failed.is_empty(), "{}", report(&failed));
    }
}

impl Drop for FixtureChecks {
    fn drop(&mut self) {
        if self.failed.is_empty() {
            return;
        }
        let report = report(&self.failed);
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

fn report(failed: &[String]) -> String {
    format!(
        "{} fixture(s) failed a check (the messages are above):\n{}",
        failed.len(),
        failed.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::FixtureChecks;
    use std::path::Path;

    #[test]
    fn every_failing_fixture_is_named_and_the_loop_goes_on() {
        let mut checks = FixtureChecks::default();
        let mut seen = Vec::new();
        for (name, fails) in [("a.json", true), ("b.json", false), ("c.json", true)] {
            let out = checks.run(Path::new(name), || {
                seen.push(name);
                assert!(!fails, "{name} fails");
                name.len()
            });
            assert_eq!(out.is_some(), !fails);
        }
        assert_eq!(seen, ["a.json", "b.json", "c.json"]);
        let report = std::panic::catch_unwind(|| checks.assert_all_passed())
            .expect_err("two fixtures failed");
        let message = report.downcast_ref::<String>().expect("a message");
        assert!(
            message.starts_with("2 fixture(s) failed a check")
                && message.ends_with("a.json\nc.json"),
            "{message}"
        );
    }

    #[test]
    #[should_panic(expected = "1 fixture(s) failed a check (the messages are above):\nb.json")]
    fn failures_not_asserted_still_fail() {
        let mut checks = FixtureChecks::default();
        checks.run(Path::new("b.json"), || panic!("b.json fails"));
        drop(checks);
    }

    #[test]
    fn no_failure_passes() {
        let mut checks = FixtureChecks::default();
        assert_eq!(checks.run(Path::new("a.json"), || 1), Some(1));
        checks.assert_all_passed();
    }
}
