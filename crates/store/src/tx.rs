//! Transactions: what a [`Tx`] may run ([`AnyQuery`], [`WritePath`]), the
//! connection it runs on, commit, rollback, savepoints and advisory locks.

use std::marker::PhantomData;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, TransactionManager};
use tokio::sync::{MappedMutexGuard, MutexGuard};

use crate::{Backend, Ctx, NativeCtx, Result, StoreError, dialect};

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

/// Every query: a transaction of [`crate::Store::begin`] or [`crate::Store::read`].
#[derive(Debug)]
pub struct AnyQuery;

/// The write path only — the methods written over `exec.rs`, which both a
/// pooled connection and the group writer's direct SQLite connection run:
/// [`crate::NativeWriter::begin`] gives no other kind of transaction, so a query
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

pub(crate) type AnyTm = <Any as sqlx::Database>::TransactionManager;

/// The connection a transaction runs on.
pub(crate) enum TxConn<'s> {
    /// A pooled connection (reads; every transaction on PostgreSQL).
    Pooled(sqlx::Transaction<'static, Any>),
    /// SQLite's writer connection, held under the writer lock.
    Held(HeldTx<'s>),
    /// The group writer's direct SQLite connection, under the writer lock.
    Native(NativeTx<'s>),
}

/// A transaction on the held writer connection; rolled back when dropped open.
pub(crate) struct HeldTx<'s> {
    pub(crate) conn: MappedMutexGuard<'s, PoolConnection<Any>>,
    pub(crate) open: bool,
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

/// A transaction on the direct connection; rolled back when dropped open.
pub(crate) struct NativeTx<'s> {
    pub(crate) conn: &'s mut rusqlite::Connection,
    pub(crate) _writers: MutexGuard<'s, Option<PoolConnection<Any>>>,
    pub(crate) open: bool,
}

impl NativeTx<'_> {
    pub(crate) fn data_version(&mut self) -> Result<i64> {
        self.conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .ctx("reading the data version")
    }

    /// Ends the transaction with `COMMIT` or `ROLLBACK`.
    pub(crate) fn finish(&mut self, sql: &str, context: &'static str) -> Result<()> {
        match self.conn.execute_batch(sql) {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(source) => {
                // A failed COMMIT leaves the transaction open: roll back on drop.
                Err(StoreError::Sqlite { context, source })
            }
        }
    }
}

impl Drop for NativeTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
