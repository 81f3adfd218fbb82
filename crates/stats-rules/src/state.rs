//! Folding events into a learner's state for one course or path, and the
//! statistics view of that state.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event::*;
use crate::policy::{Policies, ScoreRule, TimeSpentRule};

mod json;

/// Everything the fold needs to know: the provider's rules and the policy table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// How the provider's statements and launches are read.
    pub provider: ProviderRules,
    /// The dated policy eras.
    pub policies: Policies,
}

impl Rules {
    /// The provider's rules with the policies that go with them: seed 000's
    /// dated table (2024) for OpenSesame; for every other provider one era in
    /// which every attempt's time counts and the latest score wins.
    pub fn new(provider: ProviderRules) -> Self {
        let policies = match provider.provider {
            Provider::OpenSesame => Policies::default(),
            Provider::UdemyBusiness | Provider::Generic => Policies::single(
                "undated",
                TimeSpentRule::AllAttempts,
                ScoreRule::LatestAlways,
            ),
        };
        Self { provider, policies }
    }
}

/// Success or failure, in the LMS's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Passed.
    Success,
    /// Failed.
    Failed,
}

impl Outcome {
    fn from_success(b: bool) -> Self {
        if b { Outcome::Success } else { Outcome::Failed }
    }
}

/// One attempt at a course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// Where the attempt was started.
    pub entry: EntryPoint,
    /// When it started (its first event).
    #[serde(with = "crate::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it was completed, if it was.
    #[serde(with = "crate::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Time spent in this attempt up to its completion; `None` when no duration was reported.
    pub time_spent_ms: Option<u64>,
    /// The attempt's score, 0–100.
    pub score: Option<f64>,
    /// The attempt's success or failure, when reported.
    pub result: Option<Outcome>,
    /// The attempt's latest event.
    #[serde(with = "crate::rfc3339")]
    pub last_activity_at: OffsetDateTime,
}

/// Why an event could not be applied incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event {new:?} sorts before the last applied event {last:?}: refold the learner's events")]
pub struct OutOfOrder {
    /// The key of the last event applied.
    pub last: EventKey,
    /// The key of the event refused.
    pub new: EventKey,
}

/// An administrator's override and when it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideRecord {
    /// When the override was made (its event's `at`).
    #[serde(with = "crate::rfc3339")]
    pub at: OffsetDateTime,
    /// What it forces.
    #[serde(flatten)]
    pub value: Override,
}

/// The folded state of one learner on one course or learning path. Build it
/// with [`fold`] (any order, duplicates allowed) or extend it in order with
/// [`LearnerState::apply`]; read it with [`LearnerState::stats`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LearnerState {
    progress: f64,
    score: Option<f64>,
    result: Option<Outcome>,
    #[serde(with = "crate::rfc3339::option")]
    first_activity_at: Option<OffsetDateTime>,
    #[serde(with = "crate::rfc3339::option")]
    last_activity_at: Option<OffsetDateTime>,
    #[serde(with = "crate::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
    launched_from_lms: bool,
    attempts: Vec<Attempt>,
    override_: Option<OverrideRecord>,
    last_key: Option<EventKey>,
    events: u64,
}

/// The statistics of one learner on one course or learning path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnerStats {
    /// 0–100; never goes down.
    pub progress: f64,
    /// The course or path is completed.
    pub completed: bool,
    /// Success or failure, when reported (or overridden).
    pub result: Option<Outcome>,
    /// 0–100.
    pub score: Option<f64>,
    /// `None` is unknown (no duration reported, or — OpenSesame — not launched from the LMS).
    pub time_spent_ms: Option<u64>,
    /// The learner's first event.
    #[serde(with = "crate::rfc3339::option")]
    pub first_activity_at: Option<OffsetDateTime>,
    /// The learner's latest event (`None` when unknown: OpenSesame without a launch).
    #[serde(with = "crate::rfc3339::option")]
    pub last_activity_at: Option<OffsetDateTime>,
    /// When the course or path was completed.
    #[serde(with = "crate::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Seed 000: whether the learner launched the course from the LMS; without
    /// it, time spent and last activity are not known for OpenSesame courses.
    pub launched_from_lms: bool,
    /// The policy era that decided time spent (by the latest completion, or
    /// the latest activity while nothing is completed).
    pub policy_era: Option<String>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// Present when an administrator's override changed what providers reported.
    pub overridden: Option<OverrideRecord>,
    /// How many events were folded.
    pub events: u64,
}

