//! The xAPI statement types (1.0.3 and 2.0.0). Values of these types are valid
//! by construction when they come from [`crate::parse_statement`]; serializing
//! them gives the normalized form: spec property names, `objectType` always
//! present, `contextActivities` always arrays, timestamps in RFC 3339.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::duration::Duration;

/// Language tag → text. Keys are valid RFC 5646 tags and every value is a
/// string (guaranteed by construction: only the parser and [`LanguageMap::from_pairs`]
/// build one). It keeps the map the JSON parser built, so reading one costs no
/// allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct LanguageMap(Map<String, Value>);

impl LanguageMap {
    /// Wraps a map already checked to hold valid tags and string values.
    pub(crate) fn from_checked(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// Builds a map from (tag, text) pairs; `None` if a tag is not a valid language tag.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut m = Map::new();
        for (tag, text) in pairs {
            if !crate::syntax::is_language_tag(tag) {
                return None;
            }
            m.insert(tag.to_owned(), Value::String(text.to_owned()));
        }
        Some(Self(m))
    }

    /// The text for exactly this tag.
    pub fn get(&self, tag: &str) -> Option<&str> {
        self.0.get(tag).and_then(Value::as_str)
    }

    /// (tag, text) pairs in tag order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
    }

    /// The text for the first of `preferred` tags present, else any text.
    pub fn best(&self, preferred: &[&str]) -> Option<&str> {
        preferred
            .iter()
            .find_map(|t| self.get(t))
            .or_else(|| self.iter().next().map(|(_, v)| v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Drops every entry but `tag`'s (the language a query asked for).
    pub fn keep_only(&mut self, tag: &str) {
        self.0.retain(|k, _| k == tag);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Extension IRI → any JSON.
pub type Extensions = Map<String, Value>;

/// `http://adlnet.gov/expapi/verbs/voided`
pub const VERB_VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub actor: Actor,
    pub verb: Verb,
    pub object: StatementObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<StatementResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
}

impl Statement {
    /// True when this statement voids another (verb `voided`).
    pub fn is_voiding(&self) -> bool {
        self.verb.id == VERB_VOIDED
    }

    /// The id of the statement this one voids, if it is a voiding statement.
    pub fn voided_target(&self) -> Option<Uuid> {
        match (&self.object, self.is_voiding()) {
            (StatementObject::StatementRef(r), true) => Some(r.id),
            _ => None,
        }
    }

    /// The object as an Activity, if it is one.
    pub fn activity(&self) -> Option<&Activity> {
        match &self.object {
            StatementObject::Activity(a) => Some(a),
            _ => None,
        }
    }
}

/// A SubStatement: a statement inside a statement, without id, stored, version
/// or authority, whose object is never another SubStatement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubStatement {
    pub actor: Actor,
    pub verb: Verb,
    pub object: StatementObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<StatementResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
}

/// An instant with the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// RFC 3339 text (never fails for the years xAPI timestamps can hold).
    pub fn to_rfc3339(&self) -> String {
        match crate::rfc3339::format(self.0) {
            Some(text) => text.as_str().to_owned(),
            None => self.0.to_string(),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match crate::rfc3339::format(self.0) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.serialize_str(&self.0.to_string()),
        }
    }
}

/// The four inverse functional identifiers; an Agent has exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ifi {
    Mbox(String),
    MboxSha1Sum(String),
    OpenId(String),
    Account(Account),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub home_page: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: Option<String>,
    pub ifi: Ifi,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: Option<String>,
    /// `None` for an anonymous group.
    pub ifi: Option<Ifi>,
    pub member: Option<Vec<Agent>>,
}

