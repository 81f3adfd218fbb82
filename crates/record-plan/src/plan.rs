//! What storing one integration's batch does, decided from the batch and the
//! facts the store holds about it: [`Needs::of`] says what to read,
//! [`plan_batch`] turns the batch and those [`Facts`] into a [`Plan`] — the
//! statements to insert, the statements to mark voided, the statements to
//! park, the statistics to bring up to date and each statement's outcome.
//! Nothing here reads or writes: the executor (`records`) reads the facts in
//! one lookup step and applies the plan in the caller's transaction.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use stats_rules::TargetKind;
use uuid::Uuid;
use xapi_model::ApiVersion;

use crate::prepared::{Derived, Learning, Prepared};
use crate::{PlanError, Touched, touch};

/// What happened to one statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; applied to statistics unless parked (with the reason).
    Stored { parked: Option<String> },
    /// Already stored with the same content (a sender's retry): nothing changed.
    Duplicate,
}

/// A statement already in the log, as far as a plan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFact {
    pub integration_id: String,
    /// The statement as it was received (compared with a retry's).
    pub raw: String,
    /// The statement it voids, when it is a voiding statement.
    pub voids: Option<String>,
    pub course_id: Option<i64>,
    pub learner_id: Option<i64>,
}

/// What the store holds that a batch's plan depends on, read in one lookup
/// step before planning (see [`Needs`] for what to read).
///
/// `stored` may leave out the batch's own ids: a batch is
/// mostly new statements, and the insert itself finds those already stored.
/// The executor then adds them ([`StoredFact`]) and plans again: the plan of
/// the completed facts is the plan of complete facts, and its inserts are
/// among those already made (`tests/plan.rs`,
/// `learning_stored_statements_at_the_insert_plans_as_complete_facts`).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Stored statements among [`Needs::targets`] (and any of the batch's
    /// own ids known to be stored), by id.
    pub stored: HashMap<String, StoredFact>,
    /// Which of [`Needs::voidable`] a stored voiding statement of the same
    /// integration refers to (they are stored voided: xAPI 1.0.3 Data 2.3.2).
    pub voided_by_stored: HashSet<String>,
    /// The course of each of [`Needs::activities`] (normalized activity id);
    /// `None` for an unknown course. The lookup registers a learning path the
    /// first time a statement names it (seed 001), so a path is never unknown.
    pub courses: HashMap<String, Option<i64>>,
    /// The learner each of [`Needs::learners`] (identity key) maps to.
    pub learners: HashMap<String, Option<i64>>,
}

/// An activity a batch names, with what registering it as a learning path
/// takes (the first statement's name for it, in write order).
#[derive(Debug, Clone, PartialEq)]
pub struct NeededActivity {
    /// Normalized by the integration's rules.
    pub activity: String,
    pub kind: TargetKind,
    /// The name of a path registered on first sight (its definition's
    /// English name, else its id).
    pub name: String,
}

impl NeededActivity {
    /// The activity a learning statement is about.
    pub fn of(learning: &Learning, activity: &xapi_model::Activity) -> Self {
        let name = activity
            .definition
            .as_ref()
            .and_then(|d| d.name.as_ref())
            .and_then(|n| n.best(&["en-US", "en"]))
            .unwrap_or(&activity.id);
        NeededActivity {
            activity: learning.activity.clone(),
            kind: learning.kind,
            name: name.to_owned(),
        }
    }
}

/// What the lookup step reads for a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The targets of the batch's voiding statements (not among its ids:
    /// which of those are stored is learned from the insert, see [`Facts`]).
    pub targets: Vec<String>,
    /// Ids of statements in the batch that are not voiding statements: those
    /// a stored voiding statement may already refer to.
    pub voidable: Vec<String>,
    /// Activities the batch's learning statements are about, each once, in
    /// write order.
    pub activities: Vec<NeededActivity>,
    /// Identity keys of the batch's actors, each once, in key order.
    pub learners: Vec<String>,
}

/// The order statements are written in: `stored` (the order requests were
/// queued in, on the server), then id within a request.
fn write_order(batch: &[&Prepared]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| {
        (
            batch[i].statement.stored.map(|t| t.0),
            batch[i].statement.id,
        )
    });
    order
}

