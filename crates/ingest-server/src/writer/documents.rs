//! Document writes (the xAPI State, Activity Profile and Agent Profile
//! resources) through the group writer: the writes that arrive together are
//! one transaction, committed and made durable like a group of statements
//! (on SQLite, answered after the log's sync), so that a 2xx means durable
//! and a document PUT costs a share of one sync, not a sync of its own.
//!
//! Each write reads the document's current version in the group's
//! transaction, checks its preconditions against it
//! (`xapi_model::documents::check_preconditions`), and only then writes:
//! a refused write changes nothing. On PostgreSQL, where several writers
//! run at once, the group first takes its documents' locks in one order
//! (`store::Tx::lock_documents`).

use store::{DocumentKey, DocumentScope, StoredDocument};
use tokio::sync::oneshot;
use xapi_model::documents::{self as docs, ApiVersion, MergeError, Method, Precondition, Resource};

use super::conn::WriteConn;
use super::job::{Answer as Queued, GroupFailure, WriteError};

/// What a document write does.
#[derive(Debug, Clone)]
pub enum DocumentOp {
    /// Stores the document, replacing the one under its key.
    Put {
        /// The request's `Content-Type`.
        content_type: String,
        /// The document.
        content: Vec<u8>,
    },
    /// Merges a JSON object into the stored one (or stores it when there is none).
    Post {
        /// The request's `Content-Type` (JSON, for a merge).
        content_type: String,
        /// The object to merge.
        content: Vec<u8>,
    },
    /// Deletes the document.
    Delete,
    /// Deletes every document of the key's scope (State's multiple-document DELETE).
    DeleteAll,
}

/// A document write, as a request queues it.
#[derive(Debug, Clone)]
pub struct DocumentWrite {
    /// Which document (its scope and id).
    pub key: DocumentKey,
    /// What to do with it.
    pub op: DocumentOp,
    /// The xAPI version the request spoke (the precondition rules differ).
    pub version: ApiVersion,
    /// The resource (State, Activity Profile or Agent Profile); must be the
    /// one `key` was built for.
    pub resource: Resource,
    /// The request's `If-Match` and `If-None-Match`, as sent.
    pub if_match: Option<String>,
    /// The request's `If-None-Match`, as sent.
    pub if_none_match: Option<String>,
    /// Also the client-side rules, with 428 (`[documents] require_preconditions`).
    pub strict: bool,
    /// The largest document (`limits.max_document_bytes`): a POST whose merge
    /// would be larger is refused.
    pub max_bytes: usize,
}

/// What a write did: the document's new ETag (`None` once deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new ETag, or `None` when the document was deleted.
    pub etag: Option<String>,
}

/// Why a document write was not done.
#[derive(Debug, thiserror::Error)]
pub enum DocumentWriteError {
    /// 412, 409 or 428: nothing changed.
    #[error(transparent)]
    Precondition(#[from] Precondition),
    /// POST onto or of a document that is not a JSON object: 400, nothing changed.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A POST whose merged document would pass the size limit: 413, nothing changed.
    #[error("the merged document would be {size} bytes; a document is at most {max}")]
    TooLarge {
        /// The merged document's size, in bytes.
        size: usize,
        /// The limit (`limits.max_document_bytes`).
        max: usize,
    },
    /// The group's transaction failed, or its commit is not durable.
    #[error(transparent)]
    Write(#[from] WriteError),
}

pub(super) type Answer = Result<Written, DocumentWriteError>;

/// Times a document group is run again after a deadlock (PostgreSQL
/// SQLSTATE 40P01; its locks are taken in one order, so this is a guard).
const DEADLOCK_RETRIES: usize = 3;
pub(super) type Reply = oneshot::Sender<Answer>;

/// A document write in the writer's queue.
pub(super) struct DocumentJob {
    pub(super) write: DocumentWrite,
    pub(super) reply: Reply,
}

impl DocumentWrite {
    /// The bytes it carries.
    pub fn size(&self) -> usize {
        match &self.op {
            DocumentOp::Put { content, .. } | DocumentOp::Post { content, .. } => content.len(),
            DocumentOp::Delete | DocumentOp::DeleteAll => 0,
        }
    }
}

impl DocumentOp {
    fn method(&self) -> Method {
        match self {
            DocumentOp::Put { .. } => Method::Put,
            DocumentOp::Post { .. } => Method::Post,
            DocumentOp::Delete | DocumentOp::DeleteAll => Method::Delete,
        }
    }
}

/// Writes a group of document writes in one transaction; their answers go to
/// `answers`, in order. Whether it committed.
pub(super) async fn write_documents(
    conn: &mut WriteConn,
    jobs: Vec<DocumentJob>,
    now_ms: i64,
    answers: &mut Vec<Queued>,
) -> bool {
    let mut written = write_tx(conn, &jobs, now_ms).await;
    for _ in 0..DEADLOCK_RETRIES {
        match &written {
            Err(e) if super::group::deadlock(e) => {
                tracing::info!(error = %e.message, "a document group was a deadlock victim; running it again");
                written = write_tx(conn, &jobs, now_ms).await;
            }
            _ => break,
        }
    }
    match written {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                answers.push(Queued::Document(job.reply, result));
            }
            true
        }
        Err(why) => {
            tracing::error!(error = %why.message, unavailable = why.unavailable, writes = jobs.len(), "document group failed; nothing of it was stored");
            for job in jobs {
                answers.push(Queued::Document(job.reply, Err(why.error().into())));
            }
            false
        }
    }
}

