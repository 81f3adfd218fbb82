//! Writing a group: each integration's batches as one when nothing voids
//! (the fast path), else request by request in savepoints; statistics once
//! per group in key order; on PostgreSQL, voiding checked again after the
//! commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use records::{IntegrationRules, Outcome, Prepared, RecordError};
use store::Store;
use tokio::sync::oneshot;

use super::conn::WriteConn;
use super::job::{Answer, GroupFailure, Job, WriteError};
use crate::clock::now_ms;
use crate::metrics::GroupCounters;

/// Writes the batches of several requests as one group, as the writer task
/// does with requests that arrive together; returns each batch's result, in
/// order. (For embedding and tests: a server submits through [`super::Writer`].)
pub async fn write_batches(
    conn: &mut WriteConn,
    batches: Vec<(Arc<IntegrationRules>, Vec<Prepared>)>,
) -> Vec<Result<Vec<Outcome>, WriteError>> {
    let mut jobs = Vec::with_capacity(batches.len());
    let mut answers = Vec::with_capacity(batches.len());
    for (rules, batch) in batches {
        let (reply, answer) = oneshot::channel();
        jobs.push(Job {
            rules,
            batch,
            reply,
            held: Box::new(()),
        });
        answers.push(answer);
    }
    write_group(conn, jobs, &GroupCounters::default()).await;
    let mut out = Vec::with_capacity(answers.len());
    for answer in answers {
        out.push(answer.await.unwrap_or(Err(WriteError::Stopped)));
    }
    out
}

fn fail_all(jobs: Vec<Job>, why: &GroupFailure, answers: &mut Vec<Answer>) {
    tracing::error!(
        error = %why.message,
        unavailable = why.unavailable,
        requests = jobs.len(),
        "group commit failed; nothing of the group was stored"
    );
    for j in jobs {
        answers.push(Answer::Statements(
            j.reply,
            Err(why.error()),
            j.batch,
            j.held,
        ));
    }
}

/// Writes and answers a group, counting it in `counters` when it committed
/// (before anyone is answered, so that an answered request is counted).
pub(super) async fn write_group(conn: &mut WriteConn, jobs: Vec<Job>, counters: &GroupCounters) {
    let now = now_ms();
    // Several writers (PostgreSQL): what to check for voiding once committed.
    let repair = match conn {
        WriteConn::Store(s) if s.backend() == store::Backend::Postgres => {
            Some((s.clone(), voiding_checks(&jobs)))
        }
        _ => None,
    };
    let mut answers = Vec::with_capacity(jobs.len());
    let (requests, statements) = (jobs.len(), jobs.iter().map(|j| j.batch.len()).sum());
    if write_group_once(conn, jobs, now, &mut answers).await {
        counters.committed(requests, statements);
    }
    conn.answer(answers);
    if let Some((store, checks)) = repair
        && !repair_voiding(&store, checks, now).await
    {
        counters.void_repair_failures.inc();
    }
}

/// Per integration, the statements a group stores and the targets of its
/// voiding statements.
fn voiding_checks(jobs: &[Job]) -> Vec<(Arc<IntegrationRules>, Vec<String>)> {
    let mut out: Vec<(Arc<IntegrationRules>, Vec<String>)> = Vec::new();
    for job in jobs {
        let ids = job.batch.iter().filter_map(|p| {
            p.statement
                .voided_target()
                .or(p.statement.id)
                .map(|id| id.to_string())
        });
        match out
            .iter_mut()
            .find(|(r, _)| r.integration_id == job.rules.integration_id)
        {
            Some((_, all)) => all.extend(ids),
            None => out.push((job.rules.clone(), ids.collect())),
        }
    }
    out
}

/// After a group's commit: which of its statements a voiding statement
/// refers to (one query on the pool), and, only if any, those still unvoided
/// voided in a transaction of its own ([`records::repair_voiding`]). The group
/// is committed and answered whatever happens here; a failure is logged and
/// counted (false), and the next start ([`repair_at_start`]) or `replay`
/// repairs what it left.
async fn repair_voiding(
    store: &Store,
    checks: Vec<(Arc<IntegrationRules>, Vec<String>)>,
    now: i64,
) -> bool {
    let run = async {
        // Almost always nothing refers to them: one query, no transaction.
        let mut referred = Vec::new();
        for (rules, ids) in &checks {
            let found = store
                .voided_targets(&rules.integration_id, ids)
                .await
                .map_err(|e| e.to_string())?;
            if !found.is_empty() {
                referred.push((rules, found.into_iter().collect::<Vec<_>>()));
            }
        }
        if referred.is_empty() {
            return Ok(0);
        }
        let mut tx = store.begin().await.map_err(|e| e.to_string())?;
        let mut voided = 0;
        for (rules, ids) in &referred {
            voided += records::repair_voiding(&mut tx, rules, ids, now)
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok::<usize, String>(voided)
    };
    match run.await {
        Ok(0) => true,
        Ok(n) => {
            tracing::info!(
                statements = n,
                "voided statements whose voiding statement committed at the same time"
            );
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "checking the group's voiding statements failed; the next start (or replay) repairs it");
            false
        }
    }
}

