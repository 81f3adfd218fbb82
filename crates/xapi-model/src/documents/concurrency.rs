//! Concurrency: If-Match / If-None-Match on the Document resources.
//!
//! xAPI 1.0.3 Comm. 3.1 (Concurrency):
//! - 3.1.s2: ETags implement optimistic concurrency control for the State,
//!   Agent Profile and Activity Profile resources.
//! - 3.1.s3: "The State Resource will permit PUT, POST and DELETE requests
//!   without concurrency headers, since state conflicts are unlikely. The
//!   requirements below only apply to Agent Profile Resource and Activity
//!   Profile Resource."
//! - 3.1.s4.b5/b6: a PUT MUST handle If-Match (an ETag) and If-None-Match
//!   (`*`) as RFC 2616 describes; b7/b8: a POST or DELETE SHOULD* handle
//!   If-Match, a POST SHOULD* handle If-None-Match `*`.
//! - 3.1.s4.b9–b12: a failed precondition → `412 Precondition Failed`, no
//!   modification.
//! - 3.1.s4.b13–b15: "If a PUT request is received without either header for
//!   a resource that already exists, the LRS: MUST return HTTP status
//!   `409 Conflict` …; MUST return a response explaining that the Learning
//!   Record Provider SHOULD check the current state of the resource [and] set
//!   the "If-Match" header with the current ETag to resolve the conflict;
//!   MUST NOT make a modification to the resource."
//!
//! xAPI 2.0.0 (9274.1.1 4.1.4 Concurrency, via ADL's change log):
//! - s50: "An LRS responding to a PUT, POST, or DELETE request shall handle
//!   the "If-Match" header as described in RFC2616, HTTP 1.1 if it contains an
//!   ETag, in order to detect modifications made after the document was last
//!   fetched."
//! - s52: "If the header precondition in either of the request cases above
//!   fails, the LRS: shall return HTTP status 412 Precondition Failed; shall
//!   not make a modification to the resource."
//! - The 409 for a PUT without either header to an existing document stays;
//!   the State exemption of 1.0.3 3.1.s3 is not carried over: ADL's 2.0
//!   conformance suite (`test/v2_0/4.1.4-Concurrency.js`) runs "If a PUT
//!   request is received without either header for a resource that already
//!   exists → 409" against the State resource as well as both profiles.
//! - The LRP side (9274.1.1 Content 5.1.4, 5.1.6.5, 5.1.6.6, change log
//!   s44–s49) makes If-Match/If-None-Match on a profile POST and If-Match on a
//!   profile DELETE a "shall" *for the client*. The LRS book states no status
//!   for a request that omits them, and ADL's 2.0 suite POSTs (merge test,
//!   XAPI-00308) and DELETEs (XAPI-00271) profile documents without either
//!   header and expects `204`. So [`check_preconditions`] never answers
//!   `428`; [`check_preconditions_strict`] is the opt-in that does.
//!
//! Headers are evaluated as RFC 7232 (which replaced RFC 2616 14.24/14.26)
//! says: If-Match with the strong comparison, If-None-Match with the weak one,
//! `*` meaning "a current representation exists", If-Match first (6.).

use super::{ApiVersion, Method, Resource};

/// Why a write's preconditions fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Precondition {
    /// 412 Precondition Failed
    #[error(
        "precondition failed: the If-Match / If-None-Match condition does not hold for the current document"
    )]
    Failed,
    /// 409 Conflict (a PUT without If-Match/If-None-Match to an existing document)
    #[error(
        "the document already exists: check its current state, then send If-Match with its current ETag (or If-None-Match: * to create only)"
    )]
    Conflict,
    /// 400 Bad Request: a PUT to a profile document that does not exist, with
    /// neither If-Match nor If-None-Match. The client "MUST include" one
    /// (1.0.3 Comm. 3.1 client requirements; 9274.1.1 Content 5.1.4), and
    /// ADL's suites expect the LRS to refuse the request with 400 in both
    /// versions (XAPI-00273, XAPI-00287, XAPI-00293).
    #[error(
        "a profile document is PUT with If-None-Match: * to create it, or If-Match with its current ETag to replace it; this request has neither"
    )]
    Missing,
    /// 428 Precondition Required (only from [`check_preconditions_strict`]:
    /// a request without the header the LRP rules require)
    #[error(
        "precondition required: send If-Match (or If-None-Match: * to create) with this request"
    )]
    Required,
}

