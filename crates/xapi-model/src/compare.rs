//! Whether two statements with the same id are the same statement — xAPI
//! 1.0.3 Data 2.3.1, "Statement Comparison Requirements": differences that the
//! exceptions to immutability could have caused are ignored, every other
//! difference counts.
//!
//! Ignored: what an LRS assigns (`id`, `authority`, `stored`, `version`, and
//! `timestamp` when either statement came without one), how a timestamp is
//! written (compared as an instant), Activity definitions and Verb displays
//! (not part of the statement), attachments, the order of a Group's members,
//! and the case of what is case-insensitive (an email address's domain, a
//! SHA-1 in hex, UUIDs — already one case once parsed).
//!
//! The rest depends on the version of the request the comparison is made for
//! ([`ApiVersion`]: the LRS answers that request under that version's rules,
//! whatever the `version` of the statements):
//! - 1.0.x: `result.duration` is compared as the string it is, and IRIs by
//!   simple string comparison (RFC 3987 5.3.1);
//! - 2.0.x (IEEE 9274.1.1 4.2.7, "shall"): a duration's precision beyond
//!   0.01 s is not compared (the seconds' fraction truncated to hundredths:
//!   `PT1.001S`, `PT1.00S` and `PT1S` are one duration; other components as
//!   written, `PT60M` is not `PT1H`), and IRIs — Verb ids, Activity ids,
//!   `openid`, an account's `homePage`, extension keys — by their
//!   syntax-based normal form ([`crate::iri::syntax_normalized`]).
//!
//! Pure; give it the statements as received (before an LRS set anything).

use serde_json::{Map, Value};

use crate::ApiVersion;
use crate::model::Statement;

/// True when `a` and `b` are the same statement for an LRS that has one and
/// receives the other (both as received, parsed), under the rules of a
/// request of version `api`.
pub fn same_statement(a: &Statement, b: &Statement, api: ApiVersion) -> bool {
    let timestamps = match (&a.timestamp, &b.timestamp) {
        (Some(x), Some(y)) => x.0 == y.0,
        // One came without: an LRS would have set it.
        _ => true,
    };
    timestamps && comparable(a, api) == comparable(b, api)
}

/// The statement's JSON with everything the rules ignore taken out or
/// normalized.
fn comparable(s: &Statement, api: ApiVersion) -> Option<Value> {
    let mut v = serde_json::to_value(s).ok()?;
    let m = v.as_object_mut()?;
    for k in [
        "id",
        "authority",
        "stored",
        "version",
        "timestamp",
        "attachments",
    ] {
        m.remove(k);
    }
    verb(m, api);
    normalize(&mut v, api);
    Some(v)
}

/// The Verb's `display` is not part of the statement (its own or a
/// SubStatement's); its id is an IRI.
fn verb(statement: &mut Map<String, Value>, api: ApiVersion) {
    if let Some(Value::Object(verb)) = statement.get_mut("verb") {
        verb.remove("display");
        if let Some(id) = verb.get_mut("id") {
            iri(id, api);
        }
    }
}

/// An IRI as the version compares it (2.0: its syntax-based normal form).
fn iri(v: &mut Value, api: ApiVersion) {
    if api == ApiVersion::V2_0 {
        if let Value::String(s) = v {
            if let std::borrow::Cow::Owned(n) = crate::iri::syntax_normalized(s) {
                *s = n;
            }
        }
    }
}

/// A duration as the version compares it (2.0: to 0.01 s).
fn duration(v: &mut Value, api: ApiVersion) {
    if api == ApiVersion::V2_0 {
        if let Value::String(s) = v {
            *s = to_hundredths(s);
        }
    }
}

/// `PT1.2345S` → `PT1.23S`, `PT1.00S` → `PT1S`: the seconds' fraction
/// truncated to hundredths, trailing zeros dropped; any other duration as
/// it is (a fraction is only ever on the last component).
fn to_hundredths(text: &str) -> String {
    let Some(body) = text.strip_suffix('S') else {
        return text.to_owned();
    };
    let Some(sep) = body.rfind(['.', ',']) else {
        return text.to_owned();
    };
    let (whole, fraction) = (&body[..sep], &body[sep + 1..]);
    let kept = fraction.get(..2).unwrap_or(fraction).trim_end_matches('0');
    if kept.is_empty() {
        format!("{whole}S")
    } else {
        format!("{whole}.{kept}S")
    }
}

