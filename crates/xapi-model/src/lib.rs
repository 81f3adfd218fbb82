#![doc = include_str!("../README.md")]
//!
//! ## Overview
//!
//! - [`parse_statement`] reads bytes into a typed [`Statement`], checking every
//!   MUST of the xAPI data model and reporting *all* broken rules, each with a
//!   JSON path: `actor.mbox: must be a mailto: IRI`.
//! - Serializing a [`Statement`] (serde) gives its normalized form with the
//!   spec's property names; parsing that again yields an equal value.
//! - [`Duration`] converts ISO 8601 durations to milliseconds; [`Score::percent`]
//!   maps scores to 0–100; [`LearnerKey`] is a canonical learner identity;
//!   [`ActivityIdNormalizer`] is the per-provider activity-id hook.
//! - [`batch`] holds the rules on a request as a whole: its JSON depth limit
//!   and xAPI 2.0's one statement per id in a batch.
//!
//! Pure: no I/O, no clock, no global state.

#![warn(missing_docs)]

pub mod batch;
pub mod compare;
pub mod documents;
mod duration;
mod error;
pub mod format;
mod identity;
pub mod iri;
mod model;
pub mod multipart;
mod parse;
pub mod query;
pub mod rfc3339;
mod score;
pub mod signature;
pub mod syntax;

pub use duration::{Duration, DurationError};
pub use error::{ParseError, ValidationError};
pub use identity::{ActivityIdNormalizer, ActivityIdRules, LearnerKey, actor_email, email_of_mbox};
pub use model::*;

use serde_json::Value;

/// Parses and validates one statement from JSON bytes.
pub fn parse_statement(bytes: &[u8]) -> Result<Statement, ParseError> {
    let value: Value = serde_json::from_slice(bytes)?;
    statement_from_value(value).map_err(ParseError::Invalid)
}

/// Validates one statement given as a JSON value (consumed: its strings move
/// into the result without copying).
pub fn statement_from_value(value: Value) -> Result<Statement, Vec<ValidationError>> {
    let mut cx = error::Ctx::default();
    let statement = parse::statement(&mut cx, value);
    match statement {
        Some(s) if cx.errors.is_empty() => Ok(s),
        _ => {
            debug_assert!(!cx.errors.is_empty(), "a rejected statement must say why");
            if cx.errors.is_empty() {
                cx.error("invalid statement");
            }
            Err(cx.errors)
        }
    }
}

/// The body of a `POST /statements`: one statement or an array of them.
/// Each element is validated on its own; the caller decides all-or-nothing.
pub fn parse_statement_batch(
    bytes: &[u8],
) -> Result<Vec<Result<Statement, Vec<ValidationError>>>, serde_json::Error> {
    let value: Value = serde_json::from_slice(bytes)?;
    Ok(match value {
        Value::Array(items) => items.into_iter().map(statement_from_value).collect(),
        single => vec![statement_from_value(single)],
    })
}

/// Validates an Agent or Group given as JSON (the `agent` parameter of a
/// statements query, for example).
pub fn actor_from_value(value: Value) -> Result<Actor, Vec<ValidationError>> {
    let mut cx = error::Ctx::default();
    match parse::actor_at_root(&mut cx, value) {
        Some(a) if cx.errors.is_empty() => Ok(a),
        _ => {
            if cx.errors.is_empty() {
                cx.error("invalid actor");
            }
            Err(cx.errors)
        }
    }
}

/// Parses an ISO 8601 timestamp as xAPI requires it (with an offset; not `-00:00`).
pub fn parse_timestamp(s: &str) -> Result<Timestamp, &'static str> {
    parse::parse_timestamp(s).map(Timestamp)
}

/// The xAPI version of a request (its `X-Experience-API-Version`), which
/// decides what its statements may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// 1.0.x: statements of version 1.0.x, without 2.0's properties.
    V1_0,
    /// 2.0.x: statements of version 1.0.x or 2.0.x.
    V2_0,
}

/// What a valid statement breaks of its request's version: under 1.0.x a
/// `version` that is not 1.0.x ("An LRS MUST reject all Statements with a
/// version specified that does not start with 1.0.", 1.0.3 Data 2.4.10) and
/// 2.0's `contextAgents` / `contextGroups` (properties 1.0.3 does not have).
pub fn version_errors(s: &Statement, api: ApiVersion) -> Vec<ValidationError> {
    let mut out = Vec::new();
    if api == ApiVersion::V2_0 {
        return out;
    }
    if let Some(v) = s.version.as_deref().filter(|v| !v.starts_with("1.0")) {
        out.push(ValidationError {
            path: "version".into(),
            rule: format!(
                "{v} is not 1.0.x, the version of this request (X-Experience-API-Version)"
            ),
        });
    }
    let mut context = |prefix: &str, c: Option<&Context>| {
        let Some(c) = c else { return };
        for (name, present) in [
            ("contextAgents", c.context_agents.is_some()),
            ("contextGroups", c.context_groups.is_some()),
        ] {
            if present {
                out.push(ValidationError {
                    path: format!("{prefix}context.{name}"),
                    rule: "is xAPI 2.0; send X-Experience-API-Version: 2.0.0 to use it".into(),
                });
            }
        }
    };
    context("", s.context.as_ref());
    if let StatementObject::SubStatement(sub) = &s.object {
        context("object.", sub.context.as_ref());
    }
    out
}
