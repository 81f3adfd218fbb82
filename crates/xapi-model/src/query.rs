//! The statements resource's query string (`GET /statements`), read and
//! checked as plain data: one statement by id, or the filters, order and
//! page of a list. Every refusal names the parameter and the rule
//! (`limit: must be a non-negative integer`); an unknown parameter is
//! refused, never ignored.

use std::collections::HashMap;

use crate::format::{Criteria, Format};
use crate::{Ifi, LearnerKey};

/// A statements query, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementsQuery {
    /// `statementId` or `voidedStatementId`.
    Single(SingleQuery),
    /// Everything else: a page of statements.
    List(ListQuery),
}

/// `GET /statements?statementId=…` (or `voidedStatementId`).
#[derive(Debug, Clone, PartialEq)]
pub struct SingleQuery {
    /// The id as given (the caller looks it up; an id that is no UUID is
    /// simply not found).
    pub id: String,
    /// True for `voidedStatementId`.
    pub voided: bool,
    /// `format`: how agents, activities and language maps are shown.
    pub format: Format,
    /// `attachments`: answer multipart with the attachments' content.
    pub attachments: bool,
}

/// A page of statements.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The filters on a statement's content.
    pub criteria: Criteria,
    /// The identifier of the `agent` filter, when there is one.
    pub agent_ifi: Option<Ifi>,
    /// `since` / `until`, in milliseconds since the epoch.
    pub since_ms: Option<i64>,
    /// `until`, in milliseconds since the epoch.
    pub until_ms: Option<i64>,
    /// `limit`, when positive; `None` (absent or `0`) means the server's maximum.
    pub limit: Option<i64>,
    /// `ascending`: oldest stored first (default: newest first).
    pub ascending: bool,
    /// `format`: how agents, activities and language maps are shown.
    pub format: Format,
    /// `attachments`: answer multipart with the attachments' content.
    pub attachments: bool,
    /// The opaque continuation of a previous page's `more` link.
    pub cursor: Option<i64>,
}

/// A refused query: the message names the parameter and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn err(message: impl Into<String>) -> QueryError {
    QueryError(message.into())
}

/// The parameters a list query takes.
pub const LIST_PARAMS: &[&str] = &[
    "agent",
    "verb",
    "activity",
    "registration",
    "since",
    "until",
    "limit",
    "ascending",
    "format",
    "attachments",
    "related_activities",
    "related_agents",
    "cursor",
];

/// The parameters a single-statement query takes.
pub const SINGLE_PARAMS: &[&str] = &["statementId", "voidedStatementId", "format", "attachments"];

