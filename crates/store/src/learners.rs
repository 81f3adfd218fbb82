//! Learners and the identity map (canonical identity key → learner).

use crate::{Conn, Ctx, Result, Tx, col};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learner {
    pub id: i64,
    pub lms_user_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl<C: Conn> Tx<'_, C> {
    /// The learner an identity key (see `xapi_model::LearnerKey`) maps to.
    pub async fn learner_by_identity(&mut self, key: &str) -> Result<Option<i64>> {
        let q = self.sql("SELECT learner_id FROM learner_identities WHERE identity_key = $1");
        let row = self
            .fetch_opt(&q, &[key.into()], "resolving a learner")
            .await?;
        row.map(|r| col(&r, "learner_id")).transpose()
    }
}

impl Tx<'_> {
    pub async fn learner_by_lms_id(&mut self, lms_user_id: &str) -> Result<Option<Learner>> {
        let q =
            self.sql("SELECT id, lms_user_id, email, name FROM learners WHERE lms_user_id = $1");
        let row = sqlx::query(&q)
            .bind(lms_user_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a learner")?;
        row.map(|r| learner(&r)).transpose()
    }

    /// Creates a learner, or returns the existing one with this LMS user id.
    pub async fn upsert_learner(
        &mut self,
        lms_user_id: &str,
        email: Option<&str>,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<i64> {
        let q = self.sql(
            "INSERT INTO learners (lms_user_id, email, name, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (lms_user_id) DO UPDATE SET email = COALESCE(excluded.email, learners.email), name = COALESCE(excluded.name, learners.name) \
             RETURNING id",
        );
        let row = sqlx::query(&q)
            .bind(lms_user_id)
            .bind(email)
            .bind(name)
            .bind(now_ms)
            .fetch_one(self.tx.any()?)
            .await
            .ctx("saving a learner")?;
        col(&row, "id")
    }

    /// Maps an identity key to a learner. Returns false when the key already maps
    /// to a different learner (the existing mapping is kept).
    pub async fn map_identity(&mut self, key: &str, learner_id: i64) -> Result<bool> {
        let q = self.sql("INSERT INTO learner_identities (identity_key, learner_id) VALUES ($1, $2) ON CONFLICT (identity_key) DO NOTHING");
        sqlx::query(&q)
            .bind(key)
            .bind(learner_id)
            .execute(self.tx.any()?)
            .await
            .ctx("mapping an identity")?;
        Ok(self.learner_by_identity(key).await? == Some(learner_id))
    }
}

fn learner(r: &sqlx::any::AnyRow) -> Result<Learner> {
    Ok(Learner {
        id: col(r, "id")?,
        lms_user_id: col(r, "lms_user_id")?,
        email: col(r, "email")?,
        name: col(r, "name")?,
    })
}

impl Tx<'_> {
    /// Every identity key mapped to a learner (the Agents resource's Person).
    pub async fn learner_identity_keys(&mut self, learner_id: i64) -> Result<Vec<String>> {
        let q = self.sql(
            "SELECT identity_key FROM learner_identities WHERE learner_id = $1 ORDER BY identity_key",
        );
        let rows = self
            .fetch(&q, &[learner_id.into()], "reading a learner's identities")
            .await?;
        rows.iter().map(|r| col(r, "identity_key")).collect()
    }

    /// A learner by id.
    pub async fn learner(&mut self, learner_id: i64) -> Result<Option<Learner>> {
        let q = self.sql("SELECT id, lms_user_id, email, name FROM learners WHERE id = $1");
        let row = sqlx::query(&q)
            .bind(learner_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a learner")?;
        row.map(|r| learner(&r)).transpose()
    }
}
