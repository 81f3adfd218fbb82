//! Opening a store: the engine from the location, the pools and their
//! settings, migrations, and the transactions it hands out.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, TransactionManager};
use tokio::sync::{Mutex, MutexGuard};

use crate::{AnyTm, Backend, Ctx, HeldTx, Result, StoreError, Tx, TxConn};

/// How long a request waits for a PostgreSQL connection (one of the pool's,
/// or a new one) before it fails as unavailable: a database that is down is
/// a 503 within this time (docs/reliability.md).
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The database: a pool, its engine, and (SQLite) the in-process writer lock
/// and the writer's own connection.
#[derive(Clone)]
pub struct Store {
    /// Reads (and every transaction on PostgreSQL).
    pub(crate) pool: AnyPool,
    /// Write transactions: on SQLite one connection, on PostgreSQL `pool`.
    pub(crate) write_pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite: the writer's connection, kept between transactions (taking it
    /// from the pool again costs a task hop per transaction); the lock also
    /// serializes writers in this process. `None` until first used.
    pub(crate) writer: Arc<Mutex<Option<PoolConnection<Any>>>>,
    /// SQLite: the database file (for [`NativeWriter`]).
    pub(crate) sqlite_path: Option<Arc<str>>,
    /// SQLite: the checkpoint's last pass, handed to the group writer.
    pub(crate) last_pass: Arc<LastPass>,
}

/// How [`Store::checkpoint`] hands its last pass to a [`NativeWriter`]: the
/// writer makes it on its own connection and thread right before its next
/// transaction, instead of the checkpointer taking the writer lock — which
/// stalled the writer while the checkpointer's task waited for a core and
/// its query went to sqlx's worker thread (docs/PERFORMANCE.md).
#[derive(Debug, Default)]
pub(crate) struct LastPass {
    /// Open direct connections (each takes the writer lock per transaction).
    pub(crate) writers: AtomicUsize,
    /// A last pass is wanted before the next write transaction, asked for
    /// then (the checkpointer makes no passes of its own for
    /// [`LAST_PASS_PATIENCE`] after asking, so as not to hold the checkpoint
    /// lock when the writer comes to make it).
    asked: std::sync::Mutex<Option<Instant>>,
}

impl LastPass {
    pub(crate) fn asked(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
                // How long a request waits for a connection before it is
                // answered 503. PostgreSQL: short, since a server that is down
                // or restarting would otherwise hold every request for it; a
                // SQLite connection is only ever busy with work of ours.
                .acquire_timeout(match backend {
                    Backend::Postgres => POSTGRES_ACQUIRE_TIMEOUT,
                    Backend::Sqlite => Duration::from_secs(30),
                })
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