/// Reads a statements query from its decoded parameters.
pub fn parse(q: &HashMap<String, String>) -> Result<StatementsQuery, QueryError> {
    let single = match (q.get("statementId"), q.get("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(err(
                "statementId and voidedStatementId cannot be used together",
            ));
        }
        (Some(id), None) => Some((id, false)),
        (None, Some(id)) => Some((id, true)),
        (None, None) => None,
    };
    let format = match q.get("format") {
        None => Format::Exact,
        Some(f) => Format::parse(f)
            .ok_or_else(|| err(format!("format: {f:?} is not one of ids, exact, canonical")))?,
    };
    let attachments = bool_param(q, "attachments")?;
    if let Some((id, voided)) = single {
        if let Some(other) = q.keys().find(|k| !SINGLE_PARAMS.contains(&k.as_str())) {
            return Err(err(format!(
                "{other}: not allowed with statementId/voidedStatementId"
            )));
        }
        return Ok(StatementsQuery::Single(SingleQuery {
            id: id.clone(),
            voided,
            format,
            attachments,
        }));
    }
    if let Some(bad) = q.keys().find(|k| !LIST_PARAMS.contains(&k.as_str())) {
        return Err(err(format!("{bad}: unknown parameter")));
    }
    let related_agents = bool_param(q, "related_agents")?;
    let related_activities = bool_param(q, "related_activities")?;
    let (agent, agent_ifi) = match q.get("agent") {
        Some(a) => {
            let v: serde_json::Value =
                serde_json::from_str(a).map_err(|e| err(format!("agent: invalid JSON: {e}")))?;
            let actor = crate::actor_from_value(v).map_err(|errs| {
                err(format!(
                    "agent: {}",
                    errs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
            let ifi = actor
                .ifi()
                .cloned()
                .ok_or_else(|| err("agent: an anonymous group cannot be used as a filter"))?;
            (Some(LearnerKey::from_ifi(&ifi)), Some(ifi))
        }
        None => (None, None),
    };
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None | Some(Ok(0)) => None,
        Some(Ok(n)) if n > 0 => Some(n),
        _ => return Err(err("limit: must be a non-negative integer")),
    };
    let ascending = bool_param(q, "ascending")?;
    let cursor = q
        .get("cursor")
        .map(|c| c.parse::<i64>().map_err(|_| err("cursor: malformed")))
        .transpose()?;
    let registration = q
        .get("registration")
        .map(|r| crate::syntax::parse_uuid(r).ok_or_else(|| err("registration: must be a UUID")))
        .transpose()?;
    Ok(StatementsQuery::List(ListQuery {
        criteria: Criteria {
            agent,
            verb: q.get("verb").cloned(),
            activity: q.get("activity").cloned(),
            registration,
            related_agents,
            related_activities,
        },
        agent_ifi,
        since_ms: ts_param(q, "since")?,
        until_ms: ts_param(q, "until")?,
        limit,
        ascending,
        format,
        attachments,
        cursor,
    }))
}

/// A boolean parameter (`true` / `false`, absent: false).
fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, QueryError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(err(format!("{name}: must be true or false"))),
    }
}

/// A timestamp parameter, in milliseconds since the epoch.
fn ts_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, QueryError> {
    q.get(name)
        .map(|v| {
            crate::parse_timestamp(v)
                .map(|t| i64::try_from(t.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|rule| err(format!("{name}: {rule}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        parse(&q(pairs)).expect_err("refused").0
    }

    #[test]
    fn every_refusal_names_the_parameter() {
        assert_eq!(refused(&[("agnet", "x")]), "agnet: unknown parameter");
        assert_eq!(
            refused(&[("limit", "-1")]),
            "limit: must be a non-negative integer"
        );
        assert_eq!(
            refused(&[("limit", "ten")]),
            "limit: must be a non-negative integer"
        );
        assert_eq!(
            refused(&[("ascending", "yes")]),
            "ascending: must be true or false"
        );
        assert_eq!(refused(&[("cursor", "x")]), "cursor: malformed");
        assert_eq!(
            refused(&[("registration", "nope")]),
            "registration: must be a UUID"
        );
        assert!(refused(&[("since", "2024-01-01")]).starts_with("since: "));
        assert!(refused(&[("agent", "{")]).starts_with("agent: invalid JSON"));
        assert_eq!(
            refused(&[("statementId", "a"), ("verb", "v")]),
            "verb: not allowed with statementId/voidedStatementId"
        );
        assert_eq!(
            refused(&[("statementId", "a"), ("voidedStatementId", "b")]),
            "statementId and voidedStatementId cannot be used together"
        );
    }

    #[test]
    fn a_list_query_reads_its_filters() {
        let StatementsQuery::List(list) = parse(&q(&[
            ("agent", r#"{"mbox":"mailto:ada@example.com"}"#),
            ("limit", "0"),
            ("since", "2024-05-14T00:00:00Z"),
            ("format", "ids"),
            ("related_agents", "true"),
        ]))
        .expect("valid") else {
            panic!("a list query")
        };
        assert_eq!(list.limit, None, "0 is the server's maximum");
        assert_eq!(list.since_ms, Some(1_715_644_800_000));
        assert_eq!(list.format, Format::Ids);
        assert!(list.criteria.related_agents && list.agent_ifi.is_some());
        let one = parse(&q(&[("voidedStatementId", "x"), ("format", "canonical")]));
        assert_eq!(
            one,
            Ok(StatementsQuery::Single(SingleQuery {
                id: "x".into(),
                voided: true,
                format: Format::Canonical,
                attachments: false,
            }))
        );
    }
}
