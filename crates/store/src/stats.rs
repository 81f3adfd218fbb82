//! Derived statistics per learner and course (or path), and their attempts.
//! Always rebuildable from the statement log and learning events.

use crate::exec::{Arg, Cols};
use crate::{Conn, Ctx, Result, Tx, col, flag};

#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    pub course_id: i64,
    pub learner_id: i64,
    pub integration_id: String,
    pub progress: f64,
    pub completed: bool,
    pub result: Option<String>,
    pub score: Option<f64>,
    pub time_spent_ms: Option<i64>,
    pub first_activity_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub attempts: i64,
    pub overridden: bool,
    /// The `stats_rules::LearnerState` as JSON: incremental application
    /// starts from it, and the statistics not in columns of their own
    /// (attempts, launched from the LMS, override) are read from it.
    pub state: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub number: i64,
    pub entry: String,
    pub started_ms: i64,
    pub completed_ms: Option<i64>,
    pub time_spent_ms: Option<i64>,
    pub score: Option<f64>,
    pub result: Option<String>,
}

/// A statistics row with the identifiers the LMS knows.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsItem {
    pub row: StatsRow,
    pub course_external_id: String,
    pub course_kind: String,
    pub learner_lms_id: Option<String>,
    pub learner_email: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsFilter {
    pub integration_id: Option<String>,
    pub course_external_id: Option<String>,
    pub learner_lms_id: Option<String>,
    /// `course` or `path`.
    pub kind: Option<String>,
    pub updated_since_ms: Option<i64>,
    /// Continue after (updated_ms, course_id, learner_id).
    pub after: Option<(i64, i64, i64)>,
    pub limit: i64,
}

const COLS: &str = "s.course_id, s.learner_id, s.integration_id, s.progress, s.completed, s.result, s.score, s.time_spent_ms, s.first_activity_ms, \
                    s.last_activity_ms, s.completed_at_ms, s.attempts, s.overridden, s.state, s.updated_ms";

fn row(r: &impl Cols) -> Result<StatsRow> {
    Ok(StatsRow {
        course_id: col(r, "course_id")?,
        learner_id: col(r, "learner_id")?,
        integration_id: col(r, "integration_id")?,
        progress: col(r, "progress")?,
        completed: col::<i64>(r, "completed")? != 0,
        result: col(r, "result")?,
        score: col(r, "score")?,
        time_spent_ms: col(r, "time_spent_ms")?,
        first_activity_ms: col(r, "first_activity_ms")?,
        last_activity_ms: col(r, "last_activity_ms")?,
        completed_at_ms: col(r, "completed_at_ms")?,
        attempts: col(r, "attempts")?,
        overridden: col::<i64>(r, "overridden")? != 0,
        state: col(r, "state")?,
        updated_ms: col(r, "updated_ms")?,
    })
}

/// The first key of statement locks (`Tx::lock_statement_ids`): the
/// two-key advisory locks never meet the one-key locks of statistics.
const STATEMENT_LOCKS: i32 = 0x6362; // "cb"

/// Parameters per row of `upsert_stats_many`.
const STATS_ARGS: usize = 15;

/// The parameters of `upsert_stats_many`'s rows, row after row.
fn stats_args(rows: &[StatsRow]) -> Vec<Arg<'_>> {
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(rows.len() * STATS_ARGS);
    for s in rows {
        args.extend([
            Arg::from(s.course_id),
            s.learner_id.into(),
            (&s.integration_id).into(),
            s.progress.into(),
            flag(s.completed).into(),
            (&s.result).into(),
            s.score.into(),
            s.time_spent_ms.into(),
            s.first_activity_ms.into(),
            s.last_activity_ms.into(),
            s.completed_at_ms.into(),
            s.attempts.into(),
            flag(s.overridden).into(),
            (&s.state).into(),
            s.updated_ms.into(),
        ]);
    }
    args
}

