//! API V1 request signing, exactly as Rustici's libraries do it: every
//! parameter but `sig` (and the uploaded file), names sorted
//! case-insensitively, `name` + raw value concatenated, the secret prefixed,
//! MD5, hex; the query form-encoded (space → `+`) with `sig` appended.

use md5::{Digest, Md5};
use time::OffsetDateTime;

/// `yyyyMMddHHmmss` in UTC.
pub fn timestamp(now: OffsetDateTime) -> String {
    let t = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The hex MD5 of `secret` followed by the parameters in the given order.
pub fn md5_hex(secret: &str, ordered: &[(&str, &str)]) -> String {
    let mut h = Md5::new();
    h.update(secret.as_bytes());
    for (k, v) in ordered {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Parameters sorted as the signature wants them: by name, case-insensitively
/// (ties broken by the exact name so the order is total).
pub fn sorted(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "sig")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.sort_by(|a, b| {
        a.0.to_ascii_lowercase()
            .cmp(&b.0.to_ascii_lowercase())
            .then(a.0.cmp(b.0))
    });
    v
}

/// The signed query string: the parameters (empty ones omitted) in signature
/// order, form-encoded, then `sig`.
pub fn signed_query(secret: &str, params: &[(String, String)]) -> String {
    let kept: Vec<(String, String)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    let ordered = sorted(&kept);
    let sig = md5_hex(secret, &ordered);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &ordered {
        q.append_pair(k, v);
    }
    q.append_pair("sig", &sig);
    q.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_test_vector() {
        assert_eq!(
            md5_hex("taco", &[("z", "1"), ("x", "2"), ("y", "3")]),
            "1524f0f6528d1f483acbde07621d5efc"
        );
    }

    #[test]
    fn whole_call_test_vector() {
        let params: Vec<(String, String)> = [
            ("method", "rustici.registration.getRegistrationResult"),
            ("appid", "MYAPPID"),
            ("ts", "20240101120000"),
            ("regid", "reg 42"),
            ("resultsformat", "course"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            signed_query("SECRETKEY123", &params),
            "appid=MYAPPID&method=rustici.registration.getRegistrationResult&regid=reg+42&resultsformat=course&ts=20240101120000&sig=50524793f26fcfd1670b35368aa4632c"
        );
    }

    #[test]
    fn case_insensitive_order_and_empty_omitted() {
        let p: Vec<(String, String)> = [
            ("lname", "B"),
            ("learnerTags", "t"),
            ("learnerid", "L"),
            ("email", ""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let names: Vec<&str> = sorted(&p).iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["email", "learnerid", "learnerTags", "lname"]);
        assert!(
            !signed_query("s", &p).contains("email"),
            "empty optional parameters are omitted"
        );
    }

    #[test]
    fn utc_timestamp() {
        let t = time::macros::datetime!(2024-05-14 05:30:07 +01:00);
        assert_eq!(timestamp(t), "20240514043007");
    }
}
