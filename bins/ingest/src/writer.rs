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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// The log could not be synced: what was committed may not survive a
    /// crash of the machine. The writer takes nothing more until restarted.
    #[error(
        "the write-ahead log could not be synced ({0}); nothing more is accepted until the server is restarted"
    )]
    NotDurable(String),
}

/// Why [`WriteError::NotDurable`] answers what comes after a failed sync.
const EARLIER_FAILURE: &str = "an earlier sync failed";

type Reply = oneshot::Sender<Result<Vec<Outcome>, WriteError>>;

/// A request's answer, held until the group's commit is durable, with the
/// request's statements: they are freed where the answer is sent (the
/// `log-sync` thread on SQLite), not on the writer's thread; and with what
/// its submitter kept ([`Writer::submit_stamped`]), dropped only once the
/// answer is sent.
type Answer = (Reply, Result<Vec<Outcome>, WriteError>, Vec<Prepared>, Held);

/// What a submitter keeps until its batch is answered (the batch's in-flight
/// `stored` time on the server): held by the job, not by the request, so
/// that it outlives a request whose client went away while its batch is
/// still to be written.
type Held = Box<dyn Send + Sync>;

/// What makes the direct connection's commits durable ([`store::LogSync`]
/// unless a test gives its own).
pub type SyncFn = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

struct Job {
    rules: Arc<IntegrationRules>,
    batch: Vec<Prepared>,
    reply: Reply,
    held: Held,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Held while a batch is stamped and queued ([`Writer::submit_stamped`]).
    order: Arc<Mutex<()>>,
    /// Set once a sync of the log failed ([`WriteError::NotDurable`]).
    not_durable: Arc<AtomicBool>,
    counters: Arc<GroupCounters>,
}

/// What the group writers have done since the server started (`/metrics`):
/// how well concurrent requests are being committed together.
#[derive(Debug, Default)]
pub struct GroupCounters {
    /// Group transactions committed.
    pub groups: AtomicU64,
    /// Requests in those groups (refused ones included: they were answered
    /// by the group's commit).
    pub requests: AtomicU64,
    /// Statements in those requests.
    pub statements: AtomicU64,
    /// Syncs of SQLite's log by the `log-sync` thread (each covers every
    /// group committed before it started; 0 on PostgreSQL, whose commits
    /// are synced by the server).
    pub log_syncs: AtomicU64,
}

impl GroupCounters {
    fn committed(&self, requests: usize, statements: usize) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
        self.statements
            .fetch_add(statements as u64, Ordering::Relaxed);
    }
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
        let (tx, rx) = mpsc::channel::<Job>(4096);
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
                .send(Job {
                    rules,
                    batch,
                    reply,
                    held,
                })
                .await
                .map_err(|_| WriteError::Stopped)?;
        }
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

/// A group writer: takes what has arrived (up to [`MAX_JOBS`] requests and
/// about [`MAX_STATEMENTS`] statements) and writes it as one group, until every
/// [`Writer`] is dropped.
async fn run_writer(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    sync: Option<SyncFn>,
    not_durable: Arc<AtomicBool>,
    counters: Arc<GroupCounters>,
) {
    let mut conn = WriteConn::open_with(&store, sync, not_durable.clone(), counters.clone());
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
        if not_durable.load(Ordering::Acquire) {
            // Nothing more is written once the log could not be synced.
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(WriteError::NotDurable(EARLIER_FAILURE.into())));
            }
            continue;
        }
        write_group(&mut conn, jobs, &counters).await;
    }
}

/// Where a group writer's transactions run.
pub enum WriteConn {
    /// The store's own (sqlx) connections: PostgreSQL, or SQLite when its
    /// direct connection cannot be opened. Their commits are durable when
    /// they return (PostgreSQL's own settings; SQLite's `synchronous = FULL`).
    Store(Store),
    /// SQLite's direct connection, used on the writer's thread (no hand-over
    /// to sqlx's worker thread per query), and what syncs its commits.
    /// Boxed: it carries the writer's caches, the pool variant a handle.
    Native(Box<Direct>),
}

/// SQLite's direct connection and the thread that syncs what it commits.
pub struct Direct {
    conn: store::NativeWriter,
    syncer: Syncer,
    kept: Kept,
}

/// What the direct connection knows of the database between its groups
/// (`records::WriterCache`: the learner states it wrote, the learners of the
/// identity keys it read): read again only after another connection — a
/// launch, an override, `replay`, the sync binary's learners and pending
/// statements — committed to the database, which SQLite's `data_version`
/// tells at the start of each group.
struct Kept {
    cache: records::WriterCache,
    /// `data_version` when `cache` was last known to hold only what the
    /// database holds; `None`: not known.
    version: Option<i64>,
}

