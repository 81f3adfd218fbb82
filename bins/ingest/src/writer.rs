//! Group commit: statement batches from concurrent requests are written in one
//! transaction, each inside its own savepoint (one request's conflict never
//! fails another), statistics are refolded once per learner and course at the
//! end of the group in key order (one global lock order across writers and
//! instances), and every request is answered only after the commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use records::{IntegrationRules, Outcome, Prepared, RecordError};
use store::Store;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::state::now_ms;

/// Why a submitted batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the group transaction failed: {0}")]
    Group(String),
    #[error("the writer stopped")]
    Stopped,
}

struct Job {
    rules: Arc<IntegrationRules>,
    batch: Vec<Prepared>,
    reply: oneshot::Sender<Result<Vec<Outcome>, WriteError>>,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Requests per group, and statements per group (to keep transactions short).
const MAX_JOBS: usize = 256;
const MAX_STATEMENTS: usize = 5_000;

impl Writer {
    /// Starts `writers` writer tasks (1 for SQLite, which has one writer anyway).
    pub fn spawn(store: Store, writers: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (store, rx) = (store.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let jobs = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut n = first.batch.len();
                        let mut jobs = vec![first];
                        while jobs.len() < MAX_JOBS && n < MAX_STATEMENTS {
                            match rx.try_recv() {
                                Ok(j) => {
                                    n += j.batch.len();
                                    jobs.push(j);
                                }
                                Err(_) => break,
                            }
                        }
                        jobs
                    };
                    write_group(&store, jobs).await;
                }
            });
        }
        Self { jobs: tx }
    }

    /// Stores a batch; returns once it is committed (or refused).
    pub async fn submit(
        &self,
        rules: Arc<IntegrationRules>,
        batch: Vec<Prepared>,
    ) -> Result<Vec<Outcome>, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                rules,
                batch,
                reply,
            })
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

fn fail_all(jobs: Vec<Job>, why: &str) {
    tracing::error!(
        error = why,
        requests = jobs.len(),
        "group commit failed; nothing of the group was stored"
    );
    for j in jobs {
        let _ = j.reply.send(Err(WriteError::Group(why.to_owned())));
    }
}

async fn write_group(store: &Store, jobs: Vec<Job>) {
    let now = now_ms();
    let mut tx = match store.begin().await {
        Ok(t) => t,
        Err(e) => return fail_all(jobs, &e.to_string()),
    };
    let mut results = Vec::with_capacity(jobs.len());
    let mut touched = records::Touched::new();
    let mut rules_of: BTreeMap<(i64, i64), Arc<IntegrationRules>> = BTreeMap::new();
    for job in &jobs {
        if let Err(e) = tx.savepoint().await {
            drop(tx);
            return fail_all(jobs, &e.to_string());
        }
        match records::store_statements(&mut tx, &job.rules, &job.batch, now).await {
            Ok((outcomes, t)) => {
                if let Err(e) = tx.release_savepoint().await {
                    drop(tx);
                    return fail_all(jobs, &e.to_string());
                }
                for key in t.keys() {
                    rules_of.entry(*key).or_insert_with(|| job.rules.clone());
                }
                records::merge(&mut touched, t);
                results.push(Ok(outcomes));
            }
            Err(e) => {
                if let Err(e2) = tx.rollback_to_savepoint().await {
                    drop(tx);
                    return fail_all(jobs, &e2.to_string());
                }
                results.push(Err(WriteError::Record(e)));
            }
        }
    }
    let targets: Vec<_> = touched
        .iter()
        .filter_map(|(key, change)| Some((*key, change, rules_of.get(key)?.as_ref())))
        .collect();
    if let Err(e) = records::update_many(&mut tx, &targets, now).await {
        drop(tx);
        return fail_all(jobs, &e.to_string());
    }
    if let Err(e) = tx.commit().await {
        return fail_all(jobs, &e.to_string());
    }
    for (job, result) in jobs.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
}
