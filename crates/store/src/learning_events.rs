//! Learning events: a learner's events on a course (statements' and the
//! others: launches, SCORM results, overrides), as the fold reads them.

use crate::statement_query::{actor_in, learner_keys};
use crate::{Conn, Ctx, Result, Tx, col};

/// A learning event: a launch, SCORM result or override (stored in
/// `learning_events`), or the event a statement gives (stored on the statement,
/// `statement_id` set). Statistics are rebuilt from these.
#[derive(Debug, Clone, PartialEq)]
pub struct LearningEventRow {
    pub id: String,
    pub integration_id: String,
    pub course_id: i64,
    pub learner_id: i64,
    pub statement_id: Option<String>,
    pub kind: String,
    pub at_ms: i64,
    pub stored_ms: i64,
    /// The `stats_rules::Event` as JSON.
    pub payload: String,
}

impl<C: Conn> Tx<'_, C> {
    /// Every learning event of one learner on one course, oldest first: the
    /// stored non-statement events and the events of its statements that are
    /// not voided.
    pub async fn learning_events_for_target(
        &mut self,
        course_id: i64,
        learner_id: i64,
    ) -> Result<Vec<LearningEventRow>> {
        let q = self.sql(&format!(
            "SELECT id, integration_id, course_id, learner_id, statement_id, kind, at_ms, stored_ms, payload FROM ( \
               SELECT e.id, e.integration_id, e.course_id, e.learner_id, e.statement_id, e.kind, e.at_ms, e.stored_ms, e.payload \
               FROM learning_events e WHERE e.course_id = $1 AND e.learner_id = $2 \
               UNION ALL \
               SELECT s.id, s.integration_id, s.course_id, s.learner_id, s.id AS statement_id, 'statement' AS kind, s.timestamp_ms AS at_ms, s.stored_ms, s.event AS payload \
               FROM statements s WHERE {} \
               AND s.course_id = $3 AND s.learner_id = $4 AND s.voided = 0 AND s.event IS NOT NULL \
             ) events ORDER BY at_ms, stored_ms, id",
            actor_in(self.backend, "s", &learner_keys("$4"))
        ));
        let args = [
            course_id.into(),
            learner_id.into(),
            course_id.into(),
            learner_id.into(),
        ];
        let rows = self.fetch(&q, &args, "reading learning events").await?;
        rows.iter()
            .map(|r| {
                Ok(LearningEventRow {
                    id: col(r, "id")?,
                    integration_id: col(r, "integration_id")?,
                    course_id: col(r, "course_id")?,
                    learner_id: col(r, "learner_id")?,
                    statement_id: col(r, "statement_id")?,
                    kind: col(r, "kind")?,
                    at_ms: col(r, "at_ms")?,
                    stored_ms: col(r, "stored_ms")?,
                    payload: col(r, "payload")?,
                })
            })
            .collect()
    }
}

impl Tx<'_> {
    pub async fn insert_learning_event(&mut self, e: &LearningEventRow) -> Result<()> {
        self.insert_learning_events(std::slice::from_ref(e)).await
    }

    /// Inserts many learning events with one query per chunk (existing ids are skipped).
    pub async fn insert_learning_events(&mut self, rows: &[LearningEventRow]) -> Result<()> {
        for chunk in rows.chunks(500) {
            let mut q = String::from(
                "INSERT INTO learning_events (id, integration_id, course_id, learner_id, statement_id, kind, at_ms, stored_ms, payload) VALUES ",
            );
            q.push_str(&crate::repeat_row(
                "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                chunk.len(),
                1,
                ",",
            ));
            q.push_str(" ON CONFLICT (id) DO NOTHING");
            let q = self.sql(&q);
            let mut query = sqlx::query(&q);
            for e in chunk {
                query = query
                    .bind(&e.id)
                    .bind(&e.integration_id)
                    .bind(e.course_id)
                    .bind(e.learner_id)
                    .bind(&e.statement_id)
                    .bind(&e.kind)
                    .bind(e.at_ms)
                    .bind(e.stored_ms)
                    .bind(&e.payload);
            }
            query
                .execute(self.tx.any()?)
                .await
                .ctx("inserting learning events")?;
        }
        Ok(())
    }

    /// Every (integration, course, learner) that has learning events, from
    /// statements or otherwise (for `replay`).
    pub async fn learning_targets(&mut self) -> Result<Vec<(String, i64, i64)>> {
        let q = self.sql(
            "SELECT integration_id, course_id, learner_id FROM learning_events \
             UNION \
             SELECT integration_id, course_id, learner_id FROM statements WHERE event IS NOT NULL \
             ORDER BY course_id, learner_id",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing learning targets")?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, "integration_id")?,
                    col(r, "course_id")?,
                    col(r, "learner_id")?,
                ))
            })
            .collect()
    }
}
