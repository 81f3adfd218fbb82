//! The statement path's executor: one lookup step, the pure plan, and the
//! plan applied in the caller's transaction.

use std::borrow::Cow;

use record_plan::{
    AttachmentData, Derived, IntegrationRules, Needs, Outcome, Plan, Prepared, Touched,
};
use store::{Conn, NewStatement, PendingRow, Tx};

use crate::lookup::{learn_stored, lookup};
use crate::{RecordError, WriterCache, ms};

/// Stores a batch in the caller's transaction (all or nothing: on error the
/// caller rolls back) and refolds the statistics of every learner and course it
/// touched, once each, in key order.
pub async fn record_statements<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    batch: &[Prepared],
    now_ms: i64,
) -> Result<Vec<Outcome>, RecordError> {
    let (outcomes, touched) = store_statements(tx, rules, batch, now_ms).await?;
    crate::maintenance::update_touched(tx, rules, &touched, now_ms).await?;
    Ok(outcomes)
}

/// Stores a batch without refolding; returns what must be refolded. Used by a
/// group commit that refolds the union of several batches at the end, in key
/// order, so that concurrent writers take their locks in one global order.
/// Statements are written in the order of `stored`, then id.
pub async fn store_statements<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    batch: &[Prepared],
    now_ms: i64,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    let refs: Vec<&Prepared> = batch.iter().collect();
    store_statement_refs(tx, rules, &refs, now_ms).await
}

/// [`store_statements`] over borrowed statements (a group commit stores the
/// batches of several requests as one without copying them).
pub async fn store_statement_refs<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    batch: &[&Prepared],
    now_ms: i64,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    store_statement_refs_with(tx, rules, batch, now_ms, None).await
}

/// [`store_statement_refs`], taking the learners of identity keys from
/// `cache` where it has them (and looking up only the others, which it then
/// keeps).
pub async fn store_statement_refs_with<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    batch: &[&Prepared],
    now_ms: i64,
    cache: Option<&mut WriterCache>,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    // What each statement's request derived (or, if it did not, derived now).
    let derived: Vec<Cow<'_, Derived>> = batch
        .iter()
        .map(|p| p.derived_for(rules))
        .collect::<Result<_, _>>()?;
    let mut facts = lookup(tx, rules, &Needs::of(batch, &derived), now_ms, cache).await?;
    let id = &rules.integration_id;
    let mut plan = record_plan::plan_batch(id, batch, &derived, &facts)?;
    let inserted = tx
        .insert_statements(&new_rows(rules, batch, &plan, now_ms))
        .await?;
    // Already stored (a retry, a conflict; on PostgreSQL perhaps by another
    // writer since the lookup): learned, and the batch planned again with it
    // (`record_plan::Facts`).
    let stored: Vec<String> = plan
        .inserts
        .iter()
        .filter(|i| !inserted.contains(&i.id))
        .map(|i| i.id.clone())
        .collect();
    if !stored.is_empty() {
        learn_stored(tx, &mut facts, &stored).await?;
        plan = record_plan::plan_batch(id, batch, &derived, &facts)?;
        if let Some(i) = plan.inserts.iter().find(|i| !inserted.contains(&i.id)) {
            return Err(RecordError::Corrupt(format!("statement {} vanished", i.id)));
        }
    }
    insert_attachments(tx, rules, batch, now_ms).await?;
    for target in &plan.voids {
        tx.void_statement(id, target).await?;
    }
    for p in &plan.parks {
        tx.park(&PendingRow {
            statement_id: p.statement_id.clone(),
            integration_id: id.clone(),
            reason: p.reason.clone(),
            detail: p.detail.clone(),
            parked_ms: now_ms,
        })
        .await?;
    }
    Ok((plan.outcomes, plan.touched))
}

/// The rows of a plan's inserts.
fn new_rows<'a>(
    rules: &'a IntegrationRules,
    batch: &[&'a Prepared],
    plan: &'a Plan<'a>,
    now_ms: i64,
) -> Vec<NewStatement<'a>> {
    plan.inserts
        .iter()
        .map(|r| {
            let p = batch[r.index];
            let s = &p.statement;
            NewStatement {
                id: &r.id,
                integration_id: &rules.integration_id,
                raw: &p.raw,
                canonical: &p.canonical,
                stored_ms: s.stored.map_or(now_ms, |t| ms(t.0)),
                timestamp_ms: s.timestamp.map_or(now_ms, |t| ms(t.0)),
                verb: &s.verb.id,
                activity_id: s.activity().map(|a| a.id.as_str()),
                registration: r.derived.registration.as_deref(),
                actor_key: r.derived.actor_key.as_deref(),
                voids: r.derived.voids.as_deref(),
                course_id: r.course_id,
                learner_id: r.learner_id,
                event: r.event,
                broad: r.derived.broad,
            }
        })
        .collect()
}

/// The batch's attachment data, once per SHA-2 (already stored: unchanged).
async fn insert_attachments<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    batch: &[&Prepared],
    now_ms: i64,
) -> Result<(), RecordError> {
    let data: std::collections::BTreeMap<&str, &AttachmentData> = batch
        .iter()
        .flat_map(|p| &p.attachments)
        .map(|a| (a.sha2.as_str(), a))
        .collect();
    if data.is_empty() {
        return Ok(());
    }
    let rows: Vec<store::NewAttachment<'_>> = data
        .values()
        .map(|a| store::NewAttachment {
            integration_id: &rules.integration_id,
            sha2: &a.sha2,
            content_type: &a.content_type,
            content: &a.content,
            stored_ms: now_ms,
        })
        .collect();
    tx.insert_attachments(&rows).await?;
    Ok(())
}
