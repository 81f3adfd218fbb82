//! A learner state's JSON written directly (`crate::json`): the group writer
//! stores one per statement it applies.

use super::{Attempt, LearnerState, Outcome};
use crate::event::{EntryPoint, EventKey};
use crate::json::{Out, Unwritten, optional_time, time, uuid, value};

/// Room for a state with a few attempts without growing (a typical one is
/// 500 bytes).
const CAPACITY: usize = 1024;

impl LearnerState {
    /// The state as stored: exactly `serde_json::to_string(self)`, written
    /// directly (a fraction of serde's cost; the writer stores a state for
    /// every statement it applies). Read it back with serde.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        crate::json::written(CAPACITY, self, write_state)
    }
}

fn write_state(out: &mut Out, s: &LearnerState) -> Result<(), Unwritten> {
    out.extend_from_slice(b"{\"progress\":");
    value(out, &s.progress)?;
    out.extend_from_slice(b",\"score\":");
    value(out, &s.score)?;
    out.extend_from_slice(b",\"result\":");
    outcome(out, s.result);
    out.extend_from_slice(b",\"first_activity_at\":");
    optional_time(out, s.first_activity_at)?;
    out.extend_from_slice(b",\"last_activity_at\":");
    optional_time(out, s.last_activity_at)?;
    out.extend_from_slice(b",\"completed_at\":");
    optional_time(out, s.completed_at)?;
    out.extend_from_slice(b",\"launched_from_lms\":");
    out.extend_from_slice(if s.launched_from_lms {
        b"true"
    } else {
        b"false"
    });
    out.extend_from_slice(b",\"attempts\":[");
    for (i, a) in s.attempts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        attempt(out, a)?;
    }
    out.extend_from_slice(b"],\"override_\":");
    value(out, &s.override_)?;
    out.extend_from_slice(b",\"last_key\":");
    match &s.last_key {
        Some(k) => event_key(out, k)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"events\":");
    value(out, &s.events)?;
    out.push(b'}');
    Ok(())
}

fn attempt(out: &mut Out, a: &Attempt) -> Result<(), Unwritten> {
    out.extend_from_slice(b"{\"number\":");
    value(out, &a.number)?;
    out.extend_from_slice(b",\"entry\":");
    match &a.entry {
        EntryPoint::Catalog => out.extend_from_slice(b"\"catalog\""),
        EntryPoint::Unknown => out.extend_from_slice(b"\"unknown\""),
        EntryPoint::Path(p) => {
            out.extend_from_slice(b"{\"path\":");
            value(out, p)?;
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"started_at\":");
    time(out, a.started_at)?;
    out.extend_from_slice(b",\"completed_at\":");
    optional_time(out, a.completed_at)?;
    out.extend_from_slice(b",\"time_spent_ms\":");
    value(out, &a.time_spent_ms)?;
    out.extend_from_slice(b",\"score\":");
    value(out, &a.score)?;
    out.extend_from_slice(b",\"result\":");
    outcome(out, a.result);
    out.extend_from_slice(b",\"last_activity_at\":");
    time(out, a.last_activity_at)?;
    out.push(b'}');
    Ok(())
}

fn outcome(out: &mut Out, o: Option<Outcome>) {
    out.extend_from_slice(match o {
        None => b"null",
        Some(Outcome::Success) => b"\"success\"",
        Some(Outcome::Failed) => b"\"failed\"",
    });
}

fn event_key(out: &mut Out, k: &EventKey) -> Result<(), Unwritten> {
    out.push(b'[');
    time(out, k.0)?;
    out.push(b',');
    time(out, k.1)?;
    out.push(b',');
    uuid(out, k.2);
    out.push(b']');
    Ok(())
}
