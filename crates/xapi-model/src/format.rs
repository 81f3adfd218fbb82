//! What a statements query returns and which statements it matches, beyond
//! the stored form: the `format` parameter (`exact`, `ids`, `canonical` with
//! `Accept-Language`) and the `related_agents` / `related_activities` rules of
//! xAPI 1.0.3 (Communication, 2.1.3 "GET Statements").
//!
//! Pure: the caller gives the statement and the request's values.

use crate::identity::LearnerKey;
use crate::model::*;

/// The `format` parameter of a statements query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The statements as stored (the default).
    #[default]
    Exact,
    /// Agents, Groups, Activities and Verbs reduced to what identifies them.
    Ids,
    /// Exact, except that every language map keeps one language, the best
    /// match for the request's `Accept-Language`.
    Canonical,
}

impl Format {
    /// `exact`, `ids` or `canonical`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(Self::Exact),
            "ids" => Some(Self::Ids),
            "canonical" => Some(Self::Canonical),
            _ => None,
        }
    }
}

/// The language ranges of an `Accept-Language` header, best first (by `q`,
/// then by position; ranges with `q=0` dropped). Malformed parts are skipped,
/// as HTTP asks of a header that only expresses a preference.
pub fn accept_language(header: &str) -> Vec<String> {
    let mut ranges: Vec<(u16, usize, String)> = Vec::new();
    for (i, part) in header.split(',').enumerate() {
        let mut it = part.split(';');
        let range = it.next().unwrap_or_default().trim();
        if range.is_empty()
            || !(range == "*"
                || range.split('-').all(|s| {
                    !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
                }))
        {
            continue;
        }
        let mut q = 1000u16;
        for param in it {
            if let Some(v) = param.trim().strip_prefix("q=") {
                q = parse_q(v.trim()).unwrap_or(0);
            }
        }
        if q > 0 {
            ranges.push((q, i, range.to_ascii_lowercase()));
        }
    }
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().map(|(_, _, r)| r).collect()
}

/// An HTTP quality value in thousandths (`0`, `0.5`, `1.000`).
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

/// Whether a language range (lower case, from [`accept_language`]) matches a
/// tag: equal, or a prefix of it ending at a `-` (RFC 2616 §14.4), or `*`.
fn range_matches(range: &str, tag: &str) -> bool {
    range == "*"
        || tag.eq_ignore_ascii_case(range)
        || (tag.len() > range.len()
            && tag.as_bytes()[range.len()] == b'-'
            && tag[..range.len()].eq_ignore_ascii_case(range))
}

/// The tag of `map` to keep for these ranges: the first range's match, else
/// the LRS's choice — `en-US`, then any `en`, then the first tag.
fn chosen_tag(map: &LanguageMap, ranges: &[String]) -> Option<String> {
    let tags: Vec<&str> = map.iter().map(|(t, _)| t).collect();
    ranges
        .iter()
        .find_map(|r| tags.iter().find(|t| range_matches(r, t)))
        .or_else(|| tags.iter().find(|t| t.eq_ignore_ascii_case("en-US")))
        .or_else(|| tags.iter().find(|t| range_matches("en", t)))
        .or_else(|| tags.first())
        .map(|t| (*t).to_owned())
}

fn one_language(map: &mut Option<LanguageMap>, ranges: &[String]) {
    if let Some(m) = map {
        if let Some(tag) = chosen_tag(m, ranges) {
            m.keep_only(&tag);
        }
    }
}

/// Rewrites a stored statement into the requested format. `ranges` are the
/// request's `Accept-Language` ranges ([`accept_language`]), used by
/// [`Format::Canonical`].
pub fn apply(statement: &mut Statement, format: Format, ranges: &[String]) {
    match format {
        Format::Exact => {}
        Format::Ids => {
            ids_actor(&mut statement.actor);
            ids_verb(&mut statement.verb);
            ids_object(&mut statement.object);
            if let Some(c) = &mut statement.context {
                ids_context(c);
            }
            if let Some(a) = &mut statement.authority {
                ids_actor(a);
            }
        }
        Format::Canonical => canonical_parts(
            &mut statement.verb,
            &mut statement.object,
            statement.context.as_mut(),
            statement.attachments.as_mut(),
            ranges,
        ),
    }
}

fn ids_agent(a: &mut Agent) {
    a.name = None;
}

