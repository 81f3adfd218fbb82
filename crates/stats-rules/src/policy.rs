//! The dated policies of seed 000 as data: a table of eras bounded by UTC
//! instants. The era that governs an attempt is the one in force at the
//! attempt's completion time.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

/// Which attempts count towards a course's time spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSpentRule {
    /// Only the first attempt, up to its completion.
    FirstAttempt,
    /// Every attempt, each up to its completion.
    AllAttempts,
}

/// Whether a score still changes once its attempt is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreRule {
    /// The latest score wins, even after completion.
    LatestAlways,
    /// A score updates only while its attempt is ongoing; once completed it is final.
    FinalOnceCompleted,
}

/// One era of the policy table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Era {
    /// The era's name, reported as [`crate::LearnerStats::policy_era`].
    pub name: String,
    /// Inclusive start; `None` for the first era (since forever).
    #[serde(with = "crate::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Which attempts count towards time spent.
    pub time_spent: TimeSpentRule,
    /// Whether a completed attempt's score is final.
    pub score: ScoreRule,
}

/// Why a policy table is refused ([`Policies::new`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No era.
    #[error("eras: the table is empty")]
    Empty,
    /// The first era has a start.
    #[error("eras[0].from: the first era must start at the beginning of time (from = null)")]
    FirstHasStart,
    /// An era after the first (its index) has no start.
    #[error("eras[{0}].from: every era after the first needs a start instant")]
    MissingStart(usize),
    /// An era (its index) does not start after the one before it.
    #[error("eras[{0}].from: eras must be in strictly increasing order of start")]
    NotIncreasing(usize),
    /// [`Policies::seed_000`]'s year gives no valid date.
    #[error("year {0}: out of range")]
    Year(i32),
}

/// The policy table and the other dated rule of seed 000.
///
/// Build it with [`Policies::new`], which validates the table, or one of the
/// ready-made tables. Deserializing does **not** validate it: a table read
/// from JSON the caller does not control must be checked again with
/// `Policies::new(p.eras().to_vec(), p.relaunch_new_attempt_from)`, since
/// [`Policies::era_at`] relies on a non-empty table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policies {
    eras: Vec<Era>,
    /// Launches from this instant on start a new attempt when the course is
    /// already completed (360Learning: "from 2024-11-13"). `None`: never.
    #[serde(with = "crate::rfc3339::option")]
    pub relaunch_new_attempt_from: Option<OffsetDateTime>,
}

/// Central European Time as the seed writes it: UTC+1.
const CET: i8 = 1;

fn cet(
    year: i32,
    month: time::Month,
    day: u8,
    hour: u8,
    minute: u8,
) -> Result<OffsetDateTime, PolicyError> {
    let date =
        time::Date::from_calendar_date(year, month, day).map_err(|_| PolicyError::Year(year))?;
    let t = time::Time::from_hms(hour, minute, 0).map_err(|_| PolicyError::Year(year))?;
    let off = UtcOffset::from_hms(CET, 0, 0).map_err(|_| PolicyError::Year(year))?;
    Ok(time::PrimitiveDateTime::new(date, t)
        .assume_offset(off)
        .to_offset(UtcOffset::UTC))
}

impl Policies {
    /// A validated table: the first era open-ended backwards, then strictly increasing starts.
    pub fn new(
        eras: Vec<Era>,
        relaunch_new_attempt_from: Option<OffsetDateTime>,
    ) -> Result<Self, PolicyError> {
        let first = eras.first().ok_or(PolicyError::Empty)?;
        if first.from.is_some() {
            return Err(PolicyError::FirstHasStart);
        }
        let mut prev: Option<OffsetDateTime> = None;
        for (i, era) in eras.iter().enumerate().skip(1) {
            let from = era.from.ok_or(PolicyError::MissingStart(i))?;
            if prev.is_some_and(|p| from <= p) {
                return Err(PolicyError::NotIncreasing(i));
            }
            prev = Some(from);
        }
        Ok(Self {
            eras,
            relaunch_new_attempt_from,
        })
    }

