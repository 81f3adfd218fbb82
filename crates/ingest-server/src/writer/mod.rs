//! Group commit: statement batches from concurrent requests are written in one
//! transaction, statistics are brought up to date once per learner and course
//! at the end of the group in key order (one global lock order across writers
//! and instances), and every request is answered only after the commit.
//!
//! Two ways through a group, with the same results:
//! - the fast path stores the batches of each integration as one batch (one
//!   query per kind of row for the whole group, no savepoints). It is taken
//!   when no statement of the group voids another, and kept only if nothing
//!   fails;
//! - otherwise the group is written again request by request, each inside its
//!   own savepoint, so that one request's conflict never fails another.
//!
//! On SQLite's direct connection a commit is not synced by SQLite: a thread of
//! its own syncs the log and only then answers the group's requests
//! ([`Syncer`]), while the writer goes on with the next group; every answer,
//! a refusal too, waits for a sync that covers every commit before it.
//!
//! Here: the queue ([`Writer`]) and the writer loop; `job`, what a request
//! queues and gets back; `conn`, where groups are written ([`WriteConn`],
//! the log's [`Syncer`], the checkpointer); `group`, how a group is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use records::{IntegrationRules, Outcome, Prepared, RecordError};
use store::Store;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::metrics::GroupCounters;

mod conn;
mod documents;
mod group;
mod job;

pub use conn::{Direct, Syncer, WriteConn, spawn_checkpointer};
pub use documents::{DocumentOp, DocumentWrite, DocumentWriteError, Written, scope_of};
pub use group::repair_at_start;
pub use group::write_batches;
pub use job::{SyncFn, WriteError};

use documents::{DocumentJob, write_documents};
use group::write_group;
use job::{EARLIER_FAILURE, Job};

/// What the writer's queue carries: a request's statements, or a document write.
enum Queued {
    Statements(Job),
    /// Boxed: a document write carries its key and content.
    Document(Box<DocumentJob>),
}

impl Queued {
    /// How much it counts against a group's [`MAX_STATEMENTS`].
    fn weight(&self) -> usize {
        match self {
            Queued::Statements(j) => j.batch.len(),
            // A document's share of a group grows with its size (a KiB
            // counts as a statement), so that a group stays small in memory.
            Queued::Document(d) => 1 + d.write.size() / 1024,
        }
    }
}

/// The group writer's queue: requests submit statement batches and document
/// writes, and are answered after the group they were written in committed.
/// Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Queued>,
    /// Held while a batch is stamped and queued ([`Writer::submit_stamped`]).
    order: Arc<Mutex<()>>,
    /// Set once a sync of the log failed ([`WriteError::NotDurable`]).
    not_durable: Arc<AtomicBool>,
    counters: Arc<GroupCounters>,
}

/// Requests per group, and statements per group (to keep transactions short).
const MAX_JOBS: usize = 256;
const MAX_STATEMENTS: usize = 5_000;

impl Writer {
    /// Starts `writers` group writers (1 for SQLite, which has one writer
    /// anyway). On SQLite the writer runs on a thread of its own with a
    /// single-task runtime and SQLite's direct connection: on the server's
    /// runtime every wake-up of the writer queued behind the request tasks
    /// ready at that moment. On PostgreSQL the writers are tasks of the
    /// server's runtime: their connections come from the pool that request
    /// handlers use, and a socket belongs to the runtime that opened it.
    pub fn spawn(store: Store, writers: usize) -> Self {
        Self::spawn_with_sync(store, writers, None)
    }