/// Recursively: no Activity definition, no attachments or Verb display in a
/// SubStatement, Group members in a fixed order, case-insensitive values in
/// lower case, timestamps (of a SubStatement) as UTC instants; under 2.0,
/// IRIs and durations as that version compares them.
fn normalize(v: &mut Value, api: ApiVersion) {
    match v {
        Value::Object(m) => {
            let object_type = m
                .get("objectType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if object_type.as_deref() == Some("Activity") {
                m.remove("definition");
                if let Some(id) = m.get_mut("id") {
                    iri(id, api);
                }
            }
            if object_type.as_deref() == Some("SubStatement") {
                m.remove("attachments");
                verb(m, api);
                if let Some(Value::String(t)) = m.get_mut("timestamp") {
                    if let Ok(at) = crate::parse_timestamp(t) {
                        *t = at.0.unix_timestamp_nanos().to_string();
                    }
                }
            }
            if let Some(Value::String(mbox)) = m.get_mut("mbox") {
                if let Some((local, domain)) = mbox.rsplit_once('@') {
                    *mbox = format!("{local}@{}", domain.to_ascii_lowercase());
                }
            }
            if let Some(Value::String(sum)) = m.get_mut("mbox_sha1sum") {
                *sum = sum.to_ascii_lowercase();
            }
            for key in ["openid", "homePage"] {
                if let Some(x) = m.get_mut(key) {
                    iri(x, api);
                }
            }
            if let Some(Value::Object(result)) = m.get_mut("result") {
                if let Some(d) = result.get_mut("duration") {
                    duration(d, api);
                }
            }
            // Extensions are any JSON: compared as they are (their keys are IRIs).
            extension_keys(m, api);
            for (_, x) in m.iter_mut().filter(|(k, _)| k.as_str() != "extensions") {
                normalize(x, api);
            }
            if let Some(Value::Array(members)) = m.get_mut("member") {
                members.sort_by_key(|x| x.to_string());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalize(x, api)),
        _ => {}
    }
}

/// Under 2.0 an extensions map's keys in their normal form: the map as a
/// sorted list of `[key, value]` pairs (two keys that are one IRI are both
/// kept).
fn extension_keys(m: &mut Map<String, Value>, api: ApiVersion) {
    if api != ApiVersion::V2_0 {
        return;
    }
    let Some(Value::Object(ext)) = m.get_mut("extensions") else {
        return;
    };
    let mut pairs: Vec<Value> = std::mem::take(ext)
        .into_iter()
        .map(|(k, v)| {
            let k = crate::iri::syntax_normalized(&k).into_owned();
            Value::Array(vec![Value::String(k), v])
        })
        .collect();
    pairs.sort_by_cached_key(ToString::to_string);
    m.insert("extensions".to_owned(), Value::Array(pairs));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApiVersion::{V1_0, V2_0};

    fn st(json: &str) -> Statement {
        crate::parse_statement(json.as_bytes()).expect("valid")
    }

    const BASE: &str = r#"{"id":"6f1c2d9e-4a2b-4c1e-9d3a-1b2c3d4e5f60","actor":{"mbox":"mailto:Ada@Example.COM","name":"Ada"},
        "verb":{"id":"http://adlnet.gov/expapi/verbs/progressed","display":{"en-US":"progressed"}},
        "object":{"id":"https://x.example.com/c/1","definition":{"name":{"en-US":"Course"}}},
        "result":{"score":{"scaled":0.5},"duration":"PT1H"},"timestamp":"2024-10-02T09:14:03.120Z"}"#;

    #[test]
    fn what_the_exceptions_could_cause_is_ignored() {
        let a = st(BASE);
        for (what, other) in [
            (
                "timestamp written in another offset",
                BASE.replace("2024-10-02T09:14:03.120Z", "2024-10-02T11:14:03.12+02:00"),
            ),
            (
                "no timestamp: an LRS sets one",
                BASE.replace(r#","timestamp":"2024-10-02T09:14:03.120Z""#, ""),
            ),
            (
                "another Activity definition",
                BASE.replace(r#""name":{"en-US":"Course"}"#, r#""name":{"de-DE":"Kurs"}"#),
            ),
            (
                "another Verb display",
                BASE.replace(r#"{"en-US":"progressed"}"#, r#"{"en-GB":"progressed"}"#),
            ),
            (
                "email domain in another case",
                BASE.replace("Example.COM", "example.com"),
            ),
            (
                "objectType written out",
                BASE.replace(r#""object":{"#, r#""object":{"objectType":"Activity","#),
            ),
            (
                "an authority and a version set",
                BASE.replace(
                    r#""result""#,
                    r#""authority":{"mbox":"mailto:lrs@example.com"},"version":"1.0.0","result""#,
                ),
            ),
        ] {
            assert!(same_statement(&a, &st(&other), V1_0), "{what}");
            assert!(same_statement(&a, &st(&other), V2_0), "{what} (2.0)");
        }
    }

    #[test]
    fn every_other_difference_counts() {
        let a = st(BASE);
        for (what, other) in [
            ("another score", BASE.replace("0.5", "0.6")),
            (
                "another instant",
                BASE.replace("09:14:03.120Z", "09:14:04.120Z"),
            ),
            (
                "a duration written otherwise",
                BASE.replace("PT1H", "PT60M"),
            ),
            (
                "the local part of the email in another case",
                BASE.replace("Ada@", "ada@"),
            ),
            (
                "another agent name",
                BASE.replace(r#""name":"Ada""#, r#""name":"Ada L""#),
            ),
            ("another activity", BASE.replace("c/1", "c/2")),
            (
                "an extension that only looks like a definition",
                BASE.replace(r#""duration":"PT1H""#, r#""duration":"PT1H","extensions":{"https://x.example.com/e":{"objectType":"Activity","id":"a","definition":1}}"#),
            ),
        ] {
            assert!(!same_statement(&a, &st(&other), V1_0), "{what}");
        }
    }

    #[test]
    fn group_members_are_a_set() {
        let g = |m: &str| {
            st(&format!(
                r#"{{"actor":{{"objectType":"Group","member":[{m}]}},"verb":{{"id":"http://x.example.com/v"}},"object":{{"id":"https://x.example.com/a"}}}}"#
            ))
        };
        let ada = r#"{"mbox":"mailto:ada@example.com"}"#;
        let bob = r#"{"mbox":"mailto:bob@example.com"}"#;
        assert!(same_statement(
            &g(&format!("{ada},{bob}")),
            &g(&format!("{bob},{ada}")),
            V1_0
        ));
        assert!(!same_statement(&g(ada), &g(&format!("{ada},{bob}")), V1_0));
    }

    /// IEEE 9274.1.1 4.2.7: under 2.0 precision beyond 0.01 s is not
    /// compared, IRIs by syntax-based normalization; under 1.0.x both as
    /// written.
    #[test]
    fn under_2_0_durations_to_hundredths_and_iris_by_syntax() {
        let a = st(BASE);
        let with = |old: &str, new: &str| st(&BASE.replace(old, new));
        for (what, other) in [
            (
                "scheme and host case",
                with("https://x.example.com/c/1", "HTTPS://X.Example.com/c/1"),
            ),
            (
                "a dot segment",
                with(
                    "https://x.example.com/c/1",
                    "https://x.example.com/c/x/../1",
                ),
            ),
            ("an escaped unreserved character", with("c/1", "%63/1")),
            (
                "the Verb id's host case",
                with(
                    "http://adlnet.gov/expapi/verbs/progressed",
                    "http://ADLNET.gov/expapi/verbs/progressed",
                ),
            ),
        ] {
            assert!(same_statement(&a, &other, V2_0), "{what}");
            assert!(!same_statement(&a, &other, V1_0), "{what} (1.0)");
        }
        let (tenth, finer) = (with("PT1H", "PT1H0.1S"), with("PT1H", "PT1H0.109S"));
        assert!(same_statement(&tenth, &finer, V2_0), "a thousandth more");
        assert!(
            !same_statement(&tenth, &finer, V1_0),
            "a thousandth more (1.0)"
        );
        for (what, other) in [
            ("a hundredth more", with("PT1H", "PT1H0.01S")),
            ("seconds written out", with("PT1H", "PT1H0S")),
            ("minutes for an hour", with("PT1H", "PT60M")),
            (
                "a default port",
                with("x.example.com/c", "x.example.com:443/c"),
            ),
            ("a path's case", with("c/1", "C/1")),
            ("a trailing slash", with("c/1", "c/1/")),
        ] {
            assert!(!same_statement(&a, &other, V2_0), "{what}");
        }
    }

    #[test]
    fn hundredths() {
        for (d, t) in [
            ("PT1S", "PT1S"),
            ("PT1.001S", "PT1S"),
            ("PT1.00S", "PT1S"),
            ("PT1.109S", "PT1.1S"),
            ("P1DT12H36M0.1237S", "P1DT12H36M0.12S"),
            ("PT0,129S", "PT0.12S"),
            ("PT1.5H", "PT1.5H"),
            ("P16559.14S", "P16559.14S"),
        ] {
            assert_eq!(to_hundredths(d), t, "{d}");
        }
    }
}
