//! The lookup step: what the store holds that a batch's plan depends on
//! ([`record_plan::Needs`] → [`record_plan::Facts`]), read in a few queries.

use record_plan::{Facts, IntegrationRules, NeededActivity, Needs, StoredFact};
use stats_rules::TargetKind;
use store::{Conn, CourseFields, Tx};

use crate::{RecordError, WriterCache};

/// Reads the facts `needs` names but the batch's own ids, taking the learners of identity keys from
/// `cache` where it has them (and keeping those it reads). A learning path
/// named for the first time is registered here (seed 001: providers' paths
/// are not in the catalog), since its course id is a fact the plan needs.
pub(crate) async fn lookup<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    needs: &Needs,
    now_ms: i64,
    mut cache: Option<&mut WriterCache>,
) -> Result<Facts, RecordError> {
    let mut facts = Facts::default();
    // Every learner of the batch the cache does not know, in one query.
    let mut unknown: Vec<String> = Vec::new();
    for k in &needs.learners {
        match cache.as_ref().and_then(|c| c.learner(k)) {
            Some(l) => {
                facts.learners.insert(k.clone(), Some(l));
            }
            None => unknown.push(k.clone()),
        }
    }
    let found = tx.learners_by_identities(&unknown).await?;
    for k in unknown {
        let l = found.get(&k).copied();
        if let (Some(cache), Some(l)) = (cache.as_deref_mut(), l) {
            cache.keep_learner(k.clone(), l);
        }
        facts.learners.insert(k, l);
    }
    for a in &needs.activities {
        let course = course_of(tx, rules, a, now_ms).await?;
        facts.courses.insert(a.activity.clone(), course);
    }
    // The batch's own ids are not read here: the insert finds those stored.
    if !needs.targets.is_empty() {
        learn_stored(tx, &mut facts, &needs.targets).await?;
    }
    if !needs.voidable.is_empty() {
        facts.voided_by_stored = tx
            .voided_targets(&rules.integration_id, &needs.voidable)
            .await?
            .into_iter()
            .collect();
    }
    Ok(facts)
}

/// The course an activity is matched to; a learning path not seen before is
/// registered.
pub(crate) async fn course_of<C: Conn>(
    tx: &mut Tx<'_, C>,
    rules: &IntegrationRules,
    a: &NeededActivity,
    now_ms: i64,
) -> Result<Option<i64>, RecordError> {
    if let Some(c) = tx
        .course_by_activity_id(&rules.integration_id, &a.activity)
        .await?
    {
        return Ok(Some(c.id));
    }
    if a.kind != TargetKind::Path {
        return Ok(None);
    }
    let fields = CourseFields {
        name: a.name.clone(),
        ..CourseFields::default()
    };
    let id = tx
        .upsert_course(
            &rules.integration_id,
            "path",
            &a.activity,
            &fields,
            false,
            "",
            now_ms,
        )
        .await?;
    tx.set_activity_ids(&rules.integration_id, id, std::slice::from_ref(&a.activity))
        .await?;
    crate::append_course_events(
        tx,
        &[crate::CourseChange::new(
            id,
            lms_delivery::EventType::CourseCreated,
        )],
        now_ms,
    )
    .await?;
    Ok(Some(id))
}

/// Adds the stored statements among `ids` to `facts`.
pub(crate) async fn learn_stored<C: Conn>(
    tx: &mut Tx<'_, C>,
    facts: &mut Facts,
    ids: &[String],
) -> Result<(), RecordError> {
    for s in tx.statements_by_id(ids).await? {
        facts.stored.insert(
            s.id,
            StoredFact {
                integration_id: s.integration_id,
                raw: s.raw,
                voids: s.voids,
                course_id: s.course_id,
                learner_id: s.learner_id,
            },
        );
    }
    Ok(())
}