    /// [`Writer::spawn`], with `sync` instead of syncing the log (tests).
    pub fn spawn_with_sync(store: Store, writers: usize, sync: Option<SyncFn>) -> Self {
        let (tx, rx) = mpsc::channel::<Queued>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let not_durable = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(GroupCounters::default());
        for n in 0..writers.max(1) {
            if store.backend() == store::Backend::Sqlite {
                let started = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        let (store, rx, sync) = (store.clone(), rx.clone(), sync.clone());
                        let (not_durable, counters) = (not_durable.clone(), counters.clone());
                        std::thread::Builder::new()
                            .name(format!("group-writer-{n}"))
                            .spawn(move || {
                                rt.block_on(run_writer(store, rx, sync, not_durable, counters))
                            })
                    });
                match started {
                    Ok(_) => continue,
                    // Without a thread of its own the writer still works, on
                    // the server's runtime.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a writer thread; writing on the server's runtime")
                    }
                }
            }
            tokio::spawn(run_writer(
                store.clone(),
                rx.clone(),
                sync.clone(),
                not_durable.clone(),
                counters.clone(),
            ));
        }
        Self {
            jobs: tx,
            order: Arc::default(),
            not_durable,
            counters,
        }
    }

    /// What the group writers have done so far.
    pub fn counters(&self) -> &GroupCounters {
        &self.counters
    }

    /// Jobs (statement batches, document writes) waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// The same counters, shared (for tasks that report into them).
    pub(crate) fn shared_counters(&self) -> Arc<GroupCounters> {
        self.counters.clone()
    }

    /// False once a sync of the log failed: the server is not ready.
    pub fn is_durable(&self) -> bool {
        !self.not_durable.load(Ordering::Acquire)
    }

    /// Stores a batch; returns once it is committed (or refused).
    pub async fn submit(
        &self,
        rules: Arc<IntegrationRules>,
        batch: Vec<Prepared>,
    ) -> Result<Vec<Outcome>, WriteError> {
        self.submit_stamped(rules, batch, |_| Ok(())).await
    }

    /// [`Writer::submit`], with `stamp` run on the batch as it is queued, one
    /// batch at a time: batches are queued (and so written) in the order they
    /// were stamped. What `stamp` returns is kept until the batch is answered,
    /// even if this future is dropped before (the job holds it).
    pub async fn submit_stamped<T: Send + Sync + 'static>(
        &self,
        rules: Arc<IntegrationRules>,
        mut batch: Vec<Prepared>,
        stamp: impl FnOnce(&mut [Prepared]) -> Result<T, RecordError>,
    ) -> Result<Vec<Outcome>, WriteError> {
        if !self.is_durable() {
            return Err(WriteError::NotDurable(EARLIER_FAILURE.into()));
        }
        let (reply, answer) = oneshot::channel();
        {
            let _order = self.order.lock().await;
            let held = Box::new(stamp(&mut batch)?);
            self.jobs
                .send(Queued::Statements(Job {
                    rules,
                    batch,
                    reply,
                    held,
                }))
                .await
                .map_err(|_| WriteError::Stopped)?;
        }
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Writes a document (a State, Activity Profile or Agent Profile
    /// document's PUT, POST or DELETE); returns once it is committed and
    /// durable, or refused.
    pub async fn submit_document(
        &self,
        write: DocumentWrite,
    ) -> Result<Written, DocumentWriteError> {
        if !self.is_durable() {
            return Err(WriteError::NotDurable(EARLIER_FAILURE.into()).into());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Queued::Document(Box::new(DocumentJob { write, reply })))
            .await
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

/// A group writer: takes what has arrived (up to [`MAX_JOBS`] requests and
/// about [`MAX_STATEMENTS`] statements) and writes it as one group, until every
/// [`Writer`] is dropped.
async fn run_writer(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Queued>>>,
    sync: Option<SyncFn>,
    not_durable: Arc<AtomicBool>,
    counters: Arc<GroupCounters>,
) {
    let mut conn = WriteConn::open_with(&store, sync, not_durable.clone(), counters.clone());
    loop {
        let queued = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut n = first.weight();
            let mut queued = vec![first];
            while queued.len() < MAX_JOBS && n < MAX_STATEMENTS {
                match rx.try_recv() {
                    Ok(j) => {
                        n += j.weight();
                        queued.push(j);
                    }
                    Err(_) => break,
                }
            }
            queued
        };
        let mut jobs = Vec::with_capacity(queued.len());
        let mut document_jobs = Vec::new();
        for q in queued {
            match q {
                Queued::Statements(j) => jobs.push(j),
                Queued::Document(d) => document_jobs.push(*d),
            }
        }
        if not_durable.load(Ordering::Acquire) {
            // Nothing more is written once the log could not be synced.
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(WriteError::NotDurable(EARLIER_FAILURE.into())));
            }
            for job in document_jobs {
                let _ = job
                    .reply
                    .send(Err(WriteError::NotDurable(EARLIER_FAILURE.into()).into()));
            }
            continue;
        }
        if !jobs.is_empty() {
            write_group(&mut conn, jobs, &counters).await;
        }
        if !document_jobs.is_empty() {
            let mut answers = Vec::with_capacity(document_jobs.len());
            write_documents(
                &mut conn,
                document_jobs,
                crate::clock::now_ms(),
                &mut answers,
            )
            .await;
            conn.answer(answers);
        }
    }
}
