//! Statistics: the touched learners' states brought up to date and written,
//! in key order; the writer's cache of what it committed; learning events
//! other than statements (launches, SCORM results, overrides).

use foldhash::HashMap;
use record_plan::{Change, IntegrationRules, advance, event_json};
use stats_rules::{Event, EventKind, LearnerState, LearnerStats, fold};
use store::{AttemptRow, Conn, LearningEventRow, StatsRow, Tx};
use time::OffsetDateTime;

use crate::delivery::statistic_event;
use crate::{RecordError, ms};

/// The `learning_events` row of a launch, SCORM result or override.
fn event_row(
    rules: &IntegrationRules,
    event: &Event,
    course: i64,
    learner: i64,
    kind: &str,
) -> Result<LearningEventRow, RecordError> {
    Ok(LearningEventRow {
        id: event.id.to_string(),
        integration_id: rules.integration_id.clone(),
        course_id: course,
        learner_id: learner,
        statement_id: None,
        kind: kind.into(),
        at_ms: ms(event.at),
        stored_ms: ms(event.stored),
        payload: event_json(event)?,
    })
}

/// Records a launch, a SCORM result or an override for a known learner and
/// course, then refolds their statistics.
pub async fn record_event(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    event: &Event,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    let kind = match &event.kind {
        EventKind::Statement(_) => "statement",
        EventKind::Launch(_) => "launch",
        EventKind::Scorm(_) => "scorm",
        EventKind::Override(_) => "override",
    };
    tx.insert_learning_event(&event_row(rules, event, course, learner, kind)?)
        .await?;
    update_stats(
        tx,
        rules,
        course,
        learner,
        &Change::Append(vec![event.clone()]),
        now_ms,
    )
    .await
}

fn attempt_rows(stats: &LearnerStats) -> Vec<AttemptRow> {
    let opt_ms = |t: Option<OffsetDateTime>| t.map(ms);
    stats
        .attempts
        .iter()
        .map(|a| AttemptRow {
            number: i64::from(a.number),
            entry: match &a.entry {
                stats_rules::EntryPoint::Catalog => "catalog".to_owned(),
                stats_rules::EntryPoint::Path(p) => format!("path:{p}"),
                stats_rules::EntryPoint::Unknown => "unknown".to_owned(),
            },
            started_ms: ms(a.started_at),
            completed_ms: opt_ms(a.completed_at),
            time_spent_ms: a.time_spent_ms.and_then(|t| i64::try_from(t).ok()),
            score: a.score,
            result: a.result.map(outcome_name),
        })
        .collect()
}

fn outcome_name(o: stats_rules::Outcome) -> String {
    match o {
        stats_rules::Outcome::Success => "success".to_owned(),
        stats_rules::Outcome::Failed => "failed".to_owned(),
    }
}

/// The advisory-lock key of one learner's statistics on one course.
fn target_key(course: i64, learner: i64) -> i64 {
    course.wrapping_mul(0x9E37_79B9).wrapping_add(learner)
}

/// Brings one learner's statistics on one course up to date (see [`update_many`]).
pub async fn update_stats<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    change: &Change,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    let mut out = update_many(tx, &[((course, learner), change, rules)], now_ms).await?;
    out.pop()
        .ok_or_else(|| RecordError::Corrupt("no statistics computed".into()))
}

/// Brings many learners' statistics up to date, locking them in key order:
/// new events that all sort after a stored state are applied to it (the live
/// case: constant cost, one read and one write for the whole set); anything
/// else — no state yet, an earlier event, a voided one — folds that learner's
/// whole log again. Returns the statistics in the order given.
pub async fn update_many<C: Conn>(
    tx: &mut Tx<'_, C>,
    targets: &[((i64, i64), &Change, &IntegrationRules)],
    now_ms: i64,
) -> Result<Vec<LearnerStats>, RecordError> {
    let (stats, _) = update_many_with(tx, targets, now_ms, None).await?;
    Ok(stats)
}

