//! The outbox: one event per change to a course or a statistic, appended in
//! the transaction of the change, read in `seq` order by the change feed and
//! the webhook dispatcher (docs/EVENTS.md).
//!
//! `seq` is gap-free in the order readers can see: on SQLite it is given at
//! insert (one writer at a time, so in commit order); on PostgreSQL events
//! are inserted without one and [`Tx::sequence_events`] gives them theirs,
//! one sequencer at a time (schema v14).

use crate::exec::{Arg, Cols};
use crate::{Backend, Conn, Result, RowsSql, Tx, col};

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `course.created`, … (`lms_delivery::EventType::as_str`).
    pub event_type: &'static str,
    pub integration_id: String,
    pub course_id: Option<i64>,
    pub learner_id: Option<i64>,
    /// The new record, JSON. A statistic's leaves out the course and
    /// learner identifiers, which the reader joins ([`FeedEvent`]).
    pub data: String,
    pub at_ms: i64,
}

/// An event as the feed reads it, with the identifiers the LMS knows of its
/// course and learner.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub seq: i64,
    pub event_type: String,
    pub integration_id: String,
    pub at_ms: i64,
    pub data: String,
    pub course_external_id: Option<String>,
    pub course_kind: Option<String>,
    pub learner_lms_id: Option<String>,
    pub learner_email: Option<String>,
}

/// The outbox's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxState {
    /// A random value chosen when the outbox was created (part of event ids).
    pub epoch: String,
    /// The largest `seq` readers can see (0 when none yet).
    pub last_seq: i64,
    /// Every event up to this `seq` was pruned by retention (0: none).
    pub pruned_through: i64,
}

const EVENT_ARGS: usize = 6;

fn event_args(events: &[NewEvent]) -> Vec<Arg<'_>> {
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(events.len() * EVENT_ARGS);
    for e in events {
        args.extend([
            Arg::from(e.event_type),
            (&e.integration_id).into(),
            e.course_id.into(),
            e.learner_id.into(),
            (&e.data).into(),
            e.at_ms.into(),
        ]);
    }
    args
}

fn feed_event(r: &impl Cols) -> Result<FeedEvent> {
    Ok(FeedEvent {
        seq: col(r, "seq")?,
        event_type: col(r, "event_type")?,
        integration_id: col(r, "integration_id")?,
        at_ms: col(r, "created_ms")?,
        data: col(r, "data")?,
        course_external_id: col(r, "course_external_id")?,
        course_kind: col(r, "course_kind")?,
        learner_lms_id: col(r, "learner_lms_id")?,
        learner_email: col(r, "learner_email")?,
    })
}

