//! The server's clock: the one place that reads the time.

use time::OffsetDateTime;

/// The current time, in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// [`now`] in Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
