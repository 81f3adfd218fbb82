//! Authentication of a call: the application id, the signature (written
//! again here on purpose) and the 15-minute window around `ts`.

use axum::response::Response;
use md5::{Digest, Md5};
use time::OffsetDateTime;

use crate::state::Inner;
use crate::xml::fail;

/// The 15 minutes within which a call must arrive after its `ts`.
pub const WINDOW_SECS: i64 = 15 * 60;

/// The documented signature, written again here on purpose.
fn signature(secret: &str, params: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    p.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut h = Md5::new();
    h.update(secret.as_bytes());
    for (k, v) in p {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

fn parse_ts(ts: &str) -> Option<i64> {
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<i32>().ok());
    let month = time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(n(0..4)?, month, u8::try_from(n(6..8)?).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp())
}

/// Authenticates a call; `Err` is the failure answer.
pub(crate) fn authenticate(g: &Inner, params: &[(String, String)]) -> Result<(), Box<Response>> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("appid") != Some(g.app_id.as_str()) {
        return Err(Box::new(fail(100, "Invalid appid")));
    }
    let Some(sig) = get("sig") else {
        return Err(Box::new(fail(103, "No signature provided")));
    };
    if !sig.eq_ignore_ascii_case(&signature(&g.secret, params)) {
        return Err(Box::new(fail(104, "The signature provided does not match")));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp() + g.clock_offset_secs;
    match get("ts").and_then(parse_ts) {
        Some(ts) if (now - ts).abs() <= WINDOW_SECS => Ok(()),
        _ => Err(Box::new(fail(
            101,
            "Timestamp sent is outside of expiration limit",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_reference_vector() {
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let params = vec![
            p("method", "rustici.registration.getRegistrationResult"),
            p("appid", "MYAPPID"),
            p("ts", "20240101120000"),
            p("regid", "reg 42"),
            p("resultsformat", "course"),
        ];
        assert_eq!(
            signature("SECRETKEY123", &params),
            "50524793f26fcfd1670b35368aa4632c"
        );
    }

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_ts("20240101120000"), Some(1_704_110_400));
        assert_eq!(parse_ts("2024010112000"), None);
        assert_eq!(parse_ts("20241301120000"), None);
    }
}
