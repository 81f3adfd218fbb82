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
//! SHA-1 in hex, UUIDs — already one case once parsed). Counted: everything
//! else, `result.duration` as the string it is.
//!
//! Pure; give it the statements as received (before an LRS set anything).

use serde_json::Value;

use crate::model::Statement;

/// True when `a` and `b` are the same statement for an LRS that has one and
/// receives the other (both as received, parsed).
pub fn same_statement(a: &Statement, b: &Statement) -> bool {
    let timestamps = match (&a.timestamp, &b.timestamp) {
        (Some(x), Some(y)) => x.0 == y.0,
        // One came without: an LRS would have set it.
        _ => true,
    };
    timestamps && comparable(a) == comparable(b)
}

/// The statement's JSON with everything the rules ignore taken out or
/// normalized.
fn comparable(s: &Statement) -> Option<Value> {
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
    drop_verb_display(m);
    normalize(&mut v);
    Some(v)
}

/// The Verb's `display` is not part of the statement (its own or a
/// SubStatement's).
fn drop_verb_display(statement: &mut serde_json::Map<String, Value>) {
    if let Some(Value::Object(verb)) = statement.get_mut("verb") {
        verb.remove("display");
    }
}

/// Recursively: no Activity definition, no attachments or Verb display in a
/// SubStatement, Group members in a fixed order, case-insensitive values in
/// lower case, timestamps (of a SubStatement) as UTC instants.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let object_type = m
                .get("objectType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if object_type.as_deref() == Some("Activity") {
                m.remove("definition");
            }
            if object_type.as_deref() == Some("SubStatement") {
                m.remove("attachments");
                drop_verb_display(m);
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
            // Extensions are any JSON: compared as they are.
            for (_, x) in m.iter_mut().filter(|(k, _)| k.as_str() != "extensions") {
                normalize(x);
            }
            if let Some(Value::Array(members)) = m.get_mut("member") {
                members.sort_by_key(|x| x.to_string());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(same_statement(&a, &st(&other)), "{what}");
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
            assert!(!same_statement(&a, &st(&other)), "{what}");
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
            &g(&format!("{bob},{ada}"))
        ));
        assert!(!same_statement(&g(ada), &g(&format!("{ada},{bob}"))));
    }
}
