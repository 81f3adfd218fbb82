//! Work on the log outside the statement path: parked statements retried,
//! voids repaired after concurrent commits (PostgreSQL), and every statistic
//! rebuilt from the log (`replay`).

use foldhash::HashMap;
use record_plan::{
    IntegrationRules, NeededActivity, RulesError, Touched, derive, event_json, pending_reason,
    statement_event, touch,
};
use store::{Conn, PendingRow, Store, Tx};

use crate::lookup::course_of;
use crate::{RecordError, refold, update_many};

/// Retries every parked statement of an integration: those that now match a
/// course and a learner are applied (and unparked); the others stay parked
/// with an updated reason. Returns how many were applied.
pub async fn apply_pending(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    now_ms: i64,
) -> Result<usize, RecordError> {
    let mut applied = 0;
    let mut touched = Touched::new();
    // Courses and learners already looked up in this transaction.
    let mut courses: HashMap<String, i64> = HashMap::default();
    let mut learners: HashMap<String, Option<i64>> = HashMap::default();
    let mut after: Option<String> = None;
    loop {
        let page = tx
            .pending(Some(&rules.integration_id), after.as_deref(), 500)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.statement_id.clone());
        for p in page {
            let stored = tx.statement(&p.statement_id).await?.ok_or_else(|| {
                RecordError::Corrupt(format!("pending {} has no statement", p.statement_id))
            })?;
            if stored.voided {
                tx.unpark(&p.statement_id).await?;
                continue;
            }
            let s = xapi_model::parse_statement(stored.canonical.as_bytes())
                .map_err(|e| RecordError::Corrupt(format!("statement {}: {e}", p.statement_id)))?;
            let d = derive(rules, &s)?;
            let (Some(learning), Some(activity)) = (d.learning, s.activity()) else {
                continue;
            };
            // Only found courses are kept: a later statement may register
            // the activity as a learning path.
            let course = match courses.get(&learning.activity) {
                Some(c) => Some(*c),
                None => {
                    let needed = NeededActivity::of(&learning, activity);
                    let c = course_of(tx, rules, &needed, now_ms).await?;
                    if let Some(c) = c {
                        courses.insert(learning.activity.clone(), c);
                    }
                    c
                }
            };
            let learner = match &d.actor_key {
                Some(k) => match learners.get(k) {
                    Some(l) => *l,
                    None => {
                        let l = tx.learner_by_identity(k).await?;
                        learners.insert(k.clone(), l);
                        l
                    }
                },
                None => None,
            };
            if let (Some(c), Some(l)) = (course, learner) {
                tx.set_statement_target(&p.statement_id, c, l, &learning.event_json)
                    .await?;
                tx.unpark(&p.statement_id).await?;
                touch(&mut touched, (c, l), Some(learning.event));
                applied += 1;
            } else if let Some((reason, detail)) =
                pending_reason(course, learner, &learning.activity, d.actor_key.as_deref())
            {
                if reason != p.reason || detail != p.detail {
                    tx.park(&PendingRow {
                        reason,
                        detail,
                        ..p
                    })
                    .await?;
                }
            }
        }
    }
    update_touched(tx, rules, &touched, now_ms).await?;
    Ok(applied)
}

/// After a commit on a store with several writers (PostgreSQL): voids those
/// of `referred` — statements a voiding statement of the integration refers
/// to (`Store::voided_targets`) — that are not voided, and refolds the
/// statistics they counted in. That happens when a voiding statement and its
/// target commit at the same instant in two transactions, each before the
/// other is visible; whichever commits last finds the other. How many it
/// voided.
pub async fn repair_voiding(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    referred: &[String],
    now_ms: i64,
) -> Result<usize, RecordError> {
    let mut touched = Touched::new();
    let mut voided = 0;
    for id in referred {
        let Some(row) = tx
            .statement(id)
            .await?
            .filter(|r| r.integration_id == rules.integration_id && !r.voided && r.voids.is_none())
        else {
            continue;
        };
        if tx.void_statement(&rules.integration_id, id).await? {
            voided += 1;
            if let (Some(c), Some(l)) = (row.course_id, row.learner_id) {
                touch(&mut touched, (c, l), None);
            }
        }
    }
    update_touched(tx, rules, &touched, now_ms).await?;
    Ok(voided)
}

