//! Parked statements: stored, acknowledged, but not yet matched to a known
//! course or learner. Listed, and applied when the course or mapping arrives.

use crate::{Conn, Ctx, Result, Tx, col};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub statement_id: String,
    pub integration_id: String,
    /// `unknown-course`, `unknown-learner`, or both separated by a comma.
    pub reason: String,
    /// What was not found (the activity id, the identity key).
    pub detail: String,
    pub parked_ms: i64,
}

impl<C: Conn> Tx<'_, C> {
    pub async fn park(&mut self, p: &PendingRow) -> Result<()> {
        let q = self.sql(
            "INSERT INTO pending (statement_id, integration_id, reason, detail, parked_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (statement_id) DO UPDATE SET reason = excluded.reason, detail = excluded.detail",
        );
        let args = [
            (&p.statement_id).into(),
            (&p.integration_id).into(),
            (&p.reason).into(),
            (&p.detail).into(),
            p.parked_ms.into(),
        ];
        self.run(&q, &args, "parking a statement").await?;
        Ok(())
    }
}

impl Tx<'_> {
    pub async fn unpark(&mut self, statement_id: &str) -> Result<bool> {
        let q = self.sql("DELETE FROM pending WHERE statement_id = $1");
        Ok(sqlx::query(&q)
            .bind(statement_id)
            .execute(self.tx.any()?)
            .await
            .ctx("unparking a statement")?
            .rows_affected()
            == 1)
    }

    /// Parked statements, oldest first; of one integration when given; after a statement id cursor.
    pub async fn pending(
        &mut self,
        integration_id: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PendingRow>> {
        let q = self.sql(
            "SELECT p.statement_id, p.integration_id, p.reason, p.detail, p.parked_ms FROM pending p JOIN statements s ON s.id = p.statement_id \
             WHERE ($1 = '' OR p.integration_id = $1) AND s.seq > COALESCE((SELECT seq FROM statements WHERE id = $2), 0) \
             ORDER BY s.seq LIMIT $3",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id.unwrap_or(""))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing pending statements")?;
        rows.iter()
            .map(|r| {
                Ok(PendingRow {
                    statement_id: col(r, "statement_id")?,
                    integration_id: col(r, "integration_id")?,
                    reason: col(r, "reason")?,
                    detail: col(r, "detail")?,
                    parked_ms: col(r, "parked_ms")?,
                })
            })
            .collect()
    }

    pub async fn pending_count(&mut self, integration_id: Option<&str>) -> Result<i64> {
        let q =
            self.sql("SELECT COUNT(*) AS n FROM pending WHERE ($1 = '' OR integration_id = $1)");
        let r = sqlx::query(&q)
            .bind(integration_id.unwrap_or(""))
            .fetch_one(self.tx.any()?)
            .await
            .ctx("counting pending statements")?;
        col(&r, "n")
    }
}
