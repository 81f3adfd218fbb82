//! The plan of a batch, without a database: an in-memory log stands for the
//! store (it answers the lookup step's questions and applies plans the way
//! `records` does), so that what a plan decides can be checked against what
//! the final log says — whatever the order and grouping in which statements
//! arrive, and however often they are retried.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use record_plan::{
    Change, Derived, Facts, IntegrationRules, Needs, Outcome, Plan, PlanError, Prepared,
    StoredFact, plan_batch, prepare,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use xapi_model::{Account, Actor, Agent, Ifi};

const INTEGRATION: &str = "i";

fn rules() -> IntegrationRules {
    IntegrationRules::from_settings(INTEGRATION, "generic", &json!({})).expect("rules")
}

fn authority() -> Actor {
    Actor::Agent(Agent {
        name: None,
        ifi: Ifi::Account(Account {
            home_page: "https://lms.example.com".into(),
            name: "client".into(),
        }),
    })
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

/// Statement `n` of the pool: learner `n % 3` (learner 2 unknown), course
/// `n % 4` (course 3 unknown), completed or progressed.
fn learning(n: u128) -> serde_json::Value {
    json!({
        "id": id(n).to_string(),
        "actor": {"mbox": format!("mailto:learner{}@example.com", n % 3)},
        "verb": {"id": if n % 2 == 0 {
            "http://adlnet.gov/expapi/verbs/completed"
        } else {
            "http://adlnet.gov/expapi/verbs/progressed"
        }},
        "object": {"id": format!("https://provider.example.com/course{}", n % 4)},
        "result": {"completion": n % 2 == 0, "score": {"scaled": 0.5}},
        "timestamp": format!("2024-01-01T00:00:{:02}Z", n % 60),
    })
}

/// A voiding statement (id `1000 + target`) of statement `target`.
fn voiding(target: u128) -> serde_json::Value {
    json!({
        "id": id(1000 + target).to_string(),
        "actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": id(target).to_string()},
    })
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_730_000_000 + seconds).expect("in range")
}

fn prepared(v: &serde_json::Value, stored: OffsetDateTime) -> Prepared {
    let raw = v.to_string();
    let s = xapi_model::parse_statement(raw.as_bytes()).expect("a valid statement");
    prepare(s, raw, stored, Uuid::nil(), &authority(), "1.0.3")
        .and_then(|p| p.derive(&rules()))
        .expect("prepared")
}

/// One stored statement of the model log.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    fact: StoredFact,
    /// The learning event it gives its course and learner (its id).
    event: Option<Uuid>,
    voided: bool,
    /// The number of the batch that stored it.
    batch: usize,
    /// About an activity (not a voiding statement).
    learning: bool,
}

/// The store as a plan sees it: the log, the statistics kept incrementally
/// from plans (the ids of the events each (course, learner) counts), and
/// the catalog and learners (fixed).
#[derive(Debug, Default)]
struct Model {
    log: BTreeMap<String, Entry>,
    stats: BTreeMap<(i64, i64), BTreeSet<Uuid>>,
    parked: BTreeSet<String>,
    batches: usize,
}

/// Courses 0, 1 and 2 are in the catalog (ids 1, 2, 3); course 3 is not.
fn course_of(activity: &str) -> Option<i64> {
    let digit = activity.chars().last().and_then(|c| c.to_digit(10))?;
    (digit < 3).then_some(i64::from(digit) + 1)
}

fn learner_of(key: &str) -> Option<i64> {
    if key.contains("learner2") {
        None
    } else if key.contains("learner1") {
        Some(101)
    } else {
        Some(100)
    }
}

impl Model {
    /// The lookup step, answered from the model.
    fn facts(&self, batch: &[&Prepared], needs: &Needs) -> Facts {
        let mut facts = Facts::default();
        let ids = batch
            .iter()
            .filter_map(|p| p.statement.id.map(|id| id.to_string()));
        for id in needs.targets.iter().cloned().chain(ids) {
            if let Some(e) = self.log.get(&id) {
                facts.stored.insert(id, e.fact.clone());
            }
        }
        for id in needs.voidable.iter() {
            let voided = self.log.values().any(|e| {
                e.fact.integration_id == INTEGRATION && e.fact.voids.as_deref() == Some(id)
            });
            if voided {
                facts.voided_by_stored.insert(id.clone());
            }
        }
        for a in &needs.activities {
            facts
                .courses
                .insert(a.activity.clone(), course_of(&a.activity));
        }
        for k in &needs.learners {
            facts.learners.insert(k.clone(), learner_of(k));
        }
        facts
    }

