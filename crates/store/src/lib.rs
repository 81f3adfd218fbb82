//! `store`: coursebridge's persistence, and the only crate that speaks SQL.
//!
//! One API over two engines through sqlx's `Any` driver with runtime queries:
//! SQLite (the embedded default: WAL, foreign keys, busy timeout, created on
//! first use) and PostgreSQL (several ingest instances and a sync against one
//! database). Queries are written once with `$N` placeholders and bound
//! parameters only; for SQLite they are rewritten to `?` (or `?N`).
//!
//! Every operation runs in a [`Tx`]: [`Store::begin`] for writes,
//! [`Store::read`] for reads, and on SQLite [`NativeWriter::begin`] for the
//! ingest's group writer: a connection of its own on which SQLite is called
//! directly in the writing thread, for the queries of the write path (the
//! same query text and parameters, see `exec`; other queries are refused
//! there with an error). On SQLite, writers are serialized in-process and
//! take the database write lock at `BEGIN`, so a transaction never fails
//! half-way with `SQLITE_BUSY`; on PostgreSQL, rows that several instances
//! update together are guarded by transaction-scoped advisory locks.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, TransactionManager};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

mod attachments;
mod courses;
mod exec;
mod integrations;
mod learners;
mod migrate;
mod native;
mod pending;
mod scorm;
mod statements;
mod stats;
mod sync_runs;

pub use attachments::*;
pub use courses::*;
pub use integrations::*;
pub use learners::*;
pub use native::{LogSync, NativeWriter};
pub use pending::*;
pub use scorm::*;
pub use statements::*;
pub use stats::*;
pub use sync_runs::*;

/// SQLite copies the write-ahead log back into the database (a checkpoint)
/// at the commit that finds the log this long (pages of 4 KiB). SQLite's
/// default, 1,000 pages, put a checkpoint with its fsyncs into a commit every
/// few groups under load, halved ingest throughput and tripled its p99
/// (docs/PERFORMANCE.md). A server runs [`Store::checkpoint`] from a task of
/// its own instead; this is only the backstop for processes that do not (and
/// the log is copied back when the last connection closes).
pub const WAL_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 131072";

/// Settings of every SQLite connection (sqlx's and [`NativeWriter`]'s).
pub(crate) const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    // Every commit synced (the log fsynced): what a connection commits
    // survives a crash of the machine, not only of the process. The group
    // writer's direct connection commits without it and syncs the log itself
    // before it answers (`native::WRITER_SYNCHRONOUS`, [`LogSync`]).
    "PRAGMA synchronous = FULL",
    "PRAGMA temp_store = MEMORY",
    WAL_AUTOCHECKPOINT,
];

/// The page cache of a SQLite connection that writes (64 MiB).
pub(crate) const WRITER_CACHE: &str = "PRAGMA cache_size = -65536";

/// Log length (pages) past which [`Store::checkpoint`] makes sure the log
/// starts again from the beginning (256 MiB: the last pass, with writers held
/// back, takes some 10–50 ms, mostly fsync, so it should be rare — about once
/// a second under full load, as the log takes 10–15 KiB per statement). The
/// log file is not cut back after a restart (truncating a large file inside
/// the writer's transaction stalled it for 300 ms): it stays at its largest.
pub const WAL_RESTART_PAGES: i64 = 65536;

/// Pages written during a pass below which [`Store::checkpoint`] holds
/// writers back for the last pass (about 1 MiB: a few milliseconds).
const WAL_FINAL_PASS_PAGES: i64 = 256;

/// Passes [`Store::checkpoint`] makes while writers go on before the last
/// one: each copies what was written during the one before, so under a
/// steady load they get shorter geometrically.
const WAL_PASSES: usize = 8;

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
    #[error("database error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
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
    /// SQLite: the writer's connection, kept between transactions (taking it
    /// from the pool again costs a task hop per transaction); the lock also
    /// serializes writers in this process. `None` until first used.
    writer: Arc<Mutex<Option<PoolConnection<Any>>>>,
    /// SQLite: the database file (for [`NativeWriter`]).
    sqlite_path: Option<Arc<str>>,
    /// SQLite: the checkpoint's last pass, handed to the group writer.
    last_pass: Arc<LastPass>,
}

