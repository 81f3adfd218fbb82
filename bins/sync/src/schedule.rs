//! The built-in daily schedule (`run --daily-at HH:MM --tz ZONE`) for hosts
//! without cron, systemd timers or Kubernetes: the next run is computed in the
//! zone's civil time, so daylight-saving changes keep it at the same wall-clock
//! time.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("--daily-at {0:?}: expected HH:MM")]
    At(String),
    #[error("--tz {0:?}: unknown time zone")]
    Zone(String),
    #[error("cannot compute the next run: {0}")]
    Compute(String),
}

#[derive(Debug, Clone)]
pub struct Daily {
    pub at: Time,
    pub zone: TimeZone,
}

impl Daily {
    pub fn parse(at: &str, zone: &str) -> Result<Self, ScheduleError> {
        let (h, m) = at
            .split_once(':')
            .ok_or_else(|| ScheduleError::At(at.to_owned()))?;
        let (h, m): (i8, i8) = (
            h.parse().map_err(|_| ScheduleError::At(at.to_owned()))?,
            m.parse().map_err(|_| ScheduleError::At(at.to_owned()))?,
        );
        let at = Time::new(h, m, 0, 0).map_err(|_| ScheduleError::At(at.to_owned()))?;
        let zone = TimeZone::get(zone).map_err(|_| ScheduleError::Zone(zone.to_owned()))?;
        Ok(Self { at, zone })
    }

    /// The first run strictly after `now`.
    pub fn next_after(&self, now: Timestamp) -> Result<Zoned, ScheduleError> {
        let local = now.to_zoned(self.zone.clone());
        let today = local
            .date()
            .to_datetime(self.at)
            .to_zoned(self.zone.clone())
            .map_err(|e| ScheduleError::Compute(e.to_string()))?;
        if today.timestamp() > now {
            return Ok(today);
        }
        let tomorrow = local
            .date()
            .checked_add(1.day())
            .map_err(|e| ScheduleError::Compute(e.to_string()))?;
        tomorrow
            .to_datetime(self.at)
            .to_zoned(self.zone.clone())
            .map_err(|e| ScheduleError::Compute(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn next_run_in_paris() {
        let d = Daily::parse("06:50", "Europe/Paris").expect("parse");
        // winter (UTC+1): 06:50 Paris = 05:50 UTC
        assert_eq!(
            d.next_after(ts("2024-01-10T04:00:00Z"))
                .expect("next")
                .timestamp(),
            ts("2024-01-10T05:50:00Z")
        );
        assert_eq!(
            d.next_after(ts("2024-01-10T05:50:00Z"))
                .expect("next")
                .timestamp(),
            ts("2024-01-11T05:50:00Z"),
            "strictly after"
        );
        // summer (UTC+2): 04:50 UTC
        assert_eq!(
            d.next_after(ts("2024-07-10T12:00:00Z"))
                .expect("next")
                .timestamp(),
            ts("2024-07-11T04:50:00Z")
        );
        // across the spring change (2024-03-31): the wall-clock time stays 06:50
        assert_eq!(
            d.next_after(ts("2024-03-30T06:00:00Z"))
                .expect("next")
                .timestamp(),
            ts("2024-03-31T04:50:00Z")
        );
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            Daily::parse("6h50", "Europe/Paris"),
            Err(ScheduleError::At(_))
        ));
        assert!(matches!(
            Daily::parse("25:00", "Europe/Paris"),
            Err(ScheduleError::At(_))
        ));
        assert!(matches!(
            Daily::parse("06:50", "Mars/Olympus"),
            Err(ScheduleError::Zone(_))
        ));
    }
}
