//! One event as the feed lists it and a webhook carries it.

use lms_delivery::events::{Envelope, event_id};
use serde_json::Value;
use serde_json::value::RawValue;
use store::FeedEvent;

/// A stored event whose data could not be made into an envelope.
#[derive(Debug, thiserror::Error)]
#[error("event {seq}: stored data is not a JSON object ({detail})")]
pub struct CorruptEvent {
    /// The event's `seq`.
    pub seq: i64,
    /// What is wrong with its data.
    pub detail: String,
}

/// The envelope's JSON: a statistic's data gets the identifiers the LMS
/// knows (`course`, `kind`, `learner`), read when the event is.
pub fn event_json(epoch: &str, e: &FeedEvent) -> Result<String, CorruptEvent> {
    let corrupt = |detail: String| CorruptEvent { seq: e.seq, detail };
    let data: Box<RawValue> = if e.event_type == "statistic.updated" {
        let mut map: serde_json::Map<String, Value> =
            serde_json::from_str(&e.data).map_err(|x| corrupt(x.to_string()))?;
        map.insert("course".into(), e.course_external_id.clone().into());
        map.insert("kind".into(), e.course_kind.clone().into());
        map.insert("learner".into(), e.learner_lms_id.clone().into());
        RawValue::from_string(Value::Object(map).to_string()).map_err(|x| corrupt(x.to_string()))?
    } else {
        RawValue::from_string(e.data.clone()).map_err(|x| corrupt(x.to_string()))?
    };
    let timestamp = lms_delivery::rfc3339_ms(e.at_ms).unwrap_or_default();
    Ok(lms_delivery::envelope(&Envelope {
        id: &event_id(epoch, e.seq),
        seq: e.seq,
        event_type: &e.event_type,
        timestamp: &timestamp,
        integration: &e.integration_id,
        data: &data,
    }))
}
