//! SQLite's checkpoint: the write-ahead log copied back into the database
//! while writers go on, and the log restarted from its beginning.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::{Backend, Ctx, Result, Store};

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

/// How long [`Store::checkpoint`] leaves the log to the writer after asking
/// it for the last pass (an idle writer makes none: then passes go on).
const LAST_PASS_PATIENCE: Duration = Duration::from_secs(1);

impl Store {
    /// SQLite: copies committed pages from the write-ahead log into the
    /// database file without blocking writers (`wal_checkpoint(PASSIVE)`) and
    /// returns (pages in the log, pages copied). Under constant writes the log
    /// would never be wholly copied at the moment a writer starts — the moment
    /// SQLite starts the log again from the beginning — and would grow without
    /// end; so once it is longer than `restart_pages` (a server passes
    /// [`WAL_RESTART_PAGES`]), it copies again while writers go on until what
    /// they add during one pass is small, and then the last pass is made with
    /// writers held back, after which the next write transaction restarts the
    /// log. With a [`crate::NativeWriter`] open, the writer makes that last pass
    /// itself, on its own thread, before its next transaction
    /// ([`crate::NativeWriter::begin`]); otherwise this takes the writer lock for it.
    /// `None`: nothing was done — PostgreSQL, or the writer was asked for the
    /// last pass less than a second (`LAST_PASS_PATIENCE`) ago and has not made it yet
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
}
