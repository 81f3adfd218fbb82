//! The validating reader: one pass over an owned JSON value that moves data
//! into the typed model and records every broken rule with its JSON path.
//!
//! Properties are removed from each object as they are read; whatever is left
//! is an unknown property. `null` is rejected everywhere but inside extensions.
//!
//! One submodule per part of the statement; each reads its part with the
//! helpers in `values` and depends only on the parts it contains:
//! `statement` → `context` → `actor`, `activity` → `values` → `timestamp`.

mod activity;
mod actor;
mod attachments;
mod context;
mod result;
mod statement;
mod timestamp;
mod values;

pub(crate) use actor::actor_at_root;
pub(crate) use statement::statement;
pub(crate) use timestamp::parse_timestamp;
