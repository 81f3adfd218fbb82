//! RFC 3339 timestamps for serde, written exactly as `time::serde::rfc3339`
//! writes them, by `xapi_model::rfc3339` (no `time` formatter, no `String`
//! per value): a learner's state and statistics are serialized on every
//! statement the writer applies, with about a dozen timestamps each.
//! Reading goes through `time` unchanged.

use serde::{Deserializer, Serializer};
use time::OffsetDateTime;

pub fn serialize<S: Serializer>(t: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    match xapi_model::rfc3339::format(*t) {
        Some(text) => serializer.serialize_str(text.as_str()),
        // What `time` refuses, refused with its error.
        None => time::serde::rfc3339::serialize(t, serializer),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

pub mod option {
    use serde::{Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(
        t: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        time::serde::rfc3339::option::deserialize(deserializer)
    }
}
