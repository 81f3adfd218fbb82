//! A learner state's JSON written directly: the group writer stores one per
//! statement it applies, and through serde most of the cost was the
//! machinery around the values — every field name escaped byte by byte, a
//! state machine per field — not the values themselves. The text is exactly
//! `serde_json::to_string`'s (property-tested in `tests/properties.rs`; the
//! serde derive stays what reads it back): names are written as the literals
//! they are, values go through `serde_json` one by one (numbers, strings and
//! the rare override exactly as it writes them), timestamps through
//! `xapi_model::rfc3339` as the serde glue does.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Attempt, LearnerState, Outcome};
use crate::event::{EntryPoint, EventKey};

/// What the writer does not write itself: a timestamp `time` refuses to
/// format (serde's error is the answer then) or a value `serde_json` fails on.
struct Unwritten;

impl From<serde_json::Error> for Unwritten {
    fn from(_: serde_json::Error) -> Self {
        Unwritten
    }
}

type Out = Vec<u8>;

/// Room for a state with a few attempts without growing (a typical one is
/// 500 bytes).
const CAPACITY: usize = 1024;

pub(super) fn to_json(state: &LearnerState) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(CAPACITY);
    if write_state(&mut out, state).is_ok() {
        if let Ok(text) = String::from_utf8(out) {
            return Ok(text);
        }
    }
    serde_json::to_string(state)
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

fn value<T: serde::Serialize + ?Sized>(out: &mut Out, v: &T) -> Result<(), Unwritten> {
    serde_json::to_writer(out, v)?;
    Ok(())
}

fn outcome(out: &mut Out, o: Option<Outcome>) {
    out.extend_from_slice(match o {
        None => b"null",
        Some(Outcome::Success) => b"\"success\"",
        Some(Outcome::Failed) => b"\"failed\"",
    });
}

/// A timestamp as the serde glue writes it (RFC 3339 needs no escaping).
fn time(out: &mut Out, t: OffsetDateTime) -> Result<(), Unwritten> {
    let text = xapi_model::rfc3339::format(t).ok_or(Unwritten)?;
    out.push(b'"');
    out.extend_from_slice(text.as_str().as_bytes());
    out.push(b'"');
    Ok(())
}

fn optional_time(out: &mut Out, t: Option<OffsetDateTime>) -> Result<(), Unwritten> {
    match t {
        Some(t) => time(out, t),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A UUID as its serde form writes it in JSON: hyphenated, lower case.
fn uuid(out: &mut Out, u: Uuid) {
    let mut buf = Uuid::encode_buffer();
    let text = u.hyphenated().encode_lower(&mut buf);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}