impl Group {
    pub fn is_anonymous(&self) -> bool {
        self.ifi.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    Agent(Agent),
    Group(Group),
}

impl Actor {
    /// The identifier, if the actor is an Agent or an identified Group.
    pub fn ifi(&self) -> Option<&Ifi> {
        match self {
            Actor::Agent(a) => Some(&a.ifi),
            Actor::Group(g) => g.ifi.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verb {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<LanguageMap>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatementObject {
    Activity(Activity),
    Agent(Agent),
    Group(Group),
    StatementRef(StatementRef),
    SubStatement(Box<SubStatement>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: String,
    pub definition: Option<Box<ActivityDefinition>>,
}

impl Activity {
    /// `definition.type`, if given.
    pub fn activity_type(&self) -> Option<&str> {
        self.definition
            .as_ref()
            .and_then(|d| d.activity_type.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementRef {
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<LanguageMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_type: Option<InteractionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct_responses_pattern: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<InteractionComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Vec<InteractionComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Vec<InteractionComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<InteractionComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<InteractionComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InteractionType {
    TrueFalse,
    Choice,
    FillIn,
    LongFillIn,
    Matching,
    Performance,
    Sequencing,
    Likert,
    Numeric,
    Other,
}

impl InteractionType {
    pub const ALL: [(&'static str, InteractionType); 10] = [
        ("true-false", InteractionType::TrueFalse),
        ("choice", InteractionType::Choice),
        ("fill-in", InteractionType::FillIn),
        ("long-fill-in", InteractionType::LongFillIn),
        ("matching", InteractionType::Matching),
        ("performance", InteractionType::Performance),
        ("sequencing", InteractionType::Sequencing),
        ("likert", InteractionType::Likert),
        ("numeric", InteractionType::Numeric),
        ("other", InteractionType::Other),
    ];

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
    }

    /// Which component lists this interaction type may carry.
    pub fn allows_component(self, list: &str) -> bool {
        use InteractionType::*;
        matches!(
            (self, list),
            (Choice | Sequencing, "choices")
                | (Likert, "scale")
                | (Matching, "source" | "target")
                | (Performance, "steps")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InteractionComponent {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
}

/// `result` (named to avoid clashing with `std::result::Result`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StatementResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Score {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_activities: Option<ContextActivities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
    /// xAPI 2.0.0
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_agents: Option<Vec<ContextAgent>>,
    /// xAPI 2.0.0
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_groups: Option<Vec<ContextGroup>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContextActivities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Vec<Activity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<Vec<Activity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Vec<Activity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<Vec<Activity>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContextAgent {
    pub agent: Agent,
    pub relevant_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContextGroup {
    pub group: Group,
    pub relevant_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub usage_type: String,
    pub display: LanguageMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
    pub content_type: String,
    pub length: u64,
    pub sha2: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
}

// ---- hand-written serializers for the objectType-tagged shapes ----

fn put_ifi<M: SerializeMap>(m: &mut M, ifi: &Ifi) -> Result<(), M::Error> {
    match ifi {
        Ifi::Mbox(v) => m.serialize_entry("mbox", v),
        Ifi::MboxSha1Sum(v) => m.serialize_entry("mbox_sha1sum", v),
        Ifi::OpenId(v) => m.serialize_entry("openid", v),
        Ifi::Account(a) => m.serialize_entry("account", a),
    }
}

impl Serialize for Agent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Agent")?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        put_ifi(&mut m, &self.ifi)?;
        m.end()
    }
}

impl Serialize for Group {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Group")?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        if let Some(ifi) = &self.ifi {
            put_ifi(&mut m, ifi)?;
        }
        if let Some(member) = &self.member {
            m.serialize_entry("member", member)?;
        }
        m.end()
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Actor::Agent(a) => a.serialize(s),
            Actor::Group(g) => g.serialize(s),
        }
    }
}

impl Serialize for Activity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Activity")?;
        m.serialize_entry("id", &self.id)?;
        if let Some(d) = &self.definition {
            m.serialize_entry("definition", d)?;
        }
        m.end()
    }
}

impl Serialize for StatementRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("objectType", "StatementRef")?;
        m.serialize_entry("id", &self.id)?;
        m.end()
    }
}

impl Serialize for StatementObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatementObject::Activity(a) => a.serialize(s),
            StatementObject::Agent(a) => a.serialize(s),
            StatementObject::Group(g) => g.serialize(s),
            StatementObject::StatementRef(r) => r.serialize(s),
            StatementObject::SubStatement(sub) => {
                // Flatten the sub-statement's fields after objectType.
                let v = serde_json::to_value(sub.as_ref()).map_err(serde::ser::Error::custom)?;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("objectType", "SubStatement")?;
                if let Value::Object(fields) = v {
                    for (k, v) in &fields {
                        m.serialize_entry(k, v)?;
                    }
                }
                m.end()
            }
        }
    }
}

impl Serialize for ContextAgent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "contextAgent")?;
        m.serialize_entry("agent", &self.agent)?;
        if let Some(t) = &self.relevant_types {
            m.serialize_entry("relevantTypes", t)?;
        }
        m.end()
    }
}

impl Serialize for ContextGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "contextGroup")?;
        m.serialize_entry("group", &self.group)?;
        if let Some(t) = &self.relevant_types {
            m.serialize_entry("relevantTypes", t)?;
        }
        m.end()
    }
}
