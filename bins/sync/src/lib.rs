//! `coursebridge-sync` as a library: catalog sources, the sync run, the
//! integration lifecycle and settings changes, and the operator's SCORM
//! Cloud commands.

pub mod config;
pub mod configure;
pub mod lifecycle;
pub mod providers;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod scorm;
