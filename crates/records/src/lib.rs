#![doc = include_str!("../README.md")]
//!
//! ## The writes
//!
//! Shared by both binaries and `scorm-flows`:
//!
//! - [`record_statements`] / [`store_statement_refs_with`] (`write.rs`):
//!   one lookup step (`lookup.rs`), [`record_plan::plan_batch`], then the plan
//!   applied — statements inserted, voids marked, unmatched statements parked.
//! - [`update_many_with`] (`stats.rs`): the statistics a plan touched, brought
//!   up to date in key order ([`record_plan::advance`] or a refold).
//! - [`record_event`] (`stats.rs`): a launch, a SCORM result or an override.
//! - [`apply_pending`], [`repair_voiding`], [`replay`] and
//!   [`replay_with_progress`] (`maintenance.rs`).
//!
//! The statement log and the learning events are the source of truth; the
//! statistics rows are derived and rebuilt by [`refold`].

use store::{Integration, StoreError};

mod delivery;
mod launch;
mod lookup;
mod maintenance;
mod stats;
mod write;

pub use delivery::{CourseChange, append_course_events, course_json, statistic_fields};
pub use launch::{LmsLearner, record_launch, upsert_lms_learner};
pub use maintenance::{
    ReplayError, ReplayProgress, ReplayReport, apply_pending, repair_voiding, replay,
    replay_with_progress,
};
pub use record_plan::{
    AttachmentData, Change, IntegrationRules, Outcome, Prepared, RULE_SETTINGS, RulesError,
    Touched, merge, prepare, provider_of, touch,
};
pub use stats::{
    WriterCache, Written, record_event, refold, state_of, stats_of, update_many, update_many_with,
    update_stats,
};
pub use write::{
    record_statements, store_statement_refs, store_statement_refs_with, store_statements,
};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The batch is refused as it is ([`record_plan::PlanError`]).
    #[error(transparent)]
    Plan(#[from] record_plan::PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub use record_plan::PlanError;

/// The rules of a stored integration.
pub fn rules_for(i: &Integration) -> Result<IntegrationRules, RulesError> {
    IntegrationRules::from_settings(&i.id, &i.provider, &i.settings)
}

/// Unix milliseconds.
fn ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
