//! `store`: coursebridge's persistence, and the only crate that speaks SQL.
//!
//! One API over two engines through sqlx's `Any` driver with runtime queries:
//! SQLite (the embedded default: WAL, foreign keys, busy timeout, created on
//! first use) and PostgreSQL (several ingest instances and a sync against one
//! database). Queries are written once with `$N` placeholders and bound
//! parameters only; for SQLite they are rewritten to `?N`.
//!
//! Every operation runs in a [`Tx`]: [`Store::begin`] for writes,
//! [`Store::read`] for reads. On SQLite, writers are serialized in-process and
//! take the database write lock at `BEGIN`, so a transaction never fails
//! half-way with `SQLITE_BUSY`; on PostgreSQL, rows that several instances
//! update together are guarded by transaction-scoped advisory locks.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

mod courses;
mod integrations;
mod learners;
mod migrate;
mod pending;
mod scorm;
mod statements;
mod stats;
mod sync_runs;

pub use courses::*;
pub use integrations::*;
pub use learners::*;
pub use pending::*;
pub use scorm::*;
pub use statements::*;
pub use stats::*;
pub use sync_runs::*;

/// SQLite copies the write-ahead log back into the database (a checkpoint)
/// at the commit that finds the log this long (pages of 4 KiB). The default,
/// 1,000 pages, put a checkpoint with its fsyncs into a commit every few
/// groups under load and halved ingest throughput (docs/PERFORMANCE.md); a
/// server runs [`Store::checkpoint`] in the background instead, and this
/// threshold is the backstop that bounds the log (a checkpoint by the writer
/// itself lets the next write start the log again from the beginning).
pub const WAL_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 16384";

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {context}: {source}")]
    Db {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database configuration: {0}")]
    Config(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the database schema is at version {found}, newer than this program's {known}: upgrade coursebridge"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds context to a sqlx error.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Db { context, source })
    }
}

/// The database: a pool, its engine, and (SQLite) the in-process writer lock
/// and the writer's own connection.
#[derive(Clone)]
pub struct Store {
    /// Reads (and every transaction on PostgreSQL).
    pool: AnyPool,
    /// Write transactions: on SQLite one connection, on PostgreSQL `pool`.
    write_pool: AnyPool,
    backend: Backend,
    writer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Where the database is: a `postgres://` or `postgresql://` URL selects
/// PostgreSQL; a `sqlite:` URL or a plain file path selects SQLite (the file is
/// created with its directory on first use).
pub fn backend_of(location: &str) -> Backend {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn open(location: &str) -> Result<Self> {
        let store = Self::connect(location).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating (for `migrate --status` and tests).
    pub async fn connect(location: &str) -> Result<Self> {
        install_default_drivers();
        let backend = backend_of(location);
        let (url, max) = match backend {
            // No statement cache: through the Any driver a statement first
            // prepared with a NULL parameter keeps a wrong parameter type, and
            // a cached statement reused with a value fails ("incorrect binary
            // data format"). Unnamed statements are parsed with each call's types.
            Backend::Postgres if location.contains("statement-cache-capacity") => {
                (location.to_owned(), 16)
            }
            Backend::Postgres => (
                format!(
                    "{location}{}statement-cache-capacity=0",
                    if location.contains('?') { '&' } else { '?' }
                ),
                16,
            ),
            Backend::Sqlite => {
                let path = location
                    .strip_prefix("sqlite://")
                    .or_else(|| location.strip_prefix("sqlite:"))
                    .unwrap_or(location);
                if path.is_empty() || path.contains('?') {
                    return Err(StoreError::Config(format!(
                        "sqlite path {path:?}: give a plain file path"
                    )));
                }
                if let Some(dir) = std::path::Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                (format!("sqlite://{path}?mode=rwc"), 8)
            }
        };
        // SQLite: one connection of its own for writes, so that its page
        // cache stays warm (a connection must re-read every page another one
        // changed) and its statement cache holds the writer's queries.
        let options = |max: u32, cache: &'static str| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute(cache).await?;
                            conn.execute("PRAGMA temp_store = MEMORY").await?;
                            conn.execute(WAL_AUTOCHECKPOINT).await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = options(max, "PRAGMA cache_size = -8192")
            .connect(&url)
            .await
            .ctx("connecting")?;
        let write_pool = match backend {
            Backend::Sqlite => options(1, "PRAGMA cache_size = -65536")
                .connect(&url)
                .await
                .ctx("connecting the writer")?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Self {
            pool,
            write_pool,
            backend,
            writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it holds the in-process writer lock and
    /// the database write lock from the start.
    pub async fn begin(&self) -> Result<Tx<'_>> {
        self.begin_write(true).await
    }

    pub(crate) async fn begin_write(&self, take_lock_row: bool) -> Result<Tx<'_>> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.writer.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = Tx {
            tx: self
                .write_pool
                .begin()
                .await
                .ctx("beginning a transaction")?,
            backend: self.backend,
            _writer: guard,
        };
        if self.backend == Backend::Sqlite && take_lock_row {
            // Take SQLite's write lock now rather than on the first write, so that
            // a read-then-write transaction cannot fail with SQLITE_BUSY midway.
            tx.exec(
                "UPDATE write_lock SET n = n + 1 WHERE id = 1",
                "taking the write lock",
            )
            .await?;
        }
        Ok(tx)
    }

    /// A read transaction (a consistent snapshot; no writer lock).
    pub async fn read(&self) -> Result<Tx<'_>> {
        Ok(Tx {
            tx: self.pool.begin().await.ctx("beginning a read")?,
            backend: self.backend,
            _writer: None,
        })
    }

    /// SQLite: copies committed pages from the write-ahead log into the
    /// database file without blocking writers (`wal_checkpoint(PASSIVE)`), and
    /// returns (pages in the log, pages copied so far). A server calls this
    /// often from a task of its own, so that the writer's commits seldom find
    /// pages left to copy (see [`WAL_AUTOCHECKPOINT`]). PostgreSQL: `None`.
    pub async fn checkpoint(&self) -> Result<Option<(i64, i64)>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await
            .ctx("checkpointing the write-ahead log")?;
        use sqlx::Row;
        let log: i64 = row.try_get(1).ctx("checkpoint: log size")?;
        let copied: i64 = row.try_get(2).ctx("checkpoint: pages copied")?;
        Ok(Some((log, copied)))
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .ctx("pinging the database")?;
        Ok(())
    }