/// One entity-tag of an If-Match / If-None-Match list (RFC 7232 2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/"…"`
    pub weak: bool,
    /// The opaque tag without its quotes.
    pub tag: String,
}

/// The entity-tags of a header value that is not `*` (`"a", W/"b"`), in
/// order. A malformed element (an unquoted token, an unterminated quote) is
/// skipped: it can match nothing, which is what RFC 7232 asks of a tag the
/// server never issued.
pub fn parse_entity_tags(value: &str) -> Vec<EntityTag> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return out;
        }
        let (weak, body) = match rest.strip_prefix("W/") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        if let Some(quoted) = body.strip_prefix('"') {
            if let Some(end) = quoted.find('"') {
                out.push(EntityTag {
                    weak,
                    tag: quoted[..end].to_owned(),
                });
                rest = &quoted[end + 1..];
                continue;
            }
            return out; // unterminated: nothing more to read
        }
        // Not an entity-tag: skip to the next list element.
        rest = match body.find(',') {
            Some(i) => &body[i + 1..],
            None => "",
        };
    }
}

/// A header's condition: `*` or a list of tags (`None` for a blank value,
/// which is treated as an absent header).
enum Condition {
    Any,
    Tags(Vec<EntityTag>),
}

fn condition(header: Option<&str>) -> Option<Condition> {
    let value = header?.trim();
    if value.is_empty() {
        None
    } else if value == "*" {
        Some(Condition::Any)
    } else {
        Some(Condition::Tags(parse_entity_tags(value)))
    }
}

/// The current ETag as an entity-tag (`"x"`, `W/"x"`, or bare text taken as a strong tag).
fn current_tag(current: &str) -> EntityTag {
    match parse_entity_tags(current).into_iter().next() {
        Some(t) => t,
        None => EntityTag {
            weak: false,
            tag: current.trim().to_owned(),
        },
    }
}

/// RFC 7232 3.1: true if `*` and a document exists, or if a listed tag
/// matches the current one by the strong comparison (neither weak).
fn if_match_holds(cond: &Condition, current: Option<&EntityTag>) -> bool {
    match (cond, current) {
        (_, None) => false,
        (Condition::Any, Some(_)) => true,
        (Condition::Tags(tags), Some(cur)) => {
            !cur.weak && tags.iter().any(|t| !t.weak && t.tag == cur.tag)
        }
    }
}

/// RFC 7232 3.2: false if `*` and a document exists, or if a listed tag
/// matches the current one by the weak comparison (opaque tags equal).
fn if_none_match_holds(cond: &Condition, current: Option<&EntityTag>) -> bool {
    match (cond, current) {
        (_, None) => true,
        (Condition::Any, Some(_)) => false,
        (Condition::Tags(tags), Some(cur)) => !tags.iter().any(|t| t.tag == cur.tag),
    }
}

