//! The SQLite group writer's own connection: SQLite called directly on the
//! thread that writes, for the queries of a statement group.
//!
//! Through sqlx every query is a message to a worker thread and back; a group
//! makes about eight, and on a loaded two-core machine each such hand-over
//! waits for a core (docs/PERFORMANCE.md). This connection runs the same
//! queries (the same text, see `exec`) in the calling thread. It takes the
//! store's writer lock for each transaction, so that the store's own write
//! transactions stay mutually exclusive with it, exactly as with sqlx's
//! writer connection, and it makes the checkpoint's last pass when
//! [`Store::checkpoint`] asks for it. It opens the database through the
//! `wal_coalesce` VFS: SQLite's own, except that a commit's log frames are
//! written in a few calls instead of two per page.

use std::sync::atomic::Ordering;

use std::marker::PhantomData;

use crate::{
    Backend, NativeCtx, NativeTx, Result, SQLITE_PRAGMAS, Store, Tx, TxConn, WRITER_CACHE,
    WritePath,
};

/// A direct connection to a store's SQLite database, for one writer thread.
/// (`rusqlite::Connection` may move between threads but not be shared, so
/// this is used by one task at a time.)
pub struct NativeWriter {
    store: Store,
    conn: rusqlite::Connection,
}

impl std::fmt::Debug for NativeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeWriter").finish_non_exhaustive()
    }
}

/// Prepared statements kept per connection (a group's queries differ by
/// their number of rows).
const STATEMENT_CACHE: usize = 256;

/// Foreign keys are not checked on this connection (they are on every other).
/// With them on, SQLite keeps a statement journal for every insert or upsert
/// into a table with references — every page the query changes copied in
/// memory in case it must be undone — which was a sixth of the writer's
/// instructions (docs/PERFORMANCE.md). What this connection writes refers
/// only to rows it has just read in the same transaction (the course and
/// learner it resolved, the authenticated integration), and no code deletes
/// a course, learner or integration; `store/tests/suite.rs` runs
/// `PRAGMA foreign_key_check` after the whole write path on it.
const WRITER_FOREIGN_KEYS: &str = "PRAGMA foreign_keys = OFF";

/// This connection's commits are not synced by SQLite (every other
/// connection's are, `synchronous = FULL`): its caller syncs the log with
/// [`LogSync`] after the commit and before it answers anyone, on a thread of
/// its own, so that the fsync of one group overlaps the writing of the next
/// and one fsync covers every group committed meanwhile. In WAL mode a commit
/// is consistent without its fsync (SQLite still syncs the log's header when
/// the log starts again, and checkpoints sync both files); it is durable once
/// the log is synced.
const WRITER_SYNCHRONOUS: &str = "PRAGMA synchronous = NORMAL";

/// Makes what a [`NativeWriter`] committed durable: `fdatasync` of the
/// database's write-ahead log. Cheap to clone; usable from any thread.
#[derive(Debug, Clone)]
pub struct LogSync {
    wal: std::path::PathBuf,
}

impl LogSync {
    /// Syncs the log: every commit made before the call is durable after it
    /// returns `Ok`. A log that is not there (the last connection closed and
    /// copied it all into the database, which it synced) has nothing to sync.
    pub fn sync(&self) -> std::io::Result<()> {
        // Opened for writing (nothing is written): some systems flush a file
        // only through a handle that may write it.
        match std::fs::OpenOptions::new().write(true).open(&self.wal) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl NativeWriter {
    /// Opens the direct connection of a SQLite store (already migrated);
    /// `None` on PostgreSQL.
    pub fn open(store: &Store) -> Result<Option<Self>> {
        let (Backend::Sqlite, Some(path)) = (store.backend, &store.sqlite_path) else {
            return Ok(None);
        };
        // The file the store opened (a plain path, never a URI); it exists.
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match wal_coalesce::register() {
            // A commit's log frames written in a few calls, not two per page.
            Ok(vfs) => rusqlite::Connection::open_with_flags_and_vfs(&**path, flags, vfs),
            // Without it, SQLite's default VFS: the same results, slower.
            Err(_) => rusqlite::Connection::open_with_flags(&**path, flags),
        }
        .ctx("opening the writer's SQLite connection")?;
        for pragma in
            SQLITE_PRAGMAS
                .iter()
                .chain([&WRITER_CACHE, &WRITER_FOREIGN_KEYS, &WRITER_SYNCHRONOUS])
        {
            // Some pragmas answer with a row (journal_mode); read and drop it.
            let mut st = conn
                .prepare(pragma)
                .ctx("configuring the writer's SQLite connection")?;
            let mut rows = st.raw_query();
            while rows
                .next()
                .ctx("configuring the writer's SQLite connection")?
                .is_some()
            {}
        }
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        store.last_pass.writers.fetch_add(1, Ordering::AcqRel);
        Ok(Some(Self {
            store: store.clone(),
            conn,
        }))
    }

    /// SQLite's `synchronous` setting on this connection (1: NORMAL, see
    /// [`LogSync`]), for checks and tests.
    pub fn synchronous(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .ctx("reading the synchronous setting")
    }

    /// What makes this connection's commits durable (see [`LogSync`]).
    pub fn log_sync(&self) -> LogSync {
        let db = self.store.sqlite_path.as_deref().unwrap_or_default();
        LogSync {
            wal: format!("{db}-wal").into(),
        }
    }

    /// A write transaction on this connection (`BEGIN IMMEDIATE`), holding
    /// the store's writer lock until it ends. When [`Store::checkpoint`] asked
    /// for it, the checkpoint's last pass comes first, under the same lock: it
    /// copies what the background passes left, so that this transaction
    /// starts the log again from the beginning.
    pub async fn begin(&mut self) -> Result<Tx<'_, WritePath>> {
        let writers = self.store.writer.lock().await;
        let asked = self.store.last_pass.asked().take();
        if asked.is_some() && !self.last_pass() {
            // Not done (another checkpoint was running, a reader stayed on the
            // log): again before the next transaction. An error is left to the
            // transaction below to report, if the database has one.
            *self.store.last_pass.asked() = asked;
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .ctx("beginning a transaction")?;
        Ok(Tx {
            tx: TxConn::Native(NativeTx {
                conn: &mut self.conn,
                _writers: writers,
                open: true,
            }),
            backend: Backend::Sqlite,
            conn: PhantomData,
        })
    }
}

impl NativeWriter {
    /// The checkpoint's last pass, `wal_checkpoint(RESTART)`: it copies what
    /// is left of the log and then waits, at most [`LAST_PASS_WAIT`], for
    /// readers that still read from the log, so that the next transaction
    /// starts it again (with a plain copy, a reader of the store's pool
    /// holding on to the log at that moment kept it from starting again, and
    /// under load the log grew to gigabytes). Whether it was done.
    fn last_pass(&self) -> bool {
        let pass = || -> rusqlite::Result<bool> {
            let before: u64 = self
                .conn
                .query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
            self.conn.busy_timeout(LAST_PASS_WAIT)?;
            let busy: rusqlite::Result<i64> =
                self.conn
                    .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get(0));
            self.conn
                .busy_timeout(std::time::Duration::from_millis(before))?;
            Ok(busy? == 0)
        };
        pass().unwrap_or(false)
    }
}

/// How long the last pass of a checkpoint waits for readers of the log.
const LAST_PASS_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

impl Drop for NativeWriter {
    fn drop(&mut self) {
        self.store.last_pass.writers.fetch_sub(1, Ordering::AcqRel);
    }
}
