//! `coursebridge-sync` as a library: catalog sources, the sync run, the
//! integration lifecycle and settings changes, the operator's SCORM Cloud
//! commands, and how long work shows its progress on stderr.

pub mod config;
pub mod configure;
pub mod lifecycle;
pub use progress;
pub mod providers;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod scorm;
