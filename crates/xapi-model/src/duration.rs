//! ISO 8601 durations (ISO 8601:2004 §4.4.3.2, the only form xAPI allows) and
//! their conversion to milliseconds.
//!
//! Accepted: `PnYnMnDTnHnMnS` with any subset of components in that order, at
//! least one component, `T` only when a time component follows, and `PnW` alone.
//! The lowest-order component present may carry a decimal fraction (`.` or `,`),
//! e.g. `P16559.14S` or `PT1.5H`. Rejected: the alternative format
//! (`P0003-06-04T12:30:05`), signs, empty `P`/`PT`, fractions on a non-final
//! component, repeated or out-of-order components, and weeks mixed with others.
//! One leniency: seconds without `T` (`P16559.14S`), because xAPI 1.0.3's own
//! example table uses that form and senders copy it.
//!
//! Milliseconds: years and months have no fixed length; we use the nominal
//! 365 days and 30 days (documented in `docs/ARCHITECTURE.md`). Sub-millisecond
//! digits are truncated (xAPI guarantees only 0.01 s precision).

use std::fmt;

use serde::{Serialize, Serializer};

/// A valid ISO 8601 duration: the text as received and its length in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    millis: u64,
}

impl Duration {
    /// Parses an ISO 8601 duration, or says which rule it breaks.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let millis = parse_millis(text)?;
        Ok(Self {
            text: text.to_owned(),
            millis,
        })
    }

    /// The canonical duration for a length in milliseconds (`PT1H2M3.45S` style).
    pub fn from_millis(millis: u64) -> Self {
        Self {
            text: format_millis(millis),
            millis,
        }
    }

    /// The duration as written (or, from [`Duration::from_millis`], the canonical text).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The length in milliseconds (finer digits truncated).
    pub fn millis(&self) -> u64 {
        self.millis
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Why a duration is not a valid ISO 8601 duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// It does not start with `P`.
    #[error("must be an ISO 8601 duration starting with P (e.g. PT1H30M)")]
    MissingP,
    /// Nothing follows `P`.
    #[error("must be an ISO 8601 duration with at least one component after P")]
    Empty,
    /// Nothing follows `T`.
    #[error("must be an ISO 8601 duration: T must be followed by hours, minutes or seconds")]
    EmptyTime,
    /// A designator has no number before it.
    #[error("must be an ISO 8601 duration: a number must precede each designator")]
    MissingNumber,
    /// A designator is unknown or misplaced.
    #[error("must be an ISO 8601 duration: unknown or misplaced designator")]
    BadDesignator,
    /// A component other than the last has a fraction.
    #[error("must be an ISO 8601 duration: only the last component may have a fraction")]
    FractionNotLast,
    /// Weeks are combined with other components.
    #[error("must be an ISO 8601 duration: weeks (W) cannot be combined with other components")]
    WeeksMixed,
    /// The alternative format (`P0003-06-04T12:30:05`), or a sign.
    #[error("must be an ISO 8601 duration in the P…Y…M…DT…H…M…S form, not the alternative format")]
    AlternativeFormat,
    /// Longer than milliseconds in a `u64` can hold.
    #[error("is too long to represent in milliseconds")]
    Overflow,
}

const MS_SECOND: u128 = 1_000;
const MS_MINUTE: u128 = 60 * MS_SECOND;
const MS_HOUR: u128 = 60 * MS_MINUTE;
const MS_DAY: u128 = 24 * MS_HOUR;
const MS_WEEK: u128 = 7 * MS_DAY;
const MS_MONTH: u128 = 30 * MS_DAY;
const MS_YEAR: u128 = 365 * MS_DAY;

fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let rest = text.strip_prefix('P').ok_or(DurationError::MissingP)?;
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    if rest.contains(['-', ':']) {
        return Err(DurationError::AlternativeFormat);
    }
    let bytes = rest.as_bytes();
    // Designators in order; `rank` enforces order and uniqueness.
    // date part: Y=0, M=1, W=2, D=3; time part: H=4, M=5, S=6.
    let mut last_rank: Option<u8> = None;
    let mut in_time = false;
    let mut time_components = 0;
    let mut components = 0;
    let mut saw_week = false;
    let mut saw_fraction = false;
    let mut total: u128 = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'T' {
            if in_time {
                return Err(DurationError::BadDesignator);
            }
            in_time = true;
            i += 1;
            if i == bytes.len() {
                return Err(DurationError::EmptyTime);
            }
            continue;
        }
        if saw_fraction {
            return Err(DurationError::FractionNotLast);
        }
        // number: digits, optional fraction
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &rest[start..i];
        if int_part.is_empty() {
            return Err(DurationError::MissingNumber);
        }
        let mut frac_part = "";
        if i < bytes.len() && (bytes[i] == b'.' || bytes[i] == b',') {
            i += 1;
            let fstart = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &rest[fstart..i];
            if frac_part.is_empty() {
                return Err(DurationError::MissingNumber);
            }
            saw_fraction = true;
        }
        let Some(&designator) = bytes.get(i) else {
            return Err(DurationError::BadDesignator);
        };
        i += 1;
        let (rank, unit) = match (in_time, designator) {
            (false, b'Y') => (0, MS_YEAR),
            (false, b'M') => (1, MS_MONTH),
            (false, b'W') => (2, MS_WEEK),
            (false, b'D') => (3, MS_DAY),
            // Leniency: xAPI 1.0.3's own example table writes `P16559.14S`
            // (seconds without `T`), and senders copy it. `M` stays months.
            (false, b'S') => (6, MS_SECOND),
            (true, b'H') => (4, MS_HOUR),
            (true, b'M') => (5, MS_MINUTE),
            (true, b'S') => (6, MS_SECOND),
            _ => return Err(DurationError::BadDesignator),
        };
        if last_rank.is_some_and(|r| r >= rank) {
            return Err(DurationError::BadDesignator);
        }
        last_rank = Some(rank);
        if rank == 2 {
            saw_week = true;
        }
        components += 1;
        if in_time {
            time_components += 1;
        }
        total = total
            .checked_add(component_millis(int_part, frac_part, unit)?)
            .ok_or(DurationError::Overflow)?;
    }
    if components == 0 {
        return Err(DurationError::Empty);
    }
    if in_time && time_components == 0 {
        return Err(DurationError::EmptyTime);
    }
    if saw_week && components > 1 {
        return Err(DurationError::WeeksMixed);
    }
    u64::try_from(total).map_err(|_| DurationError::Overflow)
}

/// `int.frac` × unit, in ms, truncated; exact integer arithmetic.
fn component_millis(int_part: &str, frac_part: &str, unit: u128) -> Result<u128, DurationError> {
    let int: u128 = int_part.parse().map_err(|_| DurationError::Overflow)?;
    let mut ms = int.checked_mul(unit).ok_or(DurationError::Overflow)?;
    if !frac_part.is_empty() {
        // Only the first 18 fractional digits matter below 1 ms for any unit ≤ a year.
        let digits = &frac_part[..frac_part.len().min(18)];
        let num: u128 = digits.parse().map_err(|_| DurationError::Overflow)?;
        let den = 10u128.pow(u32::try_from(digits.len()).map_err(|_| DurationError::Overflow)?);
        ms = ms
            .checked_add(num * unit / den)
            .ok_or(DurationError::Overflow)?;
    }
    Ok(ms)
}

