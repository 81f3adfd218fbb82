//! Sync runs (history with counts and outcome) and the per-integration sync
//! lock: a lease row, so that two syncs of one integration never overlap on
//! either engine, and a crashed sync's lock expires.

use crate::{Ctx, Result, Tx, col, flag};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunCounts {
    pub created: i64,
    pub updated: i64,
    pub archived: i64,
    pub reactivated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub pages: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: i64,
    pub integration_id: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// `running`, `ok`, `failed`.
    pub outcome: String,
    pub dry_run: bool,
    pub counts: RunCounts,
    pub error: Option<String>,
}

/// What `/metrics` says of the sync runs of one integration
/// ([`Tx::sync_run_summary`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncRunSummary {
    pub integration_id: String,
    /// Finished runs by outcome (`ok`, `failed`), in outcome order.
    pub finished: Vec<(String, i64)>,
    /// Runs started and not finished (running, or a crashed run's record).
    pub running: i64,
    /// The latest finished run: started and finished (Unix ms), its outcome.
    pub last: Option<(i64, i64, String)>,
    /// When the latest run that ended `ok` finished (Unix ms).
    pub last_ok_ms: Option<i64>,
}

impl Tx<'_> {
    /// Takes the sync lock of an integration for `ttl_ms` unless another holder
    /// has it and its lease has not expired. True when taken (or renewed by the same holder).
    pub async fn acquire_sync_lock(
        &mut self,
        integration_id: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        let q = self.sql(
            "INSERT INTO sync_locks (integration_id, holder, expires_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (integration_id) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
             WHERE sync_locks.expires_ms <= $4 OR sync_locks.holder = excluded.holder",
        );
        let n = sqlx::query(&q)
            .bind(integration_id)
            .bind(holder)
            .bind(now_ms + ttl_ms)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("taking the sync lock")?;
        Ok(n.rows_affected() == 1)
    }

    pub async fn release_sync_lock(&mut self, integration_id: &str, holder: &str) -> Result<()> {
        let q = self.sql("DELETE FROM sync_locks WHERE integration_id = $1 AND holder = $2");
        sqlx::query(&q)
            .bind(integration_id)
            .bind(holder)
            .execute(self.tx.any()?)
            .await
            .ctx("releasing the sync lock")?;
        Ok(())
    }

    pub async fn start_run(
        &mut self,
        integration_id: &str,
        now_ms: i64,
        dry_run: bool,
    ) -> Result<i64> {
        let q = self.sql("INSERT INTO sync_runs (integration_id, started_ms, outcome, dry_run) VALUES ($1, $2, 'running', $3) RETURNING id");
        let r = sqlx::query(&q)
            .bind(integration_id)
            .bind(now_ms)
            .bind(flag(dry_run))
            .fetch_one(self.tx.any()?)
            .await
            .ctx("starting a sync run")?;
        col(&r, "id")
    }

    pub async fn finish_run(
        &mut self,
        id: i64,
        now_ms: i64,
        outcome: &str,
        c: &RunCounts,
        error: Option<&str>,
    ) -> Result<()> {
        let q = self.sql(
            "UPDATE sync_runs SET finished_ms = $2, outcome = $3, created = $4, updated = $5, archived = $6, reactivated = $7, \
             unchanged = $8, rejected = $9, pages = $10, error = $11 WHERE id = $1",
        );
        sqlx::query(&q)
            .bind(id)
            .bind(now_ms)
            .bind(outcome)
            .bind(c.created)
            .bind(c.updated)
            .bind(c.archived)
            .bind(c.reactivated)
            .bind(c.unchanged)
            .bind(c.rejected)
            .bind(c.pages)
            .bind(error)
            .execute(self.tx.any()?)
            .await
            .ctx("finishing a sync run")?;
        Ok(())
    }

    /// The latest runs of an integration, newest first.
    pub async fn runs(&mut self, integration_id: &str, limit: i64) -> Result<Vec<SyncRun>> {
        let q = self.sql(
            "SELECT id, integration_id, started_ms, finished_ms, outcome, dry_run, created, updated, archived, reactivated, unchanged, rejected, pages, error \
             FROM sync_runs WHERE integration_id = $1 ORDER BY id DESC LIMIT $2",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing sync runs")?;
        rows.iter().map(run_row).collect()
    }
}

/// A course a sync run refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRejection {
    pub external_id: Option<String>,
    pub reason: String,
}

