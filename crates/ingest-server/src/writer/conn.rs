//! Where a group writer's transactions run ([`WriteConn`]): the store's
//! connections, or SQLite's direct connection with what the writer keeps
//! between groups and the thread that syncs the log before answering
//! ([`Syncer`]); and the background checkpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use store::Store;

use super::job::{Answer, EARLIER_FAILURE, SyncFn};
use crate::metrics::GroupCounters;

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

    pub(super) fn open_with(
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
    pub(super) async fn begin(
        &mut self,
    ) -> store::Result<(WriteTx<'_>, Option<&mut records::WriterCache>)> {
        match self {
            WriteConn::Store(s) => Ok((s.begin().await?.into_write_path(), None)),
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
    pub(super) fn answer(&self, answers: Vec<Answer>) {
        match self {
            WriteConn::Store(_) => send(answers),
            WriteConn::Native(d) => d.syncer.after_sync(answers),
        }
    }
}

fn send(answers: Vec<Answer>) {
    let mut spent = Vec::with_capacity(answers.len());
    for answer in answers {
        spent.extend(answer.send());
    }
    // Freed once everyone is answered.
    drop(spent);
}

/// Answers groups once the log is synced, in commit order, on a thread of its
/// own: while it syncs, the writer writes the next group, and one sync covers
/// every group committed before it starts. After a failed sync every answer
/// is [`super::job::WriteError::NotDurable`] (it is not known what reached the disk, and
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
                        counters.log_syncs.inc();
                        sync().err().map(|e| {
                            not_durable.store(true, Ordering::Release);
                            tracing::error!(error = %e, "syncing the write-ahead log failed; no more statements are accepted until restart");
                            e.to_string()
                        })
                    };
                    match failed {
                        None => send(answers),
                        Some(why) => {
                            for answer in answers {
                                answer.not_durable(&why);
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

/// Copies the SQLite write-ahead log into the database every 250 ms
/// (`CHECKPOINT_EVERY`), on a connection of its own, so that commits do not
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

/// The group writer's transactions run the write path only (on SQLite, on
/// the direct connection, which runs nothing else).
pub(crate) type WriteTx<'s> = store::Tx<'s, store::WritePath>;
