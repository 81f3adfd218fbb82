//! LMS learning paths made of courses (seed 000: "If the course is part of a
//! path with a linear progression, the learner must complete the course …
//! before starting the next step"; the last step completes the path).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::state::LearnerStats;

/// A path as the LMS defines it: ordered course steps, linear or free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathDef {
    /// The courses, in the path's order (the ids the statistics are looked up by).
    pub steps: Vec<String>,
    /// Linear progression: a step opens only when every step before it is completed.
    pub linear: bool,
}

/// One step of a path, for one learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStatus {
    /// The step's course.
    pub course: String,
    /// The learner may start this step now.
    pub available: bool,
    /// The learner completed the course.
    pub completed: bool,
    /// The learner's progress on the course, 0–100 (0 when never touched).
    pub progress: f64,
}

/// A learner's progress through a path ([`path_progress`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathProgress {
    /// Each step, in the path's order.
    pub steps: Vec<StepStatus>,
    /// Every step is completed (an empty path is not).
    pub completed: bool,
    /// Completed steps / steps × 100 (as Udemy computes path progress: content
    /// completed over content in the path, not weighted by duration).
    pub progress: f64,
    /// When the last step was completed, if the path is.
    #[serde(with = "crate::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// The first available step not completed yet.
    pub next_step: Option<String>,
}

/// The learner's progress through `path`, given a lookup of course statistics
/// (`None` for a course the learner never touched).
pub fn path_progress<'a>(
    path: &PathDef,
    stats: impl Fn(&str) -> Option<&'a LearnerStats>,
) -> PathProgress {
    let mut steps = Vec::with_capacity(path.steps.len());
    let mut all_before_done = true;
    let mut completed_at: Option<OffsetDateTime> = None;
    for course in &path.steps {
        let s = stats(course);
        let completed = s.is_some_and(|s| s.completed);
        steps.push(StepStatus {
            course: course.clone(),
            available: !path.linear || all_before_done,
            completed,
            progress: s.map_or(0.0, |s| s.progress),
        });
        if completed {
            if let Some(t) = s.and_then(|s| s.completed_at) {
                completed_at = Some(completed_at.map_or(t, |c: OffsetDateTime| c.max(t)));
            }
        }
        all_before_done &= completed;
    }
    let done = steps.iter().filter(|s| s.completed).count();
    let completed = !steps.is_empty() && done == steps.len();
    PathProgress {
        next_step: steps
            .iter()
            .find(|s| s.available && !s.completed)
            .map(|s| s.course.clone()),
        progress: if steps.is_empty() {
            0.0
        } else {
            done as f64 * 100.0 / steps.len() as f64
        },
        completed_at: if completed { completed_at } else { None },
        completed,
        steps,
    }
}