impl Tx<'_> {
    /// Records what a run refused (schema v19), in order.
    pub async fn insert_run_rejections(
        &mut self,
        run_id: i64,
        rows: &[RunRejection],
    ) -> Result<()> {
        let q = self.sql(
            "INSERT INTO sync_run_rejections (run_id, position, external_id, reason) VALUES ($1, $2, $3, $4)",
        );
        for (i, r) in rows.iter().enumerate() {
            sqlx::query(&q)
                .bind(run_id)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(r.external_id.as_deref())
                .bind(&r.reason)
                .execute(self.tx.any()?)
                .await
                .ctx("recording a run's rejections")?;
        }
        Ok(())
    }

    /// What a run refused, in order.
    pub async fn run_rejections(&mut self, run_id: i64) -> Result<Vec<RunRejection>> {
        let q = self.sql(
            "SELECT external_id, reason FROM sync_run_rejections WHERE run_id = $1 ORDER BY position",
        );
        let rows = sqlx::query(&q)
            .bind(run_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading a run's rejections")?;
        rows.iter()
            .map(|r| {
                Ok(RunRejection {
                    external_id: col(r, "external_id")?,
                    reason: col(r, "reason")?,
                })
            })
            .collect()
    }

    /// One sync run by id.
    pub async fn sync_run(&mut self, id: i64) -> Result<Option<SyncRun>> {
        let q = self.sql(
            "SELECT id, integration_id, started_ms, finished_ms, outcome, dry_run, created, updated, archived, reactivated, unchanged, rejected, pages, error \
             FROM sync_runs WHERE id = $1",
        );
        let row = sqlx::query(&q)
            .bind(id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a sync run")?;
        row.map(|r| run_row(&r)).transpose()
    }

    /// Per integration that has runs: its runs by outcome, the latest
    /// finished one and the latest success. Three aggregate queries, one row
    /// per (integration, outcome) or per integration, whatever the
    /// history's length (the table holds a row per run: a daily sync adds
    /// 365 a year).
    pub async fn sync_run_summary(&mut self) -> Result<Vec<SyncRunSummary>> {
        let q = self.sql(
            "SELECT integration_id, outcome, count(*) AS n \
             FROM sync_runs GROUP BY integration_id, outcome ORDER BY integration_id, outcome",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("counting sync runs")?;
        let mut out: Vec<SyncRunSummary> = Vec::new();
        for r in &rows {
            let integration_id: String = col(r, "integration_id")?;
            let outcome: String = col(r, "outcome")?;
            let n: i64 = col(r, "n")?;
            if out
                .last()
                .is_none_or(|s| s.integration_id != integration_id)
            {
                out.push(SyncRunSummary {
                    integration_id: integration_id.clone(),
                    ..SyncRunSummary::default()
                });
            }
            let Some(summary) = out.last_mut() else {
                continue;
            };
            if outcome == "running" {
                summary.running = n;
            } else {
                summary.finished.push((outcome, n));
            }
        }
        let q = self.sql(
            "SELECT r.integration_id, r.started_ms, r.finished_ms, r.outcome FROM sync_runs r \
             JOIN (SELECT integration_id, max(id) AS id FROM sync_runs WHERE finished_ms IS NOT NULL GROUP BY integration_id) l \
             ON r.id = l.id",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading the latest sync runs")?;
        for r in &rows {
            let integration_id: String = col(r, "integration_id")?;
            let finished: Option<i64> = col(r, "finished_ms")?;
            if let (Some(s), Some(finished)) = (
                out.iter_mut().find(|s| s.integration_id == integration_id),
                finished,
            ) {
                s.last = Some((col(r, "started_ms")?, finished, col(r, "outcome")?));
            }
        }
        let q = self.sql(
            "SELECT r.integration_id, r.finished_ms FROM sync_runs r \
             JOIN (SELECT integration_id, max(id) AS id FROM sync_runs WHERE outcome = 'ok' GROUP BY integration_id) l \
             ON r.id = l.id",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading the latest successful sync runs")?;
        for r in &rows {
            let integration_id: String = col(r, "integration_id")?;
            if let Some(s) = out.iter_mut().find(|s| s.integration_id == integration_id) {
                s.last_ok_ms = col(r, "finished_ms")?;
            }
        }
        Ok(out)
    }
}

fn run_row(r: &sqlx::any::AnyRow) -> Result<SyncRun> {
    Ok(SyncRun {
        id: col(r, "id")?,
        integration_id: col(r, "integration_id")?,
        started_ms: col(r, "started_ms")?,
        finished_ms: col(r, "finished_ms")?,
        outcome: col(r, "outcome")?,
        dry_run: col::<i64>(r, "dry_run")? != 0,
        counts: RunCounts {
            created: col(r, "created")?,
            updated: col(r, "updated")?,
            archived: col(r, "archived")?,
            reactivated: col(r, "reactivated")?,
            unchanged: col(r, "unchanged")?,
            rejected: col(r, "rejected")?,
            pages: col(r, "pages")?,
        },
        error: col(r, "error")?,
    })
}
