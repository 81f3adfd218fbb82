//! The operators' console (schema v19): operators and their password
//! hashes, sessions by the hash of their token, the audit log; and what its
//! pages read that no API reads (statements per minute, the latest sync
//! runs of every integration, credentials).

use crate::{Ctx, Result, Tx, col};

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub username: String,
    /// Argon2id, as a PHC string.
    pub password_hash: String,
    pub created_ms: i64,
    pub disabled_ms: Option<i64>,
}

/// A signed-in session: whose, the CSRF token its forms carry, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    pub username: String,
    pub csrf_token: String,
    pub expires_ms: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub username: String,
    /// `sign-in`, `sign-in-refused`, `sign-out`, `credential-revoke`, …
    pub action: String,
    pub detail: String,
    /// The client's address as the server saw it.
    pub remote: String,
}

/// A webhook credential as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub client_id: String,
    pub integration_id: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl Tx<'_> {
    /// Creates an operator; false when the username is taken.
    pub async fn insert_operator(&mut self, o: &Operator) -> Result<bool> {
        let q = self.sql(
            "INSERT INTO operators (username, password_hash, created_ms, disabled_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (username) DO NOTHING",
        );
        Ok(sqlx::query(&q)
            .bind(&o.username)
            .bind(&o.password_hash)
            .bind(o.created_ms)
            .bind(o.disabled_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("creating an operator")?
            .rows_affected()
            == 1)
    }

    pub async fn operator(&mut self, username: &str) -> Result<Option<Operator>> {
        let q = self.sql(
            "SELECT username, password_hash, created_ms, disabled_ms FROM operators WHERE username = $1",
        );
        let row = sqlx::query(&q)
            .bind(username)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading an operator")?;
        row.map(|r| {
            Ok(Operator {
                username: col(&r, "username")?,
                password_hash: col(&r, "password_hash")?,
                created_ms: col(&r, "created_ms")?,
                disabled_ms: col(&r, "disabled_ms")?,
            })
        })
        .transpose()
    }

    /// Every operator, by name (hashes included: the caller shows none).
    pub async fn operators(&mut self) -> Result<Vec<Operator>> {
        let q = self.sql(
            "SELECT username, password_hash, created_ms, disabled_ms FROM operators ORDER BY username",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing operators")?;
        rows.iter()
            .map(|r| {
                Ok(Operator {
                    username: col(r, "username")?,
                    password_hash: col(r, "password_hash")?,
                    created_ms: col(r, "created_ms")?,
                    disabled_ms: col(r, "disabled_ms")?,
                })
            })
            .collect()
    }

    /// Disables an operator and ends their sessions; whether there was one.
    pub async fn disable_operator(&mut self, username: &str, now_ms: i64) -> Result<bool> {
        let q = self.sql("DELETE FROM operator_sessions WHERE username = $1");
        sqlx::query(&q)
            .bind(username)
            .execute(self.tx.any()?)
            .await
            .ctx("ending an operator's sessions")?;
        let q = self.sql(
            "UPDATE operators SET disabled_ms = $2 WHERE username = $1 AND disabled_ms IS NULL",
        );
        Ok(sqlx::query(&q)
            .bind(username)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("disabling an operator")?
            .rows_affected()
            == 1)
    }

    pub async fn insert_operator_session(
        &mut self,
        token_hash: &str,
        s: &OperatorSession,
        now_ms: i64,
    ) -> Result<()> {
        // Expired sessions go as new ones come.
        let q = self.sql("DELETE FROM operator_sessions WHERE expires_ms <= $1");
        sqlx::query(&q)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("pruning sessions")?;
        let q = self.sql(
            "INSERT INTO operator_sessions (token_hash, username, csrf_token, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        );
        sqlx::query(&q)
            .bind(token_hash)
            .bind(&s.username)
            .bind(&s.csrf_token)
            .bind(now_ms)
            .bind(s.expires_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("starting a session")?;
        Ok(())
    }

    /// A live session of an enabled operator.
    pub async fn operator_session(
        &mut self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<OperatorSession>> {
        let q = self.sql(
            "SELECT s.username, s.csrf_token, s.expires_ms FROM operator_sessions s JOIN operators o ON o.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_ms > $2 AND o.disabled_ms IS NULL",
        );
        let row = sqlx::query(&q)
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a session")?;
        row.map(|r| {
            Ok(OperatorSession {
                username: col(&r, "username")?,
                csrf_token: col(&r, "csrf_token")?,
                expires_ms: col(&r, "expires_ms")?,
            })
        })
        .transpose()
    }

    pub async fn delete_operator_session(&mut self, token_hash: &str) -> Result<()> {
        let q = self.sql("DELETE FROM operator_sessions WHERE token_hash = $1");
        sqlx::query(&q)
            .bind(token_hash)
            .execute(self.tx.any()?)
            .await
            .ctx("ending a session")?;
        Ok(())
    }

    pub async fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        let q = self.sql(
            "INSERT INTO operator_audit (at_ms, username, action, detail, remote) VALUES ($1, $2, $3, $4, $5)",
        );
        sqlx::query(&q)
            .bind(e.at_ms)
            .bind(&e.username)
            .bind(&e.action)
            .bind(&e.detail)
            .bind(&e.remote)
            .execute(self.tx.any()?)
            .await
            .ctx("writing the audit log")?;
        Ok(())
    }

    /// The newest audit entries first.
    pub async fn audit_log(&mut self, limit: i64) -> Result<Vec<AuditEntry>> {
        let q = self.sql(
            "SELECT at_ms, username, action, detail, remote FROM operator_audit ORDER BY id DESC LIMIT $1",
        );
        let rows = sqlx::query(&q)
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading the audit log")?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at_ms: col(r, "at_ms")?,
                    username: col(r, "username")?,
                    action: col(r, "action")?,
                    detail: col(r, "detail")?,
                    remote: col(r, "remote")?,
                })
            })
            .collect()
    }

    /// Statements stored per minute since `since_ms`: (the minute's start, count).
    pub async fn statements_per_minute(&mut self, since_ms: i64) -> Result<Vec<(i64, i64)>> {
        let q = self.sql(
            "SELECT (stored_ms / 60000) * 60000 AS minute, COUNT(*) AS n FROM statements WHERE stored_ms >= $1 \
             GROUP BY (stored_ms / 60000) * 60000 ORDER BY minute",
        );
        let rows = sqlx::query(&q)
            .bind(since_ms)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("counting statements per minute")?;
        rows.iter()
            .map(|r| Ok((col(r, "minute")?, col(r, "n")?)))
            .collect()
    }

    /// Every webhook credential, newest first (no secret, no hash).
    pub async fn credential_list(&mut self) -> Result<Vec<CredentialInfo>> {
        let q = self.sql(
            "SELECT client_id, integration_id, created_ms, revoked_ms FROM credentials ORDER BY created_ms DESC, client_id",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing credentials")?;
        rows.iter()
            .map(|r| {
                Ok(CredentialInfo {
                    client_id: col(r, "client_id")?,
                    integration_id: col(r, "integration_id")?,
                    created_ms: col(r, "created_ms")?,
                    revoked_ms: col(r, "revoked_ms")?,
                })
            })
            .collect()
    }
}

