#![doc = include_str!("../README.md")]
//!
//! ## The rules
//!
//! `stats-rules`: learner statistics from learning events, exactly as seeds
//! 000 (OpenSesame via 360Learning), 001 (Udemy Business) and 003 (SCORM
//! Cloud) describe them. See `docs/stats-rules.md` for the rules and worked
//! examples of each dated policy era.
//!
//! - Inputs are [`Event`]s: a statement reduced to [`StatementFacts`] by
//!   [`ProviderRules::statement_facts`], a [`Launch`], a [`ScormResult`], an
//!   [`Override`]. Every time is an input; nothing here reads a clock.
//! - [`fold`] turns a learner's events for one course or path — in any order,
//!   with any duplication — into a [`LearnerState`]; [`LearnerState::apply`]
//!   extends it in order; [`LearnerState::stats`] gives the [`LearnerStats`].
//! - [`Policies`] is seed 000's table of dated eras, as data.
//! - [`path_progress`] evaluates an LMS learning path (linear or not).
//!
//! Pure: no I/O, no clock.

#![warn(missing_docs)]

mod event;
mod json;
mod path;
mod policy;
mod rfc3339;
mod state;

pub use event::*;
pub use path::{PathDef, PathProgress, StepStatus, path_progress};
pub use policy::{Era, Policies, PolicyError, ScoreRule, TimeSpentRule};
pub use state::{
    Attempt, LearnerState, LearnerStats, OutOfOrder, Outcome, OverrideRecord, Rules, fold,
};
