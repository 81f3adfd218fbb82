//! Which learners' statistics a batch changed, and how to bring each up to
//! date: by applying new events to the stored state, or by folding the whole
//! log again.

use std::collections::BTreeMap;

use stats_rules::{Event, LearnerState, Rules};

/// How a learner's statistics on a course must be brought up to date.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// New events, to apply to the stored state when they all sort after it.
    Append(Vec<Event>),
    /// Something was removed or is out of order: fold the whole log again.
    Rebuild,
}

/// The (course, learner) pairs whose statistics a batch changed, and how;
/// in key order, the order in which their locks are taken.
pub type Touched = BTreeMap<(i64, i64), Change>;

/// Adds the changes of `from` to `into`, by the rules of [`touch`].
pub fn merge(into: &mut Touched, from: Touched) {
    for (key, change) in from {
        match change {
            Change::Append(events) if events.is_empty() => {
                into.entry(key)
                    .or_insert_with(|| Change::Append(Vec::new()));
            }
            Change::Append(events) => {
                for e in events {
                    touch(into, key, Some(e));
                }
            }
            Change::Rebuild => touch(into, key, None),
        }
    }
}

/// Records a change for a target: a new event, or (`None`) a rebuild, which
/// absorbs everything else.
pub fn touch(touched: &mut Touched, key: (i64, i64), event: Option<Event>) {
    let entry = touched
        .entry(key)
        .or_insert_with(|| Change::Append(Vec::new()));
    match (entry, event) {
        (Change::Append(events), Some(e)) => events.push(e),
        (c @ Change::Append(_), None) => *c = Change::Rebuild,
        (Change::Rebuild, _) => {}
    }
}

/// The state after `change`, when it can be had from `state` alone: every
/// new event sorts after it (the live case). `None` when the whole log must
/// be folded again (a rebuild, or an event earlier than the state).
pub fn advance(mut state: LearnerState, change: &Change, rules: &Rules) -> Option<LearnerState> {
    let Change::Append(events) = change else {
        return None;
    };
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.key());
    // `apply` refuses an event that sorts before the state.
    sorted
        .into_iter()
        .all(|e| state.apply(e, rules).is_ok())
        .then_some(state)
}
