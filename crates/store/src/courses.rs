//! Course records (catalog courses, and learning paths learned from statements)
//! and the activity ids that match statements to them.

use crate::exec::Cols;
use crate::{Conn, Ctx, Result, StoreError, Tx, col, flag};

/// The mapped fields of a course, as the LMS receives them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CourseFields {
    pub name: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub duration_minutes: Option<i64>,
    pub author: Option<String>,
    pub lang: Option<String>,
    pub launch_url: Option<String>,
    pub modified_at: Option<String>,
    /// JSON array of subjects.
    pub subjects: Vec<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    pub id: i64,
    pub integration_id: String,
    /// `course` or `path`.
    pub kind: String,
    pub external_id: String,
    pub fields: CourseFields,
    pub archived: bool,
    pub content_hash: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// What a sync needs to diff a catalog: one row per known course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub id: i64,
    pub external_id: String,
    pub content_hash: String,
    /// JSON object: field name → short hash of its value.
    pub field_hashes: String,
    /// Hash of the provider's raw course object (empty when unknown).
    pub source_hash: String,
    pub archived: bool,
}

/// `archived_ms` after an upsert: kept while the course stays archived, the
/// upsert's time when it becomes archived, none once active. (A course
/// inserted archived gets its time from `updated_ms` below.)
const ARCHIVED_MS: &str = "CASE WHEN excluded.archived = 0 THEN NULL WHEN courses.archived = 1 THEN courses.archived_ms ELSE excluded.updated_ms END";

const COLS: &str = "id, integration_id, kind, external_id, name, description, image_url, duration_minutes, author, lang, launch_url, \
                    modified_at, subjects, content_type, archived, content_hash, first_seen_ms, last_seen_ms";

pub(crate) fn course(r: &impl Cols) -> Result<Course> {
    let subjects: String = col(r, "subjects")?;
    Ok(Course {
        id: col(r, "id")?,
        integration_id: col(r, "integration_id")?,
        kind: col(r, "kind")?,
        external_id: col(r, "external_id")?,
        fields: CourseFields {
            name: col(r, "name")?,
            description: col(r, "description")?,
            image_url: col(r, "image_url")?,
            duration_minutes: col(r, "duration_minutes")?,
            author: col(r, "author")?,
            lang: col(r, "lang")?,
            launch_url: col(r, "launch_url")?,
            modified_at: col(r, "modified_at")?,
            subjects: serde_json::from_str(&subjects).map_err(|e| crate::StoreError::Corrupt {
                what: "courses.subjects",
                detail: e.to_string(),
            })?,
            content_type: col(r, "content_type")?,
        },
        archived: col::<i64>(r, "archived")? != 0,
        content_hash: col(r, "content_hash")?,
        first_seen_ms: col(r, "first_seen_ms")?,
        last_seen_ms: col(r, "last_seen_ms")?,
    })
}

