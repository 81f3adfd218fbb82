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

pub(crate) fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
