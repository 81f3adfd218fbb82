//! `ingest-server`: coursebridge's statement side as a library — the xAPI
//! LRS (statements, documents, agents, activities), launches, SCORM Cloud launches and postbacks, the LMS
//! API, health and metrics — as one axum [`Router`](axum::Router) with its
//! state. `coursebridge-ingest serve` is wiring around it; a Rust service
//! mounts the same routes in its own server, under a prefix of its choosing:
//!
//! ```no_run
//! # async fn host(store: store::Store) {
//! use std::sync::Arc;
//! use ingest_server::{config::Config, server, state::App};
//!
//! // The group writer (and, on SQLite, the checkpointer) start with the app.
//! let app = Arc::new(App::new(store, Config::default()));
//! let routes = axum::Router::new().nest("/lrs", server::router(app));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, routes).await.unwrap();
//! # }
//! ```
//!
//! Links the server builds for a request (a statements page's `more`) follow
//! the path the request came in on; links minted for later (launch links,
//! SCORM return pages) are built on the configured `public_url`, which must
//! then include the prefix.

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