/// At start: every statement a voiding statement of its integration refers
/// to but that is not marked voided — what a crash between a PostgreSQL
/// group's commit and its voiding check left — voided now, and its
/// learner's statistics rebuilt ([`records::repair_voiding`]); how many.
pub async fn repair_at_start(store: &Store, now: i64) -> Result<usize, String> {
    let text = |e: store::StoreError| e.to_string();
    let found = store
        .read()
        .await
        .map_err(text)?
        .unvoided_targets()
        .await
        .map_err(text)?;
    if found.is_empty() {
        return Ok(0);
    }
    let mut by_integration: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (integration, id) in found {
        by_integration.entry(integration).or_default().push(id);
    }
    let mut tx = store.begin().await.map_err(text)?;
    let mut voided = 0;
    for (integration, ids) in &by_integration {
        let Some(i) = tx.integration(integration).await.map_err(text)? else {
            continue;
        };
        let rules = records::rules_for(&i).map_err(|e| e.to_string())?;
        voided += records::repair_voiding(&mut tx, &rules, ids, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(text)?;
    Ok(voided)
}

/// Writes a group; its answers go to `answers`, in the order of `jobs`.
/// Whether its transaction was committed (a group whose one request was
/// refused, or whose transaction failed, was not).
async fn write_group_once(
    conn: &mut WriteConn,
    jobs: Vec<Job>,
    now: i64,
    answers: &mut Vec<Answer>,
) -> bool {
    let voiding = jobs
        .iter()
        .any(|j| j.batch.iter().any(|p| p.statement.is_voiding()));
    if !voiding {
        let mut merged = write_merged(conn, &jobs, now).await;
        for _ in 0..DEADLOCK_RETRIES {
            match &merged {
                Merged::Failed(e) if deadlock(e) => {
                    tracing::info!(error = %e.message, "a group was a deadlock victim; running it again");
                    merged = write_merged(conn, &jobs, now).await;
                }
                _ => break,
            }
        }
        match merged {
            Merged::Committed(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    answers.push(Answer::Statements(
                        job.reply,
                        Ok(result),
                        job.batch,
                        job.held,
                    ));
                }
                return true;
            }
            // One request: its error is the answer (the request-by-request path
            // would only repeat it).
            Merged::Refused(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    answers.push(Answer::Statements(
                        job.reply,
                        Err(WriteError::Record(e)),
                        job.batch,
                        job.held,
                    ));
                }
                return false;
            }
            Merged::Refused(_) => {}
            Merged::Failed(e) => {
                fail_all(jobs, &e, answers);
                return false;
            }
        }
    }
    write_each(conn, jobs, now, answers).await
}

/// The statistics a group changed, each with the rules of the integration
/// whose statement touched it first.
#[derive(Default)]
struct Changes<'a> {
    touched: records::Touched,
    rules_of: BTreeMap<(i64, i64), &'a IntegrationRules>,
}

impl<'a> Changes<'a> {
    fn add(&mut self, rules: &'a IntegrationRules, touched: records::Touched) {
        for key in touched.keys() {
            self.rules_of.entry(*key).or_insert(rules);
        }
        records::merge(&mut self.touched, touched);
    }

    /// Brings those statistics up to date, in key order, and commits; the
    /// states written are kept in `cache` once committed.
    async fn update_and_commit(
        &self,
        mut tx: super::conn::WriteTx<'_>,
        mut cache: Option<&mut records::WriterCache>,
        now: i64,
    ) -> Result<(), GroupFailure> {
        let targets: Vec<_> = self
            .touched
            .iter()
            .filter_map(|(key, change)| Some((*key, change, *self.rules_of.get(key)?)))
            .collect();
        let (_, written) =
            records::update_many_with(&mut tx, &targets, now, cache.as_deref_mut()).await?;
        tx.commit().await?;
        if let Some(cache) = cache {
            cache.keep(written);
        }
        Ok(())
    }
}