/// How [`Store::checkpoint`] hands its last pass to a [`NativeWriter`]: the
/// writer makes it on its own connection and thread right before its next
/// transaction, instead of the checkpointer taking the writer lock — which
/// stalled the writer while the checkpointer's task waited for a core and
/// its query went to sqlx's worker thread (docs/PERFORMANCE.md).
#[derive(Debug, Default)]
struct LastPass {
    /// Open direct connections (each takes the writer lock per transaction).
    writers: AtomicUsize,
    /// A last pass is wanted before the next write transaction, asked for
    /// then (the checkpointer makes no passes of its own for
    /// [`LAST_PASS_PATIENCE`] after asking, so as not to hold the checkpoint
    /// lock when the writer comes to make it).
    asked: std::sync::Mutex<Option<Instant>>,
}

impl LastPass {
    fn asked(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How long [`Store::checkpoint`] leaves the log to the writer after asking
/// it for the last pass (an idle writer makes none: then passes go on).
const LAST_PASS_PATIENCE: Duration = Duration::from_secs(1);

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
        let mut sqlite_path = None;
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
                sqlite_path = Some(Arc::from(path));
                (format!("sqlite://{path}?mode=rwc"), 8)
            }
        };
        // SQLite: one connection of its own for writes, so that its page
        // cache stays warm (a connection must re-read every page another one
        // changed) and its statement cache holds the writer's queries.
        let options = |max: u32, cache: &'static str| {
            AnyPoolOptions::new()
                .max_connections(max)
                // A SQLite connection is a file handle in this process: no
                // round trip to check it before each use.
                .test_before_acquire(backend == Backend::Postgres)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            for pragma in SQLITE_PRAGMAS {
                                conn.execute(*pragma).await?;
                            }
                            conn.execute(cache).await?;
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
            Backend::Sqlite => options(1, WRITER_CACHE)
                .connect(&url)
                .await
                .ctx("connecting the writer")?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Self {
            pool,
            write_pool,
            backend,
            writer: Arc::new(Mutex::new(None)),
            sqlite_path,
            last_pass: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it holds the in-process writer lock and
    /// takes the database write lock at `BEGIN IMMEDIATE`, so that a
    /// read-then-write transaction never fails with `SQLITE_BUSY` midway
    /// (another process, e.g. a sync, may be writing).
    pub async fn begin(&self) -> Result<Tx<'_>> {
        if self.backend == Backend::Postgres {
            return Ok(Tx {
                tx: TxConn::Pooled(
                    self.write_pool
                        .begin()
                        .await
                        .ctx("beginning a transaction")?,
                ),
                backend: self.backend,
                conn: PhantomData,
            });
        }
        let mut slot = self.writer.lock().await;
        if slot.is_none() {
            *slot = Some(
                self.write_pool
                    .acquire()
                    .await
                    .ctx("connecting the writer")?,
            );
        }
        let mut conn = match MutexGuard::try_map(slot, Option::as_mut) {
            Ok(c) => c,
            Err(_) => return Err(StoreError::Config("the writer connection is gone".into())),
        };
        if let Err(e) =
            <AnyTm as TransactionManager>::begin(&mut conn, Some(Cow::Borrowed("BEGIN IMMEDIATE")))
                .await
        {
            // Start again with a fresh connection next time.
            drop(conn);
            self.writer.lock().await.take();
            return Err(StoreError::Db {
                context: "beginning a transaction",
                source: e,
            });
        }
        Ok(Tx {
            tx: TxConn::Held(HeldTx { conn, open: true }),
            backend: self.backend,
            conn: PhantomData,
        })
    }

    /// A read transaction (a consistent snapshot; no writer lock).
    pub async fn read(&self) -> Result<Tx<'_>> {
        Ok(Tx {
            tx: TxConn::Pooled(self.pool.begin().await.ctx("beginning a read")?),
            backend: self.backend,
            conn: PhantomData,
        })
    }

    /// SQLite: copies committed pages from the write-ahead log into the
    /// database file without blocking writers (`wal_checkpoint(PASSIVE)`) and
    /// returns (pages in the log, pages copied). Under constant writes the log
    /// would never be wholly copied at the moment a writer starts — the moment
    /// SQLite starts the log again from the beginning — and would grow without
    /// end; so once it is longer than `restart_pages` (a server passes
    /// [`WAL_RESTART_PAGES`]), it copies again while writers go on until what
    /// they add during one pass is small, and then the last pass is made with
    /// writers held back, after which the next write transaction restarts the
    /// log. With a [`NativeWriter`] open, the writer makes that last pass
    /// itself, on its own thread, before its next transaction
    /// ([`NativeWriter::begin`]); otherwise this takes the writer lock for it.
    /// `None`: nothing was done — PostgreSQL, or the writer was asked for the
    /// last pass less than [`LAST_PASS_PATIENCE`] ago and has not made it yet
    /// (after that, plain passes go on until it does).
    pub async fn checkpoint(&self, restart_pages: i64) -> Result<Option<(i64, i64)>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let writers = self.last_pass.writers.load(Ordering::Acquire);
        let asked = match *self.last_pass.asked() {
            Some(at) if writers > 0 => {
                if at.elapsed() < LAST_PASS_PATIENCE {
                    return Ok(None);
                }
                true
            }
            _ => false,
        };
        let (mut log, mut copied) = self.passive_checkpoint().await?;
        if log < restart_pages || asked {
            return Ok(Some((log, copied)));
        }
        // A log that got shorter was started again (a pass copied everything
        // and the next write transaction restarted it): nothing to hold back.
        for _ in 0..WAL_PASSES {
            let (now, c) = self.passive_checkpoint().await?;
            if now < log {
                return Ok(Some((now, c)));
            }
            let added = now - log;
            (log, copied) = (now, c);
            if added <= WAL_FINAL_PASS_PAGES {
                break;
            }
        }
        if writers > 0 {
            *self.last_pass.asked() = Some(Instant::now());
            return Ok(Some((log, copied)));
        }
        // No direct connection (any more): the last pass is made here.
        *self.last_pass.asked() = None;
        let _writers = self.writer.lock().await;
        self.passive_checkpoint().await.map(Some)
    }

    async fn passive_checkpoint(&self) -> Result<(i64, i64)> {
        use sqlx::Row;
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await
            .ctx("checkpointing the write-ahead log")?;
        let log: i64 = row.try_get(1).ctx("checkpoint: log size")?;
        let copied: i64 = row.try_get(2).ctx("checkpoint: pages copied")?;
        Ok((log, copied))
    }

    /// Rows whose references point nowhere (SQLite's `PRAGMA
    /// foreign_key_check`), for checks and tests: the group writer's direct
    /// connection does not enforce references as it writes (see
    /// `native::WRITER_FOREIGN_KEYS`). PostgreSQL enforces them always: `None`.
    pub async fn foreign_key_violations(&self) -> Result<Option<usize>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let rows = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.pool)
            .await
            .ctx("checking references")?;
        Ok(Some(rows.len()))
    }

    /// SQLite's `synchronous` setting on the store's own connections (2:
    /// FULL, every commit synced), for checks and tests; `None` on PostgreSQL.
    pub async fn sqlite_synchronous(&self) -> Result<Option<i64>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        use sqlx::Row;
        let row = sqlx::query("PRAGMA synchronous")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the synchronous setting")?;
        Ok(Some(row.try_get(0).ctx("reading the synchronous setting")?))
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
        if let Some(conn) = self.writer.lock().await.take() {
            let _ = conn.close().await;
        }
        self.write_pool.close().await;
        self.pool.close().await;
    }
}

