//! Integrations (a provider connected to an LMS group), the record of
//! changes to their settings (which keys, never the values), and their
//! webhook credentials (stored hashed; hashing and verification are the
//! caller's).

use sqlx::any::AnyRow;

use crate::{Ctx, Result, Tx, col, flag};

#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: String,
    /// `opensesame`, `udemy-business`, `generic`, …
    pub provider: String,
    /// The LMS group whose catalog receives the courses.
    pub lms_group: String,
    /// The connector admin who authors the courses.
    pub connector_author: String,
    /// Provider settings (base URLs, customer ids, env var names of secrets), as JSON.
    pub settings: serde_json::Value,
    pub active: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub deactivated_ms: Option<i64>,
}

fn integration(row: &AnyRow) -> Result<Integration> {
    let settings: String = col(row, "settings")?;
    Ok(Integration {
        id: col(row, "id")?,
        provider: col(row, "provider")?,
        lms_group: col(row, "lms_group")?,
        connector_author: col(row, "connector_author")?,
        settings: serde_json::from_str(&settings).map_err(|e| crate::StoreError::Corrupt {
            what: "integrations.settings",
            detail: e.to_string(),
        })?,
        active: col::<i64>(row, "active")? != 0,
        created_ms: col(row, "created_ms")?,
        updated_ms: col(row, "updated_ms")?,
        deactivated_ms: col(row, "deactivated_ms")?,
    })
}

const COLS: &str = "id, provider, lms_group, connector_author, settings, active, created_ms, updated_ms, deactivated_ms";

/// A change to an integration's settings, as recorded: who, when, which keys
/// were set and which removed — never the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    pub id: i64,
    pub integration_id: String,
    pub changed_ms: i64,
    pub author: String,
    /// Setting names (`rules.launch_progress` for a key of `rules`).
    pub keys_set: Vec<String>,
    pub keys_unset: Vec<String>,
}

/// A change to record with [`Tx::change_integration_settings`].
#[derive(Debug, Clone, Copy)]
pub struct NewSettingChange<'a> {
    pub changed_ms: i64,
    pub author: &'a str,
    pub keys_set: &'a [String],
    pub keys_unset: &'a [String],
}

fn keys(row: &AnyRow, name: &'static str) -> Result<Vec<String>> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| crate::StoreError::Corrupt {
        what: "integration_setting_changes keys",
        detail: e.to_string(),
    })
}

