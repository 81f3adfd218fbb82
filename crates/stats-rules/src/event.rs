//! Learning events: what happened to one learner on one course or learning
//! path, already resolved by the caller (which learner, which target).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use xapi_model::{Statement, StatementObject};

use crate::json::{self, Out, Unwritten, time, uuid, value};

/// One learning event. Events are ordered by `(at, stored, id)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The statement id, or an id the caller gives launches, results and overrides.
    pub id: Uuid,
    /// When it happened: the statement's timestamp, the launch time, …
    #[serde(with = "crate::rfc3339")]
    pub at: OffsetDateTime,
    /// When we recorded it.
    #[serde(with = "crate::rfc3339")]
    pub stored: OffsetDateTime,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// The event as stored: exactly `serde_json::to_string(self)`, written
    /// directly (with `crate::json`'s pieces; the request derives one per
    /// statement).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        json::written(256, self, write_event)
    }

    /// The event's place in the total order: `(at, stored, id)`.
    pub fn key(&self) -> EventKey {
        EventKey(self.at, self.stored, self.id)
    }
}

/// [`Event::to_json`]'s text.
fn write_event(out: &mut Out, e: &Event) -> Result<(), Unwritten> {
    out.extend_from_slice(b"{\"id\":");
    uuid(out, e.id);
    out.extend_from_slice(b",\"at\":");
    time(out, e.at)?;
    out.extend_from_slice(b",\"stored\":");
    time(out, e.stored)?;
    out.extend_from_slice(b",\"kind\":");
    match &e.kind {
        EventKind::Statement(f) => {
            out.extend_from_slice(b"{\"type\":\"statement\",\"completed\":");
            value(out, &f.completed)?;
            out.extend_from_slice(b",\"success\":");
            value(out, &f.success)?;
            out.extend_from_slice(b",\"score\":");
            value(out, &f.score)?;
            out.extend_from_slice(b",\"progress\":");
            value(out, &f.progress)?;
            out.extend_from_slice(b",\"duration_ms\":");
            value(out, &f.duration_ms)?;
            out.push(b'}');
        }
        // Launches, results and overrides: not one per statement.
        other => value(out, other)?,
    }
    out.push(b'}');
    Ok(())
}

/// The total order of events: timestamp, then stored, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey(
    /// [`Event::at`].
    #[serde(with = "crate::rfc3339")]
    pub OffsetDateTime,
    /// [`Event::stored`].
    #[serde(with = "crate::rfc3339")]
    pub OffsetDateTime,
    /// [`Event::id`].
    pub Uuid,
);

/// The kinds of learning event, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum EventKind {
    /// An xAPI statement, reduced to what statistics need (see
    /// [`ProviderRules::statement_facts`]).
    Statement(StatementFacts),
    /// The learner started the course from the LMS.
    Launch(Launch),
    /// A SCORM Cloud registration result (postback or refresh).
    Scorm(ScormResult),
    /// An administrator forced completion, success or a score.
    Override(Override),
}

/// What a statement says, in the LMS's terms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct StatementFacts {
    /// The statement completes the course or path.
    pub completed: bool,
    /// `result.success`, when given.
    pub success: Option<bool>,
    /// A score 0–100, when the provider sends one (Udemy's `scaled` is progress, not a score).
    pub score: Option<f64>,
    /// A progress 0–100, when the provider sends one.
    pub progress: Option<f64>,
    /// `result.duration` in ms; `None` is unknown, never zero.
    pub duration_ms: Option<u64>,
}

/// Where in the LMS a learner started a course.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryPoint {
    /// From the catalog (or the course page).
    Catalog,
    /// From a session of this learning path.
    Path(String),
    /// Not launched from the LMS (the first thing we heard was a statement or a result).
    Unknown,
}

/// The learner started the course from the LMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// Where in the LMS they started it.
    pub entry: EntryPoint,
}

/// A SCORM registration's completion status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScormCompletion {
    /// Completed.
    Complete,
    /// Started, not completed.
    Incomplete,
    /// Not reported.
    Unknown,
}

/// A SCORM registration's success status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScormSuccess {
    /// Passed.
    Passed,
    /// Failed.
    Failed,
    /// Not reported.
    Unknown,
}

/// SCORM Cloud's "big four" (seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScormResult {
    /// Completion.
    pub complete: ScormCompletion,
    /// Success.
    pub success: ScormSuccess,
    /// 0–100 as SCORM Cloud reports it; `None` for `unknown`.
    pub score: Option<f64>,
    /// Seconds tracked by the player; `None` when not reported.
    pub total_time_secs: Option<f64>,
}

/// An administrator's override (seed 003: "force complete, passed or a score").
/// The latest override wins over provider data; an override with nothing set clears it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// Force the course completed.
    #[serde(default)]
    pub complete: bool,
    /// Force passed (`true`) or failed (`false`).
    pub success: Option<bool>,
    /// Force a score 0–100.
    pub score: Option<f64>,
    /// Who did it (for the audit trail).
    pub by: String,
    /// Why (for the audit trail).
    pub reason: Option<String>,
}

/// Whether a statement is about a course or a learning path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A course.
    Course,
    /// A learning path (a collection of courses).
    Path,
}

