//! The xAPI Document resources (State, Activity Profile, Agent Profile), the
//! Agents resource (the Person object) and the Activities resource (the
//! canonical Activity), as plain data: what a request addresses, whether its
//! preconditions hold, how a POST merges, what the ETag of a document is.
//! No I/O, no clock.
//!
//! Clause references:
//! - "1.0.3 Comm. x.y" is xAPI 1.0.3, Part Three (`xAPI-Communication.md`,
//!   adlnet/xAPI-Spec): 2.2 Document Resources, 2.3 State, 2.4 Agents,
//!   2.5 Activities, 2.6 Agent Profile, 2.7 Activity Profile, 3.1 Concurrency,
//!   3.2 Error Codes.
//! - "9274.1.1 x.y" is xAPI 2.0.0 (IEEE 9274.1.1, "xAPI Base Standard for
//!   LRSs"): 4.1.4 Concurrency, 4.1.6.2–4.1.6.6 the resources; "9274.1.1
//!   Content 5.1.4" is the LRP-side book. Quoted through ADL's published
//!   1.0.3 → 9274.1.1 change log where the standard's own text was not at hand.

mod activity;
mod concurrency;
mod merge;
mod person;
mod query;

pub use crate::ApiVersion;
pub use activity::canonical_activity;
pub use concurrency::{
    EntityTag, Precondition, check_preconditions, check_preconditions_strict, not_modified,
    parse_entity_tags,
};
pub use merge::{MergeError, merge_json};
pub use person::person;
pub use query::{DocumentQuery, parse_activities_query, parse_agents_query, parse_document_query};

use sha1::{Digest, Sha1};

/// The three Document resources (1.0.3 Comm. 2.2.s3 / 9274.1.1 4.1.6.2,
/// 4.1.6.5, 4.1.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `activities/state`: documents of an Activity, an Agent and optionally a registration.
    State,
    /// `activities/profile`: documents of an Activity.
    ActivityProfile,
    /// `agents/profile`: documents of an Agent.
    AgentProfile,
}

impl Resource {
    /// "state" | "activity-profile" | "agent-profile" (stored in the database)
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::State => "state",
            Resource::ActivityProfile => "activity-profile",
            Resource::AgentProfile => "agent-profile",
        }
    }

    /// "stateId" or "profileId"
    pub fn id_param(self) -> &'static str {
        match self {
            Resource::State => "stateId",
            Resource::ActivityProfile | Resource::AgentProfile => "profileId",
        }
    }
}

/// The HTTP method of a document request (HEAD answers as GET without a body,
/// 1.0.3 Comm. 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: read a document, or list ids.
    Get,
    /// `HEAD`: as GET, without the body.
    Head,
    /// `PUT`: store a document, replacing any.
    Put,
    /// `POST`: store a document, merging JSON objects into an existing one.
    Post,
    /// `DELETE`: delete a document (or, for State, several).
    Delete,
}

impl Method {
    /// GET or HEAD: the methods that read.
    pub fn is_read(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

/// A refused document, Agents or Activities query: each names its parameter
/// and the rule (1.0.3 Comm. 3.2.s3.b7: unknown parameters are refused with
/// 400 Bad Request, as is a parameter that matches a known one in all but
/// case, 3.2.s3.b8).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    /// A required parameter is absent.
    #[error("{param}: required")]
    Missing {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter the resource does not take (or a known one in another case).
    #[error("{param}: not a parameter of this resource")]
    Unknown {
        /// The parameter as given.
        param: String,
    },
    /// A parameter's value breaks a rule.
    #[error("{param}: {rule}")]
    Invalid {
        /// The parameter.
        param: &'static str,
        /// The rule broken, in words.
        rule: String,
    },
    /// A parameter given more than once.
    #[error("{param}: given more than once")]
    Repeated {
        /// The parameter as given.
        param: String,
    },
}

/// The ETag of a document: the SHA-1 of its bytes, lower-case hex, in double
/// quotes (e.g. `"da39a3ee…"`).
///
/// 1.0.3 Comm. 3.1.s4.b2: "MUST calculate the value of the ETag header to be a
/// hexadecimal string of the SHA-1 digest of the contents … SHOULD be rendered
/// using numbers and lowercase characters only"; 3.1.s4.b4: "MUST enclose the
/// header in quotes". 9274.1.1 dropped the SHA-1 rule (change log s54) but any
/// opaque tag is allowed there, so one rule serves both versions.
pub fn etag(content: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha1::digest(content);
    let mut out = String::with_capacity(2 + 2 * digest.len());
    out.push('"');
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out.push('"');
    out
}

/// Whether a Content-Type names JSON (`application/json`, with or without
/// parameters such as charset, case-insensitive; RFC 7231 3.1.1.1: type and
/// subtype are case-insensitive). The JSON merge of 1.0.3 Comm. 2.2.s7 applies
/// only when both documents are `application/json`.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_the_quoted_lower_case_sha1() {
        assert_eq!(etag(b""), "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"");
        assert_eq!(etag(b"abc"), "\"a9993e364706816aba3e25717850c26c9cd0d89d\"");
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json(" application/json ;charset=UTF-8"));
        assert!(!is_json("application/json-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }

    #[test]
    fn resource_names() {
        assert_eq!(Resource::State.as_str(), "state");
        assert_eq!(Resource::ActivityProfile.as_str(), "activity-profile");
        assert_eq!(Resource::AgentProfile.as_str(), "agent-profile");
        assert_eq!(Resource::State.id_param(), "stateId");
        assert_eq!(Resource::AgentProfile.id_param(), "profileId");
        assert_eq!(Resource::ActivityProfile.id_param(), "profileId");
    }
}
