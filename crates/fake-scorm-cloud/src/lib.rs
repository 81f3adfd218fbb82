//! A fake SCORM Cloud (API V1, and API V2 next to it) on loopback, for tests
//! and local try-outs.
//!
//! It implements the documented wire format (`../shared/reference/scorm-cloud.md`)
//! independently of `scorm-cloud-client`, so that a signing or parsing mistake
//! in the client cannot hide behind the same mistake here:
//!
//! - every call but `rustici.debug.getTime` must carry `appid`, `ts` and `sig`;
//!   `sig` is recomputed (names sorted case-insensitively, raw values, secret
//!   prefixed, MD5 hex, compared case-insensitively); a missing signature is
//!   error 103, a wrong one 104, an unknown app 100;
//! - `ts` (UTC `yyyyMMddHHmmss`) must be within 15 minutes of the fake's clock
//!   ("Timestamp sent is outside of expiration limit"; the code, 101 here, is
//!   not documented); the clock can be moved to test skew and expired links;
//! - answers are `<rsp stat="ok">…</rsp>` or `<rsp stat="fail"><err code msg/></rsp>`
//!   with HTTP 200 either way;
//! - `importCourseAsync` takes a multipart upload (`filedata` or `file`), checks
//!   it is a ZIP with an `imsmanifest.xml`, and answers a token; the job runs
//!   for a configurable number of polls, then finishes with the manifest's
//!   `<title>` and parser warnings, or errors;
//! - registrations are kept with their postback settings; [`FakeScormCloud::progress`]
//!   plays a learner and sends the postback (`form` or `httpbasic`, in the
//!   registration's results format), as SCORM Cloud does after each sync.
//!
//! API V2 (REST/JSON, HTTP Basic) is served under `/api/v2/`
//! ([`FakeScormCloud::api_v2_url`]) over the same state: imports (upload,
//! or fetched from a URL), import jobs, registrations (create, exists,
//! progress, delete, reset), launch links, and JSON postbacks for the
//! registrations it created; see the `v2` module and [`v2_ops`].
//!
//! Also a way to inject failures ([`FakeScormCloud::fail_next`]) and to see the
//! calls made ([`FakeScormCloud::calls`]).

mod api;
mod auth;
mod import;
mod packages;
mod postback;
pub mod required;
mod server;
mod state;
mod v2;
mod xml;

pub use auth::WINDOW_SECS;
pub use packages::{package, zip};
pub use server::FakeScormCloud;
pub use state::{ApiVersion, FakeCourse, FakeRegistration, Postback};
pub use v2::ops as v2_ops;