    fn plan<'b>(
        &self,
        batch: &[&'b Prepared],
        derived: &'b [Cow<'b, Derived>],
    ) -> Result<Plan<'b>, PlanError> {
        let facts = self.facts(batch, &Needs::of(batch, derived));
        plan_batch(INTEGRATION, batch, derived, &facts)
    }

    /// The facts the executor reads before the insert: all but which of
    /// the batch's own ids are stored.
    fn facts_before_insert(&self, batch: &[&Prepared], needs: &Needs) -> Facts {
        let mut facts = self.facts(batch, needs);
        for p in batch {
            if let Some(id) = p.statement.id {
                facts.stored.remove(&id.to_string());
            }
        }
        facts
    }

    /// What `records` does with a plan.
    fn apply(&mut self, batch: &[&Prepared], plan: &Plan<'_>) {
        for i in &plan.inserts {
            let p = batch[i.index];
            let event = i.event.map(|_| p.statement.id.expect("an id"));
            let previous = self.log.insert(
                i.id.clone(),
                Entry {
                    fact: StoredFact {
                        integration_id: INTEGRATION.into(),
                        raw: p.raw.clone(),
                        voids: i.derived.voids.clone(),
                        course_id: i.course_id,
                        learner_id: i.learner_id,
                    },
                    event,
                    voided: false,
                    batch: self.batches,
                    learning: i.derived.learning.is_some(),
                },
            );
            assert!(previous.is_none(), "{} inserted twice", i.id);
        }
        for v in &plan.voids {
            let e = self
                .log
                .get_mut(v)
                .expect("a planned void names a stored statement");
            assert!(e.fact.voids.is_none(), "a voiding statement voided");
            e.voided = true;
        }
        for p in &plan.parks {
            self.parked.insert(p.statement_id.clone());
        }
        for (key, change) in &plan.touched {
            match change {
                Change::Append(events) => {
                    let counted = self.stats.entry(*key).or_default();
                    counted.extend(events.iter().map(|e| e.id));
                }
                Change::Rebuild => {
                    let fresh = self.refold(*key);
                    self.stats.insert(*key, fresh);
                }
            }
        }
    }

    /// The events a (course, learner) counts by the log alone.
    fn refold(&self, key: (i64, i64)) -> BTreeSet<Uuid> {
        self.log
            .values()
            .filter(|e| !e.voided && e.fact.course_id.zip(e.fact.learner_id) == Some(key))
            .filter_map(|e| e.event)
            .collect()
    }

    /// Plans and applies one batch; its outcomes.
    fn store(&mut self, batch: &[Prepared]) -> Result<Vec<Outcome>, PlanError> {
        let refs: Vec<&Prepared> = batch.iter().collect();
        let derived: Vec<Cow<'_, Derived>> = refs
            .iter()
            .map(|p| p.derived_for(&rules()))
            .collect::<Result<_, _>>()?;
        let plan = self.plan(&refs, &derived)?;
        self.apply(&refs, &plan);
        self.batches += 1;
        Ok(plan.outcomes)
    }
}