/// What a single writer knows of the database between its transactions: the
/// learner states it committed, so that the next transaction need not read
/// and parse them again ([`update_many_with`]), and the learners that
/// identity keys map to, so that it need not look them up again
/// ([`crate::store_statement_refs_with`]).
///
/// It is the writer's to keep true: a state is in it only as this writer
/// committed it, and an identity only as a transaction read it (the writer
/// never maps identities itself), so the writer [`clear`](WriterCache::clear)s
/// it whenever anything else may have written since (SQLite's
/// `data_version`: `Tx::data_version`), and [`keep`](WriterCache::keep)s the
/// states a transaction wrote only once that transaction committed. A state
/// taken out by a transaction that then failed is simply no longer there.
#[derive(Debug)]
pub struct WriterCache {
    states: HashMap<(i64, i64), LearnerState>,
    learners: HashMap<String, i64>,
    limit: usize,
}

impl WriterCache {
    /// A cache of at most `limit` states and `limit` identities (each emptied
    /// when full).
    pub fn new(limit: usize) -> Self {
        Self {
            states: HashMap::default(),
            learners: HashMap::default(),
            limit,
        }
    }

    pub fn clear(&mut self) {
        self.states.clear();
        self.learners.clear();
    }

    /// Keeps the states a committed transaction wrote.
    pub fn keep(&mut self, written: Written) {
        if self.states.len() + written.0.len() > self.limit {
            self.states.clear();
        }
        for (key, state) in written.0.into_iter().take(self.limit) {
            self.states.insert(key, state);
        }
    }

    fn holds(&self, key: &(i64, i64)) -> bool {
        self.states.contains_key(key)
    }

    fn take(&mut self, key: &(i64, i64)) -> Option<LearnerState> {
        self.states.remove(key)
    }

    pub(crate) fn learner(&self, identity_key: &str) -> Option<i64> {
        self.learners.get(identity_key).copied()
    }

    /// Keeps what a transaction read: the learner an identity key maps to.
    pub(crate) fn keep_learner(&mut self, identity_key: String, learner: i64) {
        if self.learners.len() >= self.limit {
            self.learners.clear();
        }
        self.learners.insert(identity_key, learner);
    }
}

/// The states a transaction's [`update_many_with`] wrote, for
/// [`WriterCache::keep`] once it has committed.
#[derive(Debug, Default)]
pub struct Written(Vec<((i64, i64), LearnerState)>);

/// [`update_many`], taking the stored states from `cache` where it has them
/// (and reading only the others); also returns the states it wrote.
pub async fn update_many_with<C: Conn>(
    tx: &mut Tx<'_, C>,
    targets: &[((i64, i64), &Change, &IntegrationRules)],
    now_ms: i64,
    mut cache: Option<&mut WriterCache>,
) -> Result<(Vec<LearnerStats>, Written), RecordError> {
    let keys: Vec<i64> = targets
        .iter()
        .map(|((c, l), _, _)| target_key(*c, *l))
        .collect();
    tx.lock_keys(&keys).await?;
    // Read only the states the cache does not hold.
    let unread: Vec<(i64, i64)> = targets
        .iter()
        .filter(|(key, change, _)| {
            matches!(change, Change::Append(_)) && !cache.as_ref().is_some_and(|c| c.holds(key))
        })
        .map(|(key, _, _)| *key)
        .collect();
    let stored = tx.stats_for_many(&unread).await?;
    let mut out = Vec::with_capacity(targets.len());
    let mut written = Vec::with_capacity(targets.len());
    let mut bulk = Vec::new();
    let mut events = Vec::new();
    for (key, change, rules) in targets {
        let (course, learner) = *key;
        let incremental = match change {
            Change::Append(_) => cache
                .as_mut()
                .and_then(|c| c.take(key))
                .or_else(|| {
                    stored
                        .get(key)
                        .and_then(|row| serde_json::from_str::<LearnerState>(&row.state).ok())
                })
                .and_then(|state| {
                    let before = state.stats(&rules.stats);
                    advance(state, change, &rules.stats).map(|state| (state, before))
                }),
            Change::Rebuild => None,
        };
        let state = match incremental {
            Some((state, before)) => {
                let (row, attempts, stats) = stats_row(rules, course, learner, &state, now_ms)?;
                if !same_for_the_lms(&before, &stats) {
                    events.push(statistic_event(&row, &stats)?);
                }
                if attempts == attempt_rows(&before) {
                    bulk.push(row);
                } else {
                    tx.upsert_stats(&row, Some(&attempts)).await?;
                }
                out.push(stats);
                state
            }
            None => {
                let (stats, state) = refold_state(tx, rules, course, learner, now_ms).await?;
                out.push(stats);
                state
            }
        };
        written.push((*key, state));
    }
    tx.upsert_stats_many(&bulk).await?;
    tx.append_events(&events).await?;
    Ok((out, Written(written)))
}

