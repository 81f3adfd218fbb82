//! `records`: the executor of the statement path and the other writes of
//! learning records, shared by both binaries and `scorm-flows`. What to do is
//! decided by the pure crate `record-plan`; this crate reads the facts a
//! decision needs and applies it in the caller's transaction.
//!
//! - [`record_statements`] / [`store_statement_refs_with`] (`write.rs`):
//!   one lookup step ([`lookup`]), [`record_plan::plan_batch`], then the plan
//!   applied — statements inserted, voids marked, unmatched statements parked.
//! - [`update_many_with`] (`stats.rs`): the statistics a plan touched, brought
//!   up to date in key order ([`record_plan::advance`] or a refold).
//! - [`record_event`] (`stats.rs`): a launch, a SCORM result or an override.
//! - [`apply_pending`], [`repair_voiding`], [`replay`] (`maintenance.rs`).
//!
//! The statement log and the learning events are the source of truth; the
//! statistics rows are derived and rebuilt by [`refold`].

use store::{Integration, StoreError};

mod launch;
mod lookup;
mod maintenance;
mod stats;
mod write;

pub use launch::{LmsLearner, record_launch, upsert_lms_learner};
pub use maintenance::{ReplayError, ReplayReport, apply_pending, repair_voiding, replay};
pub use record_plan::{
    AttachmentData, Change, IntegrationRules, Outcome, Prepared, RulesError, Touched, merge,
    prepare, provider_of, touch,
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
    #[error("statement {id}: a different statement is already stored under this id")]
    Conflict { id: uuid::Uuid },
    #[error("statement {id}: the batch holds two different statements with this id")]
    BatchConflict { id: uuid::Uuid },
    #[error("statement {id}: voids {target}, which is itself a voiding statement")]
    VoidsVoiding { id: uuid::Uuid, target: uuid::Uuid },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<record_plan::PlanError> for RecordError {
    fn from(e: record_plan::PlanError) -> Self {
        use record_plan::PlanError as P;
        match e {
            P::Conflict { id } => Self::Conflict { id },
            P::BatchConflict { id } => Self::BatchConflict { id },
            P::VoidsVoiding { id, target } => Self::VoidsVoiding { id, target },
            P::Corrupt(why) => Self::Corrupt(why),
        }
    }
}

/// The rules of a stored integration.
pub fn rules_for(i: &Integration) -> Result<IntegrationRules, RulesError> {
    IntegrationRules::from_settings(&i.id, &i.provider, &i.settings)
}

/// Unix milliseconds.
fn ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
