//! `xapi_model::documents`: the precondition truth table (If-Match /
//! If-None-Match, 409, the strict mode's 428) per version × resource × method.

use xapi_model::documents::{
    ApiVersion, Method, Precondition, Resource, check_preconditions, check_preconditions_strict,
    etag, not_modified,
};

const RESOURCES: [Resource; 3] = [
    Resource::State,
    Resource::ActivityProfile,
    Resource::AgentProfile,
];
const METHODS: [Method; 5] = [
    Method::Get,
    Method::Head,
    Method::Put,
    Method::Post,
    Method::Delete,
];
const VERSIONS: [ApiVersion; 2] = [ApiVersion::V1_0, ApiVersion::V2_0];

const WRITES: [Method; 3] = [Method::Put, Method::Post, Method::Delete];

/// If-Match, If-None-Match, whether the document exists, the expected answer.
type Case<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    bool,
    Result<(), Precondition>,
);

/// (If-Match, If-None-Match, document exists) → expected, for any write,
/// version and resource — every case except "no header at all".
#[test]
fn header_truth_table_for_writes() {
    let cur = etag(b"{\"a\":1}");
    let other = etag(b"{\"a\":2}");
    let weak = format!("W/{cur}");
    let list_hit = format!("{other}, {cur}");
    let list_weak = format!("{other}, {weak}");
    let bare = cur.trim_matches('"').to_owned();
    use Precondition::Failed;
    let table: Vec<Case> = vec![
        (Some(&cur), None, true, Ok(())),
        (Some(&other), None, true, Err(Failed)),
        (Some(&weak), None, true, Err(Failed)), // If-Match compares strongly
        (Some(&list_hit), None, true, Ok(())),
        (Some(&list_weak), None, true, Err(Failed)),
        (Some("*"), None, true, Ok(())),
        (Some("*"), None, false, Err(Failed)),
        (Some(&cur), None, false, Err(Failed)),
        (Some("1234"), None, true, Err(Failed)), // ADL's "incorrect ETag"
        (Some(&bare), None, true, Err(Failed)),  // unquoted: not an entity-tag
        (None, Some("*"), true, Err(Failed)),
        (None, Some("*"), false, Ok(())),
        (None, Some(&cur), true, Err(Failed)),
        (None, Some(&weak), true, Err(Failed)), // If-None-Match compares weakly
        (None, Some(&list_weak), true, Err(Failed)),
        (None, Some(&other), true, Ok(())),
        (None, Some(&cur), false, Ok(())),
        (Some(&cur), Some("*"), true, Err(Failed)),
        (Some(&cur), Some(&other), true, Ok(())),
        (Some(&other), Some("*"), false, Err(Failed)),
    ];
    for v in VERSIONS {
        for r in RESOURCES {
            for m in WRITES {
                for (im, inm, exists, expected) in &table {
                    let current = exists.then_some(cur.as_str());
                    assert_eq!(
                        check_preconditions(v, r, m, current, *im, *inm),
                        *expected,
                        "{v:?} {r:?} {m:?} If-Match {im:?} If-None-Match {inm:?} exists {exists}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_write_without_headers() {
    let cur = etag(b"doc");
    for v in VERSIONS {
        for r in RESOURCES {
            for m in WRITES {
                // nothing to overwrite: fine, but for a profile PUT, which
                // must say whether it creates (XAPI-00273, 00287, 00293: 400)
                let fresh = match (m, r) {
                    (Method::Put, Resource::ActivityProfile | Resource::AgentProfile) => {
                        Err(Precondition::Missing)
                    }
                    _ => Ok(()),
                };
                assert_eq!(
                    check_preconditions(v, r, m, None, None, None),
                    fresh,
                    "{v:?} {r:?} {m:?}"
                );
                let expected = match (m, v, r) {
                    // 1.0.3 Comm. 3.1.s3: State writes may go without headers
                    (Method::Put, ApiVersion::V1_0, Resource::State) => Ok(()),
                    // 1.0.3 Comm. 3.1.s4.b13; 9274.1.1 4.1.4 (State included)
                    (Method::Put, _, _) => Err(Precondition::Conflict),
                    // POST and DELETE: no status is given for a bare request
                    _ => Ok(()),
                };
                assert_eq!(
                    check_preconditions(v, r, m, Some(&cur), None, None),
                    expected,
                    "{v:?} {r:?} {m:?}"
                );
                // a blank header is no header
                assert_eq!(
                    check_preconditions(v, r, m, Some(&cur), Some(" "), Some("")),
                    expected
                );
            }
        }
    }
}

#[test]
fn reads() {
    let cur = etag(b"doc");
    let other = etag(b"other");
    for v in VERSIONS {
        for r in RESOURCES {
            for m in [Method::Get, Method::Head] {
                // a missing document is a 404 whatever the headers
                assert_eq!(
                    check_preconditions(v, r, m, None, Some(&other), Some("*")),
                    Ok(())
                );
                assert_eq!(
                    check_preconditions(v, r, m, Some(&cur), Some(&other), None),
                    Err(Precondition::Failed)
                );
                assert_eq!(
                    check_preconditions(v, r, m, Some(&cur), Some(&cur), None),
                    Ok(())
                );
                // If-None-Match on a read is a 304, not a failure
                assert_eq!(
                    check_preconditions(v, r, m, Some(&cur), None, Some(&cur)),
                    Ok(())
                );
                assert!(not_modified(Some(&cur), Some(&cur)));
                assert!(!not_modified(Some(&cur), Some(&other)));
            }
        }
    }
}

#[test]
fn strict_mode_requires_the_client_headers() {
    let cur = etag(b"doc");
    let cur = cur.as_str();
    use ApiVersion::{V1_0, V2_0};
    use Method::{Delete, Post, Put};
    use Precondition::{Conflict, Missing, Required};
    for r in [Resource::ActivityProfile, Resource::AgentProfile] {
        // PUT: both versions, a 400 as without strict mode; an existing
        // document still answers 409
        for v in VERSIONS {
            assert_eq!(
                check_preconditions_strict(v, r, Put, None, None, None),
                Err(Missing)
            );
            assert_eq!(
                check_preconditions_strict(v, r, Put, Some(cur), None, None),
                Err(Conflict)
            );
            assert_eq!(
                check_preconditions_strict(v, r, Put, None, None, Some("*")),
                Ok(())
            );
        }
        // POST and DELETE: 2.0.0 only
        assert_eq!(
            check_preconditions_strict(V1_0, r, Post, Some(cur), None, None),
            Ok(())
        );
        assert_eq!(
            check_preconditions_strict(V1_0, r, Delete, Some(cur), None, None),
            Ok(())
        );
        assert_eq!(
            check_preconditions_strict(V2_0, r, Post, Some(cur), None, None),
            Err(Required)
        );
        assert_eq!(
            check_preconditions_strict(V2_0, r, Post, None, None, Some("*")),
            Ok(())
        );
        assert_eq!(
            check_preconditions_strict(V2_0, r, Delete, Some(cur), None, None),
            Err(Required)
        );
        assert_eq!(
            check_preconditions_strict(V2_0, r, Delete, None, None, Some("*")),
            Err(Required)
        );
        assert_eq!(
            check_preconditions_strict(V2_0, r, Delete, Some(cur), Some(cur), None),
            Ok(())
        );
    }
    // never for State, never for reads
    for v in VERSIONS {
        for m in METHODS {
            let expected = check_preconditions(v, Resource::State, m, None, None, None);
            assert_eq!(
                check_preconditions_strict(v, Resource::State, m, None, None, None),
                expected
            );
        }
        assert_eq!(
            check_preconditions_strict(
                v,
                Resource::AgentProfile,
                Method::Get,
                Some(cur),
                None,
                None
            ),
            Ok(())
        );
    }
    // the spec mode never answers 428
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                for current in [None, Some(cur)] {
                    assert_ne!(
                        check_preconditions(v, r, m, current, None, None),
                        Err(Required)
                    );
                }
            }
        }
    }
}