impl<C: Conn> Tx<'_, C> {
    /// Takes the advisory locks of many keys, in ascending order, one query (PostgreSQL).
    pub async fn lock_keys(&mut self, keys: &[i64]) -> Result<()> {
        if self.backend != crate::Backend::Postgres || keys.is_empty() {
            return Ok(());
        }
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for chunk in sorted.chunks(1000) {
            let ps = crate::repeat_row("(?::bigint)", chunk.len(), 1, ", ");
            let q = format!(
                "SELECT pg_advisory_xact_lock(k) FROM (VALUES {}) AS v(k) ORDER BY k",
                ps
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|k| Arg::from(*k)).collect();
            self.fetch(&q, &args, "taking advisory locks").await?;
        }
        Ok(())
    }

    /// Takes the transaction-scoped advisory locks of these statement ids
    /// (PostgreSQL; nothing on SQLite, whose writers are serialized), in
    /// ascending order, in a key space of their own. Two transactions
    /// writing overlapping statements — identical retries, in any order —
    /// then queue behind the first id they share instead of locking the
    /// rows in opposite orders (a deadlock).
    pub async fn lock_statement_ids(&mut self, ids: &[String]) -> Result<()> {
        if self.backend != crate::Backend::Postgres || ids.is_empty() {
            return Ok(());
        }
        // FNV-1a, 32 bits: the same key in every process.
        let key = |id: &str| {
            let mut h: u32 = 0x811c_9dc5;
            for b in id.bytes() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            i64::from(h as i32)
        };
        let mut keys: Vec<i64> = ids.iter().map(|id| key(id.as_str())).collect();
        keys.sort_unstable();
        keys.dedup();
        for chunk in keys.chunks(1000) {
            let ps = crate::repeat_row("(?::int)", chunk.len(), 1, ", ");
            let q = format!(
                "SELECT pg_advisory_xact_lock({STATEMENT_LOCKS}, k) FROM (VALUES {ps}) AS v(k) ORDER BY k"
            );
            let args: Vec<Arg<'_>> = chunk.iter().map(|k| Arg::from(*k)).collect();
            self.fetch(&q, &args, "taking statement locks").await?;
        }
        Ok(())
    }

    /// Writes a learner's statistics and, when given, replaces their attempts.
    pub async fn upsert_stats(
        &mut self,
        s: &StatsRow,
        attempts: Option<&[AttemptRow]>,
    ) -> Result<()> {
        self.upsert_stats_many(std::slice::from_ref(s)).await?;
        let Some(attempts) = attempts else {
            return Ok(());
        };
        let q = self.sql("DELETE FROM learner_attempts WHERE course_id = $1 AND learner_id = $2");
        self.run(
            &q,
            &[s.course_id.into(), s.learner_id.into()],
            "replacing attempts",
        )
        .await?;
        let q = self.sql(
            "INSERT INTO learner_attempts (course_id, learner_id, number, entry, started_ms, completed_ms, time_spent_ms, score, result) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        );
        for a in attempts {
            let args = [
                s.course_id.into(),
                s.learner_id.into(),
                a.number.into(),
                (&a.entry).into(),
                a.started_ms.into(),
                a.completed_ms.into(),
                a.time_spent_ms.into(),
                a.score.into(),
                (&a.result).into(),
            ];
            self.run(&q, &args, "saving an attempt").await?;
        }
        Ok(())
    }

    /// The statistics rows of many (course, learner) pairs, one query per chunk.
    pub async fn stats_for_many(
        &mut self,
        keys: &[(i64, i64)],
    ) -> Result<std::collections::HashMap<(i64, i64), StatsRow>> {
        let mut out = std::collections::HashMap::with_capacity(keys.len());
        // One lookup per course (usually one) by the primary key's prefix.
        let mut by_course: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
        for (c, l) in keys {
            by_course.entry(*c).or_default().push(*l);
        }
        for (course, learners) in by_course {
            for chunk in learners.chunks(500) {
                let mut q = format!(
                    "SELECT {COLS} FROM learner_stats s WHERE s.course_id = $1 AND s.learner_id IN ("
                );
                let (n, keys) = crate::in_list(chunk);
                q.push_str(&crate::repeat_row("?", n, 2, ", "));
                q.push(')');
                let q = self.sql(&q);
                let mut args: Vec<Arg<'_>> = Vec::with_capacity(n + 1);
                args.push(course.into());
                args.extend(keys.map(|l| Arg::from(*l)));
                for r in self.fetch(&q, &args, "reading statistics").await? {
                    let r = row(&r)?;
                    out.insert((r.course_id, r.learner_id), r);
                }
            }
        }
        Ok(out)
    }

    /// Writes many statistics rows (attempts untouched), one query per chunk
    /// (on the direct connection, one one-row query per row).
    pub async fn upsert_stats_many(&mut self, rows: &[StatsRow]) -> Result<()> {
        static TEXT: crate::RowsSql = crate::RowsSql::new();
        let text = |n: usize| {
            let mut q = String::from(
                "INSERT INTO learner_stats (course_id, learner_id, integration_id, progress, completed, result, score, time_spent_ms, first_activity_ms, \
                 last_activity_ms, completed_at_ms, attempts, overridden, state, updated_ms) VALUES ",
            );
            q.push_str(&crate::repeat_row(
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                n,
                1,
                ",",
            ));
            q.push_str(
                " ON CONFLICT (course_id, learner_id) DO UPDATE SET integration_id = excluded.integration_id, progress = excluded.progress, \
                completed = excluded.completed, result = excluded.result, score = excluded.score, time_spent_ms = excluded.time_spent_ms, \
                first_activity_ms = excluded.first_activity_ms, last_activity_ms = excluded.last_activity_ms, completed_at_ms = excluded.completed_at_ms, \
                attempts = excluded.attempts, overridden = excluded.overridden, state = excluded.state, updated_ms = excluded.updated_ms",
            );
            q
        };
        let per_query = self.rows_per_write(200);
        if per_query == 1 {
            let q = TEXT.get(self.backend, 1, text);
            self.run_each(&q, &stats_args(rows), STATS_ARGS, "saving statistics")
                .await?;
            return Ok(());
        }
        for chunk in rows.chunks(per_query) {
            let q = TEXT.get(self.backend, chunk.len(), text);
            self.run(&q, &stats_args(chunk), "saving statistics")
                .await?;
        }
        Ok(())
    }

    /// The learners of many identity keys, one query per chunk.
    pub async fn learners_by_identities(
        &mut self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let (n, keys) = crate::in_list(chunk);
            let ps = crate::repeat_row("?", n, 1, ", ");
            let q = self.sql(&format!("SELECT identity_key, learner_id FROM learner_identities WHERE identity_key IN ({})", ps));
            let args: Vec<Arg<'_>> = keys.map(Arg::from).collect();
            for r in self.fetch(&q, &args, "resolving learners").await? {
                out.insert(
                    col::<String>(&r, "identity_key")?,
                    col::<i64>(&r, "learner_id")?,
                );
            }
        }
        Ok(out)
    }
}

