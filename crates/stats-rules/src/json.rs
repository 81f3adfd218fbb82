//! Stored JSON written directly — a learner state (`state/json.rs`) and a
//! statement's learning event (`event.rs`), with the pieces here: one of
//! each is written for every statement, and through serde most of the cost
//! was the machinery around the values — every field name escaped byte by
//! byte, a state machine per field — not the values themselves. The text is exactly `serde_json::to_string`'s
//! (property-tested in `tests/properties.rs`; the serde derives stay what
//! reads it back): names are written as the literals they are, values go
//! through `serde_json` one by one (numbers, strings and the rarer kinds
//! exactly as it writes them), timestamps through `xapi_model::rfc3339` as
//! the serde glue does.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// What the writer does not write itself: a timestamp `time` refuses to
/// format (serde's error is the answer then) or a value `serde_json` fails on.
pub(crate) struct Unwritten;

impl From<serde_json::Error> for Unwritten {
    fn from(_: serde_json::Error) -> Self {
        Unwritten
    }
}

pub(crate) type Out = Vec<u8>;

/// `write`'s text for `v` when it writes it, serde's otherwise (the same
/// text, or serde's error).
pub(crate) fn written<T: Serialize>(
    capacity: usize,
    v: &T,
    write: impl FnOnce(&mut Out, &T) -> Result<(), Unwritten>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(capacity);
    if write(&mut out, v).is_ok() {
        if let Ok(text) = String::from_utf8(out) {
            return Ok(text);
        }
    }
    serde_json::to_string(v)
}

pub(crate) fn value<T: Serialize + ?Sized>(out: &mut Out, v: &T) -> Result<(), Unwritten> {
    serde_json::to_writer(out, v)?;
    Ok(())
}

/// A timestamp as the serde glue writes it (RFC 3339 needs no escaping).
pub(crate) fn time(out: &mut Out, t: OffsetDateTime) -> Result<(), Unwritten> {
    let text = xapi_model::rfc3339::format(t).ok_or(Unwritten)?;
    out.push(b'"');
    out.extend_from_slice(text.as_str().as_bytes());
    out.push(b'"');
    Ok(())
}

pub(crate) fn optional_time(out: &mut Out, t: Option<OffsetDateTime>) -> Result<(), Unwritten> {
    match t {
        Some(t) => time(out, t),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A UUID as its serde form writes it in JSON: hyphenated, lower case.
pub(crate) fn uuid(out: &mut Out, u: Uuid) {
    let mut buf = Uuid::encode_buffer();
    let text = u.hyphenated().encode_lower(&mut buf);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}
