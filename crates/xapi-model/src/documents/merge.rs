//! The JSON merge of a POST on a document (1.0.3 Comm. 2.2.s7–s8; kept in
//! 9274.1.1 4.1.6.2, 4.1.6.5, 4.1.6.6).

use serde_json::{Map, Value};

/// Why a POST cannot merge (1.0.3 Comm. 2.2.s8.b1: "if either document cannot
/// be parsed as a JSON Object, the LRS MUST respond with HTTP status code
/// `400 Bad Request`, and MUST NOT update the target document").
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum MergeError {
    /// The stored document is not JSON, or is JSON but not an object.
    #[error(
        "the stored document is not a JSON object, so a POST cannot merge into it; PUT replaces it"
    )]
    StoredNotObject,
    /// The posted document is not JSON, or is JSON but not an object.
    #[error("the posted document is not a JSON object; a POST merges JSON objects only")]
    PostedNotObject,
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// POST on a document: both must be JSON objects; the result has every
/// top-level key of both, the posted value winning for a key in both. Returns
/// the merged JSON bytes.
///
/// 1.0.3 Comm. 2.2.s7: "for each property directly defined on the Object
/// being posted, set the corresponding property on the existing Object equal
/// to the value from the posted Object" (b2), "store any valid json
/// serialization of the existing Object" (b3); "only top-level properties are
/// merged, even if a top-level property is an Object". The stored document is
/// checked first: when both are bad, the stored one is named.
pub fn merge_json(stored: &[u8], posted: &[u8]) -> Result<Vec<u8>, MergeError> {
    let mut base = object(stored).ok_or(MergeError::StoredNotObject)?;
    let update = object(posted).ok_or(MergeError::PostedNotObject)?;
    for (key, value) in update {
        base.insert(key, value);
    }
    // A map of strings and JSON values always serializes.
    serde_json::to_vec(&Value::Object(base)).map_err(|_| MergeError::StoredNotObject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(a: &str, b: &str) -> Result<Value, MergeError> {
        merge_json(a.as_bytes(), b.as_bytes())
            .map(|bytes| serde_json::from_slice(&bytes).expect("valid JSON out"))
    }

    #[test]
    fn the_spec_example() {
        // 1.0.3 Comm. 2.2.s7's own example.
        assert_eq!(
            merged(r#"{"x":"foo","y":"bar"}"#, r#"{"x":"bash","z":"faz"}"#),
            Ok(json!({"x":"bash","y":"bar","z":"faz"}))
        );
    }

    #[test]
    fn top_level_only() {
        assert_eq!(
            merged(r#"{"a":{"b":1,"c":2}}"#, r#"{"a":{"b":3}}"#),
            Ok(json!({"a":{"b":3}}))
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(merged("[1]", "{}"), Err(MergeError::StoredNotObject));
        assert_eq!(merged("not json", "{}"), Err(MergeError::StoredNotObject));
        assert_eq!(merged("{}", "\"s\""), Err(MergeError::PostedNotObject));
        assert_eq!(merged("{}", "{\"a\":"), Err(MergeError::PostedNotObject));
        assert_eq!(merged("null", "null"), Err(MergeError::StoredNotObject));
    }
}
