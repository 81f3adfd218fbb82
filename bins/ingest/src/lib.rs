//! `coursebridge-ingest` as a library: the server (for embedding and tests),
//! its configuration, credentials and the QA validator.

pub mod api;
pub mod attachments;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod in_flight;
pub mod launch;
pub mod metrics;
pub mod oauth;
pub mod query;
pub mod scorm;
pub mod server;
pub mod state;
pub mod validate;
pub mod writer;
pub mod xapi;
