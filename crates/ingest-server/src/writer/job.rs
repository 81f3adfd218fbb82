//! What travels between a request and the group writer: the job queued,
//! the answer sent back, and why a batch was not stored.

use std::sync::Arc;

use records::{IntegrationRules, Outcome, Prepared, RecordError};
use tokio::sync::oneshot;

/// Why a submitted batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Storing the batch failed (a refusal or a database error).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The group's transaction failed for another reason; nothing of it was
    /// stored.
    #[error("the group transaction failed: {0}")]
    Group(String),
    /// The database is unavailable ([`store::StoreError::unavailable`]):
    /// nothing of the group was stored; the same request may succeed later.
    #[error("the database is unavailable ({reason}): {message}")]
    Unavailable {
        /// Why (disk full, connection lost, ...).
        reason: &'static str,
        /// The database's error.
        message: String,
    },
    /// The writer is gone (the server is stopping).
    #[error("the writer stopped")]
    Stopped,
    /// The log could not be synced: what was committed may not survive a
    /// crash of the machine. The writer takes nothing more until restarted.
    #[error(
        "the write-ahead log could not be synced ({0}); nothing more is accepted until the server is restarted"
    )]
    NotDurable(String),
}

/// Why a group's transaction failed: what each of its requests is told.
#[derive(Debug, Clone)]
pub(super) struct GroupFailure {
    pub message: String,
    /// The database was unavailable, and why ([`store::StoreError::unavailable`]).
    pub unavailable: Option<&'static str>,
}

impl From<store::StoreError> for GroupFailure {
    fn from(e: store::StoreError) -> Self {
        Self {
            unavailable: e.unavailable(),
            message: e.to_string(),
        }
    }
}

impl From<RecordError> for GroupFailure {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Store(e) => e.into(),
            other => Self {
                message: other.to_string(),
                unavailable: None,
            },
        }
    }
}

impl GroupFailure {
    /// The answer of each request of the failed group.
    pub(super) fn error(&self) -> WriteError {
        match self.unavailable {
            Some(reason) => WriteError::Unavailable {
                reason,
                message: self.message.clone(),
            },
            None => WriteError::Group(self.message.clone()),
        }
    }
}

/// Why [`WriteError::NotDurable`] answers what comes after a failed sync.
pub(super) const EARLIER_FAILURE: &str = "an earlier sync failed";

pub(super) type Reply = oneshot::Sender<Result<Vec<Outcome>, WriteError>>;

/// A request's answer, held until the group's commit is durable, with the
/// request's statements: they are freed where the answer is sent (the
/// `log-sync` thread on SQLite), not on the writer's thread; and with what
/// its submitter kept ([`super::Writer::submit_stamped`]), dropped only once the
/// answer is sent.
pub(super) enum Answer {
    Statements(Reply, Result<Vec<Outcome>, WriteError>, Vec<Prepared>, Held),
    /// A document write's answer (`super::documents`).
    Document(super::documents::Reply, super::documents::Answer),
}

impl Answer {
    /// Sends the answer; what is freed after everyone is answered comes back.
    pub(super) fn send(self) -> Option<(Vec<Prepared>, Held)> {
        match self {
            Answer::Statements(reply, result, batch, held) => {
                let _ = reply.send(result);
                Some((batch, held))
            }
            Answer::Document(reply, result) => {
                let _ = reply.send(result);
                None
            }
        }
    }

    /// Answers that the commit is not known to be durable.
    pub(super) fn not_durable(self, why: &str) {
        match self {
            Answer::Statements(reply, _, _, held) => {
                let _ = reply.send(Err(WriteError::NotDurable(why.to_owned())));
                drop(held);
            }
            Answer::Document(reply, _) => {
                let _ = reply.send(Err(super::documents::DocumentWriteError::Write(
                    WriteError::NotDurable(why.to_owned()),
                )));
            }
        }
    }
}

/// What a submitter keeps until its batch is answered (the batch's in-flight
/// `stored` time on the server): held by the job, not by the request, so
/// that it outlives a request whose client went away while its batch is
/// still to be written.
pub(super) type Held = Box<dyn Send + Sync>;

/// What makes the direct connection's commits durable ([`store::LogSync`]
/// unless a test gives its own).
pub type SyncFn = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// A request's batch in the writer's queue.
pub(super) struct Job {
    pub(super) rules: Arc<IntegrationRules>,
    pub(super) batch: Vec<Prepared>,
    pub(super) reply: Reply,
    pub(super) held: Held,
}