    /// Runs one administrative statement outside any transaction (e.g. `CREATE
    /// DATABASE` in test set-up). Not for data: use a [`Tx`].
    pub async fn execute_admin(&self, sql: &str) -> Result<()> {
        self.pool
            .execute(sql)
            .await
            .ctx("running an administrative statement")?;
        Ok(())
    }

    /// Whether [`Store::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    pub async fn close(&self) {
        self.write_pool.close().await;
        self.pool.close().await;
    }
}

/// A transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx<'s> {
    pub(crate) tx: sqlx::Transaction<'static, Any>,
    pub(crate) backend: Backend,
    _writer: Option<MutexGuard<'s, ()>>,
}

impl Tx<'_> {
    /// Commits. A transaction in which a statement failed is never committed
    /// half-way: PostgreSQL aborts it (and would turn `COMMIT` into a silent
    /// rollback), so that case is detected and reported as an error.
    pub async fn commit(mut self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1")
                .execute(&mut *self.tx)
                .await
                .ctx("committing (the transaction was aborted by an earlier error)")?;
        }
        self.tx.commit().await.ctx("committing")
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.ctx("rolling back")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Marks a point to roll back to without abandoning the transaction
    /// (several requests share one transaction in a group commit).
    pub async fn savepoint(&mut self) -> Result<()> {
        self.exec("SAVEPOINT request", "setting a savepoint")
            .await
            .map(drop)
    }

    /// Undoes everything since [`Tx::savepoint`]; the transaction goes on (on
    /// PostgreSQL this also clears an error state).
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.exec(
            "ROLLBACK TO SAVEPOINT request",
            "rolling back to the savepoint",
        )
        .await?;
        self.exec("RELEASE SAVEPOINT request", "releasing the savepoint")
            .await
            .map(drop)
    }

    /// Keeps everything since [`Tx::savepoint`].
    pub async fn release_savepoint(&mut self) -> Result<()> {
        self.exec("RELEASE SAVEPOINT request", "releasing the savepoint")
            .await
            .map(drop)
    }

    /// The query text for this engine.
    pub(crate) fn sql(&self, q: &str) -> String {
        dialect(self.backend, q).into_owned()
    }

    pub(crate) async fn exec(&mut self, q: &str, context: &'static str) -> Result<u64> {
        let q = self.sql(q);
        Ok(sqlx::query(&q)
            .execute(&mut *self.tx)
            .await
            .ctx(context)?
            .rows_affected())
    }

    /// Serializes concurrent transactions (of any process) on one key until
    /// this transaction ends: an advisory lock on PostgreSQL; on SQLite the
    /// writer lock already serializes every write transaction.
    pub async fn lock_key(&mut self, key: i64) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *self.tx)
                .await
                .ctx("taking an advisory lock")?;
        }
        Ok(())
    }
}

