//! The two-engine harness: a fresh database on SQLite or PostgreSQL, and the
//! [`both!`](crate::both) macro.

use std::path::{Path, PathBuf};

use store::Store;

/// The admin URL of the PostgreSQL server the `_postgres` variants run on.
pub const POSTGRES_URL_ENV: &str = "COURSEBRIDGE_TEST_POSTGRES_URL";

/// The engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in a temporary directory; always run.
    Sqlite,
    /// A database of its own on the server of [`POSTGRES_URL_ENV`]; the
    /// tests are ignored unless run with `--ignored`.
    Postgres,
}

/// A directory of its own under the system's temporary directory,
/// `<prefix>-<uuid>`, created. The caller removes it (or leaves it, for a
/// look after a failure).
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A fresh, empty database (no schema: [`TestDatabase::open`] migrates it,
/// [`TestDatabase::connect`] leaves it empty) and a scratch directory, for
/// one test. [`TestDatabase::remove`] removes both; a test that fails before
/// leaves them behind.
#[derive(Debug)]
pub struct TestDatabase {
    engine: Engine,
    url: String,
    dir: PathBuf,
    /// PostgreSQL: the admin URL and the database's name.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates the database. `name` tells the tests' databases apart when
    /// one is left behind: the SQLite file is `cb-<name>-<uuid>/test.db`
    /// under the temporary directory, the PostgreSQL database
    /// `cb_<name>_<uuid>` (with a scratch directory `cb-<name>-<uuid>` too).
    ///
    /// Panics, for [`Engine::Postgres`], when [`POSTGRES_URL_ENV`] is not set
    /// or the database cannot be created.
    pub async fn create(engine: Engine, name: &str) -> Self {
        let dir = scratch_dir(&format!("cb-{name}"));
        match engine {
            Engine::Sqlite => {
                let path = dir.join("test.db");
                let url = path
                    .to_str()
                    .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
                    .to_owned();
                Self {
                    engine,
                    url,
                    dir,
                    postgres: None,
                }
            }
            Engine::Postgres => {
                let admin = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| {
                    panic!(
                        "{POSTGRES_URL_ENV} is not set: the PostgreSQL tests need a server \
                         (`export {POSTGRES_URL_ENV}=$(bash .ci/postgres.sh start)`)"
                    )
                });
                let db = format!(
                    "cb_{}_{}",
                    name.replace('-', "_"),
                    uuid::Uuid::new_v4().simple()
                );
                admin_exec(&admin, &format!("CREATE DATABASE {db}")).await;
                Self {
                    engine,
                    url: with_database(&admin, &db),
                    dir,
                    postgres: Some((admin, db)),
                }
            }
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The location to give `Store::open`/`Store::connect`, `--database` or
    /// `DATABASE_URL`: the SQLite file's path, or the PostgreSQL database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A directory of this test's own (the SQLite file's, on SQLite).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store on this database, migrated to the current schema.
    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {:?} {}: {e}", self.engine, self.url))
    }

    /// The store on this database, not migrated (for the upgrade checks).
    pub async fn connect(&self) -> Store {
        Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect {:?} {}: {e}", self.engine, self.url))
    }

    /// Removes the scratch directory and drops the PostgreSQL database.
    /// Close the stores on it first.
    pub async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, db)) = &self.postgres {
            // `WITH (FORCE)`: a closed pool's connections are gone on our
            // side, but their server processes may still be exiting, and a
            // plain `DROP DATABASE` then fails with "being accessed by other
            // users".
            admin_exec(admin, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
        }
    }
}

/// Runs one statement on the admin URL, on a connection of its own.
async fn admin_exec(admin_url: &str, sql: &str) {
    let admin = Store::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
    admin
        .execute_admin(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await;
}

/// The admin URL with its database replaced by `db` (its query kept).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// One check, two tests: on SQLite, and on PostgreSQL, ignored unless run
/// with `--ignored` (and [`POSTGRES_URL_ENV`] set).
///
/// The suite's runner is called with the [`Engine`], the extra arguments and
/// the check, and awaited: `run(Engine::Sqlite, args.., check).await`. It
/// typically creates a [`TestDatabase`], builds what the check takes, calls
/// it and cleans up. The suite depends on `tokio` (`macros`,
/// `rt-multi-thread`).
///
/// - `both!(check, run, args..)`: the tests `check::sqlite` and
///   `check::postgres`, on a 4-thread runtime; `check` and `run` are items of
///   the calling module (the tests' module imports it whole).
/// - `both!(#[tokio::test(...)] mod check, run, args..)`: the same on the
///   runtime given.
/// - `both!(#[tokio::test(...)] fn sqlite_name, postgres_name = run(args..))`:
///   the tests `sqlite_name` and `postgres_name`, in the calling module,
///   calling `run(Engine::Sqlite, args..)` and `run(Engine::Postgres, args..)`.
#[macro_export]
macro_rules! both {
    (#[$runtime:meta] fn $sqlite:ident, $postgres:ident = $run:ident($($arg:expr),* $(,)?)) => {
        #[$runtime]
        async fn $sqlite() {
            $run($crate::Engine::Sqlite, $($arg),*).await;
        }

        #[$runtime]
        #[ignore = "needs PostgreSQL: set COURSEBRIDGE_TEST_POSTGRES_URL and run with --ignored (CI does)"]
        async fn $postgres() {
            $run($crate::Engine::Postgres, $($arg),*).await;
        }
    };
    (#[$runtime:meta] mod $check:ident, $run:ident $(, $arg:expr)* $(,)?) => {
        mod $check {
            use super::*;

            #[$runtime]
            async fn sqlite() {
                $run($crate::Engine::Sqlite, $($arg,)* $check).await;
            }

            #[$runtime]
            #[ignore = "needs PostgreSQL: set COURSEBRIDGE_TEST_POSTGRES_URL and run with --ignored (CI does)"]
            async fn postgres() {
                $run($crate::Engine::Postgres, $($arg,)* $check).await;
            }
        }
    };
    ($check:ident, $run:ident $(, $arg:expr)* $(,)?) => {
        $crate::both!(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            mod $check, $run $(, $arg)*
        );
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_replaces_the_admin_one() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "cb_x"),
            "postgres://postgres@127.0.0.1:5432/cb_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "cb_x"),
            "postgres://u:p@h/cb_x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "cb_x"), "postgres://h/cb_x");
    }
}
