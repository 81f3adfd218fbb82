//! The xAPI statement types (1.0.3 and 2.0.0). Values of these types are valid
//! by construction when they come from [`crate::parse_statement`]; serializing
//! them gives the normalized form: spec property names, `objectType` always
//! present, `contextActivities` always arrays, timestamps in RFC 3339.

use serde::Serialize;
use serde::ser::Serializer;
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

    /// How many languages.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Drops every entry but `tag`'s (the language a query asked for).
    pub fn keep_only(&mut self, tag: &str) {
        self.0.retain(|k, _| k == tag);
    }

    /// No language at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Extension IRI → any JSON.
pub type Extensions = Map<String, Value>;

/// `http://adlnet.gov/expapi/verbs/voided`
pub const VERB_VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// An xAPI statement: an actor, a verb and an object, with optional result,
/// context and the LRS's properties.
///
/// A `Statement` returned by [`crate::parse_statement`] (or
/// [`crate::statement_from_value`]) satisfies every MUST of the data model.
/// The fields are public so that callers can read and build statements, but
/// **a value built or changed by hand is not validated**: nothing stops an
/// empty verb id, an mbox without `mailto:` or a SubStatement inside a
/// SubStatement. To check one, serialize it and parse it again:
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mut statement = xapi_model::parse_statement(br#"{"actor": {"mbox": "mailto:a@example.com"},
/// #     "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, "object": {"id": "https://example.com/c"}}"#)?;
/// statement.verb.id = "not an IRI".into(); // built or edited by hand
/// let checked = xapi_model::statement_from_value(serde_json::to_value(&statement)?);
/// let errors = checked.expect_err("an invalid verb id");
/// assert_eq!(errors[0].path, "verb.id");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// The statement id (the LRS assigns one when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Who did it: an Agent or a Group.
    pub actor: Actor,
    /// What they did.
    pub verb: Verb,
    /// What they did it to.
    pub object: StatementObject,
    /// The outcome (score, success, completion, duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<StatementResult>,
    /// The context (registration, instructor, parent activities, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// When it happened, as the sender says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// When the LRS stored it (set by the LRS, not the sender).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<Timestamp>,
    /// Who vouches for it (set by the LRS from the credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<Actor>,
    /// The xAPI version the statement conforms to (`1.0.x` or `2.0.x`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Attachment metadata (the content travels in a multipart request).
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
///
/// As for [`Statement`], a value built by hand is not validated.
pub struct SubStatement {
    /// Who did it.
    pub actor: Actor,
    /// What they did.
    pub verb: Verb,
    /// What they did it to (never a SubStatement).
    pub object: StatementObject,
    /// The outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<StatementResult>,
    /// The context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// When it happened (or will).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Attachment metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
}

/// An instant with the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(
    /// The instant, in the offset it was written with.
    pub OffsetDateTime,
);

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
    /// `mbox`: a `mailto:` IRI.
    Mbox(String),
    /// `mbox_sha1sum`: the hex SHA-1 of a `mailto:` IRI.
    MboxSha1Sum(String),
    /// `openid`: an OpenID URI.
    OpenId(String),
    /// `account`: an account on a system.
    Account(Account),
}

/// An account on a system, as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The system's home page (an IRL).
    pub home_page: String,
    /// The account's unique name on that system.
    pub name: String,
}

/// One person or system, identified by exactly one [`Ifi`].
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// A display name (not an identifier).
    pub name: Option<String>,
    /// The identifier.
    pub ifi: Ifi,
}

/// A group of agents: identified (by an [`Ifi`]) or anonymous (by its members).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// A display name (not an identifier).
    pub name: Option<String>,
    /// `None` for an anonymous group.
    pub ifi: Option<Ifi>,
    /// The members (required, non-empty, for an anonymous group).
    pub member: Option<Vec<Agent>>,
}

impl Group {
    /// True when the group has no identifier (it is identified by its members).
    pub fn is_anonymous(&self) -> bool {
        self.ifi.is_none()
    }
}

/// Who a statement is about: an Agent or a Group.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// One agent.
    Agent(Agent),
    /// A group.
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

/// The action of a statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verb {
    /// The verb's IRI, e.g. `http://adlnet.gov/expapi/verbs/completed`.
    pub id: String,
    /// Human-readable names by language (not used to interpret the verb).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<LanguageMap>,
}

/// The object of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementObject {
    /// An activity (a course, a question, …): the default.
    Activity(Activity),
    /// An agent.
    Agent(Agent),
    /// A group.
    Group(Group),
    /// Another statement, by id (e.g. the target of a voiding statement).
    StatementRef(StatementRef),
    /// A statement inside this one.
    SubStatement(Box<SubStatement>),
}