/// The pool: learning statements 0..12 and voiding statements of 0, 3, 5, 8.
fn pool() -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = (0..12).map(learning).collect();
    out.extend([0, 3, 5, 8].map(voiding));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever the order, grouping and repetition in which statements
    /// arrive: every statement is stored once, voided exactly when a voiding
    /// statement of it is stored, and the statistics kept from the plans
    /// alone equal a refold of the final log.
    #[test]
    fn plans_in_any_arrival_order_give_the_log_and_statistics_of_a_refold(
        picks in proptest::collection::vec(0usize..16, 1..40),
        cuts in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let pool = pool();
        let mut model = Model::default();
        let mut batch = Vec::new();
        for (n, &pick) in picks.iter().enumerate() {
            batch.push(prepared(&pool[pick], at(n as i64)));
            if cuts[n] || n + 1 == picks.len() {
                model.store(&batch).expect("no conflict in the pool");
                batch.clear();
            }
        }
        let sent: BTreeSet<String> = picks
            .iter()
            .map(|&p| pool[p]["id"].as_str().expect("id").to_owned())
            .collect();
        prop_assert_eq!(model.log.keys().cloned().collect::<BTreeSet<_>>(), sent);
        for (id, e) in &model.log {
            let voided_by = model
                .log
                .values()
                .any(|v| v.fact.voids.as_deref() == Some(id.as_str()));
            prop_assert_eq!(e.voided, voided_by && e.fact.voids.is_none(), "voided flag of {}", id);
        }
        // Parked: every statement about an activity that matches no course
        // or learner and is not voided (nothing is dropped silently), and
        // never one whose voiding statement came before or with it.
        for (id, e) in &model.log {
            let unmatched = e.learning && e.fact.course_id.zip(e.fact.learner_id).is_none();
            if unmatched && !e.voided {
                prop_assert!(model.parked.contains(id), "{} not parked", id);
            }
            let voided_on_arrival = model
                .log
                .values()
                .any(|v| v.fact.voids.as_deref() == Some(id.as_str()) && v.batch <= e.batch);
            if !unmatched || voided_on_arrival {
                prop_assert!(!model.parked.contains(id), "{} parked", id);
            }
        }
        let keys: BTreeSet<(i64, i64)> = model
            .log
            .values()
            .filter_map(|e| e.fact.course_id.zip(e.fact.learner_id))
            .chain(model.stats.keys().copied())
            .collect();
        for key in keys {
            prop_assert_eq!(
                model.stats.get(&key).cloned().unwrap_or_default(),
                model.refold(key),
                "statistics of {:?}", key
            );
        }
        // Which rows exist does not depend on the order either: one for
        // every (course, learner) with a learning statement, voided or not,
        // as `replay` writes them (`Tx::learning_targets`).
        let with_rows: BTreeSet<(i64, i64)> = model
            .log
            .values()
            .filter(|e| e.learning)
            .filter_map(|e| e.fact.course_id.zip(e.fact.learner_id))
            .collect();
        let rows: BTreeSet<(i64, i64)> = model.stats.keys().copied().collect();
        prop_assert_eq!(rows, with_rows, "statistics rows");
    }

    /// A batch planned again once its plan was applied (a sender's retry)
    /// changes nothing: every statement a duplicate, nothing to write.
    #[test]
    fn a_retried_batch_plans_nothing(
        picks in proptest::collection::vec(0usize..16, 1..20),
        earlier in proptest::collection::vec(0usize..16, 0..10),
    ) {
        let pool = pool();
        let mut model = Model::default();
        let first: Vec<Prepared> = earlier.iter().enumerate().map(|(n, &p)| prepared(&pool[p], at(n as i64))).collect();
        model.store(&first).expect("stored");
        let batch: Vec<Prepared> = picks.iter().enumerate().map(|(n, &p)| prepared(&pool[p], at(100 + n as i64))).collect();
        model.store(&batch).expect("stored");
        // The retry: stamped later, as the server stamps every request.
        let retry: Vec<Prepared> = picks.iter().enumerate().map(|(n, &p)| prepared(&pool[p], at(200 + n as i64))).collect();
        let refs: Vec<&Prepared> = retry.iter().collect();
        let derived: Vec<Cow<'_, Derived>> = refs.iter().map(|p| p.derived_for(&rules()).expect("derived")).collect();
        let plan = model.plan(&refs, &derived).expect("planned");
        prop_assert!(plan.outcomes.iter().all(|o| *o == Outcome::Duplicate), "{:?}", plan.outcomes);
        prop_assert!(plan.inserts.is_empty() && plan.voids.is_empty() && plan.parks.is_empty() && plan.touched.is_empty());
    }

    /// The executor reads which of a batch's ids are stored from the insert:
    /// planned without them, it learns those the insert found stored and
    /// plans again — which gives the plan of complete facts (or its error),
    /// with inserts among those already made.
    #[test]
    fn learning_stored_statements_at_the_insert_plans_as_complete_facts(
        earlier in proptest::collection::vec(0usize..16, 0..16),
        picks in proptest::collection::vec(0usize..16, 1..20),
    ) {
        let pool = pool();
        let mut model = Model::default();
        let first: Vec<Prepared> = earlier.iter().enumerate().map(|(n, &p)| prepared(&pool[p], at(n as i64))).collect();
        model.store(&first).expect("stored");
        let batch: Vec<Prepared> = picks.iter().enumerate().map(|(n, &p)| prepared(&pool[p], at(100 + n as i64))).collect();
        let refs: Vec<&Prepared> = batch.iter().collect();
        let derived: Vec<Cow<'_, Derived>> = refs.iter().map(|p| p.derived_for(&rules()).expect("derived")).collect();
        let needs = Needs::of(&refs, &derived);
        let complete = plan_batch(INTEGRATION, &refs, &derived, &model.facts(&refs, &needs));
        let mut partial = model.facts_before_insert(&refs, &needs);
        let learned = match plan_batch(INTEGRATION, &refs, &derived, &partial) {
            Ok(first_plan) => {
                let found: Vec<String> = first_plan.inserts.iter().map(|i| i.id.clone()).filter(|id| model.log.contains_key(id)).collect();
                if found.is_empty() {
                    Ok(first_plan)
                } else {
                    for id in &found {
                        partial.stored.insert(id.clone(), model.log[id].fact.clone());
                    }
                    let again = plan_batch(INTEGRATION, &refs, &derived, &partial);
                    if let Ok(again) = &again {
                        for i in &again.inserts {
                            prop_assert!(first_plan.inserts.iter().any(|f| f.id == i.id));
                        }
                    }
                    again
                }
            }
            Err(e) => Err(e),
        };
        prop_assert_eq!(learned, complete);
    }

    /// The plan does not depend on the order of the batch's slice: the same
    /// writes, and each statement its own outcome.
    #[test]
    fn a_batch_plans_the_same_in_any_order(
        picks in proptest::collection::vec(0usize..16, 1..20),
        seed in any::<u64>(),
    ) {
        let pool = pool();
        let model = Model::default();
        let batch: Vec<Prepared> = picks.iter().map(|&p| prepared(&pool[p], at(0))).collect();
        let mut shuffled: Vec<usize> = (0..batch.len()).collect();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a: Vec<&Prepared> = batch.iter().collect();
        let b: Vec<&Prepared> = shuffled.iter().map(|&i| &batch[i]).collect();
        let da: Vec<Cow<'_, Derived>> = a.iter().map(|p| p.derived_for(&rules()).expect("derived")).collect();
        let db: Vec<Cow<'_, Derived>> = b.iter().map(|p| p.derived_for(&rules()).expect("derived")).collect();
        let pa = model.plan(&a, &da).expect("planned");
        let pb = model.plan(&b, &db).expect("planned");
        let ids = |p: &Plan<'_>| p.inserts.iter().map(|i| (i.id.clone(), i.course_id, i.learner_id)).collect::<Vec<_>>();
        prop_assert_eq!(ids(&pa), ids(&pb));
        prop_assert_eq!(&pa.voids, &pb.voids);
        prop_assert_eq!(&pa.parks, &pb.parks);
        prop_assert_eq!(&pa.touched, &pb.touched);
        // The first copy of an id is stored, later copies are duplicates.
        let stored = |p: &Plan<'_>, order: &[usize]| {
            let mut seen = BTreeSet::new();
            order.iter().zip(&p.outcomes).map(|(&i, o)| {
                let first = seen.insert(picks[i]);
                (first, *o == Outcome::Duplicate)
            }).filter(|(first, dup)| first == dup).count()
        };
        let identity: Vec<usize> = (0..batch.len()).collect();
        prop_assert_eq!(stored(&pa, &identity), 0);
        prop_assert_eq!(stored(&pb, &shuffled), 0);
    }
}