/// A transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx<'s, C: Conn = AnyQuery> {
    pub(crate) tx: TxConn<'s>,
    pub(crate) backend: Backend,
    pub(crate) conn: PhantomData<C>,
}

/// What a [`Tx`] may run, known at compile time.
pub trait Conn: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AnyQuery {}
    impl Sealed for super::WritePath {}
}

/// Every query: a transaction of [`Store::begin`] or [`Store::read`].
#[derive(Debug)]
pub struct AnyQuery;

/// The write path only — the methods written over `exec.rs`, which both a
/// pooled connection and the group writer's direct SQLite connection run:
/// [`NativeWriter::begin`] gives no other kind of transaction, so a query
/// the direct connection cannot run does not compile there:
///
/// ```compile_fail
/// async fn refused(writer: &mut store::NativeWriter) {
///     let mut tx = writer.begin().await.expect("begin");
///     // `integration` reads through sqlx: not on the write path.
///     let _ = tx.integration("os-acme").await;
/// }
/// ```
///
/// while the write path's own queries do:
///
/// ```
/// async fn allowed(writer: &mut store::NativeWriter) {
///     let mut tx = writer.begin().await.expect("begin");
///     let _ = tx.learner_by_identity("mbox:ada@example.com").await;
/// }
/// ```
#[derive(Debug)]
pub struct WritePath;

impl Conn for AnyQuery {}
impl Conn for WritePath {}

impl<'s> Tx<'s> {
    /// The same transaction, limited to the write path (what the group
    /// writer runs on either kind of connection).
    pub fn into_write_path(self) -> Tx<'s, WritePath> {
        Tx {
            tx: self.tx,
            backend: self.backend,
            conn: PhantomData,
        }
    }
}

