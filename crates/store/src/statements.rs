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

/// Entries of `recent_statement_actors` at which a transaction that stores
/// statements moves them to `statement_actor_runs`, one row per actor
/// (SQLite, schema v13): the recent list's pages are shared by the
/// statements of a group, and the move writes one row per actor for all of
/// that actor's statements since the last move. 16,384 rather than 4,096:
/// a move costs about one row per actor whatever the bound, so a larger one
/// makes fewer; measured faster under 1,000 and 20,000 learners alike, with
/// no worse tail (docs/PERFORMANCE.md).
pub const RECENT_ACTORS_BOUND: i64 = 16384;

/// The sizes of SQLite's two actor lists ([`Tx::actor_lists`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorLists {
    /// Entries of `recent_statement_actors`: statements listed since the
    /// last move, always fewer than [`RECENT_ACTORS_BOUND`] after a commit.
    pub recent: i64,
    /// Rows of `statement_actor_runs`: one per actor and move.
    pub runs: i64,
}

/// Parameters per row of `insert_statements`.
const STATEMENT_ARGS: usize = 15;

/// The voiding statements of integration `$1` that refer to one of `n` ids
/// (`$2`…): their targets.
fn voided_targets_sql(n: usize) -> String {
    let ps = crate::repeat_row("?", n, 2, ", ");
    format!("SELECT voids FROM statements WHERE integration_id = $1 AND voids IN ({ps})")
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

/// The identity keys that map to the learner bound at `param` (`$N`). A
/// statement is resolved to the learner its actor key maps to, and a mapping
/// never changes (`map_identity`), so a learner's statements are among those
/// with these actor keys ([`actor_in`]).
fn learner_keys(param: &str) -> String {
    format!("SELECT k.identity_key FROM learner_identities k WHERE k.learner_id = {param}")
}

/// The condition "the statement's actor key is in `keys`" (a list or a
/// subquery, SQL) on the statements row named `row`. PostgreSQL tests the
/// column through its index (schema v8). SQLite finds the statement in one of
/// the two actor lists of schema v13: the recent one, or a run of the long
/// one.
fn actor_in(backend: crate::Backend, row: &str, keys: &str) -> String {
    match backend {
        crate::Backend::Postgres => format!("{row}.actor_key IN ({keys})"),
        crate::Backend::Sqlite => format!(
            "{row}.seq IN (\
             SELECT j.value FROM statement_actor_runs a, json_each(a.seqs) j WHERE a.actor_key IN ({keys}) \
             UNION ALL SELECT r.seq FROM recent_statement_actors r WHERE r.actor_key IN ({keys}))"
        ),
    }
}

const COLS: &str = "seq, id, integration_id, raw, canonical, stored_ms, timestamp_ms, verb, activity_id, registration, actor_key, voided, voids, course_id, learner_id";

fn stored(r: &impl Cols) -> Result<StoredStatement> {
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

/// Filters of the xAPI statements list (all optional), with `seq` paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementFilter {
    pub integration_id: Option<String>,
    pub actor_key: Option<String>,
    pub verb: Option<String>,
    pub activity_id: Option<String>,
    pub registration: Option<String>,
    /// Stored strictly after.
    pub since_ms: Option<i64>,
    /// Stored at or before.
    pub until_ms: Option<i64>,
    /// Continue after this `seq` (in the listing's direction).
    pub cursor: Option<i64>,
    pub ascending: bool,
    pub limit: i64,
    /// Only statements marked broad (schema v10), through their own index.
    pub broad: bool,
}

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
    /// integration never voids another's statements).
    pub async fn void_statement(&mut self, integration_id: &str, id: &str) -> Result<bool> {
        let q = self.sql(
            "UPDATE statements SET voided = 1 WHERE id = $1 AND integration_id = $2 AND voids IS NULL",
        );
        Ok(self
            .run(
                &q,
                &[id.into(), integration_id.into()],
                "voiding a statement",
            )
            .await?
            == 1)
    }

    /// Marks voided every statement that a voiding statement of its own
    /// integration refers to and that is not marked yet (as schema v12 did
    /// once); how many. `replay` runs it, for what a PostgreSQL writer's
    /// check after its commit left (it failed; the log says so).
    pub async fn void_late_targets(&mut self) -> Result<u64> {
        self.exec(
            "UPDATE statements SET voided = 1 \
             WHERE voided = 0 AND voids IS NULL \
               AND EXISTS (SELECT 1 FROM statements v \
                           WHERE v.voids = statements.id AND v.integration_id = statements.integration_id)",
            "voiding statements whose voiding statement came first",
        )
        .await
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

    /// Statements matching the filter, in `seq` order (ascending or not), at most `limit`.
    ///
    /// With an `agent` on SQLite, the statements of the actor's runs are
    /// read a window of runs at a time, nearest to the page first: a page
    /// costs about what it shows, not the actor's whole history. An actor's
    /// runs never overlap and its recent list is newer than all of them
    /// (schema v13), so the window's statements are the first ones in the
    /// page's order; when the window fills the page, the runs left out could
    /// only come after it, and when it does not, a window eight times wider
    /// is read, until it holds every run.
    pub async fn statements(&mut self, f: &StatementFilter) -> Result<Vec<StoredStatement>> {
        if self.backend != crate::Backend::Sqlite || f.actor_key.is_none() {
            return self.statements_in(f, None).await;
        }
        let mut window: i64 = 4;
        loop {
            let complete = !self.more_actor_runs(f, window).await?;
            let rows = self.statements_in(f, Some((window, complete))).await?;
            if complete || rows.len() as i64 >= f.limit {
                return Ok(rows);
            }
            window = window.saturating_mul(8);
        }
    }

    /// The runs of the filter's actor that may hold statements past its
    /// cursor, in the page's order (SQLite): the condition and its
    /// arguments, which follow `actor` (`$N`).
    fn actor_runs_in_order(f: &StatementFilter, actor: &str, args: &mut Vec<Arg<'_>>) -> String {
        let mut q = format!("FROM statement_actor_runs WHERE actor_key = {actor}");
        if let Some(c) = f.cursor {
            args.push(c.into());
            let p = args.len();
            // Ascending, a run with a later statement; descending, one with
            // an earlier statement.
            q.push_str(&if f.ascending {
                format!(" AND last_seq > ${p}")
            } else {
                format!(" AND first_seq < ${p}")
            });
        }
        q.push_str(if f.ascending {
            " ORDER BY last_seq ASC"
        } else {
            " ORDER BY last_seq DESC"
        });
        q
    }

    /// Whether the filter's actor has more than `window` runs past its
    /// cursor (SQLite).
    async fn more_actor_runs(&mut self, f: &StatementFilter, window: i64) -> Result<bool> {
        let Some(actor) = f.actor_key.as_deref() else {
            return Ok(false);
        };
        let mut args: Vec<Arg<'_>> = vec![actor.into()];
        let runs = Self::actor_runs_in_order(f, "$1", &mut args);
        args.push(window.into());
        let q = self.sql(&format!(
            "SELECT 1 AS x {runs} LIMIT 1 OFFSET ${}",
            args.len()
        ));
        Ok(self
            .fetch_opt(&q, &args, "listing an actor's statements")
            .await?
            .is_some())
    }

    /// [`Tx::statements`], on SQLite with an `agent` reading `window` runs
    /// (the recent list too where it comes first in the page's order, or
    /// when the window holds every run: `complete`).
    async fn statements_in(
        &mut self,
        f: &StatementFilter,
        window: Option<(i64, bool)>,
    ) -> Result<Vec<StoredStatement>> {
        let mut q = format!("SELECT {COLS} FROM statements WHERE voided = 0");
        if f.broad {
            q.push_str(" AND broad = 1");
        }
        let mut args: Vec<Arg<'_>> = Vec::new();
        // Binds `a` and returns its placeholder (`$1`, `$2`, … in order).
        fn arg<'q>(args: &mut Vec<Arg<'q>>, a: Arg<'q>) -> String {
            args.push(a);
            format!("${}", args.len())
        }
        if let Some(i) = &f.integration_id {
            let p = arg(&mut args, i.into());
            q.push_str(&format!(" AND integration_id = {p}"));
        }
        if let Some(actor) = &f.actor_key {
            let p = arg(&mut args, actor.into());
            match window {
                Some((window, complete)) => {
                    let runs = Self::actor_runs_in_order(f, &p, &mut args);
                    let w = arg(&mut args, window.into());
                    let recent = if complete || !f.ascending {
                        format!(
                            " UNION ALL SELECT r.seq FROM recent_statement_actors r WHERE r.actor_key = {p}"
                        )
                    } else {
                        String::new()
                    };
                    q.push_str(&format!(
                        " AND seq IN (SELECT j.value FROM (SELECT seqs {runs} LIMIT {w}) a, json_each(a.seqs) j{recent})"
                    ));
                }
                None => q.push_str(&format!(
                    " AND {}",
                    actor_in(self.backend, "statements", &p)
                )),
            }
        }
        for (value, test) in [
            (&f.verb, "verb ="),
            (&f.activity_id, "activity_id ="),
            (&f.registration, "registration ="),
        ] {
            if let Some(v) = value {
                let p = arg(&mut args, v.into());
                q.push_str(&format!(" AND {test} {p}"));
            }
        }
        if let Some(t) = f.since_ms {
            let p = arg(&mut args, t.into());
            q.push_str(&format!(" AND stored_ms > {p}"));
        }
        if let Some(t) = f.until_ms {
            let p = arg(&mut args, t.into());
            q.push_str(&format!(" AND stored_ms <= {p}"));
        }
        if let Some(c) = f.cursor {
            let p = arg(&mut args, c.into());
            q.push_str(&format!(
                " AND seq {} {p}",
                if f.ascending { ">" } else { "<" }
            ));
        }
        q.push_str(if f.ascending {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        let p = arg(&mut args, f.limit.into());
        q.push_str(&format!(" LIMIT {p}"));
        let q = self.sql(&q);
        let rows = self.fetch(&q, &args, "listing statements").await?;
        rows.iter().map(stored).collect()
    }

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

    /// The number a one-column query without parameters (its column `n`)
    /// answers; 0 without a row.
    async fn fetch_number(&mut self, sql: &str, context: &'static str) -> Result<i64> {
        self.fetch_opt(sql, &[], context)
            .await?
            .map_or(Ok(0), |r| col(&r, "n"))
    }

    /// SQLite: lists the actors of the statements after `seq` in
    /// `recent_statement_actors`, and moves that list to
    /// `statement_actor_runs` once it holds [`RECENT_ACTORS_BOUND`] entries
    /// (schema v13).
    async fn list_actors_after(&mut self, seq: i64) -> Result<()> {
        let q = self.sql(
            "INSERT INTO recent_statement_actors (actor_key, seq) \
             SELECT actor_key, seq FROM statements WHERE seq > $1 AND actor_key IS NOT NULL",
        );
        self.run(&q, &[seq.into()], "listing statements' actors")
            .await?;
        let listed = self
            .fetch_number(
                "SELECT COUNT(*) AS n FROM recent_statement_actors",
                "counting recent statements' actors",
            )
            .await?;
        if listed >= RECENT_ACTORS_BOUND {
            self.move_recent_actors().await?;
        }
        Ok(())
    }

    /// SQLite: how many entries the recent actor list holds and how many
    /// runs the long one (schema v13); `None` on PostgreSQL, which keeps an
    /// index instead.
    pub async fn actor_lists(&mut self) -> Result<Option<ActorLists>> {
        if self.backend != crate::Backend::Sqlite {
            return Ok(None);
        }
        let row = self
            .fetch_opt(
                "SELECT (SELECT COUNT(*) FROM recent_statement_actors) AS recent, \
                        (SELECT COUNT(*) FROM statement_actor_runs) AS runs",
                &[],
                "counting the actor lists",
            )
            .await?;
        row.map(|r| {
            Ok(ActorLists {
                recent: col(&r, "recent")?,
                runs: col(&r, "runs")?,
            })
        })
        .transpose()
    }

    /// SQLite: moves `recent_statement_actors` to `statement_actor_runs`,
    /// one row per actor (schema v13).
    pub async fn move_recent_actors(&mut self) -> Result<()> {
        if self.backend != crate::Backend::Sqlite {
            return Ok(());
        }
        self.exec(
            "INSERT INTO statement_actor_runs (actor_key, last_seq, first_seq, seqs) \
             SELECT actor_key, MAX(seq), MIN(seq), json_group_array(seq) FROM recent_statement_actors \
             GROUP BY actor_key",
            "moving recent statements' actors",
        )
        .await?;
        self.exec(
            "DELETE FROM recent_statement_actors",
            "moving recent statements' actors",
        )
        .await?;
        Ok(())
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
    pub async fn insert_learning_event(&mut self, e: &LearningEventRow) -> Result<()> {
        self.insert_learning_events(std::slice::from_ref(e)).await
    }

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

    /// The live (not voided, not voiding) statements of one learner on one course.
    pub async fn statements_for_target(
        &mut self,
        course_id: i64,
        learner_id: i64,
    ) -> Result<Vec<StoredStatement>> {
        let q = self.sql(&format!(
            "SELECT {COLS} FROM statements WHERE {} AND course_id = $1 AND learner_id = $2 AND voided = 0 AND voids IS NULL ORDER BY seq",
            actor_in(self.backend, "statements", &learner_keys("$2"))
        ));
        let rows = sqlx::query(&q)
            .bind(course_id)
            .bind(learner_id)
            .fetch_all(self.tx.any()?)
            .await
            .ctx("reading a learner's statements")?;
        rows.iter().map(stored).collect()
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
}