/// Something a learner interacts with, identified by an IRI.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// The activity's IRI.
    pub id: String,
    /// Its metadata, when sent.
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

/// A reference to another statement by its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementRef {
    /// The referenced statement's id.
    pub id: Uuid,
}

/// An activity's metadata. The interaction properties describe a question
/// (cmi.interaction); which component lists an interaction type may carry:
/// [`InteractionType::allows_component`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDefinition {
    /// Human-readable names by language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<LanguageMap>,
    /// Human-readable descriptions by language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
    /// `type`: the activity type's IRI.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<String>,
    /// An IRL with more information about the activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_info: Option<String>,
    /// The kind of interaction, for a question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_type: Option<InteractionType>,
    /// The correct responses, in the interaction type's response format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct_responses_pattern: Option<Vec<String>>,
    /// The choices (`choice`, `sequencing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<InteractionComponent>>,
    /// The scale (`likert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Vec<InteractionComponent>>,
    /// The sources (`matching`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Vec<InteractionComponent>>,
    /// The targets (`matching`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<InteractionComponent>>,
    /// The steps (`performance`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<InteractionComponent>>,
    /// Extension IRI → any JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
}

/// The interaction types of cmi.interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InteractionType {
    /// `true-false`.
    TrueFalse,
    /// `choice`.
    Choice,
    /// `fill-in`.
    FillIn,
    /// `long-fill-in`.
    LongFillIn,
    /// `matching`.
    Matching,
    /// `performance`.
    Performance,
    /// `sequencing`.
    Sequencing,
    /// `likert`.
    Likert,
    /// `numeric`.
    Numeric,
    /// `other`.
    Other,
}

impl InteractionType {
    /// Every type with its name in the spec.
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

    /// The type of this spec name (`true-false`, …), if it is one.
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

/// One choice, scale point, source, target or step of an interaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InteractionComponent {
    /// Its id, unique within its list.
    pub id: String,
    /// Human-readable descriptions by language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
}

/// `result` (named to avoid clashing with `std::result::Result`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StatementResult {
    /// The score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// Whether the attempt was successful.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Whether the activity was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<bool>,
    /// The learner's response, in the interaction type's format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Time spent (ISO 8601 duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Extension IRI → any JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
}

/// A score. When parsed: `scaled` in −1..=1, `min` ≤ `raw` ≤ `max`, `min` < `max`
/// ([`Score::percent`] maps it to 0–100).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Score {
    /// The score scaled to −1..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled: Option<f64>,
    /// The raw score, between `min` and `max` when they are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<f64>,
    /// The lowest possible score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The highest possible score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The context of a statement.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// The registration (an enrolment, an attempt) the statement belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<Uuid>,
    /// The instructor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructor: Option<Actor>,
    /// The team the actor was part of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Group>,
    /// Related activities: parent, grouping, category, other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_activities: Option<ContextActivities>,
    /// The revision of the learning activity (only for an Activity object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The platform used (only for an Activity object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The language the experience was in (an RFC 5646 tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Another statement that gives context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementRef>,
    /// Extension IRI → any JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
    /// xAPI 2.0.0
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_agents: Option<Vec<ContextAgent>>,
    /// xAPI 2.0.0
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_groups: Option<Vec<ContextGroup>>,
}

/// Activities related to the statement's object (always arrays once parsed).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContextActivities {
    /// Direct parents (e.g. the course of a question).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Vec<Activity>>,
    /// Indirect relations (e.g. the program of a course).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<Vec<Activity>>,
    /// Categories, e.g. the profile the statement follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Vec<Activity>>,
    /// Any other relation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<Vec<Activity>>,
}

/// xAPI 2.0's `contextAgents` entry: an agent and how it relates.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextAgent {
    /// The agent.
    pub agent: Agent,
    /// IRIs of the relation types.
    pub relevant_types: Option<Vec<String>>,
}

/// xAPI 2.0's `contextGroups` entry: a group and how it relates.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextGroup {
    /// The group.
    pub group: Group,
    /// IRIs of the relation types.
    pub relevant_types: Option<Vec<String>>,
}

/// An attachment's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The IRI of what the attachment is for (e.g. a signature).
    pub usage_type: String,
    /// Its title by language.
    pub display: LanguageMap,
    /// Its description by language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LanguageMap>,
    /// Its MIME type.
    pub content_type: String,
    /// Its length in bytes.
    pub length: u64,
    /// The hex SHA-2 of its content (identifies the part of a multipart request).
    pub sha2: String,
    /// Where it can be fetched, when not sent with the statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
}

mod serialize;
