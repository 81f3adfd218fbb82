//! Properties of `xapi_model::documents`: the POST merge, the ETag and the
//! canonical Activity keep their promises on generated inputs.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use xapi_model::documents::{canonical_activity, etag, merge_json};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(|n| json!(n)),
        ".{0,8}".prop_map(|s| json!(s)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-f]{1,2}", value(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn bytes(m: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(m).expect("serializes")
}

fn merge(a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
    let out = merge_json(&bytes(a), &bytes(b)).expect("objects merge");
    match serde_json::from_slice(&out).expect("valid JSON out") {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Three objects with no key in common: one generated map, keys dealt round-robin.
fn disjoint() -> impl Strategy<Value = [Map<String, Value>; 3]> {
    object().prop_map(|all| {
        let mut parts: [Map<String, Value>; 3] = Default::default();
        for (i, (k, v)) in all.into_iter().enumerate() {
            parts[i % 3].insert(k, v);
        }
        parts
    })
}

proptest! {
    #[test]
    fn merge_keeps_every_key_and_the_posted_value_wins(stored in object(), posted in object()) {
        let merged = merge(&stored, &posted);
        for (k, v) in &posted {
            prop_assert_eq!(merged.get(k), Some(v), "posted {} wins", k);
        }
        for (k, v) in &stored {
            if !posted.contains_key(k) {
                prop_assert_eq!(merged.get(k), Some(v), "stored {} kept", k);
            }
        }
        for k in merged.keys() {
            prop_assert!(stored.contains_key(k) || posted.contains_key(k), "{} came from nowhere", k);
        }
    }

    #[test]
    fn merging_disjoint_objects_is_associative_and_commutative([a, b, c] in disjoint()) {
        prop_assert_eq!(merge(&merge(&a, &b), &c), merge(&a, &merge(&b, &c)));
        prop_assert_eq!(merge(&a, &b), merge(&b, &a));
    }

    #[test]
    fn merging_with_the_empty_object_is_identity(a in object()) {
        let empty = Map::new();
        prop_assert_eq!(&merge(&a, &empty), &a);
        prop_assert_eq!(&merge(&empty, &a), &a);
    }

    #[test]
    fn a_non_object_never_merges(a in object(), v in leaf()) {
        let scalar = serde_json::to_vec(&v).expect("serializes");
        prop_assert!(merge_json(&bytes(&a), &scalar).is_err());
        prop_assert!(merge_json(&scalar, &bytes(&a)).is_err());
    }

    #[test]
    fn etag_is_stable_quoted_hex(content in prop::collection::vec(any::<u8>(), 0..64)) {
        let tag = etag(&content);
        prop_assert_eq!(&tag, &etag(&content.clone()));
        prop_assert_eq!(tag.len(), 42);
        prop_assert!(tag.starts_with('"') && tag.ends_with('"'));
        prop_assert!(tag[1..41].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn etag_differs_for_different_content(
        a in prop::collection::vec(any::<u8>(), 0..32),
        b in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(etag(&a), etag(&b));
    }

    /// Each definition's `name` (and `description`) is a language map over a
    /// few tags; in the canonical Activity every tag ever seen is present with
    /// the value of the latest definition that had it.
    #[test]
    fn canonical_language_maps_lose_no_tag_and_the_latest_wins(
        maps in prop::collection::vec(
            prop::option::of(prop::collection::btree_map(
                prop::sample::select(vec!["en", "en-US", "de-DE", "fr", "zh-Hant-TW"]),
                "[a-z]{0,6}",
                0..4,
            )),
            0..6,
        )
    ) {
        let definitions: Vec<Value> = maps
            .iter()
            .map(|m| match m {
                Some(m) => json!({"name": m, "description": m, "type": "urn:t:x"}),
                None => Value::Null,
            })
            .collect();
        let activity = canonical_activity("urn:a:1", &definitions);
        prop_assert_eq!(&activity["objectType"], "Activity");
        prop_assert_eq!(&activity["id"], "urn:a:1");
        let mut expected: Map<String, Value> = Map::new();
        for m in maps.iter().flatten() {
            for (tag, v) in m {
                expected.insert((*tag).to_owned(), json!(v));
            }
        }
        let any_definition = maps.iter().any(Option::is_some);
        prop_assert_eq!(activity.get("definition").is_some(), any_definition);
        if any_definition {
            prop_assert_eq!(&activity["definition"]["name"], &Value::Object(expected.clone()));
            prop_assert_eq!(&activity["definition"]["description"], &Value::Object(expected));
        }
    }
}
