//! Rules on a statements request as a whole, before and after its
//! statements are parsed one by one: how deep its JSON may nest
//! ([`json_depth_exceeds`], checked before any parsing), and whether a batch
//! may hold one statement id twice ([`duplicate_id`]).

use uuid::Uuid;

use crate::ApiVersion;

/// Whether a JSON text nests deeper than `max` (arrays and objects, outside
/// strings); stops counting past `max`. Strings are skipped to their next
/// quote or backslash at a time (`memchr`): most of a statement's bytes are
/// in strings. An unterminated string ends the count (the parser says what
/// is wrong with it).
pub fn json_depth_exceeds(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // To the closing quote: a backslash escapes the byte after it.
                i += 1;
                loop {
                    let Some(k) = bytes
                        .get(i..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        // An unterminated string: the parser says so.
                        return false;
                    };
                    i += k;
                    if bytes.get(i) == Some(&b'"') {
                        break;
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// A batch that holds one statement id twice, under xAPI 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "statement {index}: id {id} is also the id of statement {first} of this request (xAPI 2.0: a batch holds each id once)"
)]
pub struct DuplicateId {
    /// The later statement's index in the batch.
    pub index: usize,
    /// The index of the first statement with that id.
    pub first: usize,
    /// The repeated id.
    pub id: Uuid,
}

/// xAPI 2.0's rule on ids within one batch: IEEE 9274.1.1 (xAPI 2.0) 4.1.6.1,
/// a batch with an id twice "shall" be rejected — the first repeated id is
/// the answer. Under 1.0.x (a SHOULD*) a batch may repeat an id: the same
/// statement twice is one statement, so that a sender's queue that repeats
/// one is not refused for ever; with different content it is refused either
/// way when the batch is stored (`records`' `BatchConflict`). Statements
/// without an id (the LRS gives them one) never collide.
pub fn duplicate_id(
    ids: impl IntoIterator<Item = Option<Uuid>>,
    api: ApiVersion,
) -> Result<(), DuplicateId> {
    if api != ApiVersion::V2_0 {
        return Ok(());
    }
    let mut seen = std::collections::HashMap::new();
    for (index, id) in ids.into_iter().enumerate() {
        if let Some(id) = id {
            if let Some(first) = seen.insert(id, index) {
                return Err(DuplicateId { index, first, id });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::{DuplicateId, duplicate_id, json_depth_exceeds};
    use crate::ApiVersion;

    /// The depth check as a byte-by-byte state machine, the oracle.
    fn exceeds_bytewise(bytes: &[u8], max: usize) -> bool {
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        for &b in bytes {
            if in_str {
                match (esc, b) {
                    (true, _) => esc = false,
                    (false, b'\\') => esc = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        false
    }

    #[test]
    fn depth_examples() {
        let exceeds = json_depth_exceeds;
        assert!(!exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(exceeds(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(
            !exceeds(br#"{"a":"[[[[{{{{"}"#, 1),
            "brackets in strings do not count"
        );
        assert!(
            !exceeds(br#"{"a":"\"[[[["}"#, 1),
            "an escaped quote does not end the string"
        );
        assert!(exceeds(br#"{"a":"\\",[[["#, 2), "an escaped backslash does");
        assert!(!exceeds(br#"{"a":"[[[[\"#, 1), "an unterminated string");
        assert!(!exceeds(br#"{"a":"\"#, 1), "a backslash at the end");
    }

    proptest! {
        #[test]
        fn depth_is_the_bytewise_depth(
            text in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), Just(b'['), Just(b']'), Just(b'{'), Just(b'}'), Just(b'a'), Just(b':'), any::<u8>()],
                0..80,
            ),
            max in 0usize..6,
        ) {
            prop_assert_eq!(json_depth_exceeds(&text, max), exceeds_bytewise(&text, max));
        }
    }

    fn id(n: u128) -> Option<Uuid> {
        Some(Uuid::from_u128(n))
    }

    #[test]
    fn a_repeated_id_is_refused_under_2_0_only() {
        let batch = [id(1), None, id(2), None, id(1), id(2)];
        assert_eq!(
            duplicate_id(batch, ApiVersion::V2_0),
            Err(DuplicateId {
                index: 4,
                first: 0,
                id: Uuid::from_u128(1)
            })
        );
        assert_eq!(duplicate_id(batch, ApiVersion::V1_0), Ok(()));
        assert_eq!(
            duplicate_id([id(1), None, None, id(2)], ApiVersion::V2_0),
            Ok(()),
            "statements without an id never collide"
        );
        assert_eq!(
            DuplicateId {
                index: 4,
                first: 0,
                id: Uuid::from_u128(1)
            }
            .to_string(),
            "statement 4: id 00000000-0000-0000-0000-000000000001 is also the id of statement 0 of this request (xAPI 2.0: a batch holds each id once)"
        );
    }

    proptest! {
        /// Under 2.0 a batch passes exactly when its ids are distinct, and a
        /// refusal names the first repetition: an earlier index with the same
        /// id, and no repetition before it.
        #[test]
        fn refused_exactly_when_an_id_repeats(ids in proptest::collection::vec(proptest::option::of(0u128..6), 0..12)) {
            let batch: Vec<Option<Uuid>> = ids.iter().map(|i| i.map(Uuid::from_u128)).collect();
            let present: Vec<Uuid> = batch.iter().flatten().copied().collect();
            let distinct = present.iter().collect::<std::collections::HashSet<_>>().len() == present.len();
            prop_assert_eq!(duplicate_id(batch.clone(), ApiVersion::V1_0), Ok(()));
            match duplicate_id(batch.clone(), ApiVersion::V2_0) {
                Ok(()) => prop_assert!(distinct),
                Err(DuplicateId { index, first, id }) => {
                    prop_assert!(!distinct);
                    prop_assert!(first < index);
                    prop_assert_eq!((batch[first], batch[index]), (Some(id), Some(id)));
                    let earlier = &batch[..index];
                    let repeats_before = earlier.iter().flatten().collect::<std::collections::HashSet<_>>().len()
                        != earlier.iter().flatten().count();
                    prop_assert!(!repeats_before);
                }
            }
        }
    }
}