    /// Seed 000's table for a given year (the seed gives none; 2024 is the default):
    ///
    /// | era | completed | time spent | score |
    /// |---|---|---|---|
    /// | `until-may-14` | before May 14th 05:30 CET (04:30 UTC) | first attempt | latest always |
    /// | `may-14-to-sep-11` | from then until September 11th 12:00 CET (11:00 UTC) | all attempts | final once completed |
    /// | `from-sep-11` | from then on | first attempt | final once completed |
    ///
    /// and relaunching a completed course starts a new attempt from November
    /// 13th 00:00 CET.
    pub fn seed_000(year: i32) -> Result<Self, PolicyError> {
        use time::Month::{May, November, September};
        Self::new(
            vec![
                Era {
                    name: "until-may-14".into(),
                    from: None,
                    time_spent: TimeSpentRule::FirstAttempt,
                    score: ScoreRule::LatestAlways,
                },
                Era {
                    name: "may-14-to-sep-11".into(),
                    from: Some(cet(year, May, 14, 5, 30)?),
                    time_spent: TimeSpentRule::AllAttempts,
                    score: ScoreRule::FinalOnceCompleted,
                },
                Era {
                    name: "from-sep-11".into(),
                    from: Some(cet(year, September, 11, 12, 0)?),
                    time_spent: TimeSpentRule::FirstAttempt,
                    score: ScoreRule::FinalOnceCompleted,
                },
            ],
            Some(cet(year, November, 13, 0, 0)?),
        )
    }

    /// One era for all time: what providers without dated rules get (every
    /// attempt's time counts; the latest score wins, so retakes show).
    pub fn single(name: &str, time_spent: TimeSpentRule, score: ScoreRule) -> Self {
        Self {
            eras: vec![Era {
                name: name.into(),
                from: None,
                time_spent,
                score,
            }],
            relaunch_new_attempt_from: None,
        }
    }

    /// The era in force at `t`.
    pub fn era_at(&self, t: OffsetDateTime) -> &Era {
        // eras[0] has no start; the last era starting at or before t wins.
        let i = self.eras.partition_point(|e| e.from.is_none_or(|f| f <= t));
        &self.eras[i.saturating_sub(1)]
    }

    /// The eras, oldest first.
    pub fn eras(&self) -> &[Era] {
        &self.eras
    }
}

impl Default for Policies {
    /// Seed 000's table for 2024.
    fn default() -> Self {
        // 2024 is a valid year, so `seed_000` cannot fail; the fallback is never taken.
        Self::seed_000(2024).unwrap_or_else(|_| {
            Self::single(
                "seed-000",
                TimeSpentRule::FirstAttempt,
                ScoreRule::FinalOnceCompleted,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn seed_boundaries_in_utc() {
        let p = Policies::default();
        assert_eq!(p.eras()[1].from, Some(datetime!(2024-05-14 04:30 UTC)));
        assert_eq!(p.eras()[2].from, Some(datetime!(2024-09-11 11:00 UTC)));
        assert_eq!(
            p.relaunch_new_attempt_from,
            Some(datetime!(2024-11-12 23:00 UTC))
        );
        assert_eq!(
            p.era_at(datetime!(2024-05-14 04:29:59 UTC)).name,
            "until-may-14"
        );
        assert_eq!(
            p.era_at(datetime!(2024-05-14 04:30:00 UTC)).name,
            "may-14-to-sep-11"
        );
        assert_eq!(
            p.era_at(datetime!(2024-09-11 10:59:59 UTC)).name,
            "may-14-to-sep-11"
        );
        assert_eq!(
            p.era_at(datetime!(2024-09-11 11:00:00 UTC)).name,
            "from-sep-11"
        );
        assert_eq!(
            p.era_at(datetime!(1999-01-01 00:00 UTC)).name,
            "until-may-14"
        );
    }

    #[test]
    fn other_years_and_bad_tables() {
        let p = Policies::seed_000(2025).expect("valid year");
        assert_eq!(p.eras()[1].from, Some(datetime!(2025-05-14 04:30 UTC)));
        assert_eq!(Policies::new(vec![], None), Err(PolicyError::Empty));
        let mut eras = Policies::default().eras().to_vec();
        eras.swap(1, 2);
        assert_eq!(
            Policies::new(eras, None),
            Err(PolicyError::NotIncreasing(2))
        );
    }
}
