//! SCORM Cloud state kept on our side (seed 003: "keep system state"):
//! courses, import jobs, registrations with their latest results and overrides.

use crate::{Ctx, Result, Tx, col};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScormCourse {
    pub course_id: String,
    /// The `scorm-cloud` integration the course was imported through.
    pub integration_id: Option<String>,
    pub title: Option<String>,
    /// Its LMS course record (statistics are kept against it).
    pub lms_course: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    pub token: String,
    pub course_id: String,
    /// `created`, `running`, `finished`, `error`.
    pub status: String,
    pub message: Option<String>,
    /// The title SCORM Cloud extracted from the package, once finished.
    pub title: Option<String>,
    /// JSON array of parser warnings.
    pub warnings: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub registration_id: String,
    pub scorm_course_id: String,
    pub learner_id: i64,
    /// The learner id sent to SCORM Cloud.
    pub learner_ref: String,
    /// The learner's names sent to SCORM Cloud (empty: not known yet).
    pub first_name: String,
    pub last_name: String,
    pub postback_user: String,
    pub postback_secret_hash: String,
    pub created_ms: i64,
    /// When SCORM Cloud accepted the registration; `None` while it is only
    /// assigned here (created remotely at the first launch).
    pub remote_created_ms: Option<i64>,
    /// The latest registration result (JSON), from a postback or a refresh.
    pub result: Option<String>,
    pub result_ms: Option<i64>,
    /// An administrator's override (JSON).
    pub override_: Option<String>,
}

const REG_COLS: &str = "registration_id, scorm_course_id, learner_id, learner_ref, postback_user, postback_secret_hash, \
                        created_ms, remote_created_ms, result, result_ms, override, first_name, last_name";

fn registration(r: &sqlx::any::AnyRow) -> Result<Registration> {
    Ok(Registration {
        registration_id: col(r, "registration_id")?,
        scorm_course_id: col(r, "scorm_course_id")?,
        learner_id: col(r, "learner_id")?,
        learner_ref: col(r, "learner_ref")?,
        first_name: col(r, "first_name")?,
        last_name: col(r, "last_name")?,
        postback_user: col(r, "postback_user")?,
        postback_secret_hash: col(r, "postback_secret_hash")?,
        created_ms: col(r, "created_ms")?,
        remote_created_ms: col(r, "remote_created_ms")?,
        result: col(r, "result")?,
        result_ms: col(r, "result_ms")?,
        override_: col(r, "override")?,
    })
}

