//! SQLite's two actor lists (schema v13): the statements a transaction
//! stores are listed in a small recent list, moved in runs, one row per
//! actor, to a long one.

use crate::{Conn, Result, Tx, col};

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

impl<C: Conn> Tx<'_, C> {
    /// The number a one-column query without parameters (its column `n`)
    /// answers; 0 without a row.
    pub(crate) async fn fetch_number(&mut self, sql: &str, context: &'static str) -> Result<i64> {
        self.fetch_opt(sql, &[], context)
            .await?
            .map_or(Ok(0), |r| col(&r, "n"))
    }

    /// SQLite: lists the actors of the statements after `seq` in
    /// `recent_statement_actors`, and moves that list to
    /// `statement_actor_runs` once it holds [`RECENT_ACTORS_BOUND`] entries
    /// (schema v13).
    pub(crate) async fn list_actors_after(&mut self, seq: i64) -> Result<()> {
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
}