fn format_millis(millis: u64) -> String {
    let ms = u128::from(millis);
    let hours = ms / MS_HOUR;
    let minutes = (ms % MS_HOUR) / MS_MINUTE;
    let secs = (ms % MS_MINUTE) / MS_SECOND;
    let frac = ms % MS_SECOND;
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if secs > 0 || frac > 0 || (hours == 0 && minutes == 0) {
        if frac > 0 {
            let f = format!("{frac:03}");
            out.push_str(&format!("{secs}.{}S", f.trim_end_matches('0')));
        } else {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Result<u64, DurationError> {
        Duration::parse(s).map(|d| d.millis())
    }

    #[test]
    fn valid_forms() {
        assert_eq!(ms("PT0S"), Ok(0));
        assert_eq!(ms("PT4H35M59.14S"), Ok(16_559_140));
        assert_eq!(
            ms("P3Y1M29DT4H35M59.14S"),
            Ok((3 * 365 + 30 + 29) * 86_400_000 + 16_559_140)
        );
        assert_eq!(ms("PT1H30M"), Ok(5_400_000));
        assert_eq!(ms("PT1.5H"), Ok(5_400_000));
        assert_eq!(ms("PT0,5S"), Ok(500));
        assert_eq!(ms("P1D"), Ok(86_400_000));
        assert_eq!(ms("P2W"), Ok(14 * 86_400_000));
        assert_eq!(ms("P1Y"), Ok(365 * 86_400_000));
        assert_eq!(ms("P1M"), Ok(30 * 86_400_000));
        assert_eq!(ms("PT1M"), Ok(60_000));
        assert_eq!(ms("P1DT1S"), Ok(86_401_000));
        assert_eq!(ms("PT4M30.123456S"), Ok(270_123));
        assert_eq!(ms("P0.5D"), Ok(43_200_000));
    }

    #[test]
    fn seconds_without_t_as_in_the_spec_example() {
        // xAPI 1.0.3 §4.6 lists `P16559.14S`; Learning Locker #1427 rejected it.
        assert_eq!(ms("P16559.14S"), Ok(16_559_140));
        assert_eq!(ms("PT16559.14S"), Ok(16_559_140));
        assert_eq!(
            ms("P1DT1H30S".replace("30S", "30M").as_str()),
            Ok(86_400_000 + 3_600_000 + 1_800_000)
        );
        // seconds without T cannot be followed by anything
        assert_eq!(ms("P1ST1H"), Err(DurationError::BadDesignator));
    }

    #[test]
    fn forbidden_forms() {
        assert_eq!(ms(""), Err(DurationError::MissingP));
        assert_eq!(ms("1H"), Err(DurationError::MissingP));
        assert_eq!(ms("P"), Err(DurationError::Empty));
        assert_eq!(ms("PT"), Err(DurationError::EmptyTime));
        assert_eq!(ms("P1DT"), Err(DurationError::EmptyTime));
        assert_eq!(ms("-PT1S"), Err(DurationError::MissingP));
        assert_eq!(ms("P-1D"), Err(DurationError::AlternativeFormat));
        assert_eq!(
            ms("P0003-06-04T12:30:05"),
            Err(DurationError::AlternativeFormat)
        );
        assert_eq!(ms("PT1.5H30M"), Err(DurationError::FractionNotLast));
        assert_eq!(ms("PT30M1H"), Err(DurationError::BadDesignator));
        assert_eq!(ms("PT1H1H"), Err(DurationError::BadDesignator));
        assert_eq!(ms("P1W2D"), Err(DurationError::WeeksMixed));
        assert_eq!(ms("PTS"), Err(DurationError::MissingNumber));
        assert_eq!(ms("PT.5S"), Err(DurationError::MissingNumber));
        assert_eq!(ms("PT1"), Err(DurationError::BadDesignator));
        assert_eq!(ms("P1H"), Err(DurationError::BadDesignator));
        assert_eq!(ms("pt1s"), Err(DurationError::MissingP));
        assert_eq!(
            ms("PT99999999999999999999999999999999999999H"),
            Err(DurationError::Overflow)
        );
    }

    #[test]
    fn format_round_trips() {
        for m in [
            0u64,
            1,
            999,
            1_000,
            59_999,
            3_600_000,
            5_400_123,
            90_000_000_000,
        ] {
            let d = Duration::from_millis(m);
            assert_eq!(ms(d.as_str()), Ok(m), "{}", d.as_str());
        }
        assert_eq!(Duration::from_millis(5_400_120).as_str(), "PT1H30M0.12S");
    }
}
