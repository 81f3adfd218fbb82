#![doc = include_str!("../README.md")]
//!
//! ## Engines and transactions
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
//! same query text and parameters, see `exec`); that transaction is a
//! `Tx<WritePath>`, on which no other query compiles. On SQLite, writers
//! are serialized in-process and take the database write lock at `BEGIN`,
//! so a transaction never fails half-way with `SQLITE_BUSY`; on PostgreSQL, rows that several instances
//! update together are guarded by transaction-scoped advisory locks.

mod actor_lists;
mod attachments;
mod checkpoint;
mod course_records;
mod courses;
mod documents;
mod exec;
mod integrations;
pub mod key_lock;
mod learners;
mod learning_events;
mod migrate;
mod native;
mod open;
mod operators;
mod outbox;
mod pending;
mod scorm;
mod sql;
mod statement_query;
mod statements;
mod stats;
mod sync_runs;
mod tx;
mod webhooks;

pub use actor_lists::*;
pub use attachments::*;
pub use checkpoint::WAL_RESTART_PAGES;
pub use course_records::*;
pub use courses::*;
pub use documents::*;
pub use integrations::*;
pub use key_lock::KeyLock;
pub use learners::*;
pub use learning_events::*;
pub use migrate::SCHEMA_VERSION;
pub use native::{LogSync, NativeWriter};
pub use open::{POSTGRES_ACQUIRE_TIMEOUT, Store, WAL_AUTOCHECKPOINT, backend_of};
pub use operators::*;
pub use outbox::*;
pub use pending::*;
pub use scorm::*;
pub use statement_query::*;
pub use statements::*;
pub use stats::*;
pub use sync_runs::*;
pub use tx::{AnyQuery, Conn, Tx, WritePath};
pub use webhooks::*;

pub(crate) use exec::col;
pub(crate) use open::{SQLITE_PRAGMAS, WRITER_CACHE};
pub(crate) use sql::{RowsSql, dialect, flag, in_list, repeat_row};
pub(crate) use tx::{AnyTm, HeldTx, NativeTx, TxConn};

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
    /// A lease on a key stayed with another holder for too long
    /// (`Store::hold_key`): the work it guards is in progress elsewhere.
    #[error("busy: {0}")]
    Busy(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// When this error is the database being unavailable rather than the
    /// request or the data being wrong — a full disk, an I/O error, a lost
    /// or refused connection, a server shutting down, no connection free in
    /// time — a short reason for the client (nothing was written; the same
    /// request may succeed later). `None` for every other error.
    pub fn unavailable(&self) -> Option<&'static str> {
        match self {
            StoreError::Sqlite { source, .. } => sqlite_unavailable(source),
            StoreError::Db { source, .. } | StoreError::Migration { source, .. } => {
                sqlx_unavailable(source)
            }
            _ => None,
        }
    }
}

fn sqlite_unavailable(e: &rusqlite::Error) -> Option<&'static str> {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code()? {
        C::DiskFull => Some("disk full"),
        C::SystemIoFailure => Some("I/O error"),
        C::CannotOpen => Some("cannot open the database file"),
        C::DatabaseBusy | C::DatabaseLocked => Some("database busy"),
        C::OutOfMemory => Some("out of memory"),
        C::ReadOnly => Some("database read-only"),
        _ => None,
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => Some("connection lost"),
        sqlx::Error::Tls(_) => Some("cannot connect (TLS)"),
        sqlx::Error::PoolTimedOut => Some("no database connection available"),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Some("database connection closed"),
        sqlx::Error::Database(d) => {
            let code = d.code()?;
            if code.len() == 5 {
                // PostgreSQL's SQLSTATE classes: 08 connection exception,
                // 57P0x the server shutting down or starting, 53
                // insufficient resources (53100 disk full).
                if code.starts_with("08") || code.starts_with("57P0") {
                    Some("database connection lost")
                } else if code == "53100" {
                    Some("disk full")
                } else if code.starts_with("53") {
                    Some("database out of resources")
                } else {
                    None
                }
            } else {
                // SQLite through sqlx: its (extended) result code.
                match code.parse::<i32>().ok()? & 0xff {
                    13 => Some("disk full"),
                    10 => Some("I/O error"),
                    5 | 6 => Some("database busy"),
                    14 => Some("cannot open the database file"),
                    7 => Some("out of memory"),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Adds context to a sqlx error.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Db { context, source })
    }
}

/// Adds context to an error of the direct SQLite connection.
pub(crate) trait NativeCtx<T> {
    fn ctx(self, context: &'static str) -> Result<T>;
}

impl<T> NativeCtx<T> for rusqlite::Result<T> {
    fn ctx(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite { context, source })
    }
}
