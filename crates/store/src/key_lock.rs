//! Locks on a key held across work that is not a transaction — a call to
//! another service, say — so that no database lock is held while waiting.
//!
//! PostgreSQL: a session advisory lock on a connection of its own (every
//! instance on the database sees it; it conflicts with `Tx::lock_key` on
//! the same key, which waits for it). SQLite: one of a fixed set of
//! in-process locks (SQLite serves one process).

use sqlx::Any;
use sqlx::pool::PoolConnection;
use tokio::sync::OwnedMutexGuard;

use crate::{Backend, Ctx, Result, Store};

/// In-process locks for SQLite, chosen by key: two keys may share one (and
/// then wait for each other), never one key two.
pub(crate) const STRIPES: usize = 256;

pub(crate) type Stripes = std::sync::Arc<[std::sync::Arc<tokio::sync::Mutex<()>>]>;

pub(crate) fn stripes() -> Stripes {
    (0..STRIPES)
        .map(|_| std::sync::Arc::new(tokio::sync::Mutex::new(())))
        .collect()
}

/// A held key lock; [`KeyLock::release`] it. Dropped without release (an
/// error, a cancelled request), the PostgreSQL connection is closed, which
/// releases the lock with the session.
#[must_use = "a key lock is held until released"]
pub struct KeyLock {
    held: Held,
}

enum Held {
    Local(#[allow(dead_code)] OwnedMutexGuard<()>),
    Postgres {
        conn: Option<PoolConnection<Any>>,
        key: i64,
    },
}

impl Store {
    /// Waits for the lock on `key`, held outside any transaction. A
    /// transaction of the holder must not take `Tx::lock_key` on the same key
    /// (on PostgreSQL it would wait for its own lock).
    pub async fn hold_key(&self, key: i64) -> Result<KeyLock> {
        match self.backend {
            Backend::Sqlite => {
                let stripe = usize::try_from(key.unsigned_abs() % STRIPES as u64).unwrap_or(0);
                let guard = self.key_stripes[stripe].clone().lock_owned().await;
                Ok(KeyLock {
                    held: Held::Local(guard),
                })
            }
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await.ctx("connecting for a key lock")?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(key)
                    .execute(&mut *conn)
                    .await
                    .ctx("taking a key lock")?;
                Ok(KeyLock {
                    held: Held::Postgres {
                        conn: Some(conn),
                        key,
                    },
                })
            }
        }
    }
}

impl KeyLock {
    /// Releases the lock.
    pub async fn release(mut self) -> Result<()> {
        if let Held::Postgres { conn, key } = &mut self.held
            && let Some(mut c) = conn.take()
        {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(*key)
                .execute(&mut *c)
                .await;
            if unlocked.is_err() {
                // Closing the session releases it.
                drop(c.detach());
            }
            unlocked.ctx("releasing a key lock")?;
        }
        Ok(())
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        if let Held::Postgres { conn, .. } = &mut self.held
            && let Some(c) = conn.take()
        {
            // Not released: end the session (and its lock) rather than hand
            // a connection that holds it back to the pool.
            drop(c.detach());
        }
    }
}
