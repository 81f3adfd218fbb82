//! Leases on a key held across work that is not a transaction — a call to
//! SCORM Cloud, say — so that nothing is held in the database meanwhile: no
//! connection, no lock, no transaction. A lease is a row of `key_leases`
//! (schema v17), taken and given back in short transactions of their own,
//! so every process on the database sees it (the ingest server,
//! `coursebridge-sync`, other instances), on both engines. A holder that
//! dies leaves a lease that expires after [`LEASE`]; a waiter gives up after
//! [`WAIT`] with [`StoreError::Busy`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Ctx, Result, Store, StoreError};

/// How long a lease lasts unless released: longer than the work it guards
/// (three SCORM Cloud calls of at most 30 s).
pub const LEASE: Duration = Duration::from_secs(120);

/// How long [`Store::hold_key`] waits for a lease another holder has.
pub const WAIT: Duration = Duration::from_secs(60);

/// A held lease; [`KeyLock::release`] it. Dropped without release (an error
/// path, a cancelled request), it is released by a task of its own, or
/// expires.
#[must_use = "a key lock is held until released"]
pub struct KeyLock {
    store: Store,
    key: i64,
    holder: String,
    released: bool,
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

fn holder_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        since_epoch().as_nanos()
    )
}

impl Store {
    /// Waits (at most [`WAIT`]) for the lease on `key` and takes it.
    pub async fn hold_key(&self, key: i64) -> Result<KeyLock> {
        let holder = holder_id();
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            if self.try_lease(key, &holder).await? {
                return Ok(KeyLock {
                    store: self.clone(),
                    key,
                    holder,
                    released: false,
                });
            }
            if started.elapsed() >= WAIT {
                return Err(StoreError::Busy(format!(
                    "key {key} is held by another request for more than {} s",
                    WAIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Takes the lease if it is free or expired.
    async fn try_lease(&self, key: i64, holder: &str) -> Result<bool> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.begin().await?;
        let q = tx.sql(
            "INSERT INTO key_leases (lease_key, holder, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (lease_key) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE key_leases.until_ms < $4",
        );
        let taken = sqlx::query(&q)
            .bind(key)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(tx.tx.any()?)
            .await
            .ctx("taking a key lease")?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(taken)
    }

    async fn give_back(&self, key: i64, holder: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let q = tx.sql("DELETE FROM key_leases WHERE lease_key = $1 AND holder = $2");
        sqlx::query(&q)
            .bind(key)
            .bind(holder)
            .execute(tx.tx.any()?)
            .await
            .ctx("releasing a key lease")?;
        tx.commit().await
    }
}

impl KeyLock {
    /// Gives the lease back. A failure is logged, not returned: the lease
    /// then expires, and the work it guarded is done either way.
    pub async fn release(mut self) {
        self.released = true;
        if let Err(e) = self.store.give_back(self.key, &self.holder).await {
            tracing::warn!(key = self.key, error = %e, "a key lease was not released; it expires");
        }
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (store, key, holder) = (self.store.clone(), self.key, self.holder.clone());
            rt.spawn(async move {
                if let Err(e) = store.give_back(key, &holder).await {
                    tracing::warn!(key, error = %e, "a dropped key lease was not released; it expires");
                }
            });
        }
    }
}
