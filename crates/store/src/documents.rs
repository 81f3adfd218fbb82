//! The xAPI Document resources' documents (schema v18): State, Activity
//! Profile and Agent Profile documents of an integration, each under its key
//! ([`DocumentKey`]), with its content type, bytes, ETag and time.
//!
//! Writes run on the write path (the group writer's transaction, on either
//! connection): read the current document, then replace or delete it, under
//! [`Tx::lock_documents`] on PostgreSQL, where several writers run at once.
//! Reads (one document, the ids of a scope) run on a read transaction.

use crate::exec::{Arg, Cols};
use crate::{Conn, Result, Tx, col};

/// Where a document lives. What a resource does not use is `""`: an Agent
/// Profile has no activity, an Activity Profile no agent, and only State
/// documents have a registration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentScope {
    pub integration_id: String,
    /// `state`, `activity-profile` or `agent-profile`.
    pub resource: String,
    pub activity_id: String,
    /// The agent's canonical identifier (`xapi_model::LearnerKey`).
    pub agent_key: String,
    pub registration: String,
}

/// One document: its scope and its id (`stateId` or `profileId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentKey {
    pub scope: DocumentScope,
    pub document_id: String,
}

/// A document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub content_type: String,
    pub content: Vec<u8>,
    /// Quoted SHA-1 hex of the content (`xapi_model::documents::etag`).
    pub etag: String,
    pub updated_ms: i64,
}

/// A document's id and when it last changed (the ids list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentId {
    pub document_id: String,
    pub updated_ms: i64,
}

/// The first key of document locks ([`Tx::lock_documents`]): a key space
/// of its own, apart from statistics' one-key locks and statement locks.
const DOCUMENT_LOCKS: i32 = 0x6364; // "cd"

/// FNV-1a over the parts of the key's scope (32 bits): the same lock in
/// every process. The scope, not the document: a multiple-document DELETE
/// and a write of one of its documents take the same lock.
fn lock_key(key: &DocumentKey) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    let s = &key.scope;
    for part in [
        &s.integration_id,
        &s.resource,
        &s.activity_id,
        &s.agent_key,
        &s.registration,
    ] {
        for b in part.bytes().chain([0u8]) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h as i32
}

const KEY_WHERE: &str = "integration_id = $1 AND resource = $2 AND activity_id = $3 \
     AND agent_key = $4 AND registration = $5";

fn scope_args(s: &DocumentScope) -> [Arg<'_>; 5] {
    [
        Arg::from(&s.integration_id),
        (&s.resource).into(),
        (&s.activity_id).into(),
        (&s.agent_key).into(),
        (&s.registration).into(),
    ]
}

fn key_args(k: &DocumentKey) -> Vec<Arg<'_>> {
    let mut args = scope_args(&k.scope).to_vec();
    args.push((&k.document_id).into());
    args
}

fn stored(r: &impl Cols) -> Result<StoredDocument> {
    Ok(StoredDocument {
        content_type: col(r, "content_type")?,
        content: col(r, "content")?,
        etag: col(r, "etag")?,
        updated_ms: col(r, "updated_ms")?,
    })
}

impl<C: Conn> Tx<'_, C> {
    /// Takes the locks of these documents' scopes (PostgreSQL; nothing on
    /// SQLite, whose writers are serialized), in ascending order: two writers
    /// of the same document, or of a document and its scope, queue instead
    /// of both reading before either writes.
    pub async fn lock_documents(&mut self, keys: &[&DocumentKey]) -> Result<()> {
        if self.backend != crate::Backend::Postgres || keys.is_empty() {
            return Ok(());
        }
        let mut locks: Vec<i64> = keys.iter().map(|k| i64::from(lock_key(k))).collect();
        locks.sort_unstable();
        locks.dedup();
        for chunk in locks.chunks(1000) {
            let ps = crate::repeat_row("(?::int)", chunk.len(), 1, ", ");
            let q = format!(
                "SELECT pg_advisory_xact_lock({DOCUMENT_LOCKS}, k) FROM (VALUES {ps}) AS v(k) ORDER BY k"
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|k| Arg::from(*k)).collect();
            self.fetch(&q, &args, "taking document locks").await?;
        }
        Ok(())
    }

    /// A document, read for a write (its precondition, a merge).
    pub async fn document_for_write(
        &mut self,
        key: &DocumentKey,
    ) -> Result<Option<StoredDocument>> {
        let q = self.sql(&format!(
            "SELECT content_type, content, etag, updated_ms FROM xapi_documents \
             WHERE {KEY_WHERE} AND document_id = $6"
        ));
        match self
            .fetch_opt(&q, &key_args(key), "reading a document")
            .await?
        {
            Some(r) => Ok(Some(stored(&r)?)),
            None => Ok(None),
        }
    }

    /// Stores a document, replacing the one under its key.
    pub async fn put_document(&mut self, key: &DocumentKey, doc: &StoredDocument) -> Result<()> {
        let q = self.sql(
            "INSERT INTO xapi_documents (integration_id, resource, activity_id, agent_key, registration, \
             document_id, content_type, content, etag, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (integration_id, resource, activity_id, agent_key, registration, document_id) \
             DO UPDATE SET content_type = excluded.content_type, content = excluded.content, \
             etag = excluded.etag, updated_ms = excluded.updated_ms",
        );
        let mut args = key_args(key);
        args.extend([
            Arg::from(&doc.content_type),
            doc.content.as_slice().into(),
            (&doc.etag).into(),
            doc.updated_ms.into(),
        ]);
        self.run(&q, &args, "storing a document").await?;
        Ok(())
    }

    /// Deletes a document; whether there was one.
    pub async fn delete_document(&mut self, key: &DocumentKey) -> Result<bool> {
        let q = self.sql(&format!(
            "DELETE FROM xapi_documents WHERE {KEY_WHERE} AND document_id = $6"
        ));
        Ok(self.run(&q, &key_args(key), "deleting a document").await? > 0)
    }

    /// Deletes every document of a scope (State's multiple-document DELETE);
    /// how many.
    pub async fn delete_documents(&mut self, scope: &DocumentScope) -> Result<u64> {
        let q = self.sql(&format!("DELETE FROM xapi_documents WHERE {KEY_WHERE}"));
        self.run(&q, &scope_args(scope), "deleting documents").await
    }
}

impl Tx<'_> {
    /// A document, for a GET.
    pub async fn document(&mut self, key: &DocumentKey) -> Result<Option<StoredDocument>> {
        self.document_for_write(key).await
    }

    /// The ids of a scope's documents, changed after `since_ms` when given,
    /// oldest change first (then by id).
    pub async fn document_ids(
        &mut self,
        scope: &DocumentScope,
        since_ms: Option<i64>,
    ) -> Result<Vec<DocumentId>> {
        let q = self.sql(&format!(
            "SELECT document_id, updated_ms FROM xapi_documents WHERE {KEY_WHERE} \
             AND updated_ms > $6 ORDER BY updated_ms, document_id"
        ));
        let mut args = scope_args(scope).to_vec();
        args.push(since_ms.unwrap_or(i64::MIN).into());
        let rows = self.fetch(&q, &args, "listing documents").await?;
        rows.iter()
            .map(|r| {
                Ok(DocumentId {
                    document_id: col(r, "document_id")?,
                    updated_ms: col(r, "updated_ms")?,
                })
            })
            .collect()
    }
}
