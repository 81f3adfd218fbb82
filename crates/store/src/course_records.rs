//! Course records as the LMS receives them: the course with its integration's
//! provider and group, its activity ids and its SCORM Cloud course, and when
//! it was created, last changed and archived (the catalog API and the
//! `course.*` events).

use std::collections::HashMap;

use crate::exec::{Arg, Cols};
use crate::{Conn, Course, Result, Tx, col};

#[derive(Debug, Clone, PartialEq)]
pub struct CourseRecord {
    pub course: Course,
    pub provider: String,
    pub lms_group: String,
    /// The normalized activity ids that match statements to the course.
    pub activity_ids: Vec<String>,
    pub scorm_course_id: Option<String>,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
}

/// The `SELECT` list and `FROM` of a record (courses `c`, integrations `i`).
pub(crate) const RECORD_FROM: &str = "c.id, c.integration_id, c.kind, c.external_id, c.name, c.description, c.image_url, c.duration_minutes, \
     c.author, c.lang, c.launch_url, c.modified_at, c.subjects, c.content_type, c.archived, c.content_hash, c.first_seen_ms, \
     c.last_seen_ms, COALESCE(c.updated_ms, c.last_seen_ms) AS updated_ms, c.archived_ms, i.provider, i.lms_group, \
     (SELECT MIN(s.course_id) FROM scorm_courses s WHERE s.lms_course = c.id) AS scorm_course_id \
     FROM courses c JOIN integrations i ON i.id = c.integration_id";

/// A record's row, without its activity ids.
pub(crate) fn record(r: &impl Cols) -> Result<CourseRecord> {
    Ok(CourseRecord {
        course: crate::courses::course(r)?,
        provider: col(r, "provider")?,
        lms_group: col(r, "lms_group")?,
        activity_ids: Vec::new(),
        scorm_course_id: col(r, "scorm_course_id")?,
        updated_ms: col(r, "updated_ms")?,
        archived_ms: col(r, "archived_ms")?,
    })
}

impl<C: Conn> Tx<'_, C> {
    /// The records of these courses (unknown ids are left out), in the order
    /// of `ids`.
    pub async fn course_records(&mut self, ids: &[i64]) -> Result<Vec<CourseRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut records = self.records_where_ids(chunk).await?;
            out.extend(chunk.iter().filter_map(|id| records.remove(id)));
        }
        Ok(out)
    }

    async fn records_where_ids(&mut self, ids: &[i64]) -> Result<HashMap<i64, CourseRecord>> {
        let ps = crate::repeat_row("?", ids.len(), 1, ", ");
        let q = self.sql(&format!("SELECT {RECORD_FROM} WHERE c.id IN ({ps})"));
        let args: Vec<Arg<'_>> = ids.iter().map(|i| Arg::from(*i)).collect();
        let mut records = HashMap::with_capacity(ids.len());
        for r in self.fetch(&q, &args, "reading course records").await? {
            let rec = record(&r)?;
            records.insert(rec.course.id, rec);
        }
        self.fill_activity_ids(&mut records).await?;
        Ok(records)
    }

    /// Reads the activity ids of the records given.
    pub(crate) async fn fill_activity_ids(
        &mut self,
        records: &mut HashMap<i64, CourseRecord>,
    ) -> Result<()> {
        let ids: Vec<i64> = records.keys().copied().collect();
        for chunk in ids.chunks(500) {
            let ps = crate::repeat_row("?", chunk.len(), 1, ", ");
            let q = self.sql(&format!(
                "SELECT course_id, activity_id FROM course_activity_ids WHERE course_id IN ({ps}) ORDER BY activity_id"
            ));
            let args: Vec<Arg<'_>> = chunk.iter().map(|i| Arg::from(*i)).collect();
            for r in self.fetch(&q, &args, "reading activity ids").await? {
                let id: i64 = col(&r, "course_id")?;
                if let Some(rec) = records.get_mut(&id) {
                    rec.activity_ids.push(col(&r, "activity_id")?);
                }
            }
        }
        Ok(())
    }
}

/// Which records [`Tx::list_course_records`] returns: every filter that is
/// set must hold; the page continues after `after` in (`updated_ms`, id)
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourseFilter {
    pub integration_id: Option<String>,
    /// `Some(true)`: archived only; `Some(false)`: active only.
    pub archived: Option<bool>,
    /// `course` or `path`; both when `None`.
    pub kind: Option<String>,
    /// Records changed at or after this time.
    pub updated_since_ms: Option<i64>,
    /// Continue after this (updated_ms, id).
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

impl<C: Conn> Tx<'_, C> {
    /// A page of records in (`updated_ms`, id) order, with their activity ids
    /// (read in one more query for the whole page).
    pub async fn list_course_records(&mut self, f: &CourseFilter) -> Result<Vec<CourseRecord>> {
        let mut q = format!("SELECT {RECORD_FROM} WHERE 1 = 1");
        let mut args: Vec<Arg<'_>> = Vec::new();
        if let Some(i) = &f.integration_id {
            args.push(i.into());
            q.push_str(&format!(" AND c.integration_id = ${}", args.len()));
        }
        if let Some(a) = f.archived {
            args.push(crate::flag(a).into());
            q.push_str(&format!(" AND c.archived = ${}", args.len()));
        }
        if let Some(k) = &f.kind {
            args.push(k.into());
            q.push_str(&format!(" AND c.kind = ${}", args.len()));
        }
        if let Some(t) = f.updated_since_ms {
            args.push(t.into());
            q.push_str(&format!(" AND c.updated_ms >= ${}", args.len()));
        }
        if let Some((u, id)) = f.after {
            args.extend([Arg::from(u), Arg::from(u), Arg::from(id)]);
            let n = args.len();
            q.push_str(&format!(
                " AND (c.updated_ms > ${} OR (c.updated_ms = ${} AND c.id > ${n}))",
                n - 2,
                n - 1
            ));
        }
        args.push(f.limit.into());
        q.push_str(&format!(
            " ORDER BY c.updated_ms, c.id LIMIT ${}",
            args.len()
        ));
        let q = self.sql(&q);
        let rows = self.fetch(&q, &args, "listing course records").await?;
        let page = rows.iter().map(record).collect::<Result<Vec<_>>>()?;
        let order: Vec<i64> = page.iter().map(|r| r.course.id).collect();
        let mut by_id: HashMap<i64, CourseRecord> =
            page.into_iter().map(|r| (r.course.id, r)).collect();
        self.fill_activity_ids(&mut by_id).await?;
        Ok(order.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The record of the course (or path) `external_id` of an integration.
    pub async fn course_record(
        &mut self,
        integration_id: &str,
        external_id: &str,
    ) -> Result<Option<CourseRecord>> {
        let q = self.sql(&format!(
            "SELECT {RECORD_FROM} WHERE c.integration_id = $1 AND c.external_id = $2"
        ));
        let Some(row) = self
            .fetch_opt(
                &q,
                &[integration_id.into(), external_id.into()],
                "reading a course record",
            )
            .await?
        else {
            return Ok(None);
        };
        let rec = record(&row)?;
        let mut by_id = HashMap::from([(rec.course.id, rec)]);
        self.fill_activity_ids(&mut by_id).await?;
        Ok(by_id.into_values().next())
    }
}