/// Rebuilds one learner's statistics on one course from the whole log.
pub async fn refold<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    Ok(refold_state(tx, rules, course, learner, now_ms).await?.0)
}

/// [`refold`], also returning the state it wrote.
async fn refold_state<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    now_ms: i64,
) -> Result<(LearnerStats, LearnerState), RecordError> {
    tx.lock_key(target_key(course, learner)).await?;
    let rows = tx.learning_events_for_target(course, learner).await?;
    let events = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Event>(&r.payload)
                .map_err(|e| RecordError::Corrupt(format!("learning event {}: {e}", r.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(events, &rules.stats);
    let (row, attempts, stats) = stats_row(rules, course, learner, &state, now_ms)?;
    tx.upsert_stats(&row, Some(&attempts)).await?;
    // A rebuild does not know what the row held before: it always tells the LMS.
    tx.append_events(&[statistic_event(&row, &stats)?]).await?;
    Ok((stats, state))
}

/// Whether the LMS sees the same statistics (everything but the count of
/// events folded): an event that changes nothing visible sends no
/// `statistic.updated`.
fn same_for_the_lms(a: &LearnerStats, b: &LearnerStats) -> bool {
    a.progress == b.progress
        && a.completed == b.completed
        && a.result == b.result
        && a.score == b.score
        && a.time_spent_ms == b.time_spent_ms
        && a.first_activity_at == b.first_activity_at
        && a.last_activity_at == b.last_activity_at
        && a.completed_at == b.completed_at
        && a.launched_from_lms == b.launched_from_lms
        && a.policy_era == b.policy_era
        && a.attempts == b.attempts
        && a.overridden == b.overridden
}

/// The folded state a statistics row keeps.
pub fn state_of(row: &StatsRow) -> Result<LearnerState, RecordError> {
    serde_json::from_str(&row.state).map_err(|e| {
        RecordError::Corrupt(format!(
            "statistics state of course {} learner {}: {e}",
            row.course_id, row.learner_id
        ))
    })
}

/// The statistics of a stored row, under the integration's rules (the same
/// statistics the row's columns were written from, as long as the rules have
/// not changed since: after a change, `replay` rewrites the rows).
pub fn stats_of(row: &StatsRow, rules: &IntegrationRules) -> Result<LearnerStats, RecordError> {
    Ok(state_of(row)?.stats(&rules.stats))
}

/// The rows that store a state's statistics.
fn stats_row(
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    state: &LearnerState,
    now_ms: i64,
) -> Result<(StatsRow, Vec<AttemptRow>, LearnerStats), RecordError> {
    let stats = state.stats(&rules.stats);
    let opt_ms = |t: Option<OffsetDateTime>| t.map(ms);
    let row = StatsRow {
        course_id: course,
        learner_id: learner,
        integration_id: rules.integration_id.clone(),
        progress: stats.progress,
        completed: stats.completed,
        result: stats.result.map(outcome_name),
        score: stats.score,
        time_spent_ms: stats.time_spent_ms.and_then(|t| i64::try_from(t).ok()),
        first_activity_ms: opt_ms(stats.first_activity_at),
        last_activity_ms: opt_ms(stats.last_activity_at),
        completed_at_ms: opt_ms(stats.completed_at),
        attempts: i64::try_from(stats.attempts.len()).unwrap_or(i64::MAX),
        overridden: stats.overridden.is_some(),
        state: state
            .to_json()
            .map_err(|e| RecordError::Corrupt(e.to_string()))?,
        updated_ms: now_ms,
    };
    Ok((row, attempt_rows(&stats), stats))
}
