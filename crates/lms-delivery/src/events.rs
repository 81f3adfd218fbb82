//! The change feed's events: their types, the filters a subscription selects
//! them with, and the envelope they are delivered in.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What changed. The string forms (`course.created`, …) are the `type` of the
/// envelope and what subscriptions filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A course (or learning path) record appeared.
    #[serde(rename = "course.created")]
    CourseCreated,
    /// Fields of an active course changed (`changed_fields` names them).
    #[serde(rename = "course.updated")]
    CourseUpdated,
    /// A course left the catalog (the provider dropped it, marked it
    /// inactive, or the integration was deactivated).
    #[serde(rename = "course.archived")]
    CourseArchived,
    /// An archived course is back (possibly with changed fields).
    #[serde(rename = "course.reactivated")]
    CourseReactivated,
    /// A learner's statistics on a course or a learning path were computed
    /// again; `data` is the whole new record.
    #[serde(rename = "statistic.updated")]
    StatisticUpdated,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::CourseCreated,
        EventType::CourseUpdated,
        EventType::CourseArchived,
        EventType::CourseReactivated,
        EventType::StatisticUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CourseCreated => "course.created",
            EventType::CourseUpdated => "course.updated",
            EventType::CourseArchived => "course.archived",
            EventType::CourseReactivated => "course.reactivated",
            EventType::StatisticUpdated => "statistic.updated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The group before the dot: `course` or `statistic`.
    pub fn group(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which event types a subscription receives: exact types (`course.created`),
/// groups (`course.*`), or everything (`*`). An empty filter is refused when
/// a subscription is created ([`crate::subscription`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter {
    patterns: Vec<String>,
}

impl TypeFilter {
    /// Checks every pattern; the error names the first one that selects no
    /// event type.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<TypeFilter, String> {
        let mut out: Vec<String> = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref().trim();
            let known = p == "*"
                || EventType::parse(p).is_some()
                || p.strip_suffix(".*")
                    .is_some_and(|g| EventType::ALL.iter().any(|t| t.group() == g));
            if !known {
                return Err(p.to_owned());
            }
            if !out.iter().any(|q| q == p) {
                out.push(p.to_owned());
            }
        }
        Ok(TypeFilter { patterns: out })
    }

    pub fn matches(&self, t: EventType) -> bool {
        self.patterns.iter().any(|p| {
            p == "*" || p == t.as_str() || p.strip_suffix(".*").is_some_and(|g| g == t.group())
        })
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A time in Unix milliseconds as RFC 3339 UTC, as `time` writes it (the
/// fraction without trailing zeros, as everywhere in the API); `None` for a
/// time outside the calendar.
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&Rfc3339).ok()
}

/// The envelope of one event, as the feed lists it and as a webhook's body:
/// `{"id", "seq", "type", "timestamp", "integration", "data"}`. `id` is the
/// event's id for receivers' idempotency (and the `webhook-id` header);
/// `data` is the new record, already JSON.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub id: &'a str,
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub timestamp: &'a str,
    pub integration: &'a str,
    pub data: &'a RawValue,
}

/// The id of the event at `seq` in a database whose outbox epoch is `epoch`
/// (a random value chosen when the outbox was created, so that ids of two
/// databases never collide in a receiver's idempotency store).
pub fn event_id(epoch: &str, seq: i64) -> String {
    format!("evt_{epoch}_{seq}")
}

/// The envelope as JSON text.
pub fn envelope(e: &Envelope<'_>) -> String {
    // Serializing borrowed strings and a raw value cannot fail.
    serde_json::to_string(e).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_through_their_names() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).expect("json"),
                format!("\"{}\"", t.as_str())
            );
        }
        assert_eq!(EventType::parse("course.deleted"), None);
    }

    #[test]
    fn filters_select_exact_types_groups_and_everything() {
        let f = TypeFilter::new(&["course.*", "statistic.updated"]).expect("valid");
        assert!(EventType::ALL.iter().all(|t| f.matches(*t)));
        let f = TypeFilter::new(&["course.archived"]).expect("valid");
        assert!(f.matches(EventType::CourseArchived));
        assert!(!f.matches(EventType::CourseCreated));
        assert!(!f.matches(EventType::StatisticUpdated));
        let f = TypeFilter::new(&["statistic.*"]).expect("valid");
        assert!(!f.matches(EventType::CourseCreated));
        assert!(f.matches(EventType::StatisticUpdated));
        assert!(
            TypeFilter::new(&["*"])
                .expect("valid")
                .matches(EventType::CourseUpdated)
        );
        assert_eq!(
            TypeFilter::new(&["course.*", "learner.*"]),
            Err("learner.*".into())
        );
        assert_eq!(TypeFilter::new(&["course"]), Err("course".into()));
        assert_eq!(TypeFilter::new(&["*.*"]), Err("*.*".into()));
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339_ms(1_796_621_699_123).as_deref(),
            Some("2026-12-07T05:34:59.123Z")
        );
    }

    #[test]
    fn the_envelope_carries_the_record_as_given() {
        let data = RawValue::from_string("{\"name\":\"Café\"}".into()).expect("raw");
        let text = envelope(&Envelope {
            id: &event_id("ab12", 7),
            seq: 7,
            event_type: EventType::CourseCreated.as_str(),
            timestamp: "2026-12-07T05:34:59.123Z",
            integration: "os-acme",
            data: &data,
        });
        assert_eq!(
            text,
            r#"{"id":"evt_ab12_7","seq":7,"type":"course.created","timestamp":"2026-12-07T05:34:59.123Z","integration":"os-acme","data":{"name":"Café"}}"#
        );
    }
}