type AnyTm = <Any as sqlx::Database>::TransactionManager;

/// The connection a transaction runs on.
pub(crate) enum TxConn<'s> {
    /// A pooled connection (reads; every transaction on PostgreSQL).
    Pooled(sqlx::Transaction<'static, Any>),
    /// SQLite's writer connection, held under the writer lock.
    Held(HeldTx<'s>),
    /// The group writer's direct SQLite connection, under the writer lock.
    Native(native::NativeTx<'s>),
}

/// A transaction on the held writer connection; rolled back when dropped open.
pub(crate) struct HeldTx<'s> {
    conn: MappedMutexGuard<'s, PoolConnection<Any>>,
    open: bool,
}

impl Drop for HeldTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection; it runs before anything else on it.
            <AnyTm as TransactionManager>::start_rollback(&mut self.conn);
        }
    }
}

impl TxConn<'_> {
    /// The sqlx connection. The direct SQLite connection runs only the
    /// queries of [`exec`] (the group writer's): only a `Tx<WritePath>` holds
    /// it, whose methods never ask for this; the error is a second guard.
    pub(crate) fn any(&mut self) -> Result<&mut AnyConnection> {
        match self {
            TxConn::Pooled(t) => Ok(&mut *t),
            TxConn::Held(h) => Ok(&mut h.conn),
            TxConn::Native(_) => Err(StoreError::Config(
                "this query is not available on the group writer's SQLite connection".into(),
            )),
        }
    }
}

impl<C: Conn> Tx<'_, C> {
    /// On the group writer's direct SQLite connection, SQLite's
    /// `PRAGMA data_version`: it changes when another connection, of this
    /// process or another, commits a change to the database, and never for
    /// this connection's own commits. Read inside a write transaction (no one
    /// else can commit until it ends), an unchanged value says that the
    /// database holds nothing but what this connection wrote since it last
    /// read it. `None` on any other connection.
    pub fn data_version(&mut self) -> Result<Option<i64>> {
        match &mut self.tx {
            TxConn::Native(n) => n.data_version().map(Some),
            _ => Ok(None),
        }
    }

    /// Commits. A transaction in which a statement failed is never committed
    /// half-way: PostgreSQL aborts it (and would turn `COMMIT` into a silent
    /// rollback), so that case is detected and reported as an error.
    pub async fn commit(mut self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1")
                .execute(self.tx.any()?)
                .await
                .ctx("committing (the transaction was aborted by an earlier error)")?;
        }
        match self.tx {
            TxConn::Pooled(t) => t.commit().await.ctx("committing"),
            TxConn::Held(mut h) => {
                <AnyTm as TransactionManager>::commit(&mut h.conn)
                    .await
                    .ctx("committing")?;
                h.open = false;
                Ok(())
            }
            TxConn::Native(mut n) => n.finish("COMMIT", "committing"),
        }
    }

    pub async fn rollback(self) -> Result<()> {
        match self.tx {
            TxConn::Pooled(t) => t.rollback().await.ctx("rolling back"),
            TxConn::Held(mut h) => {
                <AnyTm as TransactionManager>::rollback(&mut h.conn)
                    .await
                    .ctx("rolling back")?;
                h.open = false;
                Ok(())
            }
            TxConn::Native(mut n) => n.finish("ROLLBACK", "rolling back"),
        }
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
        self.run(&q, &[], context).await
    }

    /// Serializes concurrent transactions (of any process) on one key until
    /// this transaction ends: an advisory lock on PostgreSQL; on SQLite the
    /// writer lock already serializes every write transaction.
    pub async fn lock_key(&mut self, key: i64) -> Result<()> {
        if self.backend == Backend::Postgres {
            self.fetch(
                "SELECT pg_advisory_xact_lock($1)",
                &[key.into()],
                "taking an advisory lock",
            )
            .await?;
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
    // Placeholders outside string literals, in order of appearance: where the
    // `$` is, where its digits end, its number. (Only ASCII bytes are looked
    // at, so every position found is a character boundary.)
    let bytes = q.as_bytes();
    let mut marks: Vec<(usize, usize, usize)> = Vec::new();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_str = !in_str,
            b'$' if !in_str && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut end = i + 1;
                while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                marks.push((i, end, q[i + 1..end].parse::<usize>().unwrap_or(0)));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let sequential = marks.iter().enumerate().all(|(k, m)| m.2 == k + 1);
    // The text between placeholders is copied as it is.
    let mut out = String::with_capacity(q.len());
    let mut copied = 0;
    for (start, end, _) in marks {
        out.push_str(&q[copied..start]);
        out.push('?');
        if !sequential {
            out.push_str(&q[start + 1..end]);
        }
        copied = end;
    }
    out.push_str(&q[copied..]);
    Cow::Owned(out)
}

/// Reads a column, naming it in the error.
pub(crate) fn col<T: exec::Get>(row: &impl exec::Cols, name: &'static str) -> Result<T> {
    row.get(name)
}

/// `rows` copies of a row template joined by `sep`, each `?` numbered in order
/// from `$first`: `repeat_row("(?, 0, ?)", 2, 3, ", ")` is `($3, 0, $4), ($5, 0, $6)`.
/// (Engine rewriting to SQLite's `?N` happens afterwards, in [`Tx::sql`].)
pub(crate) fn repeat_row(template: &str, rows: usize, first: usize, sep: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows * (template.len() + sep.len() + 8));
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(sep);
        }
        for (k, part) in template.split('?').enumerate() {
            if k > 0 {
                // Writing to a String cannot fail.
                let _ = write!(out, "${n}");
                n += 1;
            }
            out.push_str(part);
        }
    }
    out
}