/// The most learner states (some 0.3–1 KB each), and the most identities,
/// kept; each is emptied when full.
const KEPT_STATES: usize = 50_000;

impl WriteConn {
    /// The direct connection on SQLite, the store's connections otherwise.
    pub fn open(store: &Store) -> Self {
        Self::open_with(store, None, Arc::default(), Arc::default())
    }

    fn open_with(
        store: &Store,
        sync: Option<SyncFn>,
        not_durable: Arc<AtomicBool>,
        counters: Arc<GroupCounters>,
    ) -> Self {
        let conn = match store::NativeWriter::open(store) {
            Ok(Some(conn)) => conn,
            Ok(None) => return WriteConn::Store(store.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the writer's own SQLite connection; writing through the pool");
                return WriteConn::Store(store.clone());
            }
        };
        let sync = sync.unwrap_or_else(|| {
            let log = conn.log_sync();
            Arc::new(move || log.sync())
        });
        match Syncer::spawn(sync, not_durable, counters) {
            Ok(syncer) => WriteConn::Native(Box::new(Direct {
                conn,
                syncer,
                kept: Kept {
                    cache: records::WriterCache::new(KEPT_STATES),
                    version: None,
                },
            })),
            // The pool's commits are synced by SQLite itself.
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the log's sync thread; writing through the pool");
                WriteConn::Store(store.clone())
            }
        }
    }

    /// A write transaction, and on the direct connection the learner states
    /// and identities it may take as stored (emptied first if another
    /// connection committed since the last group).
    async fn begin(&mut self) -> store::Result<(store::Tx<'_>, Option<&mut records::WriterCache>)> {
        match self {
            WriteConn::Store(s) => Ok((s.begin().await?, None)),
            WriteConn::Native(d) => {
                let mut tx = d.conn.begin().await?;
                let version = tx.data_version().unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read SQLite's data version; the writer reads every learner state");
                    None
                });
                if version.is_none() || version != d.kept.version {
                    d.kept.cache.clear();
                }
                d.kept.version = version;
                Ok((tx, Some(&mut d.kept.cache)))
            }
        }
    }

    /// Sends a group's answers: at once where commits are durable when they
    /// return, after the next sync of the log on the direct connection.
    fn answer(&self, answers: Vec<Answer>) {
        match self {
            WriteConn::Store(_) => send(answers),
            WriteConn::Native(d) => d.syncer.after_sync(answers),
        }
    }
}

fn send(answers: Vec<Answer>) {
    let mut spent = Vec::with_capacity(answers.len());
    for (reply, result, batch, held) in answers {
        let _ = reply.send(result);
        spent.push((batch, held));
    }
    // Freed once everyone is answered.
    drop(spent);
}

/// Answers groups once the log is synced, in commit order, on a thread of its
/// own: while it syncs, the writer writes the next group, and one sync covers
/// every group committed before it starts. After a failed sync every answer
/// is [`WriteError::NotDurable`] (it is not known what reached the disk, and
/// a later sync may succeed without having written it: PostgreSQL's lesson,
/// "fsyncgate").
pub struct Syncer {
    groups: std::sync::mpsc::Sender<Vec<Answer>>,
}

impl Syncer {
    fn spawn(
        sync: SyncFn,
        not_durable: Arc<AtomicBool>,
        counters: Arc<GroupCounters>,
    ) -> std::io::Result<Self> {
        let (groups, pending) = std::sync::mpsc::channel::<Vec<Answer>>();
        std::thread::Builder::new()
            .name("log-sync".into())
            .spawn(move || {
                while let Ok(mut answers) = pending.recv() {
                    while let Ok(more) = pending.try_recv() {
                        answers.extend(more);
                    }
                    let failed = if not_durable.load(Ordering::Acquire) {
                        Some(EARLIER_FAILURE.to_owned())
                    } else {
                        counters.log_syncs.fetch_add(1, Ordering::Relaxed);
                        sync().err().map(|e| {
                            not_durable.store(true, Ordering::Release);
                            tracing::error!(error = %e, "syncing the write-ahead log failed; no more statements are accepted until restart");
                            e.to_string()
                        })
                    };
                    match failed {
                        None => send(answers),
                        Some(why) => {
                            for (reply, _, _, held) in answers {
                                let _ = reply.send(Err(WriteError::NotDurable(why.clone())));
                                drop(held);
                            }
                        }
                    }
                }
            })?;
        Ok(Self { groups })
    }