impl<C: Conn> Tx<'_, C> {
    /// Inserts or updates the course `(integration, external_id)`; the same
    /// record is kept across archive and re-activation (never a duplicate).
    /// Returns the course id.
    #[allow(clippy::too_many_arguments)]
    pub async fn upsert_course(
        &mut self,
        integration_id: &str,
        kind: &str,
        external_id: &str,
        fields: &CourseFields,
        archived: bool,
        content_hash: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let q = self.sql(&format!(
            "INSERT INTO courses (integration_id, kind, external_id, name, description, image_url, duration_minutes, author, lang, launch_url, \
                                  modified_at, subjects, content_type, archived, content_hash, first_seen_ms, last_seen_ms, updated_ms, archived_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $16, CASE WHEN $14 = 1 THEN $16 END) \
             ON CONFLICT (integration_id, external_id) DO UPDATE SET \
                kind = excluded.kind, name = excluded.name, description = excluded.description, image_url = excluded.image_url, \
                duration_minutes = excluded.duration_minutes, author = excluded.author, lang = excluded.lang, launch_url = excluded.launch_url, \
                modified_at = excluded.modified_at, subjects = excluded.subjects, content_type = excluded.content_type, \
                archived = excluded.archived, content_hash = excluded.content_hash, last_seen_ms = excluded.last_seen_ms, \
                updated_ms = excluded.updated_ms, archived_ms = {ARCHIVED_MS} \
             RETURNING id"
        ));
        let subjects = serde_json::to_string(&fields.subjects).unwrap_or_else(|_| "[]".into());
        let args = [
            integration_id.into(),
            kind.into(),
            external_id.into(),
            (&fields.name).into(),
            (&fields.description).into(),
            (&fields.image_url).into(),
            fields.duration_minutes.into(),
            (&fields.author).into(),
            (&fields.lang).into(),
            (&fields.launch_url).into(),
            (&fields.modified_at).into(),
            (&subjects).into(),
            (&fields.content_type).into(),
            flag(archived).into(),
            content_hash.into(),
            now_ms.into(),
        ];
        let row =
            self.fetch_opt(&q, &args, "saving a course")
                .await?
                .ok_or(StoreError::Corrupt {
                    what: "courses",
                    detail: "saving a course returned no id".into(),
                })?;
        col(&row, "id")
    }

    /// The course a (normalized) activity id designates in an integration.
    pub async fn course_by_activity_id(
        &mut self,
        integration_id: &str,
        activity_id: &str,
    ) -> Result<Option<Course>> {
        let q = self.sql(&format!(
            "SELECT {} FROM courses c JOIN course_activity_ids a ON a.course_id = c.id WHERE a.integration_id = $1 AND a.activity_id = $2",
            COLS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
        ));
        let row = self
            .fetch_opt(
                &q,
                &[integration_id.into(), activity_id.into()],
                "matching an activity id",
            )
            .await?;
        row.as_ref().map(course).transpose()
    }

    /// Replaces the activity ids (normalized) that designate a course.
    pub async fn set_activity_ids(
        &mut self,
        integration_id: &str,
        course_id: i64,
        ids: &[String],
    ) -> Result<()> {
        let q = self.sql("DELETE FROM course_activity_ids WHERE course_id = $1");
        self.run(&q, &[course_id.into()], "replacing activity ids")
            .await?;
        let q = self.sql(
            "INSERT INTO course_activity_ids (integration_id, activity_id, course_id) VALUES ($1, $2, $3) \
             ON CONFLICT (integration_id, activity_id) DO UPDATE SET course_id = excluded.course_id",
        );
        for id in ids {
            self.run(
                &q,
                &[integration_id.into(), id.into(), course_id.into()],
                "saving an activity id",
            )
            .await?;
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// Archives (or re-activates) a course, dating the change.
    pub async fn set_course_archived(
        &mut self,
        id: i64,
        archived: bool,
        now_ms: i64,
    ) -> Result<()> {
        let q = self.sql(
            "UPDATE courses SET archived = $2, updated_ms = $3, \
             archived_ms = CASE WHEN $2 = 0 THEN NULL WHEN archived = 1 THEN archived_ms ELSE $3 END WHERE id = $1",
        );
        sqlx::query(&q)
            .bind(id)
            .bind(flag(archived))
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("archiving a course")?;
        Ok(())
    }

    /// Archives every active course of an integration (deactivation); returns
    /// the ids of those it archived.
    pub async fn archive_all_courses(
        &mut self,
        integration_id: &str,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let q = self.sql(
            "UPDATE courses SET archived = 1, updated_ms = $2, archived_ms = $2 \
             WHERE integration_id = $1 AND archived = 0 AND kind = 'course' RETURNING id",
        );
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .bind(now_ms)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("archiving courses")?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Dates a change to every course of an integration (its provider or
    /// group changed: part of each record); returns their ids.
    pub async fn touch_courses(&mut self, integration_id: &str, now_ms: i64) -> Result<Vec<i64>> {
        let q =
            self.sql("UPDATE courses SET updated_ms = $2 WHERE integration_id = $1 RETURNING id");
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .bind(now_ms)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("dating courses")?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    pub async fn course_by_id(&mut self, id: i64) -> Result<Option<Course>> {
        let q = self.sql(&format!("SELECT {COLS} FROM courses WHERE id = $1"));
        let row = sqlx::query(&q)
            .bind(id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a course")?;
        row.as_ref().map(course).transpose()
    }

    pub async fn course_by_external_id(
        &mut self,
        integration_id: &str,
        external_id: &str,
    ) -> Result<Option<Course>> {
        let q = self.sql(&format!(
            "SELECT {COLS} FROM courses WHERE integration_id = $1 AND external_id = $2"
        ));
        let row = sqlx::query(&q)
            .bind(integration_id)
            .bind(external_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading a course")?;
        row.as_ref().map(course).transpose()
    }

    /// Every catalog course of an integration (for the sync diff), by external id.
    pub async fn catalog(&mut self, integration_id: &str) -> Result<Vec<CatalogEntry>> {
        let q = self.sql("SELECT id, external_id, content_hash, field_hashes, source_hash, archived FROM courses WHERE integration_id = $1 AND kind = 'course' ORDER BY external_id");
        // Row by row: holding every row and every entry at once doubled a
        // large catalog's memory (docs/PERFORMANCE.md, catalog sync).
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(&q).bind(integration_id).fetch(self.tx.any()?);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await.ctx("reading the catalog")? {
            out.push(CatalogEntry {
                id: col(&r, "id")?,
                external_id: col(&r, "external_id")?,
                content_hash: col(&r, "content_hash")?,
                field_hashes: col(&r, "field_hashes")?,
                source_hash: col(&r, "source_hash")?,
                archived: col::<i64>(&r, "archived")? != 0,
            });
        }
        Ok(out)
    }

    pub async fn courses(&mut self, integration_id: &str) -> Result<Vec<Course>> {
        let q = self.sql(&format!(
            "SELECT {COLS} FROM courses WHERE integration_id = $1 ORDER BY id"
        ));
        let rows = sqlx::query(&q)
            .bind(integration_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing courses")?;
        rows.iter().map(course).collect()
    }

    /// Records the per-field hashes of a course and the hash of the provider's
    /// raw object (see `course_mapping`).
    pub async fn set_hashes(
        &mut self,
        id: i64,
        field_hashes: &str,
        source_hash: &str,
    ) -> Result<()> {
        let q = self.sql("UPDATE courses SET field_hashes = $2, source_hash = $3 WHERE id = $1");
        sqlx::query(&q)
            .bind(id)
            .bind(field_hashes)
            .bind(source_hash)
            .execute(self.tx.any()?)
            .await
            .ctx("saving course hashes")?;
        Ok(())
    }

    /// Inserts or updates many catalog courses of one integration in one query
    /// per chunk (external ids must be distinct), with their hashes; returns
    /// external id → course id.
    pub async fn upsert_courses(
        &mut self,
        integration_id: &str,
        now_ms: i64,
        courses: &[CourseUpsert],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut ids = std::collections::HashMap::with_capacity(courses.len());
        for chunk in courses.chunks(200) {
            let mut q = String::from(
                "INSERT INTO courses (integration_id, kind, external_id, name, description, image_url, duration_minutes, author, lang, launch_url, \
                 modified_at, subjects, content_type, archived, content_hash, field_hashes, source_hash, first_seen_ms, last_seen_ms, \
                 updated_ms, archived_ms) VALUES ",
            );
            q.push_str(&crate::repeat_row(
                "($1, 'course', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, $2, $2, $2, NULL)",
                chunk.len(),
                3,
                ",",
            ));
            q.push_str(
                " ON CONFLICT (integration_id, external_id) DO UPDATE SET \
                kind = excluded.kind, name = excluded.name, description = excluded.description, image_url = excluded.image_url, \
                duration_minutes = excluded.duration_minutes, author = excluded.author, lang = excluded.lang, launch_url = excluded.launch_url, \
                modified_at = excluded.modified_at, subjects = excluded.subjects, content_type = excluded.content_type, \
                archived = excluded.archived, content_hash = excluded.content_hash, field_hashes = excluded.field_hashes, \
                source_hash = excluded.source_hash, last_seen_ms = excluded.last_seen_ms, \
                updated_ms = excluded.updated_ms, archived_ms = ",
            );
            q.push_str(ARCHIVED_MS);
            q.push_str(" RETURNING id, external_id");
            let q = self.sql(&q);
            let mut query = sqlx::query(&q).bind(integration_id).bind(now_ms);
            for c in chunk {
                let f = &c.fields;
                query = query
                    .bind(&c.external_id)
                    .bind(&f.name)
                    .bind(&f.description)
                    .bind(&f.image_url)
                    .bind(f.duration_minutes)
                    .bind(&f.author)
                    .bind(&f.lang)
                    .bind(&f.launch_url)
                    .bind(&f.modified_at)
                    .bind(serde_json::to_string(&f.subjects).unwrap_or_else(|_| "[]".into()))
                    .bind(&f.content_type)
                    .bind(flag(c.archived))
                    .bind(&c.content_hash)
                    .bind(&c.field_hashes)
                    .bind(&c.source_hash);
            }
            for r in query
                .fetch_all(self.tx.any()?)
                .await
                .ctx("saving courses")?
            {
                ids.insert(col::<String>(&r, "external_id")?, col::<i64>(&r, "id")?);
            }
        }
        // Courses inserted archived: archived as of now.
        let q = self.sql(
            "UPDATE courses SET archived_ms = updated_ms WHERE updated_ms = $2 AND integration_id = $1 \
             AND archived = 1 AND archived_ms IS NULL",
        );
        sqlx::query(&q)
            .bind(integration_id)
            .bind(now_ms)
            .execute(self.tx.any()?)
            .await
            .ctx("dating archived courses")?;
        Ok(ids)
    }

    /// Replaces the activity ids of many courses of one integration.
    pub async fn replace_activity_ids(
        &mut self,
        integration_id: &str,
        courses: &[(i64, Vec<String>)],
    ) -> Result<()> {
        for chunk in courses.chunks(400) {
            let ps = crate::repeat_row("?", chunk.len(), 1, ", ");
            let q = self.sql(&format!(
                "DELETE FROM course_activity_ids WHERE course_id IN ({})",
                ps
            ));
            let mut query = sqlx::query(&q);
            for (id, _) in chunk {
                query = query.bind(*id);
            }
            query
                .execute(self.tx.any()?)
                .await
                .ctx("replacing activity ids")?;
            // One row per activity id: when two courses claim one, the first keeps it.
            let mut claimed = std::collections::HashSet::new();
            let rows: Vec<(i64, &String)> = chunk
                .iter()
                .flat_map(|(id, ids)| ids.iter().map(move |a| (*id, a)))
                .filter(|(_, a)| claimed.insert(*a))
                .collect();
            for rows in rows.chunks(300) {
                let mut q = String::from(
                    "INSERT INTO course_activity_ids (integration_id, activity_id, course_id) VALUES ",
                );
                q.push_str(&crate::repeat_row("($1, ?, ?)", rows.len(), 2, ","));
                q.push_str(" ON CONFLICT (integration_id, activity_id) DO UPDATE SET course_id = excluded.course_id");
                let q = self.sql(&q);
                let mut query = sqlx::query(&q).bind(integration_id);
                for (id, a) in rows {
                    query = query.bind(*a).bind(*id);
                }
                query
                    .execute(self.tx.any()?)
                    .await
                    .ctx("saving activity ids")?;
            }
        }
        Ok(())
    }
}

/// One catalog course to write with [`Tx::upsert_courses`].
#[derive(Debug, Clone, PartialEq)]
pub struct CourseUpsert {
    pub external_id: String,
    pub fields: CourseFields,
    pub archived: bool,
    pub content_hash: String,
    pub field_hashes: String,
    pub source_hash: String,
}