/// The keys of one `IN (…)` list, padded with the last key (a key twice in
/// an `IN` list changes nothing) to a length of a short series — up to 8 as
/// they are, then four lengths between each two powers of two (10, 12, 14,
/// 16, 20, …, 448, 512): so a connection's statement cache sees a few dozen
/// texts per query instead of one per length, each of which SQLite would
/// compile anew, for at most a quarter more keys. The list's length, and its
/// keys.
pub(crate) fn in_list<T>(keys: &[T]) -> (usize, impl Iterator<Item = &T>) {
    let n = match keys.len() {
        len @ 0..=8 => len,
        len => {
            let step = len.next_power_of_two() / 8;
            len.div_ceil(step) * step
        }
    };
    let fill = keys.last().into_iter().cycle().take(n - keys.len());
    (n, keys.iter().chain(fill))
}

/// The text of a multi-row query in the engine's dialect, for a query site
/// (a `static`): the one-row text, which the direct connection sends for
/// every row, is built once per process; longer ones for each chunk.
pub(crate) struct RowsSql {
    one_row: [std::sync::OnceLock<String>; 2],
}

impl RowsSql {
    pub(crate) const fn new() -> Self {
        Self {
            one_row: [std::sync::OnceLock::new(), std::sync::OnceLock::new()],
        }
    }

    /// The text for `rows` rows; `build` writes it with `$N` placeholders.
    pub(crate) fn get(
        &self,
        backend: Backend,
        rows: usize,
        build: impl FnOnce(usize) -> String,
    ) -> Cow<'_, str> {
        let slot = match backend {
            Backend::Sqlite => &self.one_row[0],
            Backend::Postgres => &self.one_row[1],
        };
        if rows == 1 {
            Cow::Borrowed(slot.get_or_init(|| dialect(backend, &build(1)).into_owned()))
        } else {
            Cow::Owned(dialect(backend, &build(rows)).into_owned())
        }
    }
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
    fn in_lists() {
        let list = |keys: &[i64]| {
            let (n, keys) = in_list(keys);
            (n, keys.copied().collect::<Vec<_>>())
        };
        assert_eq!(list(&[]), (0, vec![]));
        assert_eq!(list(&[7]), (1, vec![7]));
        assert_eq!(list(&[7, 8, 9]), (3, vec![7, 8, 9]));
        let keys: Vec<i64> = (0..9).collect();
        assert_eq!(list(&keys), (10, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 8]));
        let long: Vec<i64> = (0..300).collect();
        let (n, keys) = list(&long);
        assert_eq!((n, keys.len()), (320, 320));
        assert_eq!(&keys[..300], &long[..]);
        assert!(keys[300..].iter().all(|k| *k == 299));
        // Every length up to a chunk's 500: a few dozen texts, none more than
        // a quarter longer than its keys.
        let lengths: std::collections::BTreeSet<usize> =
            (1..=500).map(|len| in_list(&vec![0; len]).0).collect();
        assert_eq!(lengths.len(), 32);
        for len in 1..=500usize {
            let n = in_list(&vec![0; len]).0;
            assert!(n >= len && n * 4 <= len * 5 + 4, "{len} → {n}");
        }
    }

    #[test]
    fn backends() {
        assert_eq!(backend_of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("data/coursebridge.db"), Backend::Sqlite);
        assert_eq!(backend_of("sqlite:data/x.db"), Backend::Sqlite);
    }
}