fn ids_group(g: &mut Group) {
    g.name = None;
    if g.is_anonymous() {
        for m in g.member.iter_mut().flatten() {
            ids_agent(m);
        }
    } else {
        g.member = None;
    }
}

fn ids_actor(a: &mut Actor) {
    match a {
        Actor::Agent(a) => ids_agent(a),
        Actor::Group(g) => ids_group(g),
    }
}

fn ids_verb(v: &mut Verb) {
    v.display = None;
}

fn ids_activity(a: &mut Activity) {
    a.definition = None;
}

fn ids_object(o: &mut StatementObject) {
    match o {
        StatementObject::Activity(a) => ids_activity(a),
        StatementObject::Agent(a) => ids_agent(a),
        StatementObject::Group(g) => ids_group(g),
        StatementObject::StatementRef(_) => {}
        StatementObject::SubStatement(s) => {
            ids_actor(&mut s.actor);
            ids_verb(&mut s.verb);
            ids_object(&mut s.object);
            if let Some(c) = &mut s.context {
                ids_context(c);
            }
        }
    }
}

fn context_activity_lists(c: &mut Context) -> impl Iterator<Item = &mut Activity> {
    c.context_activities.iter_mut().flat_map(|ca| {
        [
            &mut ca.parent,
            &mut ca.grouping,
            &mut ca.category,
            &mut ca.other,
        ]
        .into_iter()
        .flatten()
        .flatten()
    })
}

fn ids_context(c: &mut Context) {
    if let Some(i) = &mut c.instructor {
        ids_actor(i);
    }
    if let Some(t) = &mut c.team {
        ids_group(t);
    }
    for a in c.context_agents.iter_mut().flatten() {
        ids_agent(&mut a.agent);
    }
    for g in c.context_groups.iter_mut().flatten() {
        ids_group(&mut g.group);
    }
    context_activity_lists(c).for_each(ids_activity);
}

fn canonical_verb(v: &mut Verb, r: &[String]) {
    one_language(&mut v.display, r);
}

fn canonical_activity(a: &mut Activity, r: &[String]) {
    if let Some(d) = &mut a.definition {
        one_language(&mut d.name, r);
        one_language(&mut d.description, r);
        for list in [
            &mut d.choices,
            &mut d.scale,
            &mut d.source,
            &mut d.target,
            &mut d.steps,
        ] {
            for c in list.iter_mut().flatten() {
                one_language(&mut c.description, r);
            }
        }
    }
}

/// What a statement and a SubStatement share: verb, object, context, attachments.
fn canonical_parts(
    verb: &mut Verb,
    object: &mut StatementObject,
    context: Option<&mut Context>,
    attachments: Option<&mut Vec<Attachment>>,
    r: &[String],
) {
    canonical_verb(verb, r);
    canonical_object(object, r);
    if let Some(c) = context {
        canonical_context(c, r);
    }
    for a in attachments.into_iter().flatten() {
        canonical_attachment(a, r);
    }
}

fn canonical_object(o: &mut StatementObject, r: &[String]) {
    match o {
        StatementObject::Activity(a) => canonical_activity(a, r),
        StatementObject::SubStatement(s) => canonical_parts(
            &mut s.verb,
            &mut s.object,
            s.context.as_mut(),
            s.attachments.as_mut(),
            r,
        ),
        StatementObject::Agent(_)
        | StatementObject::Group(_)
        | StatementObject::StatementRef(_) => {}
    }
}

fn canonical_context(c: &mut Context, r: &[String]) {
    context_activity_lists(c).for_each(|a| canonical_activity(a, r));
}

fn canonical_attachment(a: &mut Attachment, r: &[String]) {
    if let Some(tag) = chosen_tag(&a.display, r) {
        a.display.keep_only(&tag);
    }
    one_language(&mut a.description, r);
}

// ---- related_agents / related_activities ----

fn activities_of_context(c: &Context) -> impl Iterator<Item = &Activity> {
    c.context_activities.iter().flat_map(|ca| {
        [&ca.parent, &ca.grouping, &ca.category, &ca.other]
            .into_iter()
            .flatten()
            .flatten()
    })
}