#[test]
fn unmatched_statements_are_parked_with_what_is_unknown() {
    let mut model = Model::default();
    // 2: learner 2 (unknown), course 2; 3: learner 0, course 3 (unknown);
    // 11: learner 2, course 3.
    let batch: Vec<Prepared> = [2, 3, 11, 4]
        .map(|n| prepared(&learning(n), at(0)))
        .to_vec();
    let outcomes = model.store(&batch).expect("stored");
    let reasons: Vec<Option<String>> = outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Stored { parked } => parked,
            Outcome::Duplicate => panic!("not a retry"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            Some("unknown-learner".to_owned()),
            Some("unknown-course".to_owned()),
            Some("unknown-course,unknown-learner".to_owned()),
            None,
        ]
    );
    assert_eq!(model.parked.len(), 3);
    // Stored without a target or an event; the matched one counted.
    assert_eq!(model.log[&id(2).to_string()].fact.course_id, None);
    assert_eq!(model.log[&id(2).to_string()].event, None);
    assert_eq!(model.stats.values().map(BTreeSet::len).sum::<usize>(), 1);
}

#[test]
fn a_statement_voided_before_it_arrives_is_stored_voided_and_not_counted() {
    let mut model = Model::default();
    model
        .store(&[prepared(&voiding(4), at(0))])
        .expect("voiding first");
    let outcomes = model
        .store(&[prepared(&learning(4), at(1))])
        .expect("then its target");
    assert_eq!(outcomes, [Outcome::Stored { parked: None }]);
    assert!(model.log[&id(4).to_string()].voided);
    assert!(model.stats.values().all(BTreeSet::is_empty));
}