impl Needs {
    /// What planning `batch` (with its `derived` facts, one per statement)
    /// needs to know of the store.
    pub fn of(batch: &[&Prepared], derived: &[Cow<'_, Derived>]) -> Self {
        let mut needs = Needs::default();
        let mut ids = HashSet::with_capacity(batch.len());
        let mut targets = Vec::new();
        let mut activities: HashMap<&str, usize> = HashMap::new();
        let mut learners = std::collections::BTreeSet::new();
        for i in write_order(batch) {
            let Some(d) = derived.get(i) else { continue };
            let s = &batch[i].statement;
            if let Some(id) = s.id.map(|id| id.to_string()) {
                // A repeat has its first copy's content: voiding or not alike.
                if ids.insert(id.clone()) && d.voids.is_none() {
                    needs.voidable.push(id);
                }
            }
            if let Some(target) = &d.voids {
                targets.push(target.clone());
            }
            if let Some(key) = &d.actor_key {
                learners.insert(key.as_str());
            }
            if let (Some(learning), Some(activity)) = (&d.learning, s.activity()) {
                match activities.get(learning.activity.as_str()) {
                    None => {
                        activities.insert(learning.activity.as_str(), needs.activities.len());
                        needs
                            .activities
                            .push(NeededActivity::of(learning, activity));
                    }
                    // A learning path is registered by any statement that
                    // says it is one (the first such, in write order, names it).
                    Some(&at)
                        if learning.kind == TargetKind::Path
                            && needs.activities[at].kind != TargetKind::Path =>
                    {
                        needs.activities[at] = NeededActivity::of(learning, activity);
                    }
                    Some(_) => {}
                }
            }
        }
        needs.learners = learners.into_iter().map(str::to_owned).collect();
        targets.sort_unstable();
        targets.dedup();
        targets.retain(|t| !ids.contains(t));
        needs.targets = targets;
        needs
    }
}

/// One statement to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert<'b> {
    /// Its place in the batch.
    pub index: usize,
    pub id: String,
    /// Its course and learner, when both are known (else neither is set).
    pub course_id: Option<i64>,
    pub learner_id: Option<i64>,
    /// The learning event it gives them (JSON), when both are known.
    pub event: Option<&'b str>,
    pub derived: &'b Derived,
}

/// A statement to park until its course or learner is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Park {
    pub statement_id: String,
    /// `unknown-course`, `unknown-learner`, or both joined by a comma.
    pub reason: String,
    /// What is unknown: the activity, the learner's identity key.
    pub detail: String,
}

/// What storing a batch does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'b> {
    /// Each statement's outcome, in the batch's order.
    pub outcomes: Vec<Outcome>,
    /// New statements, in write order.
    pub inserts: Vec<Insert<'b>>,
    /// Statements to mark voided (new ones a voiding statement refers to,
    /// and the targets of new voiding statements), each once.
    pub voids: Vec<String>,
    /// New statements that match no course or no learner yet.
    pub parks: Vec<Park>,
    /// The statistics the batch changes.
    pub touched: Touched,
}

/// Why a statement about an activity is parked, if it is: the course or the
/// learner (or both) unknown. `None` when both are known.
pub fn pending_reason(
    course: Option<i64>,
    learner: Option<i64>,
    activity: &str,
    learner_key: Option<&str>,
) -> Option<(String, String)> {
    let mut reasons = Vec::new();
    let mut details = Vec::new();
    if course.is_none() {
        reasons.push("unknown-course");
        details.push(format!("activity {activity}"));
    }
    if learner.is_none() {
        reasons.push("unknown-learner");
        details.push(match learner_key {
            Some(k) => format!("learner {k}"),
            None => "learner: anonymous group".to_owned(),
        });
    }
    (!reasons.is_empty()).then(|| (reasons.join(","), details.join("; ")))
}

