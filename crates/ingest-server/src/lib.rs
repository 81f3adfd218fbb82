#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! The routes are declared in [`server::router`]; the state they share is
//! [`state::App`], configured by [`config::Config`].

#![warn(missing_docs)]

pub mod api;
pub mod attachments;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod console;
pub mod delivery;
pub mod documents;
pub mod error;
pub mod in_flight;
pub mod launch;
pub mod launch_links;
pub mod listing;
pub mod metrics;
pub mod oauth;
pub mod query;
pub mod scorm;
pub mod server;
pub mod state;
pub mod writer;
pub mod xapi;
