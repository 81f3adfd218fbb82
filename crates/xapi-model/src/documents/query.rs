//! The query parameters of the Document, Agents and Activities resources.
//!
//! The parameter tables:
//! - State (1.0.3 Comm. 2.3.s3–s5; 9274.1.1 4.1.6.2): `activityId` and `agent`
//!   required, `registration` optional, `stateId` for one document, `since`
//!   on the ids list (GET without `stateId`) only. DELETE without `stateId`
//!   deletes every document of the scope (2.3.s5).
//! - Activity Profile (1.0.3 Comm. 2.7.s3–s4; 9274.1.1 4.1.6.6): `activityId`
//!   required, `profileId` required except on the ids list (GET), `since` on
//!   the ids list only.
//! - Agent Profile (1.0.3 Comm. 2.6.s3–s4; 9274.1.1 4.1.6.5): `agent`
//!   required, `profileId` and `since` as for the Activity Profile. DELETE
//!   needs `profileId` (there is no multiple-document DELETE; ADL conformance
//!   XAPI-00265 and XAPI-00300 expect 400 without it).
//! - Agents (1.0.3 Comm. 2.4.s2): `agent` only. Activities (2.5.s1):
//!   `activityId` only.
//!
//! Every other parameter is refused (1.0.3 Comm. 3.2.s3.b7), including one
//! that differs from a known one only in case (3.2.s3.b8), and so is a
//! parameter given twice: the tables give each parameter one value.

use time::OffsetDateTime;

use super::{ApiVersion, DocumentError, Method, Resource};
use crate::{Actor, LearnerKey};

/// What a document request addresses, parsed and validated from its query parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentQuery {
    /// The resource addressed.
    pub resource: Resource,
    /// activityId (State, Activity Profile): an absolute IRI, as given.
    pub activity_id: Option<String>,
    /// agent (State, Agent Profile): the canonical key
    /// (`crate::LearnerKey::from_ifi(..).as_str()` of the agent's IFI) — the
    /// same person whatever the case of an email.
    pub agent_key: Option<String>,
    /// registration (State only), hyphenated lower-case UUID text.
    pub registration: Option<String>,
    /// stateId / profileId; None = the ids list (GET) or every document of
    /// the scope (State DELETE).
    pub document_id: Option<String>,
    /// since (GET of the ids list only), as an instant
    pub since: Option<OffsetDateTime>,
}

const ACTIVITY_ID: &str = "activityId";
const AGENT: &str = "agent";
const REGISTRATION: &str = "registration";
const SINCE: &str = "since";

/// The parameters `resource` takes under `method` (`since` only where a GET
/// or HEAD may list ids).
fn known_params(resource: Resource, method: Method) -> &'static [&'static str] {
    match (resource, method.is_read()) {
        (Resource::State, true) => &[ACTIVITY_ID, AGENT, REGISTRATION, "stateId", SINCE],
        (Resource::State, false) => &[ACTIVITY_ID, AGENT, REGISTRATION, "stateId"],
        (Resource::ActivityProfile, true) => &[ACTIVITY_ID, "profileId", SINCE],
        (Resource::ActivityProfile, false) => &[ACTIVITY_ID, "profileId"],
        (Resource::AgentProfile, true) => &[AGENT, "profileId", SINCE],
        (Resource::AgentProfile, false) => &[AGENT, "profileId"],
    }
}

