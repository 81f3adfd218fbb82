//! Statement attachments' raw data (schema v11): one row per integration and
//! SHA-2, written with the statements that name it, read back with them.

use crate::exec::Arg;
use crate::{Conn, Ctx, Result, Tx};

/// An attachment's data to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment<'a> {
    pub integration_id: &'a str,
    /// The SHA-2 as the statement names it, lower-case hex.
    pub sha2: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub stored_ms: i64,
}

/// An attachment's data as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAttachment {
    pub sha2: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

impl<C: Conn> Tx<'_, C> {
    /// Stores attachment data; data already stored under the same integration
    /// and SHA-2 is the same data (the hash says so) and is left as it is.
    pub async fn insert_attachments(&mut self, rows: &[NewAttachment<'_>]) -> Result<()> {
        let q = self.sql(
            "INSERT INTO attachments (integration_id, sha2, content_type, length, content, stored_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (integration_id, sha2) DO NOTHING",
        );
        for a in rows {
            let length = i64::try_from(a.content.len()).unwrap_or(i64::MAX);
            self.run(
                &q,
                &[
                    Arg::from(a.integration_id),
                    a.sha2.into(),
                    a.content_type.into(),
                    length.into(),
                    a.content.into(),
                    a.stored_ms.into(),
                ],
                "storing attachment data",
            )
            .await?;
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// The stored data of these SHA-2s of one integration (those it has).
    pub async fn attachments(
        &mut self,
        integration_id: &str,
        sha2s: &[String],
    ) -> Result<Vec<StoredAttachment>> {
        let mut out = Vec::with_capacity(sha2s.len());
        let q = self.sql(
            "SELECT sha2, content_type, content FROM attachments WHERE integration_id = $1 AND sha2 = $2",
        );
        for sha2 in sha2s {
            let row = sqlx::query(&q)
                .bind(integration_id)
                .bind(sha2)
                .fetch_optional(self.tx.any()?)
                .await
                .ctx("reading attachment data")?;
            if let Some(r) = row {
                use sqlx::Row;
                out.push(StoredAttachment {
                    sha2: r.try_get("sha2").ctx("reading attachment data")?,
                    content_type: r.try_get("content_type").ctx("reading attachment data")?,
                    content: r.try_get("content").ctx("reading attachment data")?,
                });
            }
        }
        Ok(out)
    }
}