#[test]
fn voiding_a_counted_statement_refolds_its_statistics() {
    let mut model = Model::default();
    model
        .store(&[prepared(&learning(4), at(0))])
        .expect("target");
    assert_eq!(model.stats.values().map(BTreeSet::len).sum::<usize>(), 1);
    let refs = [prepared(&voiding(4), at(1))];
    let r: Vec<&Prepared> = refs.iter().collect();
    let derived: Vec<Cow<'_, Derived>> = r
        .iter()
        .map(|p| p.derived_for(&rules()).expect("derived"))
        .collect();
    let plan = model.plan(&r, &derived).expect("planned");
    assert_eq!(plan.voids, [id(4).to_string()]);
    assert!(plan.touched.values().all(|c| *c == Change::Rebuild));
    assert_eq!(plan.touched.len(), 1);
}

#[test]
fn a_different_statement_under_a_stored_id_is_a_conflict() {
    let mut model = Model::default();
    model
        .store(&[prepared(&learning(4), at(0))])
        .expect("stored");
    let mut other = learning(4);
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/attempted");
    assert_eq!(
        model.store(&[prepared(&other, at(1))]),
        Err(PlanError::Conflict { id: id(4) })
    );
    // Nor is another integration's statement a retry.
    let mut foreign = Model::default();
    foreign.log.insert(
        id(4).to_string(),
        Entry {
            fact: StoredFact {
                integration_id: "another".into(),
                raw: learning(4).to_string(),
                voids: None,
                course_id: None,
                learner_id: None,
            },
            event: None,
            voided: false,
            batch: 0,
            learning: true,
        },
    );
    assert_eq!(
        foreign.store(&[prepared(&learning(4), at(1))]),
        Err(PlanError::Conflict { id: id(4) })
    );
}

#[test]
fn two_different_statements_with_one_id_in_a_batch_are_refused() {
    let mut other = learning(4);
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/attempted");
    let batch = [prepared(&learning(4), at(0)), prepared(&other, at(0))];
    assert_eq!(
        Model::default().store(&batch),
        Err(PlanError::BatchConflict { id: id(4) })
    );
    // The same statement twice is one statement and a duplicate.
    let same = [prepared(&learning(4), at(0)), prepared(&learning(4), at(0))];
    assert_eq!(
        Model::default().store(&same).expect("stored"),
        [Outcome::Stored { parked: None }, Outcome::Duplicate]
    );
}

#[test]
fn voiding_a_voiding_statement_is_refused() {
    let mut model = Model::default();
    model
        .store(&[prepared(&voiding(4), at(0))])
        .expect("voiding");
    // Statement 2004 voids statement 1004, the voiding statement of 4.
    assert_eq!(
        model.store(&[prepared(&voiding(1004), at(1))]),
        Err(PlanError::VoidsVoiding {
            id: id(2004),
            target: id(1004)
        })
    );
}

/// An activity is a learning path if any statement of the batch says so: the
/// lookup registers it under the name that statement gives it, whatever came
/// before it in the batch.
#[test]
fn a_path_named_by_any_statement_of_the_batch_is_registered_as_a_path() {
    let untyped = json!({
        "id": id(500).to_string(),
        "actor": {"mbox": "mailto:learner0@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/progressed"},
        "object": {"id": "https://provider.example.com/path/7"},
        "timestamp": "2024-01-01T00:00:00Z",
    });
    let mut typed = untyped.clone();
    typed["id"] = json!(id(501).to_string());
    typed["object"]["definition"] = json!({
        "type": "http://example.com/activities/learning-path",
        "name": {"en-US": "Path seven"},
    });
    let batch = [prepared(&untyped, at(0)), prepared(&typed, at(1))];
    let refs: Vec<&Prepared> = batch.iter().collect();
    let derived: Vec<Cow<'_, Derived>> = refs
        .iter()
        .map(|p| p.derived_for(&rules()).expect("derived"))
        .collect();
    let needs = Needs::of(&refs, &derived);
    assert_eq!(needs.activities.len(), 1);
    assert_eq!(needs.activities[0].kind, stats_rules::TargetKind::Path);
    assert_eq!(needs.activities[0].name, "Path seven");
    // A slice of derivations that does not match the batch is refused.
    assert!(matches!(
        plan_batch(INTEGRATION, &refs, &derived[..1], &Facts::default()),
        Err(PlanError::Corrupt(_))
    ));
}