/// Whether the activity `id` is the statement's object, one of its context
/// activities, or either of these in a SubStatement it holds — the match of
/// `activity` with `related_activities=true`.
pub fn mentions_activity(s: &Statement, id: &str) -> bool {
    fn in_parts(object: &StatementObject, context: Option<&Context>, id: &str) -> bool {
        let own = match object {
            StatementObject::Activity(a) => a.id == id,
            StatementObject::SubStatement(sub) => in_parts(&sub.object, sub.context.as_ref(), id),
            _ => false,
        };
        own || context.is_some_and(|c| activities_of_context(c).any(|a| a.id == id))
    }
    in_parts(&s.object, s.context.as_ref(), id)
}

fn key_of_agent(a: &Agent) -> LearnerKey {
    LearnerKey::from_ifi(&a.ifi)
}

fn group_is(g: &Group, key: &LearnerKey) -> bool {
    g.ifi
        .as_ref()
        .is_some_and(|i| LearnerKey::from_ifi(i) == *key)
}

/// Whether the agent or identified group `key` is the statement's actor or
/// object, or a member of the group that is — the match of `agent` without
/// `related_agents`.
pub fn is_actor_or_object(s: &Statement, key: &LearnerKey) -> bool {
    actor_mentions(&s.actor, key) || object_mentions(&s.object, key)
}

/// The agent, or the group or one of its members.
fn actor_mentions(a: &Actor, key: &LearnerKey) -> bool {
    match a {
        Actor::Agent(a) => key_of_agent(a) == *key,
        Actor::Group(g) => group_mentions(g, key),
    }
}

/// An Agent or Group object as [`actor_mentions`]; any other object: no.
fn object_mentions(o: &StatementObject, key: &LearnerKey) -> bool {
    match o {
        StatementObject::Agent(a) => key_of_agent(a) == *key,
        StatementObject::Group(g) => group_mentions(g, key),
        _ => false,
    }
}

fn group_members_mention(g: &Group, key: &LearnerKey) -> bool {
    g.member.iter().flatten().any(|m| key_of_agent(m) == *key)
}

/// The group itself, or one of its members.
fn group_mentions(g: &Group, key: &LearnerKey) -> bool {
    group_is(g, key) || group_members_mention(g, key)
}

/// Whether the agent or identified group `key` is the statement's actor,
/// object, authority, instructor, team (or a context agent or group of
/// xAPI 2.0), or any of these but authority in a SubStatement it holds —
/// the match of `agent` with `related_agents=true`. An anonymous group's
/// members count as that group's agents.
pub fn mentions_agent(s: &Statement, key: &LearnerKey) -> bool {
    fn in_parts(
        actor: &Actor,
        object: &StatementObject,
        context: Option<&Context>,
        key: &LearnerKey,
    ) -> bool {
        let object_hit = match object {
            StatementObject::SubStatement(sub) => {
                in_parts(&sub.actor, &sub.object, sub.context.as_ref(), key)
            }
            other => object_mentions(other, key),
        };
        actor_mentions(actor, key)
            || object_hit
            || context.is_some_and(|c| {
                c.instructor
                    .as_ref()
                    .is_some_and(|i| actor_mentions(i, key))
                    || c.team.as_ref().is_some_and(|t| group_mentions(t, key))
                    || c.context_agents
                        .iter()
                        .flatten()
                        .any(|a| key_of_agent(&a.agent) == *key)
                    || c.context_groups
                        .iter()
                        .flatten()
                        .any(|g| group_mentions(&g.group, key))
            })
    }
    in_parts(&s.actor, &s.object, s.context.as_ref(), key)
        || s.authority.as_ref().is_some_and(|a| actor_mentions(a, key))
}

/// Whether a statement is *plain*: its actor is an Agent or a Group without
/// members, its object an Activity, and its context (if any) names no
/// instructor, team, context activities, context agents or context groups.
/// For a plain statement the columns a store keeps (actor key, verb, object
/// activity id, registration) answer every filter of [`Criteria`] exactly,
/// except `related_agents` on its authority; a store only has to look at the
/// other statements one by one.
pub fn is_plain(s: &Statement) -> bool {
    let actor = match &s.actor {
        Actor::Agent(_) => true,
        Actor::Group(g) => g.member.as_ref().is_none_or(Vec::is_empty),
    };
    let context = s.context.as_ref().is_none_or(|c| {
        c.instructor.is_none()
            && c.team.is_none()
            && c.context_activities.is_none()
            && c.context_agents.is_none()
            && c.context_groups.is_none()
    });
    actor && matches!(s.object, StatementObject::Activity(_)) && context
}