/// The statement ids a group writes: its statements' and their voiding
/// targets' (locked first on PostgreSQL: `Tx::lock_statement_ids`).
fn group_ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .flat_map(|j| &j.batch)
        .flat_map(|p| {
            p.statement
                .id
                .into_iter()
                .chain(p.statement.voided_target())
        })
        .map(|id| id.to_string())
        .collect()
}

/// Whether a failed group transaction was PostgreSQL's deadlock victim
/// (SQLSTATE 40P01): rolled back whole, and safe to run again.
pub(super) fn deadlock(e: &GroupFailure) -> bool {
    e.message.contains("40P01") || e.message.contains("deadlock detected")
}

/// Times a group is run again after a deadlock before its requests get the error.
const DEADLOCK_RETRIES: usize = 3;

/// What the fast path did.
enum Merged {
    /// Committed; the outcomes of each request, in order.
    Committed(Vec<Vec<Outcome>>),
    /// A statement was refused (conflict, …); nothing was kept.
    Refused(RecordError),
    /// The group transaction failed.
    Failed(GroupFailure),
}

/// The fast path: each integration's batches stored as one.
async fn write_merged(conn: &mut WriteConn, jobs: &[Job], now: i64) -> Merged {
    let (mut tx, mut cache) = match conn.begin().await {
        Ok(t) => t,
        Err(e) => return Merged::Failed(e.into()),
    };
    if let Err(e) = tx.lock_statement_ids(&group_ids(jobs)).await {
        return Merged::Failed(e.into());
    }
    // Requests by integration (usually one), in order of arrival.
    let mut integrations: Vec<(&Arc<IntegrationRules>, Vec<usize>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match integrations
            .iter_mut()
            .find(|(rules, _)| rules.integration_id == job.rules.integration_id)
        {
            Some((_, members)) => members.push(i),
            None => integrations.push((&job.rules, vec![i])),
        }
    }
    let mut results: Vec<Vec<Outcome>> = vec![Vec::new(); jobs.len()];
    let mut changes = Changes::default();
    for (rules, members) in &integrations {
        let batch: Vec<&Prepared> = members.iter().flat_map(|&i| &jobs[i].batch).collect();
        let (outcomes, t) = match records::store_statement_refs_with(
            &mut tx,
            rules,
            &batch,
            now,
            cache.as_deref_mut(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                // Dropping the transaction would roll back too; say so explicitly.
                let _ = tx.rollback().await;
                return Merged::Refused(e);
            }
        };
        let mut outcomes = outcomes.into_iter();
        for &i in members {
            results[i] = outcomes.by_ref().take(jobs[i].batch.len()).collect();
        }
        changes.add(rules, t);
    }
    match changes.update_and_commit(tx, cache, now).await {
        Ok(()) => Merged::Committed(results),
        Err(e) => Merged::Failed(e),
    }
}

/// Request by request, each inside its own savepoint; whether it committed.
async fn write_each(
    conn: &mut WriteConn,
    jobs: Vec<Job>,
    now: i64,
    answers: &mut Vec<Answer>,
) -> bool {
    let mut written = write_each_tx(conn, &jobs, now).await;
    for _ in 0..DEADLOCK_RETRIES {
        match &written {
            Err(e) if deadlock(e) => {
                tracing::info!(error = %e.message, "a group was a deadlock victim; running it again");
                written = write_each_tx(conn, &jobs, now).await;
            }
            _ => break,
        }
    }
    match written {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                answers.push(Answer::Statements(job.reply, result, job.batch, job.held));
            }
            true
        }
        // The transaction is rolled back (dropped) before anyone is answered.
        Err(why) => {
            fail_all(jobs, &why, answers);
            false
        }
    }
}

/// [`write_each`]'s transaction: each request's result once committed, or
/// why the whole group failed.
async fn write_each_tx(
    conn: &mut WriteConn,
    jobs: &[Job],
    now: i64,
) -> Result<Vec<Result<Vec<Outcome>, WriteError>>, GroupFailure> {
    let (mut tx, cache) = conn.begin().await?;
    tx.lock_statement_ids(&group_ids(jobs)).await?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut changes = Changes::default();
    for job in jobs {
        tx.savepoint().await?;
        match records::store_statements(&mut tx, &job.rules, &job.batch, now).await {
            Ok((outcomes, t)) => {
                tx.release_savepoint().await?;
                changes.add(&job.rules, t);
                results.push(Ok(outcomes));
            }
            Err(e) => {
                tx.rollback_to_savepoint().await?;
                results.push(Err(WriteError::Record(e)));
            }
        }
    }
    changes.update_and_commit(tx, cache, now).await?;
    Ok(results)
}
