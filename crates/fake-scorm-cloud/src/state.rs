//! What the fake keeps: courses, import jobs, registrations with their
//! postback settings, the calls made and the failures to inject.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, PartialEq)]
pub struct Postback {
    pub url: String,
    /// `form` or `httpbasic`.
    pub auth: String,
    pub user: String,
    pub password: String,
    /// `course`, `activity` or `full`.
    pub format: String,
}

/// The API a registration was created with: its postbacks speak that
/// version's format (V1: the XML report; V2: the registration-progress JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// A registration as the fake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRegistration {
    pub course_id: String,
    pub learner_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub postback: Option<Postback>,
    pub complete: String,
    pub success: String,
    pub score: Option<f64>,
    pub total_time_secs: f64,
    /// The API the registration was created with (and its postbacks' format).
    pub api: ApiVersion,
}

#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) course_id: String,
    pub(crate) polls_left: u32,
    pub(crate) outcome: Result<(String, Vec<String>), String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeCourse {
    pub title: String,
    pub versions: u32,
    pub bytes: u64,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) app_id: String,
    pub(crate) secret: String,
    pub(crate) clock_offset_secs: i64,
    pub(crate) polls_before_done: u32,
    pub(crate) courses: BTreeMap<String, FakeCourse>,
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) registrations: BTreeMap<String, FakeRegistration>,
    pub(crate) calls: Vec<String>,
    pub(crate) fail_next: HashMap<String, VecDeque<(u32, String)>>,
    pub(crate) next_token: u64,
    pub(crate) base: String,
}

/// Where an import job stands when it is polled.
pub(crate) enum Poll {
    Running,
    /// The title and parser warnings; the course now has a version.
    Complete(String, Vec<String>),
    Error(String),
}

/// Starts an import job for `course_id` with its outcome known up front (the
/// package was inspected on arrival); returns its id. A course not yet
/// imported is kept as a placeholder without versions until the job completes.
pub(crate) fn new_job(
    g: &mut Inner,
    course_id: &str,
    bytes: u64,
    outcome: Result<(String, Vec<String>), String>,
) -> String {
    let token = format!("job-{:04}", g.next_token);
    g.next_token += 1;
    let polls_left = g.polls_before_done;
    g.jobs.insert(
        token.clone(),
        Job {
            course_id: course_id.to_owned(),
            polls_left,
            outcome,
        },
    );
    if let Some(c) = g.courses.get_mut(course_id) {
        c.bytes = bytes;
    }
    g.courses.entry(course_id.to_owned()).or_insert(FakeCourse {
        title: String::new(),
        versions: 0,
        bytes,
    });
    token
}

/// Polls a job (`None`: no such job): it answers running for the configured
/// number of polls, then its outcome, applied to the course.
pub(crate) fn poll_job(g: &mut Inner, token: &str) -> Option<Poll> {
    let job = g.jobs.get_mut(token)?;
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Some(Poll::Running);
    }
    let job = job.clone();
    Some(match job.outcome {
        Ok((title, warnings)) => {
            let c = g
                .courses
                .entry(job.course_id.clone())
                .or_insert(FakeCourse {
                    title: String::new(),
                    versions: 0,
                    bytes: 0,
                });
            if c.title != title || c.versions == 0 {
                c.versions += 1;
            }
            c.title.clone_from(&title);
            Poll::Complete(title, warnings)
        }
        Err(e) => {
            if g.courses
                .get(&job.course_id)
                .is_some_and(|c| c.versions == 0)
            {
                g.courses.remove(&job.course_id);
            }
            Poll::Error(e)
        }
    })
}

/// Answers an injected failure for `op`, if one is queued (and logs it).
pub(crate) fn take_injected(g: &mut Inner, op: &str) -> Option<(u32, String)> {
    let failure = g.fail_next.get_mut(op)?.pop_front()?;
    g.calls.push(format!("{op} (failed)"));
    Some(failure)
}

pub(crate) fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
