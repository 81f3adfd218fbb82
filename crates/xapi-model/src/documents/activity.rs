//! The canonical Activity of the Activities resource (1.0.3 Comm. 2.5).

use serde_json::{Map, Value, json};

/// The properties of a definition whose values are language maps, merged per
/// language tag (1.0.3 Comm. 2.1.3.s4.b2: the LRS MAY maintain canonical
/// versions of language maps).
const LANGUAGE_MAPS: &[&str] = &["name", "description"];
/// Merged per key, the later value winning for a key in both.
const EXTENSIONS: &str = "extensions";

/// The canonical Activity (Activities resource) from the definitions seen,
/// oldest first (each a statement's `object.definition` JSON, or `null`):
/// `{"objectType":"Activity","id":..,"definition":{..}}`.
///
/// - `name`, `description`: language maps merged per language tag, a later
///   value winning for a tag in both; a tag is never lost.
/// - `extensions`: merged per key, later wins.
/// - every other property (type, moreInfo, interactionType,
///   correctResponsesPattern, choices/scale/source/target/steps, …): taken
///   whole from the latest definition that has it.
///
/// An entry that is not a JSON object (`null`: a statement without a
/// definition) is skipped, as is a language map or extensions value that is
/// not an object. No definition seen (or only empty ones) → only objectType
/// and id: 1.0.3 Comm. 2.5.s2.b1 "If an LRS does not have a canonical
/// definition of the Activity to return, the LRS SHOULD* still return an
/// Activity Object when queried" (9274.1.1 4.1.6.4: "shall").
pub fn canonical_activity(id: &str, definitions: &[Value]) -> Value {
    let mut merged = Map::new();
    for definition in definitions {
        let Value::Object(definition) = definition else {
            continue;
        };
        for (key, value) in definition {
            if LANGUAGE_MAPS.contains(&key.as_str()) || key == EXTENSIONS {
                let Value::Object(entries) = value else {
                    continue;
                };
                let slot = merged
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(target) = slot {
                    for (k, v) in entries {
                        target.insert(k.clone(), v.clone());
                    }
                }
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    let mut out = Map::new();
    out.insert("objectType".into(), json!("Activity"));
    out.insert("id".into(), json!(id));
    if !merged.is_empty() {
        out.insert("definition".into(), Value::Object(merged));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_seen() {
        let expected = json!({"objectType": "Activity", "id": "urn:x:1"});
        assert_eq!(canonical_activity("urn:x:1", &[]), expected);
        assert_eq!(
            canonical_activity("urn:x:1", &[Value::Null, json!({})]),
            expected
        );
    }

    #[test]
    fn merges_as_documented() {
        let defs = [
            json!({
                "name": {"en-US": "Old", "de-DE": "Alt"},
                "type": "http://adlnet.gov/expapi/activities/course",
                "moreInfo": "https://example.com/old",
                "extensions": {"urn:e:a": 1, "urn:e:b": 1},
            }),
            Value::Null,
            json!({
                "name": {"en-US": "New", "fr": "Nouveau"},
                "description": {"en-US": "About"},
                "type": "http://adlnet.gov/expapi/activities/module",
                "extensions": {"urn:e:b": 2},
                "interactionType": "choice",
                "choices": [{"id": "a", "description": {"en-US": "A"}}],
            }),
        ];
        assert_eq!(
            canonical_activity("https://example.com/act", &defs),
            json!({
                "objectType": "Activity",
                "id": "https://example.com/act",
                "definition": {
                    "name": {"en-US": "New", "de-DE": "Alt", "fr": "Nouveau"},
                    "description": {"en-US": "About"},
                    "type": "http://adlnet.gov/expapi/activities/module",
                    "moreInfo": "https://example.com/old",
                    "extensions": {"urn:e:a": 1, "urn:e:b": 2},
                    "interactionType": "choice",
                    "choices": [{"id": "a", "description": {"en-US": "A"}}],
                }
            })
        );
    }

    #[test]
    fn a_malformed_language_map_is_skipped() {
        let defs = [json!({"name": {"en": "A"}}), json!({"name": "B"})];
        assert_eq!(
            canonical_activity("urn:x:1", &defs)["definition"]["name"],
            json!({"en": "A"})
        );
    }
}
