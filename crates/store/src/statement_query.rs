//! The statements query: filters, `seq` paging, and on SQLite the actor's
//! runs read a window at a time.

use crate::exec::Arg;
use crate::statements::{COLS, StoredStatement, stored};
use crate::{Conn, Ctx, Result, Tx};

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

/// The identity keys that map to the learner bound at `param` (`$N`). A
/// statement is resolved to the learner its actor key maps to, and a mapping
/// never changes (`map_identity`), so a learner's statements are among those
/// with these actor keys ([`actor_in`]).
pub(crate) fn learner_keys(param: &str) -> String {
    format!("SELECT k.identity_key FROM learner_identities k WHERE k.learner_id = {param}")
}

/// The condition "the statement's actor key is in `keys`" (a list or a
/// subquery, SQL) on the statements row named `row`. PostgreSQL tests the
/// column through its index (schema v8). SQLite finds the statement in one of
/// the two actor lists of schema v13: the recent one, or a run of the long
/// one.
pub(crate) fn actor_in(backend: crate::Backend, row: &str, keys: &str) -> String {
    match backend {
        crate::Backend::Postgres => format!("{row}.actor_key IN ({keys})"),
        crate::Backend::Sqlite => format!(
            "{row}.seq IN (\
             SELECT j.value FROM statement_actor_runs a, json_each(a.seqs) j WHERE a.actor_key IN ({keys}) \
             UNION ALL SELECT r.seq FROM recent_statement_actors r WHERE r.actor_key IN ({keys}))"
        ),
    }
}

impl<C: Conn> Tx<'_, C> {
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
}

impl Tx<'_> {
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
}