/// A course change a sync run made (from the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseChange {
    pub event_type: String,
    pub external_id: String,
    pub name: String,
    pub at_ms: i64,
}

/// A course found by the console's search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCourse {
    pub integration_id: String,
    pub external_id: String,
    pub name: String,
    pub kind: String,
    pub archived: bool,
}

/// A SCORM registration as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationInfo {
    pub registration_id: String,
    pub scorm_course_id: String,
    pub learner_ref: String,
    pub remote_created_ms: Option<i64>,
    pub result_ms: Option<i64>,
}

impl Tx<'_> {
    /// An integration's course events (`course.*`) created in [from, to], in
    /// feed order.
    pub async fn course_events_between(
        &mut self,
        integration_id: &str,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<CourseChange>> {
        let q = self.sql(
            "SELECT e.event_type, COALESCE(c.external_id, '') AS external_id, COALESCE(c.name, '') AS name, e.created_ms \
             FROM outbox_events e LEFT JOIN courses c ON c.id = e.course_id \
             WHERE e.integration_id = $1 AND e.created_ms >= $2 AND e.created_ms <= $3 AND e.event_type LIKE 'course.%' \
             ORDER BY e.created_ms, e.course_id LIMIT $4",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .bind(from_ms)
            .bind(to_ms)
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading a run's course changes")?;
        rows.iter()
            .map(|r| {
                Ok(CourseChange {
                    event_type: col(r, "event_type")?,
                    external_id: col(r, "external_id")?,
                    name: col(r, "name")?,
                    at_ms: col(r, "created_ms")?,
                })
            })
            .collect()
    }

    /// Courses whose name or external id contains `text` (any case; every
    /// course when empty), archived or not as asked, by name.
    pub async fn search_courses(
        &mut self,
        text: &str,
        archived: Option<bool>,
        limit: i64,
    ) -> Result<Vec<FoundCourse>> {
        let pattern = format!(
            "%{}%",
            text.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let q = self.sql(
            "SELECT integration_id, external_id, name, kind, archived FROM courses \
             WHERE (LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(external_id) LIKE $1 ESCAPE '\\') \
             AND ($2 < 0 OR archived = $2) ORDER BY name, external_id LIMIT $3",
        );
        let rows = sqlx::query(&q)
            .bind(pattern)
            .bind(archived.map_or(-1_i64, i64::from))
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("searching courses")?;
        rows.iter()
            .map(|r| {
                Ok(FoundCourse {
                    integration_id: col(r, "integration_id")?,
                    external_id: col(r, "external_id")?,
                    name: col(r, "name")?,
                    kind: col(r, "kind")?,
                    archived: col::<i64>(r, "archived")? != 0,
                })
            })
            .collect()
    }

    /// SCORM registrations, the least recently updated first.
    pub async fn registration_list(&mut self, limit: i64) -> Result<Vec<RegistrationInfo>> {
        let q = self.sql(
            "SELECT registration_id, scorm_course_id, learner_ref, remote_created_ms, result_ms FROM scorm_registrations \
             ORDER BY COALESCE(result_ms, 0), registration_id LIMIT $1",
        );
        let rows = sqlx::query(&q)
            .bind(limit)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing registrations")?;
        rows.iter()
            .map(|r| {
                Ok(RegistrationInfo {
                    registration_id: col(r, "registration_id")?,
                    scorm_course_id: col(r, "scorm_course_id")?,
                    learner_ref: col(r, "learner_ref")?,
                    remote_created_ms: col(r, "remote_created_ms")?,
                    result_ms: col(r, "result_ms")?,
                })
            })
            .collect()
    }
}
