//! RFC 3339 text for an instant, exactly as `time`'s `Rfc3339` format writes
//! it, without `time`'s general formatter (format descriptions, a `String` per
//! value) and without allocating.
//!
//! Timestamps are written for every statement a server stores (its canonical
//! form: `timestamp`, `stored`) and a dozen times for every learner state the
//! statistics keep; `time`'s formatter was a tenth of that work
//! (docs/PERFORMANCE.md). `tests::same_text_as_time` checks the text against
//! `time`'s for arbitrary instants and offsets.

use time::OffsetDateTime;

/// The longest text: `9999-12-31T23:59:59.999999999+23:59`.
const MAX_LEN: usize = 35;

/// Writes `v` as `width` decimal digits (zero-padded) at `buf[*n..]`.
fn put_digits(buf: &mut [u8; MAX_LEN], n: &mut usize, mut v: u32, width: usize) {
    for k in (0..width).rev() {
        // `v % 10` is a single digit.
        buf[*n + k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    *n += width;
}

fn put(buf: &mut [u8; MAX_LEN], n: &mut usize, b: u8) {
    buf[*n] = b;
    *n += 1;
}

/// Writes `t` as `time`'s `Rfc3339` format does; `None` where that refuses
/// (a year outside 0–9999, an offset with seconds or of 24 hours or more).
fn write(t: OffsetDateTime, buf: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let offset = t.offset();
    if offset.seconds_past_minute() != 0 || offset.whole_hours().unsigned_abs() > 23 {
        return None;
    }
    let n = &mut 0;
    put_digits(buf, n, year, 4);
    put(buf, n, b'-');
    put_digits(buf, n, u32::from(u8::from(t.month())), 2);
    put(buf, n, b'-');
    put_digits(buf, n, u32::from(t.day()), 2);
    put(buf, n, b'T');
    put_digits(buf, n, u32::from(t.hour()), 2);
    put(buf, n, b':');
    put_digits(buf, n, u32::from(t.minute()), 2);
    put(buf, n, b':');
    put_digits(buf, n, u32::from(t.second()), 2);
    let nanos = t.nanosecond();
    if nanos != 0 {
        put(buf, n, b'.');
        // Nine digits without the trailing zeros.
        let (mut value, mut width) = (nanos, 9);
        while value % 10 == 0 {
            value /= 10;
            width -= 1;
        }
        put_digits(buf, n, value, width);
    }
    if offset.is_utc() {
        put(buf, n, b'Z');
    } else {
        put(buf, n, if offset.is_negative() { b'-' } else { b'+' });
        put_digits(buf, n, u32::from(offset.whole_hours().unsigned_abs()), 2);
        put(buf, n, b':');
        put_digits(
            buf,
            n,
            u32::from(offset.minutes_past_hour().unsigned_abs()),
            2,
        );
    }
    Some(*n)
}

/// An instant's RFC 3339 text, held inline.
#[derive(Clone, Copy)]
pub struct Rfc3339Text {
    buf: [u8; MAX_LEN],
    len: usize,
}

impl Rfc3339Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Rfc3339Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `t` as `time`'s `Rfc3339` format writes it; `None` where that refuses
/// (a year outside 0–9999, an offset with seconds or of 24 hours or more).
pub fn format(t: OffsetDateTime) -> Option<Rfc3339Text> {
    let mut buf = [0u8; MAX_LEN];
    let len = write(t, &mut buf)?;
    Some(Rfc3339Text { buf, len })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    fn ours(t: OffsetDateTime) -> Option<String> {
        super::format(t).map(|text| text.as_str().to_owned())
    }

    #[test]
    fn examples() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_727_860_443_120_000_000).expect("t");
        assert_eq!(ours(t).as_deref(), Some("2024-10-02T09:14:03.12Z"));
        let t = t.replace_nanosecond(0).expect("whole second");
        assert_eq!(ours(t).as_deref(), Some("2024-10-02T09:14:03Z"));
        let t = t
            .to_offset(UtcOffset::from_hms(-5, -30, 0).expect("offset"))
            .replace_nanosecond(7)
            .expect("ns");
        assert_eq!(
            ours(t).as_deref(),
            Some("2024-10-02T03:44:03.000000007-05:30")
        );
        let with_seconds = t.to_offset(UtcOffset::from_hms(1, 0, 30).expect("offset"));
        assert_eq!(ours(with_seconds), None, "time refuses offset seconds");
        let a_day_off = t.to_offset(UtcOffset::from_hms(-25, -27, 0).expect("offset"));
        assert_eq!(
            ours(a_day_off),
            None,
            "time refuses offsets of 24 hours or more"
        );
    }

    proptest! {
        #[test]
        fn same_text_as_time(
            // 0001-01-02 to 9999-12-30: every offset keeps the year in 0–9999.
            secs in -62_135_510_400i64..253_402_128_000,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|m| m * 1_000_000)],
            offset in prop_oneof![Just(0i32), (-1439i32..1440).prop_map(|m| m * 60), -93_599i32..93_600],
        ) {
            let t = OffsetDateTime::from_unix_timestamp(secs).expect("in range")
                .replace_nanosecond(nanos).expect("nanos")
                .to_offset(UtcOffset::from_whole_seconds(offset).expect("offset"));
            prop_assert_eq!(ours(t), t.format(&Rfc3339).ok());
        }
    }
}