impl<C: Conn> Tx<'_, C> {
    /// Appends events, in the order given, to this transaction's changes.
    pub async fn append_events(&mut self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        static TEXT: RowsSql = RowsSql::new();
        let text = |n: usize| {
            let mut q = String::from(
                "INSERT INTO outbox_events (event_type, integration_id, course_id, learner_id, data, created_ms) VALUES ",
            );
            q.push_str(&crate::repeat_row("(?, ?, ?, ?, ?, ?)", n, 1, ","));
            q
        };
        let per_query = self.rows_per_write(200);
        if per_query == 1 {
            let q = TEXT.get(self.backend, 1, text);
            self.run_each(&q, &event_args(events), EVENT_ARGS, "appending events")
                .await?;
            return Ok(());
        }
        for chunk in events.chunks(per_query) {
            let q = TEXT.get(self.backend, chunk.len(), text);
            self.run(&q, &event_args(chunk), "appending events").await?;
        }
        Ok(())
    }

    /// PostgreSQL: gives `seq`s to up to `limit` committed events that have
    /// none yet, in insert order, and returns how many. Sequencers are
    /// serialized on the `outbox_state` row, so the `seq`s one gives are all
    /// larger than any given before, and become visible together when this
    /// transaction commits. SQLite: nothing to do (0).
    pub async fn sequence_events(&mut self, limit: i64) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let row = self
            .fetch_opt(
                "SELECT last_seq FROM outbox_state WHERE id = 1 FOR UPDATE",
                &[],
                "locking the outbox sequence",
            )
            .await?
            .ok_or_else(|| crate::StoreError::Corrupt {
                what: "outbox_state",
                detail: "the outbox state row is missing".into(),
            })?;
        let last: i64 = col(&row, "last_seq")?;
        let n = self
            .run(
                "WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM \
                   (SELECT id FROM outbox_events WHERE seq IS NULL ORDER BY id LIMIT $2) AS t) \
                 UPDATE outbox_events o SET seq = $1 + todo.n FROM todo WHERE o.id = todo.id",
                &[last.into(), limit.into()],
                "sequencing events",
            )
            .await?;
        if n > 0 {
            self.run(
                "UPDATE outbox_state SET last_seq = last_seq + $1 WHERE id = 1",
                &[(n as i64).into()],
                "advancing the outbox sequence",
            )
            .await?;
        }
        Ok(n)
    }

    /// Whether committed events wait for a `seq` (always false on SQLite).
    pub async fn has_unsequenced_events(&mut self) -> Result<bool> {
        if self.backend != Backend::Postgres {
            return Ok(false);
        }
        Ok(self
            .fetch_opt(
                "SELECT 1 AS one FROM outbox_events WHERE seq IS NULL LIMIT 1",
                &[],
                "looking for unsequenced events",
            )
            .await?
            .is_some())
    }

    pub async fn outbox_state(&mut self) -> Result<OutboxState> {
        let q = match self.backend {
            Backend::Postgres => {
                "SELECT epoch, last_seq, pruned_through FROM outbox_state WHERE id = 1"
            }
            Backend::Sqlite => {
                "SELECT epoch, (SELECT COALESCE(MAX(seq), 0) FROM outbox_events) AS last_seq, pruned_through \
                 FROM outbox_state WHERE id = 1"
            }
        };
        let row = self
            .fetch_opt(q, &[], "reading the outbox state")
            .await?
            .ok_or_else(|| crate::StoreError::Corrupt {
                what: "outbox_state",
                detail: "the outbox state row is missing".into(),
            })?;
        let last_seq: i64 = col(&row, "last_seq")?;
        let pruned_through: i64 = col(&row, "pruned_through")?;
        Ok(OutboxState {
            epoch: col(&row, "epoch")?,
            last_seq: last_seq.max(pruned_through),
            pruned_through,
        })
    }

    /// Up to `limit` events after `after`, in `seq` order.
    pub async fn events_after(&mut self, after: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        let q = self.sql(
            "SELECT o.seq, o.event_type, o.integration_id, o.created_ms, o.data, \
                    c.external_id AS course_external_id, c.kind AS course_kind, \
                    l.lms_user_id AS learner_lms_id, l.email AS learner_email \
             FROM outbox_events o \
             LEFT JOIN courses c ON c.id = o.course_id \
             LEFT JOIN learners l ON l.id = o.learner_id \
             WHERE o.seq > $1 ORDER BY o.seq LIMIT $2",
        );
        let rows = self
            .fetch(&q, &[after.into(), limit.into()], "reading the change feed")
            .await?;
        rows.iter().map(feed_event).collect()
    }

    /// Deletes up to `max` of the oldest events created before `before_ms`
    /// (retention) and records the last `seq` deleted; returns how many.
    pub async fn prune_events(&mut self, before_ms: i64, max: i64) -> Result<u64> {
        // The oldest `max` sequenced events, then the prefix of them that is
        // older than the cutoff (events are appended in time order, but a
        // clock step back must not let retention skip an event).
        let q = self.sql(
            "SELECT seq, created_ms FROM outbox_events WHERE seq IS NOT NULL ORDER BY seq LIMIT $1",
        );
        let rows = self
            .fetch(&q, &[max.into()], "reading the oldest events")
            .await?;
        let mut through = None;
        for r in &rows {
            let created: i64 = col(r, "created_ms")?;
            if created >= before_ms {
                break;
            }
            through = Some(col::<i64>(r, "seq")?);
        }
        let Some(through) = through else {
            return Ok(0);
        };
        let q = self.sql("DELETE FROM outbox_events WHERE seq IS NOT NULL AND seq <= $1");
        let n = self.run(&q, &[through.into()], "pruning events").await?;
        let q = self.sql(
            "UPDATE outbox_state SET pruned_through = $1 WHERE id = 1 AND pruned_through < $1",
        );
        self.run(&q, &[through.into()], "recording the pruned events")
            .await?;
        Ok(n)
    }
}