/// Who sends the statements: decides how they are read ([`ProviderRules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Seed 000: statements only at completion; 50 % at launch; dated policies.
    OpenSesame,
    /// Seed 001: progressed/completed for courses and learning paths.
    UdemyBusiness,
    /// Any other xAPI sender: completion, success, score, duration as sent.
    Generic,
}

/// How one provider's statements and launches turn into statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
///
/// The fields are public so that an integration can adjust them; the
/// constructors give each provider's rules as the seeds describe them.
pub struct ProviderRules {
    /// Whose rules these are.
    pub provider: Provider,
    /// Progress set by a launch unless already higher (seed 000: the
    /// integration's default, 50 %). `None`: launches do not set progress.
    pub launch_progress: Option<f64>,
    /// Seed 000: time spent and last activity are known only for courses
    /// launched from the LMS; otherwise they are reported as unknown.
    pub activity_requires_launch: bool,
    /// Verb IRIs that complete (besides `result.completion = true`).
    pub completed_verbs: Vec<String>,
    /// Verb IRIs that report progress.
    pub progressed_verbs: Vec<String>,
    /// An activity type containing one of these marks a learning path.
    pub path_type_markers: Vec<String>,
    /// A numeric extension whose key contains this carries path progress (0–100).
    pub path_progress_marker: String,
}

const ADL_COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
const ADL_PROGRESSED: &str = "http://adlnet.gov/expapi/verbs/progressed";

impl ProviderRules {
    fn base(provider: Provider) -> Self {
        Self {
            provider,
            launch_progress: None,
            activity_requires_launch: false,
            completed_verbs: vec![ADL_COMPLETED.into()],
            progressed_verbs: vec![ADL_PROGRESSED.into()],
            path_type_markers: vec![
                "collection".into(),
                "learning-path".into(),
                "learningpath".into(),
            ],
            path_progress_marker: "progress".into(),
        }
    }

    /// OpenSesame: 50 % progress at launch; time spent and last activity
    /// only for courses launched from the LMS.
    pub fn opensesame() -> Self {
        Self {
            launch_progress: Some(50.0),
            activity_requires_launch: true,
            ..Self::base(Provider::OpenSesame)
        }
    }

    /// Udemy Business: progress from `progressed` and `completed`
    /// statements (`score.scaled` for courses, an extension for paths).
    pub fn udemy_business() -> Self {
        Self::base(Provider::UdemyBusiness)
    }

    /// Any other xAPI sender: completion, success, score and duration as sent.
    pub fn generic() -> Self {
        Self::base(Provider::Generic)
    }

    /// The rules of provider `p` (one of the constructors above).
    pub fn for_provider(p: Provider) -> Self {
        match p {
            Provider::OpenSesame => Self::opensesame(),
            Provider::UdemyBusiness => Self::udemy_business(),
            Provider::Generic => Self::generic(),
        }
    }

    /// Course or learning path, by the object's activity type (seed 001:
    /// `Course` vs `Collection`). Anything that is not marked as a path is a course.
    pub fn target_kind(&self, statement: &Statement) -> TargetKind {
        let ty = match &statement.object {
            StatementObject::Activity(a) => {
                a.activity_type().unwrap_or_default().to_ascii_lowercase()
            }
            _ => String::new(),
        };
        if self
            .path_type_markers
            .iter()
            .any(|m| ty.contains(m.as_str()))
        {
            TargetKind::Path
        } else {
            TargetKind::Course
        }
    }

    /// Reduces a validated statement to the facts statistics need.
    pub fn statement_facts(&self, statement: &Statement, kind: TargetKind) -> StatementFacts {
        let verb = statement.verb.id.as_str();
        let result = statement.result.as_ref();
        let completed = self.completed_verbs.iter().any(|v| v == verb)
            || result.and_then(|r| r.completion) == Some(true);
        let progressed = self.progressed_verbs.iter().any(|v| v == verb);
        let scaled = result.and_then(|r| r.score).and_then(|s| s.scaled);
        let path_progress = || {
            result.and_then(|r| r.extensions.as_ref()).and_then(|ext| {
                ext.iter()
                    .find(|(k, v)| {
                        k.to_ascii_lowercase()
                            .contains(self.path_progress_marker.as_str())
                            && v.is_number()
                    })
                    .and_then(|(_, v)| v.as_f64())
            })
        };
        let mut facts = StatementFacts {
            completed,
            success: result.and_then(|r| r.success),
            duration_ms: result
                .and_then(|r| r.duration.as_ref())
                .map(xapi_model::Duration::millis),
            ..StatementFacts::default()
        };
        match self.provider {
            Provider::UdemyBusiness => {
                // Seed 001: course progress is score.scaled (0..1); path progress
                // is an extension (0..100). Neither is a score.
                facts.progress = match kind {
                    TargetKind::Course if progressed || completed => scaled.map(|s| s * 100.0),
                    TargetKind::Path if progressed || completed => path_progress(),
                    _ => None,
                };
            }
            Provider::OpenSesame | Provider::Generic => {
                facts.score = result.and_then(|r| r.score).and_then(|s| s.percent());
                if progressed {
                    facts.progress = path_progress().or_else(|| scaled.map(|s| s * 100.0));
                }
            }
        }
        if completed {
            facts.progress = Some(100.0);
        }
        facts.progress = facts.progress.map(|p| p.clamp(0.0, 100.0));
        facts
    }
}
