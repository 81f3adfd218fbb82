#![doc = include_str!("../README.md")]
//!
//! ## The statement path
//!
//! The statement path is *read facts → plan → apply*:
//!
//! 1. The receiving side completes each statement ([`prepare`]: id,
//!    `stored`, authority, version, timestamp), stamps it again as it enters
//!    the writer's queue ([`Prepared::restamp`]) and computes what storing it
//!    needs under its integration's rules ([`Prepared::derive`]).
//! 2. [`Needs::of`] says what the store must be asked about a batch; the
//!    executor (`records`) reads those [`Facts`] in one lookup step.
//! 3. [`plan_batch`] turns the batch and the facts into a [`Plan`]:
//!    statements to insert, statements to mark voided, statements to park,
//!    the statistics to bring up to date ([`Touched`]) and each statement's
//!    [`Outcome`].
//! 4. The executor applies the plan in its transaction, then brings each
//!    touched statistic up to date: [`advance`] when the new events all sort
//!    after the stored state, else a fold of the learner's whole log.
//!
//! Pure: no I/O, no clock (times are parameters).

mod plan;
mod prepared;
mod rules;
mod touched;

pub use plan::{
    Facts, Insert, NeededActivity, Needs, Outcome, Park, Plan, StoredFact, pending_reason,
    plan_batch, same_content,
};
pub use prepared::{
    AttachmentData, Derived, Learning, Prepared, derive, event_json, prepare, statement_event,
};
pub use rules::{IntegrationRules, RULE_SETTINGS, RulesError, provider_of};
pub use touched::{Change, Touched, advance, merge, touch};

/// Why a batch cannot be stored as it is (the whole batch is refused), or
/// why stored data cannot be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("statement {id}: a different statement is already stored under this id")]
    Conflict { id: uuid::Uuid },
    #[error("statement {id}: the batch holds two different statements with this id")]
    BatchConflict { id: uuid::Uuid },
    #[error("statement {id}: voids {target}, which is itself a voiding statement")]
    VoidsVoiding { id: uuid::Uuid, target: uuid::Uuid },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
