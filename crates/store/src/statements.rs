//! The statement log (immutable: the statement as received never changes; only
//! the voided flag, the resolved course/learner and the learning event derived
//! from it are set later) and the other learning events (launches, SCORM
//! results, overrides).

use crate::exec::{Arg, Cols};
use crate::{Conn, Ctx, Result, Tx, col};

#[derive(Debug, Clone, PartialEq)]
pub struct NewStatement<'a> {
    pub id: &'a str,
    pub integration_id: &'a str,
    /// The statement exactly as received.
    pub raw: &'a str,
    /// The statement as served back: normalized, with id, stored and authority set.
    pub canonical: &'a str,
    pub stored_ms: i64,
    pub timestamp_ms: i64,
    pub verb: &'a str,
    pub activity_id: Option<&'a str>,
    pub registration: Option<&'a str>,
    /// The actor's identity key (for the `agent` filter).
    pub actor_key: Option<&'a str>,
    /// The id of the statement this one voids.
    pub voids: Option<&'a str>,
    pub course_id: Option<i64>,
    pub learner_id: Option<i64>,
    /// The learning event the statement gives its course and learner (a
    /// `stats_rules::Event` as JSON); `None` when it gives none (yet).
    pub event: Option<&'a str>,
    /// Not plain (`xapi_model::format::is_plain`): queries look at it one
    /// by one (schema v10).
    pub broad: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredStatement {
    pub seq: i64,
    pub id: String,
    pub integration_id: String,
    pub raw: String,
    pub canonical: String,
    pub stored_ms: i64,
    pub timestamp_ms: i64,
    pub verb: String,
    pub activity_id: Option<String>,
    pub registration: Option<String>,
    pub actor_key: Option<String>,
    pub voided: bool,
    pub voids: Option<String>,
    pub course_id: Option<i64>,
    pub learner_id: Option<i64>,
}

/// Parameters per row of `insert_statements`.
const STATEMENT_ARGS: usize = 15;

/// The voiding statements of integration `$1` that refer to one of `n` ids
/// (`$2`…): their targets.
fn voided_targets_sql(n: usize) -> String {
    let ps = crate::repeat_row("?", n, 2, ", ");
    format!("SELECT voids FROM statements WHERE integration_id = $1 AND voids IN ({ps})")
}

pub(crate) const COLS: &str = "seq, id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, activity_id, registration, actor_key, voided, voids, course_id, learner_id";

pub(crate) fn stored(r: &impl Cols) -> Result<StoredStatement> {
    Ok(StoredStatement {
        seq: col(r, "seq")?,
        id: col(r, "id")?,
        integration_id: col(r, "integration_id")?,
        raw: col(r, "raw")?,
        canonical: col(r, "canonical")?,
        stored_ms: col(r, "stored_ms")?,
        timestamp_ms: col(r, "timestamp_ms")?,
        verb: col(r, "verb")?,
        activity_id: col(r, "activity_id")?,
        registration: col(r, "registration")?,
        actor_key: col(r, "actor_key")?,
        voided: col::<i64>(r, "voided")? != 0,
        voids: col(r, "voids")?,
        course_id: col(r, "course_id")?,
        learner_id: col(r, "learner_id")?,
    })
}

impl crate::Store {
    /// [`Tx::voided_targets`] outside any transaction, one query per 500 ids
    /// (a writer's check after its commit, PostgreSQL).
    pub async fn voided_targets(
        &self,
        integration_id: &str,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        use sqlx::Row;
        let mut out = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let (n, keys) = crate::in_list(chunk);
            let q = crate::dialect(self.backend, &voided_targets_sql(n)).into_owned();
            let mut query = sqlx::query(&q).bind(integration_id);
            for id in keys {
                query = query.bind(id);
            }
            for r in query
                .fetch_all(&self.pool)
                .await
                .ctx("looking for voiding statements")?
            {
                out.insert(
                    r.try_get::<String, _>("voids")
                        .ctx("looking for voiding statements")?,
                );
            }
        }
        Ok(out)
    }
}

