#![doc = include_str!("../README.md")]
//!
//! ## Design
//!
//! `scorm-cloud-client`: a sans-IO client for SCORM Cloud's API V1, in the
//! manner of quinn-proto: operations build [`Request`] descriptions (signed,
//! with the time passed in), parsers turn response bytes into typed results or
//! typed errors, and postbacks are read and authenticated. The caller owns the
//! sockets, the files (uploads are streamed by the caller) and the clock.
//!
//! It follows Rustici's integration guidance for an LMS (our ids, local
//! state, asynchronous import with polling, postbacks, launch URLs signed at
//! launch time); coursebridge's `docs/scorm.md` records the decisions.
//!
//! The version switch: [`ApiVersion`]. V1 ([`Client`]) covers every operation;
//! V2 ([`v2::ClientV2`], Rustici's recommended REST API) covers import,
//! registrations, results and the launch link, parsed into the same types.

#![warn(missing_docs)]

pub mod parse;
pub mod postback;
pub mod request;
pub mod sign;
pub mod v2;

pub use parse::{
    Completion, CourseInfo, Error, ErrorCode, ImportJob, ImportResult, ImportStatus,
    RegistrationReport, Success,
};
pub use request::{
    AuthType, Client, HttpMethod, IdError, NewRegistration, Postback, Request, ResultsFormat,
    check_id,
};

/// Which SCORM Cloud API an integration talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ApiVersion {
    /// API V1 (XML, signed URLs): [`Client`].
    V1,
    /// API V2 (REST/JSON, HTTP Basic): [`v2::ClientV2`].
    V2,
}

/// The polling schedule of the official Java library for import jobs: 2 s,
/// times 1.6 each try, at most 30 s, at most 60 tries.
pub fn import_poll_delays() -> impl Iterator<Item = std::time::Duration> {
    let mut d = 2.0f64;
    (0..60).map(move |_| {
        let cur = d;
        d = (d * 1.6).min(30.0);
        std::time::Duration::from_secs_f64(cur)
    })
}