impl Tx<'_> {
    pub async fn upsert_scorm_course(&mut self, c: &ScormCourse) -> Result<()> {
        let q = self.sql(
            "INSERT INTO scorm_courses (course_id, title, lms_course, created_ms, updated_ms, integration_id) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (course_id) DO UPDATE SET title = COALESCE(excluded.title, scorm_courses.title), \
             integration_id = COALESCE(excluded.integration_id, scorm_courses.integration_id), \
             lms_course = COALESCE(excluded.lms_course, scorm_courses.lms_course), updated_ms = excluded.updated_ms",
        );
        sqlx::query(&q)
            .bind(&c.course_id)
            .bind(&c.title)
            .bind(c.lms_course)
            .bind(c.created_ms)
            .bind(c.updated_ms)
            .bind(&c.integration_id)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a SCORM course")?;
        Ok(())
    }

    pub async fn scorm_course(&mut self, course_id: &str) -> Result<Option<ScormCourse>> {
        let q = self.sql("SELECT course_id, integration_id, title, lms_course, created_ms, updated_ms FROM scorm_courses WHERE course_id = $1");
        let r = sqlx::query(&q)
            .bind(course_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a SCORM course")?;
        r.map(|r| {
            Ok(ScormCourse {
                course_id: col(&r, "course_id")?,
                integration_id: col(&r, "integration_id")?,
                title: col(&r, "title")?,
                lms_course: col(&r, "lms_course")?,
                created_ms: col(&r, "created_ms")?,
                updated_ms: col(&r, "updated_ms")?,
            })
        })
        .transpose()
    }

    pub async fn upsert_import_job(&mut self, j: &ImportJob) -> Result<()> {
        let q = self.sql(
            "INSERT INTO scorm_import_jobs (token, course_id, status, message, warnings, created_ms, updated_ms, title) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (token) DO UPDATE SET status = excluded.status, message = excluded.message, warnings = excluded.warnings, \
             updated_ms = excluded.updated_ms, title = COALESCE(excluded.title, scorm_import_jobs.title)",
        );
        sqlx::query(&q)
            .bind(&j.token)
            .bind(&j.course_id)
            .bind(&j.status)
            .bind(&j.message)
            .bind(&j.warnings)
            .bind(j.created_ms)
            .bind(j.updated_ms)
            .bind(&j.title)
            .execute(self.tx.any()?)
            .await
            .ctx("saving an import job")?;
        Ok(())
    }

    pub async fn import_job(&mut self, token: &str) -> Result<Option<ImportJob>> {
        let q = self.sql("SELECT token, course_id, status, message, title, warnings, created_ms, updated_ms FROM scorm_import_jobs WHERE token = $1");
        let r = sqlx::query(&q)
            .bind(token)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading an import job")?;
        r.map(|r| {
            Ok(ImportJob {
                token: col(&r, "token")?,
                course_id: col(&r, "course_id")?,
                status: col(&r, "status")?,
                message: col(&r, "message")?,
                title: col(&r, "title")?,
                warnings: col(&r, "warnings")?,
                created_ms: col(&r, "created_ms")?,
                updated_ms: col(&r, "updated_ms")?,
            })
        })
        .transpose()
    }

    /// Un-archives the LMS course records of an integration's SCORM courses
    /// (re-activation: they have no catalog sync to bring them back).
    pub async fn unarchive_scorm_courses(
        &mut self,
        integration_id: &str,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let q = self.sql(
            "UPDATE courses SET archived = 0, updated_ms = $2, archived_ms = NULL WHERE integration_id = $1 AND archived = 1 \
             AND id IN (SELECT lms_course FROM scorm_courses WHERE integration_id = $1 AND lms_course IS NOT NULL) RETURNING id",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .bind(now_ms)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("un-archiving SCORM courses")?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Inserts a registration; false when the id exists already.
    pub async fn insert_registration(&mut self, r: &Registration) -> Result<bool> {
        let q = self.sql(
            "INSERT INTO scorm_registrations (registration_id, scorm_course_id, learner_id, learner_ref, postback_user, postback_secret_hash, created_ms, remote_created_ms, first_name, last_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        );
        let n = sqlx::query(&q)
            .bind(&r.registration_id)
            .bind(&r.scorm_course_id)
            .bind(r.learner_id)
            .bind(&r.learner_ref)
            .bind(&r.postback_user)
            .bind(&r.postback_secret_hash)
            .bind(r.created_ms)
            .bind(r.remote_created_ms)
            .bind(&r.first_name)
            .bind(&r.last_name)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a registration")?;
        Ok(n.rows_affected() == 1)
    }

    pub async fn registration(&mut self, id: &str) -> Result<Option<Registration>> {
        let q = self.sql(&format!(
            "SELECT {REG_COLS} FROM scorm_registrations WHERE registration_id = $1"
        ));
        let r = sqlx::query(&q)
            .bind(id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a registration")?;
        r.as_ref().map(registration).transpose()
    }

    /// The registration of a learner on a SCORM course, if any.
    pub async fn registration_for(
        &mut self,
        scorm_course_id: &str,
        learner_id: i64,
    ) -> Result<Option<Registration>> {
        let q = self.sql(&format!(
            "SELECT {REG_COLS} FROM scorm_registrations WHERE scorm_course_id = $1 AND learner_id = $2"
        ));
        let r = sqlx::query(&q)
            .bind(scorm_course_id)
            .bind(learner_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a registration")?;
        r.as_ref().map(registration).transpose()
    }

    /// Records that SCORM Cloud accepted the registration, with the hash of the
    /// postback password it was given.
    pub async fn set_registration_remote(
        &mut self,
        id: &str,
        postback_secret_hash: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE scorm_registrations SET postback_secret_hash = $2, remote_created_ms = $3 WHERE registration_id = $1",
        );
        Ok(sqlx::query(&q)
            .bind(id)
            .bind(postback_secret_hash)
            .bind(at_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a registration")?
            .rows_affected()
            == 1)
    }

    /// Deletes a registration's record (its learner's statistics stay: they
    /// belong to the learner and the course). Whether there was one.
    pub async fn delete_registration(&mut self, id: &str) -> Result<bool> {
        let q = self.sql("DELETE FROM scorm_registrations WHERE registration_id = $1");
        Ok(sqlx::query(&q)
            .bind(id)
            .execute(self.tx.any()?)
            .await
            .ctx("deleting a registration")?
            .rows_affected()
            == 1)
    }

    /// Records the learner names a registration is created with.
    pub async fn set_registration_names(
        &mut self,
        id: &str,
        first: &str,
        last: &str,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE scorm_registrations SET first_name = $2, last_name = $3 WHERE registration_id = $1",
        );
        Ok(sqlx::query(&q)
            .bind(id)
            .bind(first)
            .bind(last)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a registration's learner names")?
            .rows_affected()
            == 1)
    }

    /// Records the hash of the postback password about to be sent to SCORM
    /// Cloud (before the call: a postback that arrives as soon as SCORM Cloud
    /// has the registration is authenticated). A registration with a hash but
    /// no `remote_created_ms` had a creation attempted whose outcome is unknown.
    pub async fn set_registration_secret(
        &mut self,
        id: &str,
        postback_secret_hash: &str,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE scorm_registrations SET postback_secret_hash = $2 WHERE registration_id = $1",
        );
        Ok(sqlx::query(&q)
            .bind(id)
            .bind(postback_secret_hash)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a registration's postback secret")?
            .rows_affected()
            == 1)
    }

    /// Stores a registration's latest result unless a newer one is stored already.
    pub async fn set_registration_result(
        &mut self,
        id: &str,
        result_json: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE scorm_registrations SET result = $2, result_ms = $3 WHERE registration_id = $1 AND (result_ms IS NULL OR result_ms <= $3)",
        );
        Ok(sqlx::query(&q)
            .bind(id)
            .bind(result_json)
            .bind(at_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("saving a registration result")?
            .rows_affected()
            == 1)
    }

    pub async fn set_registration_override(
        &mut self,
        id: &str,
        override_json: Option<&str>,
    ) -> Result<bool> {
        let q = self.sql("UPDATE scorm_registrations SET override = $2 WHERE registration_id = $1");
        Ok(sqlx::query(&q)
            .bind(id)
            .bind(override_json)
            .execute(self.tx.any()?)
            .await
            .ctx("saving an override")?
            .rows_affected()
            == 1)
    }

    /// An integration's registrations SCORM Cloud knows whose latest result is
    /// older than `before_ms` (or missing), oldest first.
    pub async fn stale_registrations(
        &mut self,
        integration_id: &str,
        before_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let q = self.sql(
            "SELECT registration_id FROM scorm_registrations WHERE remote_created_ms IS NOT NULL AND (result_ms IS NULL OR result_ms < $1) \
             AND scorm_course_id IN (SELECT course_id FROM scorm_courses WHERE integration_id = $3) \
             ORDER BY COALESCE(result_ms, 0), registration_id LIMIT $2",
        );
        let rows = sqlx::query(&q)
            .bind(before_ms)
            .bind(limit)
            .bind(integration_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing stale registrations")?;
        rows.iter().map(|r| col(r, "registration_id")).collect()
    }
}