fn keys_json(keys: &[String]) -> String {
    serde_json::Value::from(keys.to_vec()).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub client_id: String,
    pub integration_id: String,
    pub secret_hash: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl Tx<'_> {
    pub async fn insert_integration(&mut self, i: &Integration) -> Result<()> {
        let q = self.sql(
            "INSERT INTO integrations (id, provider, lms_group, connector_author, settings, active, created_ms, updated_ms, deactivated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        );
        sqlx::query(&q)
            .bind(&i.id)
            .bind(&i.provider)
            .bind(&i.lms_group)
            .bind(&i.connector_author)
            .bind(i.settings.to_string())
            .bind(flag(i.active))
            .bind(i.created_ms)
            .bind(i.updated_ms)
            .bind(i.deactivated_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("inserting an integration")?;
        Ok(())
    }

    pub async fn integration(&mut self, id: &str) -> Result<Option<Integration>> {
        let q = self.sql(&format!("SELECT {COLS} FROM integrations WHERE id = $1"));
        let row = sqlx::query(&q)
            .bind(id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading an integration")?;
        row.as_ref().map(integration).transpose()
    }

    pub async fn integrations(&mut self, active_only: bool) -> Result<Vec<Integration>> {
        let q = self.sql(&format!(
            "SELECT {COLS} FROM integrations WHERE active >= $1 ORDER BY id"
        ));
        let rows = sqlx::query(&q)
            .bind(flag(active_only))
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing integrations")?;
        rows.iter().map(integration).collect()
    }

    /// Activates or deactivates; returns false when the integration does not exist.
    pub async fn set_integration_active(
        &mut self,
        id: &str,
        active: bool,
        now_ms: i64,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE integrations SET active = $2, updated_ms = $3, \
             deactivated_ms = CASE WHEN $2 = 1 THEN NULL ELSE $3 END WHERE id = $1",
        );
        let n = sqlx::query(&q)
            .bind(id)
            .bind(flag(active))
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("updating an integration")?;
        Ok(n.rows_affected() == 1)
    }

    /// Replaces group, author and settings (re-activation with new details).
    pub async fn update_integration(&mut self, i: &Integration) -> Result<bool> {
        let q = self.sql(
            "UPDATE integrations SET provider = $2, lms_group = $3, connector_author = $4, settings = $5, updated_ms = $6 WHERE id = $1",
        );
        let n = sqlx::query(&q)
            .bind(&i.id)
            .bind(&i.provider)
            .bind(&i.lms_group)
            .bind(&i.connector_author)
            .bind(i.settings.to_string())
            .bind(i.updated_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("updating an integration")?;
        Ok(n.rows_affected() == 1)
    }

    /// Replaces an integration's settings (and `updated_ms`, with the
    /// change's time) and records which keys changed, by whom, in the same
    /// transaction. Provider, group, author and active flag are untouched.
    /// Returns false (and records nothing) when the integration does not exist.
    pub async fn change_integration_settings(
        &mut self,
        id: &str,
        settings: &serde_json::Value,
        change: &NewSettingChange<'_>,
    ) -> Result<bool> {
        let q = self.sql("UPDATE integrations SET settings = $2, updated_ms = $3 WHERE id = $1");
        let n = sqlx::query(&q)
            .bind(id)
            .bind(settings.to_string())
            .bind(change.changed_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("changing an integration's settings")?;
        if n.rows_affected() != 1 {
            return Ok(false);
        }
        let q = self.sql(
            "INSERT INTO integration_setting_changes (integration_id, changed_ms, author, keys_set, keys_unset) \
             VALUES ($1, $2, $3, $4, $5)",
        );
        sqlx::query(&q)
            .bind(id)
            .bind(change.changed_ms)
            .bind(change.author)
            .bind(keys_json(change.keys_set))
            .bind(keys_json(change.keys_unset))
            .execute(self.tx.any()?)
            .await
            .ctx("recording a change to an integration's settings")?;
        Ok(true)
    }

    /// The recorded changes to an integration's settings, oldest first.
    pub async fn setting_changes(&mut self, integration_id: &str) -> Result<Vec<SettingChange>> {
        let q = self.sql(
            "SELECT id, integration_id, changed_ms, author, keys_set, keys_unset \
             FROM integration_setting_changes WHERE integration_id = $1 ORDER BY id",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing changes to an integration's settings")?;
        rows.iter()
            .map(|r| {
                Ok(SettingChange {
                    id: col(r, "id")?,
                    integration_id: col(r, "integration_id")?,
                    changed_ms: col(r, "changed_ms")?,
                    author: col(r, "author")?,
                    keys_set: keys(r, "keys_set")?,
                    keys_unset: keys(r, "keys_unset")?,
                })
            })
            .collect()
    }

    pub async fn insert_credential(&mut self, c: &Credential) -> Result<()> {
        let q = self.sql("INSERT INTO credentials (client_id, integration_id, secret_hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5)");
        sqlx::query(&q)
            .bind(&c.client_id)
            .bind(&c.integration_id)
            .bind(&c.secret_hash)
            .bind(c.created_ms)
            .bind(c.revoked_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("inserting a credential")?;
        Ok(())
    }

    pub async fn credential(&mut self, client_id: &str) -> Result<Option<Credential>> {
        let q = self.sql("SELECT client_id, integration_id, secret_hash, created_ms, revoked_ms FROM credentials WHERE client_id = $1");
        let row = sqlx::query(&q)
            .bind(client_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a credential")?;
        row.map(|r| {
            Ok(Credential {
                client_id: col(&r, "client_id")?,
                integration_id: col(&r, "integration_id")?,
                secret_hash: col(&r, "secret_hash")?,
                created_ms: col(&r, "created_ms")?,
                revoked_ms: col(&r, "revoked_ms")?,
            })
        })
        .transpose()
    }

    pub async fn revoke_credential(&mut self, client_id: &str, now_ms: i64) -> Result<bool> {
        let q = self.sql(
            "UPDATE credentials SET revoked_ms = $2 WHERE client_id = $1 AND revoked_ms IS NULL",
        );
        let n = sqlx::query(&q)
            .bind(client_id)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("revoking a credential")?;
        Ok(n.rows_affected() == 1)
    }

    pub async fn insert_api_client(
        &mut self,
        client_id: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<()> {
        let q = self.sql(
            "INSERT INTO api_clients (client_id, secret_hash, created_ms) VALUES ($1, $2, $3)",
        );
        sqlx::query(&q)
            .bind(client_id)
            .bind(secret_hash)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("inserting an API client")?;
        Ok(())
    }

    /// The secret hash of an API client that is not revoked.
    pub async fn api_client_hash(&mut self, client_id: &str) -> Result<Option<String>> {
        let q = self
            .sql("SELECT secret_hash FROM api_clients WHERE client_id = $1 AND revoked_ms IS NULL");
        let row = sqlx::query(&q)
            .bind(client_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading an API client")?;
        row.map(|r| col(&r, "secret_hash")).transpose()
    }

    pub async fn revoke_api_client(&mut self, client_id: &str, now_ms: i64) -> Result<bool> {
        let q = self.sql(
            "UPDATE api_clients SET revoked_ms = $2 WHERE client_id = $1 AND revoked_ms IS NULL",
        );
        Ok(sqlx::query(&q)
            .bind(client_id)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("revoking an API client")?
            .rows_affected()
            == 1)
    }
}