/// The value of each known parameter; an unknown or repeated one is refused
/// (the first offending parameter, in the order received).
fn collect<'a, const N: usize>(
    known: &[&'static str],
    names: [&'static str; N],
    params: &'a [(String, String)],
) -> Result<[Option<&'a str>; N], DocumentError> {
    let mut values: [Option<&'a str>; N] = [None; N];
    for (name, value) in params {
        if !known.contains(&name.as_str()) {
            return Err(DocumentError::Unknown {
                param: name.clone(),
            });
        }
        // `known` ⊆ `names` at every call site; a name outside `names` is unknown.
        let Some(slot) = names.iter().position(|n| *n == name) else {
            return Err(DocumentError::Unknown {
                param: name.clone(),
            });
        };
        if values[slot].replace(value.as_str()).is_some() {
            return Err(DocumentError::Repeated {
                param: name.clone(),
            });
        }
    }
    Ok(values)
}

fn invalid(param: &'static str, rule: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        param,
        rule: rule.into(),
    }
}

/// Parses and validates the query parameters of a document request (`params`
/// in the order received; a parameter given twice is an error).
///
/// Rules: State needs activityId and agent; registration optional (UUID);
/// stateId required for PUT/POST, optional for GET/HEAD/DELETE; since only on
/// GET/HEAD (elsewhere it is `Unknown`) and only without stateId (else
/// `Invalid`). Activity Profile needs activityId; Agent Profile needs agent;
/// profileId required for PUT/POST/DELETE, optional for GET/HEAD (absent =
/// ids list); since as above. Which actors `agent` may be: State takes an
/// Agent (under 2.0.0 also an identified Group), Agent Profile an Agent
/// (under 2.0.0 also an identified Group); an anonymous Group never.
pub fn parse_document_query(
    resource: Resource,
    method: Method,
    version: ApiVersion,
    params: &[(String, String)],
) -> Result<DocumentQuery, DocumentError> {
    let id_param = resource.id_param();
    let [activity_id, agent, registration, document_id, since] = collect(
        known_params(resource, method),
        [ACTIVITY_ID, AGENT, REGISTRATION, id_param, SINCE],
        params,
    )?;

    let needs_activity = matches!(resource, Resource::State | Resource::ActivityProfile);
    let needs_agent = matches!(resource, Resource::State | Resource::AgentProfile);
    if needs_activity && activity_id.is_none() {
        return Err(DocumentError::Missing { param: ACTIVITY_ID });
    }
    if needs_agent && agent.is_none() {
        return Err(DocumentError::Missing { param: AGENT });
    }
    // State: "stateId … Required" for PUT/POST (2.3.s3); GET and DELETE
    // without it address the ids list / the whole scope (2.3.s4, 2.3.s5).
    // Profiles: GET without profileId is the ids list (2.6.s4, 2.7.s4);
    // PUT/POST/DELETE need it (2.6.s3, 2.7.s3).
    let id_required = match resource {
        Resource::State => matches!(method, Method::Put | Method::Post),
        Resource::ActivityProfile | Resource::AgentProfile => !method.is_read(),
    };
    if id_required && document_id.is_none() {
        return Err(DocumentError::Missing { param: id_param });
    }

    let activity_id = activity_id.map(activity_iri).transpose()?;
    let agent_key = agent.map(|a| agent_key(resource, version, a)).transpose()?;
    let registration = registration
        .map(|r| {
            crate::syntax::parse_uuid(r)
                .map(|u| u.hyphenated().to_string())
                .ok_or_else(|| invalid(REGISTRATION, "must be a UUID (8-4-4-4-12 hex digits)"))
        })
        .transpose()?;
    let document_id = document_id
        .map(|id| {
            if id.is_empty() {
                Err(invalid(id_param, "must not be empty"))
            } else {
                storable(id_param, id, MAX_ID_BYTES).map(str::to_owned)
            }
        })
        .transpose()?;
    if let Some(key) = &agent_key {
        storable(AGENT, key, MAX_AGENT_BYTES)?;
    }
    // "since … Only ids of states/profiles stored since the specified
    // Timestamp (exclusive) are returned" — a parameter of the Multiple
    // Document GET only (2.3.s4, 2.6.s4, 2.7.s4).
    let since = match since {
        None => None,
        Some(_) if document_id.is_some() => {
            return Err(invalid(
                SINCE,
                format!("only lists ids; not allowed with {id_param}"),
            ));
        }
        Some(s) => Some(
            crate::parse_timestamp(s)
                .map_err(|rule| invalid(SINCE, format!("must be an ISO 8601 timestamp: {rule}")))?
                .0,
        ),
    };
    Ok(DocumentQuery {
        resource,
        activity_id,
        agent_key,
        registration,
        document_id,
        since,
    })
}

/// The longest `activityId`, agent identifier and `stateId` / `profileId`
/// a document is stored under (bytes): together they stay within what one
/// key of an index holds on every engine (PostgreSQL's B-tree: about 2.7 KB).
pub const MAX_ACTIVITY_ID_BYTES: usize = 1000;
pub const MAX_AGENT_BYTES: usize = 600;
pub const MAX_ID_BYTES: usize = 600;

/// A key part that can be stored: at most `max` bytes, no control
/// characters (NUL, which PostgreSQL's text refuses, among them).
fn storable<'a>(param: &'static str, value: &'a str, max: usize) -> Result<&'a str, DocumentError> {
    if value.len() > max {
        return Err(invalid(param, format!("at most {max} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(param, "must not contain control characters"));
    }
    Ok(value)
}

/// `activityId`: "Activity id (IRI)" (2.3.s3.table1.row1, 2.7.s3.table1.row1,
/// 2.5.s1.table1.row1); an IRI in xAPI is absolute (1.0.3 Data 4.3).
fn activity_iri(value: &str) -> Result<String, DocumentError> {
    if crate::syntax::is_absolute_iri(value) {
        storable(ACTIVITY_ID, value, MAX_ACTIVITY_ID_BYTES).map(str::to_owned)
    } else {
        Err(invalid(ACTIVITY_ID, "must be an absolute IRI"))
    }
}

/// The `agent` parameter as an actor: JSON, and an Agent or Group that the
/// crate's actor rules accept (exactly one IFI for an Agent).
fn actor_param(value: &str) -> Result<Actor, DocumentError> {
    let json: serde_json::Value = serde_json::from_str(value)
        .map_err(|e| invalid(AGENT, format!("must be a JSON Agent object: {e}")))?;
    crate::actor_from_value(json).map_err(|errors| {
        invalid(
            AGENT,
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The canonical key of a document request's `agent`.
///
/// Which actors each resource takes:
/// - State under 1.0.3: an Agent ("agent | Agent Object (JSON)",
///   2.3.s3.table1.row2); a Group is refused.
/// - State under 2.0.0: an Agent or an *identified* Group. This follows the
///   reading that 9274.1.1 4.1.6.2 widens the parameter to Agent or
///   Identified Group; the 9274.1.1 table itself was not at hand when this was
///   written (open question). An anonymous Group has no identifier to key
///   documents by, so it is refused.
/// - Agent Profile under 2.0.0: an Agent or an identified Group (ADL's 2.0
///   suite, `test/v2_0/util/requests.js`: "The Agent or Identified Group";
///   9274.1.1 4.1.6.5), keyed by its identifier like the Agent form.
/// - Agent Profile under 1.0.3: an Agent only. 1.0.3 Comm. 2.6.s3: "The
///   'agent' parameter is an Agent Object and not a Group. Learning Record
///   Providers wishing to store data against an Identified Group can use the
///   Identified Group's identifier within an Agent Object." Nothing is lost
///   by refusing a Group: the key is the IFI, which the Agent form carries.
///   ADL conformance XAPI-00255–00258 reject an `agent` that is not an Agent
///   Object.
fn agent_key(
    resource: Resource,
    version: ApiVersion,
    value: &str,
) -> Result<String, DocumentError> {
    let actor = actor_param(value)?;
    let group_ok = resource != Resource::ActivityProfile && version == ApiVersion::V2_0;
    let ifi = match &actor {
        Actor::Agent(a) => &a.ifi,
        Actor::Group(_) if !group_ok => {
            return Err(invalid(
                AGENT,
                match resource {
                    Resource::AgentProfile => {
                        "must be an Agent, not a Group (use the Group's identifier in an Agent object)"
                    }
                    _ => "must be an Agent, not a Group (xAPI 1.0.3)",
                },
            ));
        }
        Actor::Group(g) => g.ifi.as_ref().ok_or_else(|| {
            invalid(
                AGENT,
                "an anonymous Group has no identifier; use an identified Group or an Agent",
            )
        })?,
    };
    Ok(LearnerKey::from_ifi(ifi).as_str().to_owned())
}

/// The Agents resource's parameter: exactly `agent`, returning the parsed actor.
///
/// An Agent only, under both versions: "The 'agent' parameter is a normal
/// Agent Object with a single identifier and no arrays. It is not a Person
/// Object, nor is it a Group." (1.0.3 Comm. 2.4.s2). The 9274.1.1 change log
/// records no change to this table, so 2.0.0 keeps it; `version` is taken so
/// that a later change has a place to go.
pub fn parse_agents_query(
    version: ApiVersion,
    params: &[(String, String)],
) -> Result<Actor, DocumentError> {
    let _ = version;
    let [agent] = collect(&[AGENT], [AGENT], params)?;
    let agent = agent.ok_or(DocumentError::Missing { param: AGENT })?;
    match actor_param(agent)? {
        Actor::Group(_) => Err(invalid(AGENT, "must be an Agent, not a Group")),
        agent => Ok(agent),
    }
}

/// The Activities resource's parameter: exactly `activityId` (absolute IRI;
/// 1.0.3 Comm. 2.5.s1.table1.row1).
pub fn parse_activities_query(params: &[(String, String)]) -> Result<String, DocumentError> {
    let [activity_id] = collect(&[ACTIVITY_ID], [ACTIVITY_ID], params)?;
    activity_iri(activity_id.ok_or(DocumentError::Missing { param: ACTIVITY_ID })?)
}