impl<C: Conn> Tx<'_, C> {
    /// Inserts a statement; false when its id is already stored (the caller
    /// compares contents to tell a retry from a conflict).
    pub async fn insert_statement(&mut self, s: &NewStatement<'_>) -> Result<bool> {
        Ok(self
            .insert_statements(std::slice::from_ref(s))
            .await?
            .contains(s.id))
    }

    pub async fn statement(&mut self, id: &str) -> Result<Option<StoredStatement>> {
        let q = self.sql(&format!("SELECT {COLS} FROM statements WHERE id = $1"));
        let row = self
            .fetch_opt(&q, &[id.into()], "reading a statement")
            .await?;
        row.as_ref().map(stored).transpose()
    }

    /// The stored statements among `ids` (any integration's), one query per
    /// 500 ids: what a batch's plan needs to know of its own ids (retries)
    /// and of its voiding statements' targets.
    pub async fn statements_by_id(&mut self, ids: &[String]) -> Result<Vec<StoredStatement>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let (n, keys) = crate::in_list(chunk);
            let ps = crate::repeat_row("?", n, 1, ", ");
            let q = self.sql(&format!("SELECT {COLS} FROM statements WHERE id IN ({ps})"));
            let args: Vec<Arg<'_>> = keys.map(Arg::from).collect();
            for r in self.fetch(&q, &args, "reading statements").await? {
                out.push(stored(&r)?);
            }
        }
        Ok(out)
    }

    /// Marks a statement of an integration voided; false if the integration
    /// has no such statement or it is itself a voiding statement (one
    /// integration never voids another's statements). A voided statement is
    /// never applied, so it is no longer pending either.
    pub async fn void_statement(&mut self, integration_id: &str, id: &str) -> Result<bool> {
        let q = self.sql(
            "UPDATE statements SET voided = 1 WHERE id = $1 AND integration_id = $2 AND voids IS NULL",
        );
        let voided = self
            .run(
                &q,
                &[id.into(), integration_id.into()],
                "voiding a statement",
            )
            .await?
            == 1;
        if voided {
            let q = self.sql("DELETE FROM pending WHERE statement_id = $1");
            self.run(&q, &[id.into()], "unparking a voided statement")
                .await?;
        }
        Ok(voided)
    }

    /// Marks voided every statement that a voiding statement of its own
    /// integration refers to and that is not marked yet (as schema v12 did
    /// once); how many. `replay` runs it, for what a PostgreSQL writer's
    /// check after its commit left (it failed; the log says so).
    pub async fn void_late_targets(&mut self) -> Result<u64> {
        let n = self.exec(
            "UPDATE statements SET voided = 1 \
             WHERE voided = 0 AND voids IS NULL \
               AND EXISTS (SELECT 1 FROM statements v \
                           WHERE v.voids = statements.id AND v.integration_id = statements.integration_id)",
            "voiding statements whose voiding statement came first",
        )
        .await?;
        self.exec(
            "DELETE FROM pending WHERE statement_id IN (SELECT id FROM statements WHERE voided = 1)",
            "unparking voided statements",
        )
        .await?;
        Ok(n)
    }

    /// Statements not marked voided though a voiding statement of their
    /// integration refers to them, as (integration, id): what a crash
    /// between a PostgreSQL group's commit and its voiding check left
    /// (docs/xapi-lrs.md, voiding). Read from the voiding statements
    /// (schema v12's index), which are few.
    pub async fn unvoided_targets(&mut self) -> Result<Vec<(String, String)>> {
        let q = self.sql(
            "SELECT t.integration_id, t.id FROM statements v \
             JOIN statements t ON t.id = v.voids AND t.integration_id = v.integration_id \
             WHERE v.voids IS NOT NULL AND t.voided = 0 AND t.voids IS NULL ORDER BY t.integration_id, t.id",
        );
        let rows = self.fetch(&q, &[], "finding unvoided targets").await?;
        rows.iter()
            .map(|r| Ok((col(r, "integration_id")?, col(r, "id")?)))
            .collect()
    }

    /// Which of these statement ids of an integration a stored voiding
    /// statement of that integration refers to (schema v12's index).
    pub async fn voided_targets(
        &mut self,
        integration_id: &str,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            let (n, keys) = crate::in_list(chunk);
            let q = self.sql(&voided_targets_sql(n));
            let mut args: Vec<Arg<'_>> = Vec::with_capacity(n + 1);
            args.push(integration_id.into());
            args.extend(keys.map(Arg::from));
            for r in self
                .fetch(&q, &args, "looking for voiding statements")
                .await?
            {
                out.insert(col::<String>(&r, "voids")?);
            }
        }
        Ok(out)
    }

    /// Inserts many statements with one query per chunk; returns the ids that
    /// were inserted (ids already stored are skipped: the caller compares them).
    pub async fn insert_statements<'q>(
        &mut self,
        rows: &[NewStatement<'q>],
    ) -> Result<foldhash::HashSet<String>> {
        if rows.is_empty() || self.backend != crate::Backend::Sqlite {
            return self.insert_statement_rows(rows).await;
        }
        // SQLite has one writer: the statements after the last `seq` now
        // are the ones this call stores.
        let before = self
            .fetch_number(
                "SELECT COALESCE(MAX(seq), 0) AS n FROM statements",
                "reading the last seq",
            )
            .await?;
        let inserted = self.insert_statement_rows(rows).await?;
        self.list_actors_after(before).await?;
        Ok(inserted)
    }

    async fn insert_statement_rows<'q>(
        &mut self,
        rows: &[NewStatement<'q>],
    ) -> Result<foldhash::HashSet<String>> {
        let mut inserted =
            foldhash::HashSet::with_capacity_and_hasher(rows.len(), Default::default());
        // On the direct connection one row per query, so no RETURNING is
        // needed: whether the row went in is its change count.
        let per_query = self.rows_per_write(500);
        static PLAIN: crate::RowsSql = crate::RowsSql::new();
        static RETURNING: crate::RowsSql = crate::RowsSql::new();
        let text = |n: usize, returning: bool| {
            let mut q = String::from(
                "INSERT INTO statements (id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, activity_id, registration, actor_key, voided, voids, course_id, learner_id, event, broad) VALUES ",
            );
            q.push_str(&crate::repeat_row(
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                n,
                1,
                ",",
            ));
            q.push_str(" ON CONFLICT (id) DO NOTHING");
            if returning {
                q.push_str(" RETURNING id");
            }
            q
        };
        let args_of = |chunk: &[NewStatement<'q>]| {
            let mut args: Vec<Arg<'q>> = Vec::with_capacity(chunk.len() * STATEMENT_ARGS);
            for s in chunk {
                args.extend([
                    Arg::from(s.id),
                    s.integration_id.into(),
                    s.raw.into(),
                    s.canonical.into(),
                    s.stored_ms.into(),
                    s.timestamp_ms.into(),
                    s.verb.into(),
                    s.activity_id.into(),
                    s.registration.into(),
                    s.actor_key.into(),
                    s.voids.into(),
                    s.course_id.into(),
                    s.learner_id.into(),
                    s.event.into(),
                    i64::from(s.broad).into(),
                ]);
            }
            args
        };
        if per_query == 1 {
            let q = PLAIN.get(self.backend, 1, |n| text(n, false));
            let changed = self
                .run_each(&q, &args_of(rows), STATEMENT_ARGS, "inserting statements")
                .await?;
            for (s, n) in rows.iter().zip(changed) {
                if n > 0 {
                    inserted.insert(s.id.to_owned());
                }
            }
            return Ok(inserted);
        }
        for chunk in rows.chunks(per_query) {
            let q = RETURNING.get(self.backend, chunk.len(), |n| text(n, true));
            for r in self
                .fetch(&q, &args_of(chunk), "inserting statements")
                .await?
            {
                inserted.insert(col::<String>(&r, "id")?);
            }
        }
        Ok(inserted)
    }
}