    fn after_sync(&self, answers: Vec<Answer>) {
        // The thread ends only when this sender is dropped.
        let _ = self.groups.send(answers);
    }
}

/// How often the SQLite log is copied back into the database, off the writer.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Copies the SQLite write-ahead log into the database every
/// [`CHECKPOINT_EVERY`], on a connection of its own, so that commits do not
/// (see `store::WAL_AUTOCHECKPOINT`). Ends when the store is closed.
pub fn spawn_checkpointer(store: Store) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if store.is_closed() {
                return;
            }
            if let Err(e) = store.checkpoint(store::WAL_RESTART_PAGES).await {
                if store.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "background checkpoint failed; the writer's own checkpoints remain");
            }
        }
    });
}

/// Writes the batches of several requests as one group, as the writer task
/// does with requests that arrive together; returns each batch's result, in
/// order. (For embedding and tests: a server submits through [`Writer`].)
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

fn fail_all(jobs: Vec<Job>, why: &str, answers: &mut Vec<Answer>) {
    tracing::error!(
        error = why,
        requests = jobs.len(),
        "group commit failed; nothing of the group was stored"
    );
    for j in jobs {
        answers.push((
            j.reply,
            Err(WriteError::Group(why.to_owned())),
            j.batch,
            j.held,
        ));
    }
}

/// Writes and answers a group, counting it in `counters` when it committed
/// (before anyone is answered, so that an answered request is counted).
async fn write_group(conn: &mut WriteConn, jobs: Vec<Job>, counters: &GroupCounters) {
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
    if let Some((store, checks)) = repair {
        repair_voiding(&store, checks, now).await;
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
/// is committed and answered whatever happens here; a failure is logged, and
/// `replay` repairs what it left.
async fn repair_voiding(
    store: &Store,
    checks: Vec<(Arc<IntegrationRules>, Vec<String>)>,
    now: i64,
) {
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
        Ok(0) => {}
        Ok(n) => tracing::info!(
            statements = n,
            "voided statements whose voiding statement committed at the same time"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "checking the group's voiding statements failed; replay repairs it")
        }
    }
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
        match write_merged(conn, &jobs, now).await {
            Merged::Committed(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    answers.push((job.reply, Ok(result), job.batch, job.held));
                }
                return true;
            }
            // One request: its error is the answer (the request-by-request path
            // would only repeat it).
            Merged::Refused(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    answers.push((job.reply, Err(WriteError::Record(e)), job.batch, job.held));
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
        mut tx: store::Tx<'_>,
        mut cache: Option<&mut records::WriterCache>,
        now: i64,
    ) -> Result<(), String> {
        let targets: Vec<_> = self
            .touched
            .iter()
            .filter_map(|(key, change)| Some((*key, change, *self.rules_of.get(key)?)))
            .collect();
        let (_, written) = records::update_many_with(&mut tx, &targets, now, cache.as_deref_mut())
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        if let Some(cache) = cache {
            cache.keep(written);
        }
        Ok(())
    }
}

/// What the fast path did.
enum Merged {
    /// Committed; the outcomes of each request, in order.
    Committed(Vec<Vec<Outcome>>),
    /// A statement was refused (conflict, …); nothing was kept.
    Refused(RecordError),
    /// The group transaction failed.
    Failed(String),
}

/// The fast path: each integration's batches stored as one.
async fn write_merged(conn: &mut WriteConn, jobs: &[Job], now: i64) -> Merged {
    let (mut tx, mut cache) = match conn.begin().await {
        Ok(t) => t,
        Err(e) => return Merged::Failed(e.to_string()),
    };
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
    match write_each_tx(conn, &jobs, now).await {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                answers.push((job.reply, result, job.batch, job.held));
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
) -> Result<Vec<Result<Vec<Outcome>, WriteError>>, String> {
    let text = |e: store::StoreError| e.to_string();
    let (mut tx, cache) = conn.begin().await.map_err(text)?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut changes = Changes::default();
    for job in jobs {
        tx.savepoint().await.map_err(text)?;
        match records::store_statements(&mut tx, &job.rules, &job.batch, now).await {
            Ok((outcomes, t)) => {
                tx.release_savepoint().await.map_err(text)?;
                changes.add(&job.rules, t);
                results.push(Ok(outcomes));
            }
            Err(e) => {
                tx.rollback_to_savepoint().await.map_err(text)?;
                results.push(Err(WriteError::Record(e)));
            }
        }
    }
    changes.update_and_commit(tx, cache, now).await?;
    Ok(results)
}
