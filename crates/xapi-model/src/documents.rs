//! TEMPORARY stand-in for the documents module (replaced by the full one).
#![allow(missing_docs)]

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

pub use crate::ApiVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    State,
    ActivityProfile,
    AgentProfile,
}
impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::State => "state",
            Resource::ActivityProfile => "activity-profile",
            Resource::AgentProfile => "agent-profile",
        }
    }
    pub fn id_param(self) -> &'static str {
        match self {
            Resource::State => "stateId",
            _ => "profileId",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentQuery {
    pub resource: Resource,
    pub activity_id: Option<String>,
    pub agent_key: Option<String>,
    pub registration: Option<String>,
    pub document_id: Option<String>,
    pub since: Option<time::OffsetDateTime>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    #[error("{param}: required")]
    Missing { param: &'static str },
    #[error("{param}: not a parameter of this resource")]
    Unknown { param: String },
    #[error("{param}: {rule}")]
    Invalid { param: &'static str, rule: String },
    #[error("{param}: given more than once")]
    Repeated { param: String },
}

fn agent_key(v: &str) -> Result<String, DocumentError> {
    let invalid = |rule: String| DocumentError::Invalid {
        param: "agent",
        rule,
    };
    let value: Value = serde_json::from_str(v).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let actor = crate::actor_from_value(value).map_err(|e| invalid(format!("{e:?}")))?;
    crate::LearnerKey::from_actor(&actor)
        .map(|k| k.as_str().to_owned())
        .ok_or_else(|| invalid("has no identifier".into()))
}

pub fn parse_document_query(
    resource: Resource,
    method: Method,
    _version: ApiVersion,
    params: &[(String, String)],
) -> Result<DocumentQuery, DocumentError> {
    let mut q = DocumentQuery {
        resource,
        activity_id: None,
        agent_key: None,
        registration: None,
        document_id: None,
        since: None,
    };
    let mut seen = std::collections::HashSet::new();
    for (k, v) in params {
        if !seen.insert(k.as_str()) {
            return Err(DocumentError::Repeated { param: k.clone() });
        }
        match (k.as_str(), resource) {
            ("activityId", Resource::State | Resource::ActivityProfile) => {
                if !crate::syntax::is_absolute_iri(v) {
                    return Err(DocumentError::Invalid {
                        param: "activityId",
                        rule: "must be an absolute IRI".into(),
                    });
                }
                q.activity_id = Some(v.clone())
            }
            ("agent", Resource::State | Resource::AgentProfile) => {
                q.agent_key = Some(agent_key(v)?)
            }
            ("registration", Resource::State) => {
                q.registration = Some(
                    crate::syntax::parse_uuid(v)
                        .ok_or(DocumentError::Invalid {
                            param: "registration",
                            rule: "must be a UUID".into(),
                        })?
                        .to_string(),
                )
            }
            ("stateId", Resource::State)
            | ("profileId", Resource::ActivityProfile | Resource::AgentProfile) => {
                q.document_id = Some(v.clone())
            }
            ("since", _) => {
                q.since = Some(
                    crate::parse_timestamp(v)
                        .map_err(|r| DocumentError::Invalid {
                            param: "since",
                            rule: r.into(),
                        })?
                        .0,
                )
            }
            _ => return Err(DocumentError::Unknown { param: k.clone() }),
        }
    }
    if matches!(resource, Resource::State | Resource::ActivityProfile) && q.activity_id.is_none() {
        return Err(DocumentError::Missing {
            param: "activityId",
        });
    }
    if matches!(resource, Resource::State | Resource::AgentProfile) && q.agent_key.is_none() {
        return Err(DocumentError::Missing { param: "agent" });
    }
    let needs_id = matches!(method, Method::Put | Method::Post)
        || (method == Method::Delete && resource != Resource::State);
    if needs_id && q.document_id.is_none() {
        return Err(DocumentError::Missing {
            param: resource.id_param(),
        });
    }
    Ok(q)
}

pub fn etag(content: &[u8]) -> String {
    let d = Sha1::digest(content);
    let mut s = String::with_capacity(42);
    s.push('"');
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Precondition {
    #[error("precondition failed")]
    Failed,
    #[error("conflict")]
    Conflict,
    #[error("precondition required")]
    Required,
}

fn matches_list(header: &str, current: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == current)
}

pub fn check_preconditions(
    _version: ApiVersion,
    _resource: Resource,
    method: Method,
    current: Option<&str>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<(), Precondition> {
    if let Some(m) = if_match {
        match current {
            Some(c) if matches_list(m, c) => {}
            _ => return Err(Precondition::Failed),
        }
    }
    if let Some(n) = if_none_match {
        if let Some(c) = current {
            if matches_list(n, c) {
                return Err(Precondition::Failed);
            }
        }
    }
    if if_match.is_none() && if_none_match.is_none() && method == Method::Put && current.is_some() {
        return Err(Precondition::Conflict);
    }
    Ok(())
}

pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("the stored document is not a JSON object")]
    Stored,
    #[error("the posted document is not a JSON object")]
    Posted,
}

pub fn merge_json(stored: &[u8], posted: &[u8]) -> Result<Vec<u8>, MergeError> {
    let mut a: Map<String, Value> =
        serde_json::from_slice(stored).map_err(|_| MergeError::Stored)?;
    let b: Map<String, Value> = serde_json::from_slice(posted).map_err(|_| MergeError::Posted)?;
    a.extend(b);
    serde_json::to_vec(&a).map_err(|_| MergeError::Posted)
}

fn single<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, DocumentError> {
    let mut found = None;
    for (k, v) in params {
        if k != name {
            return Err(DocumentError::Unknown { param: k.clone() });
        }
        if found.replace(v.as_str()).is_some() {
            return Err(DocumentError::Repeated { param: k.clone() });
        }
    }
    found.ok_or(DocumentError::Missing { param: name })
}

pub fn parse_agents_query(
    _version: ApiVersion,
    params: &[(String, String)],
) -> Result<crate::Actor, DocumentError> {
    let v = single(params, "agent")?;
    let invalid = |rule: String| DocumentError::Invalid {
        param: "agent",
        rule,
    };
    let value: Value = serde_json::from_str(v).map_err(|e| invalid(format!("not JSON: {e}")))?;
    crate::actor_from_value(value).map_err(|e| invalid(format!("{e:?}")))
}

pub fn parse_activities_query(params: &[(String, String)]) -> Result<String, DocumentError> {
    let v = single(params, "activityId")?;
    if !crate::syntax::is_absolute_iri(v) {
        return Err(DocumentError::Invalid {
            param: "activityId",
            rule: "must be an absolute IRI".into(),
        });
    }
    Ok(v.to_owned())
}

pub fn person<'a>(agents: impl IntoIterator<Item = &'a crate::Agent>) -> Value {
    let mut out = Map::new();
    out.insert("objectType".into(), "Person".into());
    for a in agents {
        let mut push = |k: &str, v: Value| {
            let list = out.entry(k).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(l) = list {
                if !l.contains(&v) {
                    l.push(v);
                }
            }
        };
        if let Some(n) = &a.name {
            push("name", n.clone().into());
        }
        match &a.ifi {
            crate::Ifi::Mbox(m) => push("mbox", m.clone().into()),
            crate::Ifi::MboxSha1Sum(m) => push("mbox_sha1sum", m.clone().into()),
            crate::Ifi::OpenId(m) => push("openid", m.clone().into()),
            crate::Ifi::Account(acc) => push(
                "account",
                serde_json::json!({"homePage": acc.home_page, "name": acc.name}),
            ),
        }
    }
    Value::Object(out)
}

pub fn canonical_activity(id: &str, definitions: &[Value]) -> Value {
    let mut def = Map::new();
    for d in definitions {
        if let Value::Object(d) = d {
            for (k, v) in d {
                def.insert(k.clone(), v.clone());
            }
        }
    }
    let mut out = serde_json::json!({"objectType": "Activity", "id": id});
    if !def.is_empty() {
        out["definition"] = Value::Object(def);
    }
    out
}