/// Folds events in any order, with any duplication, into one state: they are
/// sorted by `(at, stored, id)` and repeated ids are applied once.
pub fn fold(events: impl IntoIterator<Item = Event>, rules: &Rules) -> LearnerState {
    let mut events: Vec<Event> = events.into_iter().collect();
    events.sort_by_key(Event::key);
    let mut state = LearnerState::default();
    let mut last_id = None;
    for e in &events {
        if last_id == Some(e.id) {
            continue;
        }
        last_id = Some(e.id);
        state.apply_sorted(e, rules);
    }
    state
}

impl LearnerState {
    /// Applies one more event that sorts after every event applied so far
    /// (the common case of live ingestion). An event with the same key as the
    /// last one is a duplicate and changes nothing. An earlier event is refused:
    /// the caller refolds the learner's events with [`fold`].
    pub fn apply(&mut self, event: &Event, rules: &Rules) -> Result<(), OutOfOrder> {
        let key = event.key();
        match self.last_key {
            Some(last) if key == last => Ok(()),
            Some(last) if key < last => Err(OutOfOrder { last, new: key }),
            _ => {
                self.apply_sorted(event, rules);
                Ok(())
            }
        }
    }

    fn apply_sorted(&mut self, e: &Event, rules: &Rules) {
        self.last_key = Some(e.key());
        self.events += 1;
        // An override is an administrator's act, not the learner's: it
        // changes no activity time (of the learner or of an attempt).
        let learner_activity = !matches!(e.kind, EventKind::Override(_));
        if learner_activity {
            self.first_activity_at = Some(self.first_activity_at.map_or(e.at, |t| t.min(e.at)));
            self.last_activity_at = Some(self.last_activity_at.map_or(e.at, |t| t.max(e.at)));
        }
        match &e.kind {
            EventKind::Launch(l) => self.launch(e.at, l, rules),
            EventKind::Statement(f) => self.statement(e.at, f, rules),
            EventKind::Scorm(r) => self.scorm(e.at, r),
            EventKind::Override(o) => {
                let cleared = !o.complete && o.success.is_none() && o.score.is_none();
                self.override_ = (!cleared).then(|| OverrideRecord {
                    at: e.at,
                    value: o.clone(),
                });
            }
        }
        if let (true, Some(a)) = (learner_activity, self.attempts.last_mut()) {
            a.last_activity_at = a.last_activity_at.max(e.at);
        }
    }

    fn raise_progress(&mut self, p: f64) {
        if p > self.progress {
            self.progress = p.min(100.0);
        }
    }

    fn complete(&mut self, at: OffsetDateTime) {
        self.progress = 100.0;
        self.completed_at.get_or_insert(at);
        if let Some(a) = self.attempts.last_mut() {
            a.completed_at.get_or_insert(at);
        }
    }

    /// The current attempt, started now with an unknown entry point if there is none.
    fn current_attempt(&mut self, at: OffsetDateTime) -> &mut Attempt {
        if self.attempts.is_empty() {
            self.start_attempt(EntryPoint::Unknown, at);
        }
        let last = self.attempts.len() - 1;
        &mut self.attempts[last]
    }

    fn start_attempt(&mut self, entry: EntryPoint, at: OffsetDateTime) {
        let number = u32::try_from(self.attempts.len() + 1).unwrap_or(u32::MAX);
        self.attempts.push(Attempt {
            number,
            entry,
            started_at: at,
            completed_at: None,
            time_spent_ms: None,
            score: None,
            result: None,
            last_activity_at: at,
        });
    }

    /// Seed 000 "Course start behavior" and 360Learning's attempt rule.
    fn launch(&mut self, at: OffsetDateTime, launch: &Launch, rules: &Rules) {
        self.launched_from_lms = true;
        let new_attempt = match self.attempts.last() {
            None => true,
            Some(a) => {
                a.entry != launch.entry
                    || (a.completed_at.is_some()
                        && rules
                            .policies
                            .relaunch_new_attempt_from
                            .is_some_and(|from| at >= from))
            }
        };
        if new_attempt {
            self.start_attempt(launch.entry.clone(), at);
        }
        if let Some(p) = rules.provider.launch_progress {
            self.raise_progress(p);
        }
    }