/// Rewrites `$N` placeholders for SQLite (outside string literals): when they
/// appear exactly as `$1, $2, …, $n`, in that order and once each, as anonymous
/// `?` — SQLite binds those by position, while looking up a numbered `?N` costs
/// a scan of all parameter names, quadratic in a multi-row insert —, otherwise
/// as `?N`.
pub(crate) fn dialect(backend: Backend, q: &str) -> Cow<'_, str> {
    if backend == Backend::Postgres || !q.contains('$') {
        return Cow::Borrowed(q);
    }
    let bytes = q.as_bytes();
    // Pass 1: placeholders in order of appearance.
    let mut numbers = Vec::new();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_str = !in_str,
            b'$' if !in_str && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i + 1;
                let mut end = start;
                while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                numbers.push(q[start..end].parse::<usize>().unwrap_or(0));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let sequential = numbers.iter().enumerate().all(|(k, n)| *n == k + 1);
    // Pass 2: rewrite.
    let mut out = String::with_capacity(q.len());
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' => in_str = !in_str,
            b'$' if !in_str && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                out.push('?');
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    if !sequential {
                        out.push(char::from(bytes[i]));
                    }
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        // Copy the next character whole (queries may hold non-ASCII text).
        let len = q[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&q[i..i + len]);
        i += len;
    }
    Cow::Owned(out)
}

/// Reads a column, naming it in the error.
pub(crate) fn col<'r, T>(row: &'r sqlx::any::AnyRow, name: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    row.try_get::<T, _>(name).ctx(name)
}

/// `rows` copies of a row template joined by `sep`, each `?` numbered in order
/// from `$first`: `repeat_row("(?, 0, ?)", 2, 3, ", ")` is `($3, 0, $4), ($5, 0, $6)`.
/// (Engine rewriting to SQLite's `?N` happens afterwards, in [`Tx::sql`].)
pub(crate) fn repeat_row(template: &str, rows: usize, first: usize, sep: &str) -> String {
    let mut out = String::with_capacity(rows * (template.len() + 8));
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(sep);
        }
        for c in template.chars() {
            if c == '?' {
                out.push('$');
                out.push_str(&n.to_string());
                n += 1;
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// Booleans are stored as 0/1 integers on both engines.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            dialect(
                Backend::Sqlite,
                "SELECT * FROM t WHERE a = $1 AND b = '$2' AND c = $10"
            ),
            "SELECT * FROM t WHERE a = ?1 AND b = '$2' AND c = ?10"
        );
        // In order and once each: anonymous, bound by position.
        assert_eq!(
            dialect(Backend::Sqlite, "VALUES ($1, 'é$', $2), ($3, $4)"),
            "VALUES (?, 'é$', ?), (?, ?)"
        );
        // A repeated or out-of-order number keeps its number.
        assert_eq!(
            dialect(Backend::Sqlite, "a = $1 OR b = $1 AND c = $2"),
            "a = ?1 OR b = ?1 AND c = ?2"
        );
        assert_eq!(dialect(Backend::Sqlite, "a = $2, b = $1"), "a = ?2, b = ?1");
        assert_eq!(dialect(Backend::Postgres, "a = $1"), "a = $1");
    }

    #[test]
    fn row_templates() {
        assert_eq!(
            repeat_row("(?, 0, ?)", 2, 3, ", "),
            "($3, 0, $4), ($5, 0, $6)"
        );
        assert_eq!(repeat_row("?", 3, 1, ", "), "$1, $2, $3");
        assert_eq!(repeat_row("(?)", 0, 1, ", "), "");
    }

    #[test]
    fn backends() {
        assert_eq!(backend_of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("data/coursebridge.db"), Backend::Sqlite);
        assert_eq!(backend_of("sqlite:data/x.db"), Backend::Sqlite);
    }
}