/// [`update_many`] for statistics one integration's statements touched.
pub(crate) async fn update_touched<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    touched: &Touched,
    now_ms: i64,
) -> Result<(), RecordError> {
    let targets: Vec<_> = touched
        .iter()
        .map(|(key, change)| (*key, change, rules))
        .collect();
    update_many(tx, &targets, now_ms).await.map(drop)
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub statements: usize,
    pub targets: usize,
    /// Statements found voided by a voiding statement stored before them and
    /// marked now (see `Tx::void_late_targets`).
    pub voided: u64,
}

/// Rebuilds every statistic from the log with the current rules: voided
/// flags are derived again from the voiding statements, statement facts from
/// the stored statements, then every learner's statistics on every course are
/// refolded.
pub async fn replay(
    store: &Store,
    rules_for: impl Fn(&str) -> Result<IntegrationRules, RulesError>,
    now_ms: i64,
) -> Result<ReplayReport, ReplayError> {
    replay_with_progress(store, rules_for, now_ms, &mut |_| {}).await
}

/// Where a replay is ([`replay_with_progress`]): each phase is reported
/// once before its first item, then after every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayProgress {
    /// Statements whose learning event was derived again, of `total`.
    Statements { done: u64, total: u64 },
    /// Learner statistics refolded, of `total`.
    Statistics { done: u64, total: u64 },
}

/// [`replay`], telling `progress` how far it is (a terminal's progress bar,
/// log lines: the caller decides how often to show it).
pub async fn replay_with_progress(
    store: &Store,
    rules_for: impl Fn(&str) -> Result<IntegrationRules, RulesError>,
    now_ms: i64,
    progress: &mut (dyn FnMut(ReplayProgress) + Send),
) -> Result<ReplayReport, ReplayError> {
    let mut report = ReplayReport::default();
    let mut rules_cache: HashMap<String, IntegrationRules> = HashMap::default();
    let mut tx = store.begin().await.map_err(RecordError::from)?;
    report.voided = tx.void_late_targets().await.map_err(RecordError::from)?;
    let statements = tx
        .statements_with_events()
        .await
        .map_err(RecordError::from)?;
    let total = statements.len() as u64;
    progress(ReplayProgress::Statements { done: 0, total });
    for (statement_id, integration, canonical) in statements {
        if !rules_cache.contains_key(&integration) {
            rules_cache.insert(integration.clone(), rules_for(&integration)?);
        }
        let rules = &rules_cache[&integration];
        let s = xapi_model::parse_statement(canonical.as_bytes())
            .map_err(|e| RecordError::Corrupt(format!("statement {statement_id}: {e}")))?;
        let event = statement_event(rules, &s, rules.stats.provider.target_kind(&s))
            .map_err(RecordError::from)?;
        tx.set_statement_event(
            &statement_id,
            &event_json(&event).map_err(RecordError::from)?,
        )
        .await
        .map_err(RecordError::from)?;
        report.statements += 1;
        progress(ReplayProgress::Statements {
            done: report.statements as u64,
            total,
        });
    }
    tx.commit().await.map_err(RecordError::from)?;
    let targets = {
        let mut tx = store.read().await.map_err(RecordError::from)?;
        tx.learning_targets().await.map_err(RecordError::from)?
    };
    let total = targets.len() as u64;
    progress(ReplayProgress::Statistics { done: 0, total });
    for chunk in targets.chunks(500) {
        let mut tx = store.begin().await.map_err(RecordError::from)?;
        for (integration, course, learner) in chunk {
            if !rules_cache.contains_key(integration) {
                rules_cache.insert(integration.clone(), rules_for(integration)?);
            }
            refold(
                &mut tx,
                &rules_cache[integration],
                *course,
                *learner,
                now_ms,
            )
            .await?;
            report.targets += 1;
            progress(ReplayProgress::Statistics {
                done: report.targets as u64,
                total,
            });
        }
        tx.commit().await.map_err(RecordError::from)?;
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Rules(#[from] RulesError),
}