impl Tx<'_> {
    pub async fn stats_for(&mut self, course_id: i64, learner_id: i64) -> Result<Option<StatsRow>> {
        let q = self.sql(&format!(
            "SELECT {COLS} FROM learner_stats s WHERE s.course_id = $1 AND s.learner_id = $2"
        ));
        let r = sqlx::query(&q)
            .bind(course_id)
            .bind(learner_id)
            .fetch_optional(self.tx.any()?)
            .await
            .ctx("reading statistics")?;
        r.as_ref().map(row).transpose()
    }

    pub async fn attempts_for(
        &mut self,
        course_id: i64,
        learner_id: i64,
    ) -> Result<Vec<AttemptRow>> {
        let q = self.sql(
            "SELECT number, entry, started_ms, completed_ms, time_spent_ms, score, result FROM learner_attempts \
             WHERE course_id = $1 AND learner_id = $2 ORDER BY number",
        );
        let rows = sqlx::query(&q)
            .bind(course_id)
            .bind(learner_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading attempts")?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRow {
                    number: col(r, "number")?,
                    entry: col(r, "entry")?,
                    started_ms: col(r, "started_ms")?,
                    completed_ms: col(r, "completed_ms")?,
                    time_spent_ms: col(r, "time_spent_ms")?,
                    score: col(r, "score")?,
                    result: col(r, "result")?,
                })
            })
            .collect()
    }

    /// Statistics matching the filter, ordered by (updated, course, learner) for cursor paging.
    pub async fn list_stats(&mut self, f: &StatsFilter) -> Result<Vec<StatsItem>> {
        let mut q = format!(
            "SELECT {COLS}, c.external_id AS course_external_id, c.kind AS course_kind, l.lms_user_id AS learner_lms_id, l.email AS learner_email \
             FROM learner_stats s JOIN courses c ON c.id = s.course_id JOIN learners l ON l.id = s.learner_id WHERE 1 = 1"
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let mut texts: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        for (v, c) in [
            (&f.integration_id, "s.integration_id"),
            (&f.course_external_id, "c.external_id"),
            (&f.learner_lms_id, "l.lms_user_id"),
            (&f.kind, "c.kind"),
        ] {
            if let Some(v) = v {
                q.push_str(&format!(" AND {c} = ${}", next()));
                texts.push(v.clone());
            }
        }
        if let Some(t) = f.updated_since_ms {
            q.push_str(&format!(" AND s.updated_ms >= ${}", next()));
            ints.push(t);
        }
        if let Some((u, c, l)) = f.after {
            let (a, b, d, e, g) = (next(), next(), next(), next(), next());
            q.push_str(&format!(
                " AND (s.updated_ms > ${a} OR (s.updated_ms = ${b} AND (s.course_id > ${d} OR (s.course_id = ${e} AND s.learner_id > ${g}))))"
            ));
            ints.extend([u, u, c, c, l]);
        }
        q.push_str(&format!(
            " ORDER BY s.updated_ms, s.course_id, s.learner_id LIMIT ${}",
            next()
        ));
        ints.push(f.limit);
        let q = self.sql(&q);
        let mut query = sqlx::query(&q);
        for t in texts {
            query = query.bind(t);
        }
        for i in ints {
            query = query.bind(i);
        }
        let rows = query
            .fetch_all(self.tx.any()?)
            .await
            .ctx("listing statistics")?;
        rows.iter()
            .map(|r| {
                Ok(StatsItem {
                    row: row(r)?,
                    course_external_id: col(r, "course_external_id")?,
                    course_kind: col(r, "course_kind")?,
                    learner_lms_id: col(r, "learner_lms_id")?,
                    learner_email: col(r, "learner_email")?,
                })
            })
            .collect()
    }
}
