//! ISO 8601 timestamps as xAPI requires them, with a fast path for the
//! common RFC 3339 form.

use time::format_description::well_known::Iso8601;
use time::{OffsetDateTime, PrimitiveDateTime};

/// An ISO 8601 timestamp with an offset; `-00:00` (unknown offset) is refused.
pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, &'static str> {
    if s.ends_with("-00:00") || s.ends_with("-0000") || s.ends_with("-00") {
        return Err("must not use the offset -00:00 (unknown local offset)");
    }
    if let Some(t) = fast_rfc3339(s) {
        return Ok(t);
    }
    match OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        Ok(t) => Ok(t),
        Err(_) if PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).is_ok() => {
            Err("must include a time zone offset (Z or ±hh:mm)")
        }
        Err(_) => Err("must be an ISO 8601 date and time (e.g. 2024-05-14T05:30:00Z)"),
    }
}

/// The common case, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, without the
/// general ISO 8601 machinery; anything else goes to the full parser.
fn fast_rfc3339(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => time::UtcOffset::UTC,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let oh = i8::try_from(num(i + 1..i + 3)?).ok()?;
            let om = i8::try_from(num(i + 4..i + 6)?).ok()?;
            let k = if *sign == b'-' { -1 } else { 1 };
            time::UtcOffset::from_hms(k * oh, k * om, 0).ok()?
        }
        _ => return None,
    };
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(sec).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, clock).assume_offset(offset))
}