impl Tx<'_> {
    /// Records which course and learner a (previously pending) statement
    /// belongs to, and the learning event it gives them.
    pub async fn set_statement_target(
        &mut self,
        id: &str,
        course_id: i64,
        learner_id: i64,
        event: &str,
    ) -> Result<()> {
        let q = self
            .sql("UPDATE statements SET course_id = $2, learner_id = $3, event = $4 WHERE id = $1");
        sqlx::query(&q)
            .bind(id)
            .bind(course_id)
            .bind(learner_id)
            .bind(event)
            .execute(self.tx.any()?)
            .await
            .ctx("resolving a statement")?;
        Ok(())
    }

    /// The latest `stored` time, for `X-Experience-API-Consistent-Through`.
    pub async fn last_stored_ms(&mut self) -> Result<Option<i64>> {
        let q = self.sql("SELECT MAX(stored_ms) AS m FROM statements");
        let row = sqlx::query(&q)
            .fetch_one(self.tx.any()?)
            .await
            .ctx("reading the last stored time")?;
        col(&row, "m")
    }

    /// (statement id, integration, the statement as served) of every statement
    /// that gives a learning event, in storage order, for `replay`.
    pub async fn statements_with_events(&mut self) -> Result<Vec<(String, String, String)>> {
        let q = self.sql(
            "SELECT id, integration_id, canonical FROM statements WHERE event IS NOT NULL ORDER BY seq",
        );
        let rows = sqlx::query(&q)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading statement events")?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, "id")?,
                    col(r, "integration_id")?,
                    col(r, "canonical")?,
                ))
            })
            .collect()
    }

    /// Replaces the learning event a statement gives (after a rules change).
    pub async fn set_statement_event(&mut self, id: &str, event: &str) -> Result<()> {
        let q = self.sql("UPDATE statements SET event = $2 WHERE id = $1");
        sqlx::query(&q)
            .bind(id)
            .bind(event)
            .execute(self.tx.any()?)
            .await
            .ctx("updating a statement's learning event")?;
        Ok(())
    }
}