    fn statement(&mut self, at: OffsetDateTime, f: &StatementFacts, rules: &Rules) {
        let policies = &rules.policies;
        let attempt = self.current_attempt(at);
        let open = attempt.completed_at.is_none();
        // Seed 000's score rule, decided by the era of the attempt's completion.
        let may_update = open
            || attempt
                .completed_at
                .is_some_and(|c| policies.era_at(c).score == ScoreRule::LatestAlways);
        let mut new_score = None;
        let mut new_result = None;
        if may_update {
            if let Some(s) = f.score {
                attempt.score = Some(s);
                new_score = Some(s);
            }
            if let Some(b) = f.success {
                attempt.result = Some(Outcome::from_success(b));
                new_result = attempt.result;
            }
        }
        // Time counts up to the attempt's completion, the completing statement included.
        if open {
            if let Some(d) = f.duration_ms {
                attempt.time_spent_ms = Some(attempt.time_spent_ms.unwrap_or(0).saturating_add(d));
            }
        }
        if new_score.is_some() {
            self.score = new_score;
        }
        if new_result.is_some() {
            self.result = new_result;
        }
        if let Some(p) = f.progress {
            self.raise_progress(p);
        }
        if f.completed {
            self.complete(at);
        }
    }

    /// Seed 003's big four: complete → 100, incomplete → kept, success → result,
    /// score → score, totaltime (s) → time spent (ms). A result is a snapshot of
    /// the registration, so its time replaces (not adds to) the attempt's time.
    fn scorm(&mut self, at: OffsetDateTime, r: &ScormResult) {
        let attempt = self.current_attempt(at);
        if let Some(secs) = r.total_time_secs.filter(|s| s.is_finite() && *s >= 0.0) {
            attempt.time_spent_ms = Some((secs * 1000.0).round() as u64);
        }
        let result = match r.success {
            ScormSuccess::Passed => Some(Outcome::Success),
            ScormSuccess::Failed => Some(Outcome::Failed),
            ScormSuccess::Unknown => None,
        };
        let score = r
            .score
            .filter(|s| s.is_finite())
            .map(|s| s.clamp(0.0, 100.0));
        if result.is_some() {
            attempt.result = result;
        }
        if score.is_some() {
            attempt.score = score;
        }
        if result.is_some() {
            self.result = result;
        }
        if score.is_some() {
            self.score = score;
        }
        if r.complete == ScormCompletion::Complete {
            self.complete(at);
        }
    }

    /// The statistics, with the time-spent policy and any override applied.
    pub fn stats(&self, rules: &Rules) -> LearnerStats {
        let known = !rules.provider.activity_requires_launch || self.launched_from_lms;
        let latest_completion = self.attempts.iter().filter_map(|a| a.completed_at).max();
        let era = latest_completion
            .or(self.last_activity_at)
            .map(|t| rules.policies.era_at(t));
        let time_spent_ms = if known {
            match era.map(|e| e.time_spent) {
                Some(TimeSpentRule::AllAttempts) => self
                    .attempts
                    .iter()
                    .filter_map(|a| a.time_spent_ms)
                    .reduce(u64::saturating_add),
                Some(TimeSpentRule::FirstAttempt) => {
                    self.attempts.first().and_then(|a| a.time_spent_ms)
                }
                None => None,
            }
        } else {
            None
        };
        let mut stats = LearnerStats {
            progress: self.progress,
            completed: self.completed_at.is_some(),
            result: self.result,
            score: self.score,
            time_spent_ms,
            first_activity_at: self.first_activity_at,
            last_activity_at: if known { self.last_activity_at } else { None },
            completed_at: self.completed_at,
            launched_from_lms: self.launched_from_lms,
            policy_era: era.map(|e| e.name.clone()),
            attempts: self.attempts.clone(),
            overridden: self.override_.clone(),
            events: self.events,
        };
        if let Some(o) = &self.override_ {
            if o.value.complete {
                stats.progress = 100.0;
                stats.completed = true;
                stats.completed_at.get_or_insert(o.at);
            }
            if let Some(b) = o.value.success {
                stats.result = Some(Outcome::from_success(b));
            }
            if let Some(s) = o.value.score {
                stats.score = Some(s.clamp(0.0, 100.0));
            }
        }
        stats
    }

    /// The key of the last event applied.
    pub fn last_key(&self) -> Option<EventKey> {
        self.last_key
    }

    /// The attempts so far (as in [`LearnerStats::attempts`], which does not
    /// depend on the rules).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Whether the learner launched from the LMS (as in
    /// [`LearnerStats::launched_from_lms`]).
    pub fn launched_from_lms(&self) -> bool {
        self.launched_from_lms
    }

    /// The administrator's override in force (as in [`LearnerStats::overridden`]).
    pub fn override_record(&self) -> Option<&OverrideRecord> {
        self.override_.as_ref()
    }
}