async fn write_tx(
    conn: &mut WriteConn,
    jobs: &[DocumentJob],
    now_ms: i64,
) -> Result<Vec<Answer>, GroupFailure> {
    let (mut tx, _) = conn.begin().await?;
    let keys: Vec<&DocumentKey> = jobs.iter().map(|j| &j.write.key).collect();
    tx.lock_documents(&keys).await?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let w = &job.write;
        if let DocumentOp::DeleteAll = w.op {
            tx.delete_documents(&w.key.scope).await?;
            results.push(Ok(Written { etag: None }));
            continue;
        }
        let current = tx.document_for_write(&w.key).await?;
        let check = if w.strict {
            docs::check_preconditions_strict
        } else {
            docs::check_preconditions
        };
        let checked = check(
            w.version,
            w.resource,
            w.op.method(),
            current.as_ref().map(|d| d.etag.as_str()),
            w.if_match.as_deref(),
            w.if_none_match.as_deref(),
        );
        if let Err(p) = checked {
            results.push(Err(p.into()));
            continue;
        }
        let new = match (&w.op, current) {
            (
                DocumentOp::Put {
                    content_type,
                    content,
                },
                _,
            )
            | (
                DocumentOp::Post {
                    content_type,
                    content,
                },
                None,
            ) => Some((content_type.clone(), content.clone())),
            (
                DocumentOp::Post {
                    content_type,
                    content,
                },
                Some(old),
            ) => {
                if !docs::is_json(&old.content_type) {
                    results.push(Err(MergeError::StoredNotObject.into()));
                    continue;
                }
                if !docs::is_json(content_type) {
                    results.push(Err(MergeError::PostedNotObject.into()));
                    continue;
                }
                match docs::merge_json(&old.content, content) {
                    Ok(merged) if merged.len() > w.max_bytes => {
                        results.push(Err(DocumentWriteError::TooLarge {
                            size: merged.len(),
                            max: w.max_bytes,
                        }));
                        continue;
                    }
                    Ok(merged) => Some((old.content_type, merged)),
                    Err(e) => {
                        results.push(Err(e.into()));
                        continue;
                    }
                }
            }
            (DocumentOp::Delete, _) => None,
            (DocumentOp::DeleteAll, _) => None,
        };
        match new {
            Some((content_type, content)) => {
                let doc = StoredDocument {
                    etag: docs::etag(&content),
                    content_type,
                    content,
                    updated_ms: now_ms,
                };
                tx.put_document(&w.key, &doc).await?;
                results.push(Ok(Written {
                    etag: Some(doc.etag),
                }));
            }
            None => {
                tx.delete_document(&w.key).await?;
                results.push(Ok(Written { etag: None }));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// The scope of a document query's key, for an integration.
pub fn scope_of(integration_id: &str, q: &docs::DocumentQuery) -> DocumentScope {
    DocumentScope {
        integration_id: integration_id.to_owned(),
        resource: q.resource.as_str().to_owned(),
        activity_id: q.activity_id.clone().unwrap_or_default(),
        agent_key: q.agent_key.clone().unwrap_or_default(),
        registration: q.registration.clone().unwrap_or_default(),
    }
}