/// Evaluates If-Match / If-None-Match (raw header values; `*`, lists
/// `"a", "b"`, weak `W/"a"`) for `method` on a document whose current ETag is
/// `current` (None = no such document), under `version` and `resource`.
///
/// In order:
/// 1. GET/HEAD of a missing document: the answer is 404 whatever the
///    headers (RFC 7232 5: preconditions are ignored when the response
///    without them would not be 2xx/412) → `Ok`.
/// 2. If-Match present and false → [`Precondition::Failed`] (1.0.3 Comm.
///    3.1.s4.b5/b7/b9/b11; 9274.1.1 4.1.4, change log s50/s52). This covers
///    a write to a missing document with If-Match, and `W/` tags (If-Match
///    compares strongly).
/// 3. If-None-Match present and false on PUT/POST/DELETE →
///    [`Precondition::Failed`] (1.0.3 Comm. 3.1.s4.b6/b8; RFC 7232 3.2 for
///    the methods xAPI leaves unsaid). On GET/HEAD a false If-None-Match means
///    `304 Not Modified`, not a failure: see [`not_modified`].
/// 4. PUT without either header to an existing document →
///    [`Precondition::Conflict`] (1.0.3 Comm. 3.1.s4.b13; 9274.1.1 4.1.4),
///    except the State resource under 1.0.3 (3.1.s3 permits State writes
///    without concurrency headers).
/// 5. PUT without either header to a profile document that does not exist →
///    [`Precondition::Missing`] (400; XAPI-00273, XAPI-00287, XAPI-00293).
///
/// A blank header value counts as absent. Never returns
/// [`Precondition::Required`] (see the module docs).
pub fn check_preconditions(
    version: ApiVersion,
    resource: Resource,
    method: Method,
    current: Option<&str>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<(), Precondition> {
    if method.is_read() && current.is_none() {
        return Ok(());
    }
    let current = current.map(current_tag);
    let if_match = condition(if_match);
    let if_none_match = condition(if_none_match);
    if let Some(cond) = &if_match {
        if !if_match_holds(cond, current.as_ref()) {
            return Err(Precondition::Failed);
        }
    }
    if let Some(cond) = &if_none_match {
        if !method.is_read() && !if_none_match_holds(cond, current.as_ref()) {
            return Err(Precondition::Failed);
        }
    }
    let bare = if_match.is_none() && if_none_match.is_none();
    let state_exempt = version == ApiVersion::V1_0 && resource == Resource::State;
    if method == Method::Put && bare && current.is_some() && !state_exempt {
        return Err(Precondition::Conflict);
    }
    if method == Method::Put && bare && current.is_none() && resource != Resource::State {
        return Err(Precondition::Missing);
    }
    Ok(())
}

/// [`check_preconditions`], then the client-side rules enforced with
/// `428 Precondition Required` (RFC 6585 3) — an opt-in stricter than the
/// LRS requirements of either version, which name no status for these:
/// - under 2.0.0, POST to a profile resource without either header
///   (Content 5.1.4, change log s44–s46) and DELETE of a profile document
///   without If-Match (s47–s49).
///
/// The State resource is never held to these (no clause asks it of the
/// client). An LRS using this fails ADL's 2.0 conformance tests that POST
/// and DELETE profile documents bare (XAPI-00308, XAPI-00271).
pub fn check_preconditions_strict(
    version: ApiVersion,
    resource: Resource,
    method: Method,
    current: Option<&str>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<(), Precondition> {
    check_preconditions(version, resource, method, current, if_match, if_none_match)?;
    if resource == Resource::State {
        return Ok(());
    }
    let has_match = condition(if_match).is_some();
    let has_none = condition(if_none_match).is_some();
    let v2 = version == ApiVersion::V2_0;
    // A bare profile PUT is already refused by `check_preconditions`
    // (`Missing` for a new document, `Conflict` for an existing one).
    let missing = match method {
        Method::Put => false,
        Method::Post => v2 && !has_match && !has_none,
        Method::Delete => v2 && !has_match,
        Method::Get | Method::Head => false,
    };
    if missing {
        Err(Precondition::Required)
    } else {
        Ok(())
    }
}

/// For GET/HEAD: whether If-None-Match asks for `304 Not Modified` (a
/// document exists and the header is `*` or lists its tag, weak comparison;
/// RFC 7232 3.2).
pub fn not_modified(current: Option<&str>, if_none_match: Option<&str>) -> bool {
    let current = current.map(current_tag);
    match condition(if_none_match) {
        Some(cond) => !if_none_match_holds(&cond, current.as_ref()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists() {
        let tags = parse_entity_tags(r#" "a" ,W/"b",, "c,d", bare, "e"#);
        assert_eq!(
            tags,
            vec![
                EntityTag {
                    weak: false,
                    tag: "a".into()
                },
                EntityTag {
                    weak: true,
                    tag: "b".into()
                },
                EntityTag {
                    weak: false,
                    tag: "c,d".into()
                },
            ]
        );
        assert_eq!(parse_entity_tags("1234"), vec![]);
        assert_eq!(
            parse_entity_tags(r#""""#),
            vec![EntityTag {
                weak: false,
                tag: String::new()
            }]
        );
    }

    #[test]
    fn not_modified_is_weak() {
        assert!(not_modified(Some("\"x\""), Some("W/\"x\"")));
        assert!(not_modified(Some("\"x\""), Some("*")));
        assert!(!not_modified(None, Some("*")));
        assert!(!not_modified(Some("\"x\""), Some("\"y\"")));
        assert!(!not_modified(Some("\"x\""), None));
    }
}
