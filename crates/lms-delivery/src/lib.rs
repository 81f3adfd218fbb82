#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! - [`events`]: the change feed's event types, the filters subscriptions
//!   use, and the JSON envelope every event is delivered in (feed and
//!   webhooks alike);
//! - [`signature`]: Standard Webhooks 1.0 signatures (`whsec_` secrets,
//!   `v1,<base64 HMAC-SHA256>`), signing and verifying;
//! - [`retry`]: when a failed delivery is tried again, and when a
//!   subscription that keeps failing is disabled;
//! - [`subscription`]: the checks on what a subscription is created with.
//!
//! No I/O, no clock, no randomness of its own: the dispatcher in
//! `ingest-server` owns the sockets, the time and the jitter.

pub mod events;
pub mod retry;
pub mod signature;
pub mod subscription;

pub use events::{EventType, TypeFilter, envelope, rfc3339_ms};
pub use retry::{Outcome, Schedule, classify};
pub use signature::{Secret, SignatureError, sign, verify};
pub use subscription::{InvalidSubscription, NewSubscription, UrlPolicy, check_url, is_public};