/// The filters of a statements query that look into a statement (not the
/// time and order ones), with the spec's meaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Criteria {
    /// `agent`: the key of the Agent or identified Group.
    pub agent: Option<LearnerKey>,
    /// `verb`: the verb IRI.
    pub verb: Option<String>,
    /// `activity`: the object's activity IRI.
    pub activity: Option<String>,
    /// `registration`: the context's registration.
    pub registration: Option<uuid::Uuid>,
    /// `related_agents`: `agent` also matches the authority, instructor,
    /// team and context agents and groups, and those of a SubStatement
    /// ([`mentions_agent`]).
    pub related_agents: bool,
    /// `related_activities`: `activity` also matches context activities and
    /// those of a SubStatement ([`mentions_activity`]).
    pub related_activities: bool,
}

impl Criteria {
    /// True when no filter is set: every statement matches.
    pub fn is_empty(&self) -> bool {
        self.agent.is_none()
            && self.verb.is_none()
            && self.activity.is_none()
            && self.registration.is_none()
    }

    /// Whether the statement itself meets every filter. (A statement whose
    /// object is a StatementRef also matches when the statement it targets
    /// does — xAPI 1.0.3, "Filter Conditions for StatementRefs"; the caller,
    /// which can look the target up, applies that rule with [`ref_target`].)
    pub fn matches(&self, s: &Statement) -> bool {
        let agent = self.agent.as_ref().is_none_or(|k| {
            if self.related_agents {
                mentions_agent(s, k)
            } else {
                is_actor_or_object(s, k)
            }
        });
        let verb = self.verb.as_ref().is_none_or(|v| s.verb.id == *v);
        let activity = self.activity.as_ref().is_none_or(|a| {
            if self.related_activities {
                mentions_activity(s, a)
            } else {
                s.activity().is_some_and(|x| x.id == *a)
            }
        });
        let registration = self.registration.is_none_or(|r| {
            s.context
                .as_ref()
                .is_some_and(|c| c.registration == Some(r))
        });
        agent && verb && activity && registration
    }
}

/// The statement a statement targets, when its object is a StatementRef.
pub fn ref_target(s: &Statement) -> Option<uuid::Uuid> {
    match &s.object {
        StatementObject::StatementRef(r) => Some(r.id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_orders_by_quality_then_position() {
        assert_eq!(
            accept_language("fr;q=0.5, de, *;q=0.1, en-GB;q=0.5"),
            ["de", "fr", "en-gb", "*"]
        );
        assert_eq!(
            accept_language("da, en-gb;q=0.8, en;q=0.7"),
            ["da", "en-gb", "en"]
        );
        assert_eq!(
            accept_language("x;q=0, de;q=1.0, bad tag, fr;q=2, it;q=0.0001"),
            ["de"],
            "q=0 refuses; malformed parts and qualities are skipped"
        );
        assert!(accept_language("").is_empty());
    }

    #[test]
    fn ranges_match_tags_by_prefix_at_a_hyphen() {
        assert!(range_matches("en", "en-US"));
        assert!(range_matches("en-us", "en-US"));
        assert!(!range_matches("en", "eng"));
        assert!(!range_matches("en-us", "en"));
        assert!(range_matches("*", "zh-Hant-TW"));
    }

    #[test]
    fn the_lrs_picks_en_us_then_en_then_the_first_tag() {
        let map =
            |pairs: &[(&str, &str)]| LanguageMap::from_pairs(pairs.iter().copied()).expect("tags");
        let m = map(&[("de-DE", "a"), ("en-GB", "b"), ("en-US", "c")]);
        assert_eq!(chosen_tag(&m, &["fr".into()]).as_deref(), Some("en-US"));
        assert_eq!(
            chosen_tag(&m, &["en".into()]).as_deref(),
            Some("en-GB"),
            "the first en-* in tag order"
        );
        let m = map(&[("de-DE", "a"), ("en-GB", "b")]);
        assert_eq!(chosen_tag(&m, &[]).as_deref(), Some("en-GB"));
        let m = map(&[("fr", "a"), ("de", "b")]);
        assert_eq!(chosen_tag(&m, &[]).as_deref(), Some("de"), "tag order");
    }
}