/// "Same id, same content?" on two statements as received (their `raw`
/// text): xAPI's comparison rules (`xapi_model::compare`) under the request
/// version `api`, so that a sender's retry is recognised even when it
/// differs only where an LRS may (a timestamp we set, the timestamp's
/// offset, an Activity's definition, …). The `authority` each came with is
/// not compared, and is not read again: a statement stored before the
/// authority rule (xAPI Data 2.4.9) was checked still compares.
pub fn same_content(a: &str, b: &str, api: ApiVersion) -> Result<bool, PlanError> {
    if a == b {
        return Ok(true);
    }
    let parse = |raw: &str| {
        let corrupt =
            |e: String| PlanError::Corrupt(format!("a stored statement does not parse again: {e}"));
        let mut v: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| corrupt(e.to_string()))?;
        if let Some(m) = v.as_object_mut() {
            m.remove("authority");
        }
        xapi_model::statement_from_value(v).map_err(|e| {
            corrupt(
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    };
    Ok(xapi_model::compare::same_statement(
        &parse(a)?,
        &parse(b)?,
        api,
    ))
}

/// A statement of the batch that is not a repeat of an earlier one in it.
struct Row<'b> {
    index: usize,
    uuid: Uuid,
    id: String,
    derived: &'b Derived,
    /// Its learning side: (course, learner) as resolved, and the learning.
    learning: Option<(Option<i64>, Option<i64>, &'b Learning)>,
    /// Already stored (a retry): nothing of it is written.
    stored: bool,
}

impl Row<'_> {
    /// Its course and learner when both are known.
    fn target(&self) -> Option<(i64, i64)> {
        match self.learning {
            Some((Some(c), Some(l), _)) => Some((c, l)),
            _ => None,
        }
    }
}

/// Plans storing `batch`, one integration's statements (`derived` is what
/// each needs, [`Prepared::derived_for`]), given what the store holds.
///
/// The batch is all or nothing: an error refuses the whole of it. Errors:
/// two different statements with one id in the batch
/// ([`PlanError::BatchConflict`]), a voiding statement whose target is itself
/// a voiding statement ([`PlanError::VoidsVoiding`]), a statement whose id is
/// stored with other content or by another integration
/// ([`PlanError::Conflict`]).
pub fn plan_batch<'b>(
    integration_id: &str,
    batch: &[&'b Prepared],
    derived: &'b [Cow<'b, Derived>],
    facts: &Facts,
) -> Result<Plan<'b>, PlanError> {
    if derived.len() != batch.len() {
        return Err(PlanError::Corrupt(format!(
            "{} statements with {} derivations",
            batch.len(),
            derived.len()
        )));
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    let stored_here = |id: &str| {
        facts
            .stored
            .get(id)
            .filter(|t| t.integration_id == integration_id)
    };

    // 1. Each statement once: repeats in the batch, voiding rules, resolution.
    let mut first: HashMap<Uuid, usize> = HashMap::with_capacity(batch.len());
    let mut rows: Vec<Row<'b>> = Vec::with_capacity(batch.len());
    for i in write_order(batch) {
        let s = &batch[i].statement;
        let id = s.id.ok_or_else(|| {
            PlanError::Corrupt("statement without id: call prepare() first".into())
        })?;
        if let Some(&prev) = first.get(&id) {
            if !same_content(&batch[prev].raw, &batch[i].raw, batch[i].api)? {
                return Err(PlanError::BatchConflict { id });
            }
            outcomes[i] = Some(Outcome::Duplicate);
            continue;
        }
        first.insert(id, i);
        let d: &'b Derived = &derived[i];
        if let (Some(target), Some(t)) = (s.voided_target(), d.voids.as_deref()) {
            // Another integration's statement is not there for this one.
            if stored_here(t).is_some_and(|t| t.voids.is_some()) {
                return Err(PlanError::VoidsVoiding { id, target });
            }
        }
        let learning = match (&d.learning, s.activity()) {
            (Some(learning), Some(_)) => Some((
                facts.courses.get(&learning.activity).copied().flatten(),
                d.actor_key
                    .as_ref()
                    .and_then(|k| facts.learners.get(k).copied().flatten()),
                learning,
            )),
            _ => None,
        };
        let uuid = id;
        let id = id.to_string();
        let stored = facts.stored.contains_key(&id);
        rows.push(Row {
            index: i,
            uuid,
            id,
            derived: d,
            learning,
            stored,
        });
    }

    // 2. Retries: the same content under the same integration, or a conflict.
    for r in rows.iter().filter(|r| r.stored) {
        let existing = &facts.stored[&r.id];
        // Statement ids are unique across integrations; another
        // integration's statement is never this one's retry.
        if existing.integration_id != integration_id
            || !same_content(&existing.raw, &batch[r.index].raw, batch[r.index].api)?
        {
            return Err(PlanError::Conflict { id: r.uuid });
        }
        outcomes[r.index] = Some(Outcome::Duplicate);
    }

    // 3. New statements: inserted; voided on arrival, voiding, applied or parked.
    let inserts: Vec<Insert<'b>> = rows
        .iter()
        .filter(|r| !r.stored)
        .map(|r| {
            let target = r.target();
            Insert {
                index: r.index,
                id: r.id.clone(),
                course_id: target.map(|(c, _)| c),
                learner_id: target.map(|(_, l)| l),
                event: target
                    .and(r.learning)
                    .map(|(_, _, learning)| learning.event_json.as_str()),
                derived: r.derived,
            }
        })
        .collect();
    // Targets of the batch's new voiding statements.
    let voided_here: HashSet<&str> = rows
        .iter()
        .filter(|r| !r.stored)
        .filter_map(|r| r.derived.voids.as_deref())
        .collect();
    let in_batch: HashMap<&str, &Row<'b>> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut voids: Vec<String> = Vec::new();
    let mut voided: HashSet<String> = HashSet::new();
    let mut parks = Vec::new();
    let mut touched = Touched::new();
    for r in rows.iter().filter(|r| !r.stored) {
        let voiding = r.derived.voids.as_deref();
        if voiding.is_none()
            && (facts.voided_by_stored.contains(&r.id) || voided_here.contains(r.id.as_str()))
        {
            // Voided before it arrived: stored voided, never applied.
            if voided.insert(r.id.clone()) {
                voids.push(r.id.clone());
            }
            // Its learner's statistics are rebuilt all the same, as when
            // the void comes after it (or in its batch) and as `replay`
            // does: whatever the order, a learner with a learning
            // statement on a course has a statistics row, empty when all
            // of them are voided (issue 32, item 3).
            if r.learning.is_some()
                && let Some(key) = r.target()
            {
                touch(&mut touched, key, None);
            }
            outcomes[r.index] = Some(Outcome::Stored { parked: None });
            continue;
        }
        if let Some(target) = voiding {
            // The target as the log holds it once the batch is in: a
            // statement of this integration that is not itself voiding.
            let found = match in_batch.get(target) {
                Some(t) if t.stored => stored_here(target)
                    .filter(|s| s.voids.is_none())
                    .map(|s| s.course_id.zip(s.learner_id)),
                Some(t) => t.derived.voids.is_none().then(|| t.target()),
                None => stored_here(target)
                    .filter(|s| s.voids.is_none())
                    .map(|s| s.course_id.zip(s.learner_id)),
            };
            if let Some(counted) = found {
                if voided.insert(target.to_owned()) {
                    voids.push(target.to_owned());
                }
                if let Some(key) = counted {
                    touch(&mut touched, key, None);
                }
            }
        }
        let parked = match (r.learning, r.target()) {
            (Some((_, _, learning)), Some(key)) => {
                touch(&mut touched, key, Some(learning.event.clone()));
                None
            }
            (Some((course, learner, learning)), None) => pending_reason(
                course,
                learner,
                &learning.activity,
                r.derived.actor_key.as_deref(),
            )
            .map(|(reason, detail)| {
                parks.push(Park {
                    statement_id: r.id.clone(),
                    reason: reason.clone(),
                    detail,
                });
                reason
            }),
            (None, _) => None,
        };
        outcomes[r.index] = Some(Outcome::Stored { parked });
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| PlanError::Corrupt("a statement was not planned".into())))
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        outcomes,
        inserts,
        voids,
        parks,
        touched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = r#"{"id":"6f1c2d9e-4a2b-4c1e-9d3a-1b2c3d4e5f60","actor":{"mbox":"mailto:ada@example.com"},
        "verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://x.example.com/c/1"},
        "result":{"duration":"PT10.5S"},
        "authority":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"},{"mbox":"mailto:b@example.com"},{"mbox":"mailto:c@example.com"}]}}"#;

    /// A statement stored with an authority the rule now refuses (three
    /// members) is still compared with its retry; the retry's version
    /// decides how durations compare.
    #[test]
    fn retries_compare_by_the_request_version_whatever_the_stored_authority() {
        let retry = STORED.replace(r#""PT10.5S""#, r#""PT10.504S""#);
        assert_eq!(
            same_content(STORED, &retry, ApiVersion::V2_0).ok(),
            Some(true)
        );
        assert_eq!(
            same_content(STORED, &retry, ApiVersion::V1_0).ok(),
            Some(false)
        );
        let other = STORED.replace("c/1", "c/2");
        assert_eq!(
            same_content(STORED, &other, ApiVersion::V2_0).ok(),
            Some(false)
        );
    }
}
