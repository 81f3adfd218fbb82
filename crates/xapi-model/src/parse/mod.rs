//! The validating reader: one pass over an owned JSON value that moves data
//! into the typed model and records every broken rule with its JSON path.
//!
//! Properties are removed from each object as they are read; whatever is left
//! is an unknown property. `null` is rejected everywhere but inside extensions.

use serde_json::{Map, Value};
use time::format_description::well_known::Iso8601;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::duration::Duration;
use crate::error::{Ctx, Seg};
use crate::model::*;
use crate::syntax;

type Obj = Map<String, Value>;

// ---------------------------------------------------------------- helpers

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object(cx: &mut Ctx, v: Value) -> Option<Obj> {
    match v {
        Value::Object(m) => Some(m),
        other => {
            cx.error(format!(
                "must be a JSON object, found {}",
                type_name(&other)
            ));
            None
        }
    }
}

fn array(cx: &mut Ctx, v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        other => {
            cx.error(format!("must be an array, found {}", type_name(&other)));
            None
        }
    }
}

/// Removes `key`; a `null` value is an error and reads as absent.
fn take(cx: &mut Ctx, m: &mut Obj, key: &'static str) -> Option<Value> {
    match m.remove(key) {
        Some(Value::Null) => {
            cx.error_at(key, "must not be null");
            None
        }
        other => other,
    }
}

/// An optional property, read by `f` at its own path.
fn opt<T>(
    cx: &mut Ctx,
    m: &mut Obj,
    key: &'static str,
    f: impl FnOnce(&mut Ctx, Value) -> Option<T>,
) -> Option<T> {
    let v = take(cx, m, key)?;
    cx.at(Seg::Key(key), |cx| f(cx, v))
}

/// A required property, read by `f` at its own path.
fn req<T>(
    cx: &mut Ctx,
    m: &mut Obj,
    key: &'static str,
    f: impl FnOnce(&mut Ctx, Value) -> Option<T>,
) -> Option<T> {
    if !m.contains_key(key) {
        cx.error_at(key, "is required");
        return None;
    }
    opt(cx, m, key, f)
}

/// Reports every property left in `m` as unknown.
fn finish(cx: &mut Ctx, m: Obj) {
    for (k, _) in m {
        cx.at(Seg::Prop(k), |cx| cx.error("unknown property"));
    }
}

fn string(cx: &mut Ctx, v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        other => {
            cx.error(format!("must be a string, found {}", type_name(&other)));
            None
        }
    }
}

fn boolean(cx: &mut Ctx, v: Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(b),
        other => {
            cx.error(format!("must be a boolean, found {}", type_name(&other)));
            None
        }
    }
}

fn number(cx: &mut Ctx, v: Value) -> Option<f64> {
    match &v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => Some(f),
            _ => {
                cx.error("must be a finite number");
                None
            }
        },
        other => {
            cx.error(format!("must be a number, found {}", type_name(other)));
            None
        }
    }
}

fn iri(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_absolute_iri(&s) {
        Some(s)
    } else {
        cx.error("must be an absolute IRI");
        None
    }
}

fn irl(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_irl(&s) {
        Some(s)
    } else {
        cx.error("must be an absolute IRL (a resolvable URL)");
        None
    }
}

fn uuid(cx: &mut Ctx, v: Value) -> Option<uuid::Uuid> {
    let s = string(cx, v)?;
    let parsed = syntax::parse_uuid(&s);
    if parsed.is_none() {
        cx.error("must be a UUID in the hyphenated form (RFC 4122)");
    }
    parsed
}

fn language_tag(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_language_tag(&s) {
        Some(s)
    } else {
        cx.error("must be a valid RFC 5646 language tag");
        None
    }
}

fn language_map(cx: &mut Ctx, v: Value) -> Option<LanguageMap> {
    let m = object(cx, v)?;
    let mut ok = true;
    for (k, v) in &m {
        if !syntax::is_language_tag(k) {
            ok = false;
            cx.at(Seg::Dyn(k.clone()), |cx| {
                cx.error("language map key must be a valid RFC 5646 language tag");
            });
        } else if !v.is_string() {
            ok = false;
            cx.at(Seg::Dyn(k.clone()), |cx| {
                cx.error(format!("must be a string, found {}", type_name(v)));
            });
        }
    }
    ok.then(|| LanguageMap::from_checked(m))
}

fn extensions(cx: &mut Ctx, v: Value) -> Option<Extensions> {
    let m = object(cx, v)?;
    let mut ok = true;
    for k in m.keys() {
        if !syntax::is_absolute_iri(k) {
            ok = false;
            cx.at(Seg::Dyn(k.clone()), |cx| {
                cx.error("extension key must be an absolute IRI");
            });
        }
    }
    ok.then_some(m)
}

fn timestamp(cx: &mut Ctx, v: Value) -> Option<Timestamp> {
    let s = string(cx, v)?;
    match parse_timestamp(&s) {
        Ok(t) => Some(Timestamp(t)),
        Err(rule) => {
            cx.error(rule);
            None
        }
    }
}

/// An ISO 8601 timestamp with an offset; `-00:00` (unknown offset) is refused.
pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, &'static str> {
    if s.ends_with("-00:00") || s.ends_with("-0000") || s.ends_with("-00") {
        return Err("must not use the offset -00:00 (unknown local offset)");
    }
    if let Some(t) = fast_rfc3339(s) {
        return Ok(t);
    }
    match OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        Ok(t) => Ok(t),
        Err(_) if PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).is_ok() => {
            Err("must include a time zone offset (Z or ±hh:mm)")
        }
        Err(_) => Err("must be an ISO 8601 date and time (e.g. 2024-05-14T05:30:00Z)"),
    }
}

/// The common case, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, without the
/// general ISO 8601 machinery; anything else goes to the full parser.
fn fast_rfc3339(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => time::UtcOffset::UTC,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let oh = i8::try_from(num(i + 1..i + 3)?).ok()?;
            let om = i8::try_from(num(i + 4..i + 6)?).ok()?;
            let k = if *sign == b'-' { -1 } else { 1 };
            time::UtcOffset::from_hms(k * oh, k * om, 0).ok()?
        }
        _ => return None,
    };
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(sec).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, clock).assume_offset(offset))
}

fn duration(cx: &mut Ctx, v: Value) -> Option<Duration> {
    let s = string(cx, v)?;
    match Duration::parse(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.error(e.to_string());
            None
        }
    }
}

fn object_type(cx: &mut Ctx, m: &mut Obj) -> Option<String> {
    opt(cx, m, "objectType", string)
}

// ---------------------------------------------------------------- actors

/// Reads the four identifiers present in `m` (each validated).
/// Returns the valid ones and how many were present.
fn ifis(cx: &mut Ctx, m: &mut Obj) -> (Vec<Ifi>, Vec<&'static str>) {
    let mut found = Vec::new();
    let mut present = Vec::new();
    for key in ["mbox", "mbox_sha1sum", "openid", "account"] {
        if !m.contains_key(key) {
            continue;
        }
        present.push(key);
        let ifi = match key {
            "mbox" => opt(cx, m, key, |cx, v| {
                let s = string(cx, v)?;
                if syntax::is_mailto_iri(&s) {
                    Some(Ifi::Mbox(s))
                } else {
                    cx.error("must be a mailto: IRI");
                    None
                }
            }),
            "mbox_sha1sum" => opt(cx, m, key, |cx, v| {
                let s = string(cx, v)?;
                if syntax::is_sha1_hex(&s) {
                    Some(Ifi::MboxSha1Sum(s))
                } else {
                    cx.error("must be the 40-digit hex SHA-1 of a mailto: IRI");
                    None
                }
            }),
            "openid" => opt(cx, m, key, |cx, v| iri(cx, v).map(Ifi::OpenId)),
            _ => opt(cx, m, key, |cx, v| account(cx, v).map(Ifi::Account)),
        };
        found.extend(ifi);
    }
    (found, present)
}

fn account(cx: &mut Ctx, v: Value) -> Option<Account> {
    let mut m = object(cx, v)?;
    let home_page = req(cx, &mut m, "homePage", irl);
    let name = req(cx, &mut m, "name", string);
    finish(cx, m);
    Some(Account {
        home_page: home_page?,
        name: name?,
    })
}

const IFI_RULE: &str = "identifier (mbox, mbox_sha1sum, openid or account)";

fn agent_fields(cx: &mut Ctx, mut m: Obj) -> Option<Agent> {
    let name = opt(cx, &mut m, "name", string);
    let (mut found, present) = ifis(cx, &mut m);
    finish(cx, m);
    match present.len() {
        0 => {
            cx.error(format!(
                "an Agent must have exactly one {IFI_RULE}, found none"
            ));
            None
        }
        1 => Some(Agent {
            name,
            ifi: found.pop()?,
        }),
        _ => {
            cx.error(format!(
                "an Agent must have exactly one {IFI_RULE}, found {}: {}",
                present.len(),
                present.join(", ")
            ));
            None
        }
    }
}

/// An Agent; `objectType` is optional and must be `Agent` when present.
fn agent(cx: &mut Ctx, v: Value) -> Option<Agent> {
    let mut m = object(cx, v)?;
    if let Some(t) = object_type(cx, &mut m) {
        if t != "Agent" {
            cx.error_at("objectType", "must be \"Agent\"");
            return None;
        }
    }
    agent_fields(cx, m)
}

fn group_fields(cx: &mut Ctx, mut m: Obj) -> Option<Group> {
    let name = opt(cx, &mut m, "name", string);
    let (mut found, present) = ifis(cx, &mut m);
    let member_present = m.contains_key("member");
    let member = opt(cx, &mut m, "member", |cx, v| {
        let items = array(cx, v)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let a = cx.at(Seg::Index(i), |cx| {
                if let Value::Object(o) = &item {
                    if o.get("objectType").and_then(Value::as_str) == Some("Group") {
                        cx.error("a Group's members must be Agents, not Groups");
                        return None;
                    }
                }
                agent(cx, item)
            });
            match a {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    });
    finish(cx, m);
    match present.len() {
        0 => {
            if !member_present {
                cx.error_at("member", "is required in an anonymous Group");
                return None;
            }
            Some(Group {
                name,
                ifi: None,
                member,
            })
        }
        1 => Some(Group {
            name,
            ifi: Some(found.pop()?),
            member,
        }),
        _ => {
            cx.error(format!(
                "an identified Group must have exactly one {IFI_RULE}, found {}: {}",
                present.len(),
                present.join(", ")
            ));
            None
        }
    }
}

/// A Group; `objectType` is required and must be `Group`.
fn group(cx: &mut Ctx, v: Value) -> Option<Group> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        Some("Group") => group_fields(cx, m),
        Some(_) => {
            cx.error_at("objectType", "must be \"Group\"");
            None
        }
        None => {
            cx.error_at("objectType", "is required and must be \"Group\"");
            None
        }
    }
}

fn actor(cx: &mut Ctx, v: Value) -> Option<Actor> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        None | Some("Agent") => agent_fields(cx, m).map(Actor::Agent),
        Some("Group") => group_fields(cx, m).map(Actor::Group),
        Some(_) => {
            cx.error_at("objectType", "must be \"Agent\" or \"Group\"");
            None
        }
    }
}

/// An Agent or Group at the root of a document (errors are reported at `statement`).
pub(crate) fn actor_at_root(cx: &mut Ctx, v: Value) -> Option<Actor> {
    actor(cx, v)
}

// ---------------------------------------------------------------- verb, object

fn verb(cx: &mut Ctx, v: Value) -> Option<Verb> {
    let mut m = object(cx, v)?;
    let id = req(cx, &mut m, "id", iri);
    let display = opt(cx, &mut m, "display", language_map);
    finish(cx, m);
    Some(Verb { id: id?, display })
}

fn components(cx: &mut Ctx, v: Value) -> Option<Vec<InteractionComponent>> {
    let items = array(cx, v)?;
    let mut out: Vec<InteractionComponent> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let c = cx.at(Seg::Index(i), |cx| {
            let mut m = object(cx, item)?;
            let id = req(cx, &mut m, "id", |cx, v| {
                let s = string(cx, v)?;
                if s.is_empty() {
                    cx.error("must not be empty");
                    return None;
                }
                Some(s)
            });
            let description = opt(cx, &mut m, "description", language_map);
            finish(cx, m);
            let id = id?;
            if out.iter().any(|c| c.id == id) {
                cx.error_at("id", "must be unique within the list");
                return None;
            }
            Some(InteractionComponent { id, description })
        });
        match c {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn definition(cx: &mut Ctx, v: Value) -> Option<ActivityDefinition> {
    let mut m = object(cx, v)?;
    let mut ok = true;
    let mut d = ActivityDefinition {
        name: opt(cx, &mut m, "name", language_map),
        description: opt(cx, &mut m, "description", language_map),
        activity_type: opt(cx, &mut m, "type", iri),
        more_info: opt(cx, &mut m, "moreInfo", irl),
        ..ActivityDefinition::default()
    };
    d.interaction_type = opt(cx, &mut m, "interactionType", |cx, v| {
        let s = string(cx, v)?;
        let t = InteractionType::from_name(&s);
        if t.is_none() {
            cx.error("must be one of true-false, choice, fill-in, long-fill-in, matching, performance, sequencing, likert, numeric, other");
        }
        t
    });
    let interaction_given = m.contains_key("interactionType") || d.interaction_type.is_some();
    // (`interactionType` was taken above; `interaction_given` is whether it was sent.)
    if m.contains_key("correctResponsesPattern") && !interaction_given {
        ok = false;
        cx.error_at("correctResponsesPattern", "requires interactionType");
    }
    d.correct_responses_pattern = opt(cx, &mut m, "correctResponsesPattern", |cx, v| {
        let items = array(cx, v)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            match cx.at(Seg::Index(i), |cx| string(cx, item)) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    });
    for key in ["choices", "scale", "source", "target", "steps"] {
        if !m.contains_key(key) {
            continue;
        }
        // An invalid interactionType was reported already; judge the lists
        // only against a valid one or a missing one.
        let misplaced = match d.interaction_type {
            Some(t) => !t.allows_component(key),
            None => !interaction_given,
        };
        if misplaced {
            ok = false;
            let which = match key {
                "choices" => "choice or sequencing",
                "scale" => "likert",
                "source" | "target" => "matching",
                _ => "performance",
            };
            cx.error_at(key, format!("allowed only with interactionType {which}"));
        }
        let list = opt(cx, &mut m, key, components);
        match key {
            "choices" => d.choices = list,
            "scale" => d.scale = list,
            "source" => d.source = list,
            "target" => d.target = list,
            _ => d.steps = list,
        }
    }
    d.extensions = opt(cx, &mut m, "extensions", extensions);
    finish(cx, m);
    ok.then_some(d)
}

/// An Activity; `objectType` optional (`Activity`).
fn activity(cx: &mut Ctx, v: Value) -> Option<Activity> {
    let mut m = object(cx, v)?;
    if let Some(t) = object_type(cx, &mut m) {
        if t != "Activity" {
            cx.error_at("objectType", "must be \"Activity\"");
            return None;
        }
    }
    activity_fields(cx, m)
}

fn activity_fields(cx: &mut Ctx, mut m: Obj) -> Option<Activity> {
    let id = req(cx, &mut m, "id", iri);
    let definition = opt(cx, &mut m, "definition", definition).map(Box::new);
    finish(cx, m);
    Some(Activity {
        id: id?,
        definition,
    })
}

fn statement_ref_fields(cx: &mut Ctx, mut m: Obj) -> Option<StatementRef> {
    let id = req(cx, &mut m, "id", uuid);
    finish(cx, m);
    Some(StatementRef { id: id? })
}

/// A StatementRef; `objectType` is required and must be `StatementRef`.
fn statement_ref(cx: &mut Ctx, v: Value) -> Option<StatementRef> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        Some("StatementRef") => statement_ref_fields(cx, m),
        _ => {
            cx.error_at("objectType", "is required and must be \"StatementRef\"");
            None
        }
    }
}

fn statement_object(cx: &mut Ctx, v: Value, in_sub: bool) -> Option<StatementObject> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        None | Some("Activity") => activity_fields(cx, m).map(StatementObject::Activity),
        Some("Agent") => agent_fields(cx, m).map(StatementObject::Agent),
        Some("Group") => group_fields(cx, m).map(StatementObject::Group),
        Some("StatementRef") => statement_ref_fields(cx, m).map(StatementObject::StatementRef),
        Some("SubStatement") if in_sub => {
            cx.error("a SubStatement must not contain a SubStatement");
            None
        }
        Some("SubStatement") => {
            sub_statement(cx, m).map(|s| StatementObject::SubStatement(Box::new(s)))
        }
        Some(_) => {
            cx.error_at(
                "objectType",
                "must be Activity, Agent, Group, StatementRef or SubStatement",
            );
            None
        }
    }
}

// ---------------------------------------------------------------- result, context

fn score(cx: &mut Ctx, v: Value) -> Option<Score> {
    let mut m = object(cx, v)?;
    let s = Score {
        scaled: opt(cx, &mut m, "scaled", number),
        raw: opt(cx, &mut m, "raw", number),
        min: opt(cx, &mut m, "min", number),
        max: opt(cx, &mut m, "max", number),
    };
    finish(cx, m);
    let mut ok = true;
    if let Some(scaled) = s.scaled {
        if !(-1.0..=1.0).contains(&scaled) {
            ok = false;
            cx.error_at("scaled", "must be between -1 and 1");
        }
    }
    if let (Some(min), Some(max)) = (s.min, s.max) {
        if min >= max {
            ok = false;
            cx.error_at("max", "must be greater than min");
        }
    }
    if let Some(raw) = s.raw {
        if s.min.is_some_and(|min| raw < min) {
            ok = false;
            cx.error_at("raw", "must not be less than min");
        }
        if s.max.is_some_and(|max| raw > max) {
            ok = false;
            cx.error_at("raw", "must not be greater than max");
        }
    }
    ok.then_some(s)
}

fn result(cx: &mut Ctx, v: Value) -> Option<StatementResult> {
    let mut m = object(cx, v)?;
    let r = StatementResult {
        score: opt(cx, &mut m, "score", score),
        success: opt(cx, &mut m, "success", boolean),
        completion: opt(cx, &mut m, "completion", boolean),
        response: opt(cx, &mut m, "response", string),
        duration: opt(cx, &mut m, "duration", duration),
        extensions: opt(cx, &mut m, "extensions", extensions),
    };
    finish(cx, m);
    Some(r)
}

fn activity_list(cx: &mut Ctx, v: Value) -> Option<Vec<Activity>> {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.into_iter().enumerate() {
                match cx.at(Seg::Index(i), |cx| activity(cx, item)) {
                    Some(a) => out.push(a),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        single => activity(cx, single).map(|a| vec![a]),
    }
}

fn context_activities(cx: &mut Ctx, v: Value) -> Option<ContextActivities> {
    let mut m = object(cx, v)?;
    let c = ContextActivities {
        parent: opt(cx, &mut m, "parent", activity_list),
        grouping: opt(cx, &mut m, "grouping", activity_list),
        category: opt(cx, &mut m, "category", activity_list),
        other: opt(cx, &mut m, "other", activity_list),
    };
    finish(cx, m);
    Some(c)
}

fn relevant_types(cx: &mut Ctx, v: Value) -> Option<Vec<String>> {
    let items = array(cx, v)?;
    if items.is_empty() {
        cx.error("must list at least one IRI when present");
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        match cx.at(Seg::Index(i), |cx| iri(cx, item)) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn tagged_entry(cx: &mut Ctx, m: &mut Obj, tag: &'static str) -> bool {
    match object_type(cx, m).as_deref() {
        Some(t) if t == tag => true,
        _ => {
            cx.error_at("objectType", format!("is required and must be \"{tag}\""));
            false
        }
    }
}

fn context_agents(cx: &mut Ctx, v: Value) -> Option<Vec<ContextAgent>> {
    let items = array(cx, v)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let entry = cx.at(Seg::Index(i), |cx| {
            let mut m = object(cx, item)?;
            let tag_ok = tagged_entry(cx, &mut m, "contextAgent");
            let agent = req(cx, &mut m, "agent", agent);
            let relevant_types = opt(cx, &mut m, "relevantTypes", relevant_types);
            finish(cx, m);
            tag_ok.then_some(())?;
            Some(ContextAgent {
                agent: agent?,
                relevant_types,
            })
        });
        match entry {
            Some(e) => out.push(e),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn context_groups(cx: &mut Ctx, v: Value) -> Option<Vec<ContextGroup>> {
    let items = array(cx, v)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let entry = cx.at(Seg::Index(i), |cx| {
            let mut m = object(cx, item)?;
            let tag_ok = tagged_entry(cx, &mut m, "contextGroup");
            let group = req(cx, &mut m, "group", group);
            let relevant_types = opt(cx, &mut m, "relevantTypes", relevant_types);
            finish(cx, m);
            tag_ok.then_some(())?;
            Some(ContextGroup {
                group: group?,
                relevant_types,
            })
        });
        match entry {
            Some(e) => out.push(e),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn context(cx: &mut Ctx, v: Value, object_is_activity: bool) -> Option<Context> {
    let mut m = object(cx, v)?;
    let mut ok = true;
    for key in ["revision", "platform"] {
        if m.contains_key(key) && !object_is_activity {
            ok = false;
            cx.error_at(
                key,
                "allowed only when the statement's object is an Activity",
            );
        }
    }
    let c = Context {
        registration: opt(cx, &mut m, "registration", uuid),
        instructor: opt(cx, &mut m, "instructor", actor),
        team: opt(cx, &mut m, "team", |cx, v| {
            let is_group = matches!(&v, Value::Object(o) if o.get("objectType").and_then(Value::as_str) == Some("Group"));
            if is_group {
                group(cx, v)
            } else {
                cx.error("must be a Group (objectType \"Group\")");
                None
            }
        }),
        context_activities: opt(cx, &mut m, "contextActivities", context_activities),
        revision: opt(cx, &mut m, "revision", string),
        platform: opt(cx, &mut m, "platform", string),
        language: opt(cx, &mut m, "language", language_tag),
        statement: opt(cx, &mut m, "statement", statement_ref),
        extensions: opt(cx, &mut m, "extensions", extensions),
        context_agents: opt(cx, &mut m, "contextAgents", context_agents),
        context_groups: opt(cx, &mut m, "contextGroups", context_groups),
    };
    finish(cx, m);
    ok.then_some(c)
}

fn attachments(cx: &mut Ctx, v: Value) -> Option<Vec<Attachment>> {
    let items = array(cx, v)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let a = cx.at(Seg::Index(i), |cx| {
            let mut m = object(cx, item)?;
            let usage_type = req(cx, &mut m, "usageType", iri);
            let display = req(cx, &mut m, "display", language_map);
            let description = opt(cx, &mut m, "description", language_map);
            let content_type = req(cx, &mut m, "contentType", |cx, v| {
                let s = string(cx, v)?;
                if is_media_type(&s) {
                    Some(s)
                } else {
                    cx.error("must be an Internet media type (type/subtype)");
                    None
                }
            });
            let length = req(cx, &mut m, "length", |cx, v| match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    cx.error("must be a non-negative integer");
                    None
                }
            });
            let sha2 = req(cx, &mut m, "sha2", |cx, v| {
                let s = string(cx, v)?;
                if syntax::is_sha2_hex(&s) {
                    Some(s)
                } else {
                    cx.error("must be a SHA-2 hex digest");
                    None
                }
            });
            let file_url = opt(cx, &mut m, "fileUrl", irl);
            finish(cx, m);
            Some(Attachment {
                usage_type: usage_type?,
                display: display?,
                description,
                content_type: content_type?,
                length: length?,
                sha2: sha2?,
                file_url,
            })
        });
        match a {
            Some(a) => out.push(a),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `type/subtype`, optionally followed by `; parameters`.
fn is_media_type(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    matches!(essence.split_once('/'), Some((t, st)) if token(t) && token(st))
}

// ---------------------------------------------------------------- statements

fn voiding_rule(
    cx: &mut Ctx,
    verb: &Option<Verb>,
    object: &Option<StatementObject>,
    object_seen: bool,
) {
    if verb.as_ref().is_some_and(|v| v.id == VERB_VOIDED)
        && object_seen
        && !matches!(object, Some(StatementObject::StatementRef(_)))
    {
        cx.error_at("object", "a voiding statement must target a StatementRef");
    }
}

fn sub_statement(cx: &mut Ctx, mut m: Obj) -> Option<SubStatement> {
    for key in ["id", "stored", "version", "authority"] {
        if m.remove(key).is_some() {
            cx.error_at(key, "not allowed in a SubStatement");
        }
    }
    let actor = req(cx, &mut m, "actor", actor);
    let verb = req(cx, &mut m, "verb", verb);
    let object_seen = m.contains_key("object");
    let object = req(cx, &mut m, "object", |cx, v| statement_object(cx, v, true));
    voiding_rule(cx, &verb, &object, object_seen);
    let is_activity = object_is_activity_hint(&object);
    let result = opt(cx, &mut m, "result", result);
    let context = opt(cx, &mut m, "context", |cx, v| context(cx, v, is_activity));
    let timestamp = opt(cx, &mut m, "timestamp", timestamp);
    let attachments = opt(cx, &mut m, "attachments", attachments);
    finish(cx, m);
    Some(SubStatement {
        actor: actor?,
        verb: verb?,
        object: object?,
        result,
        context,
        timestamp,
        attachments,
    })
}

/// Whether the revision/platform rule lets context pass: only an object that
/// parsed as something other than an Activity breaks it (a missing or invalid
/// object is reported once, where it is).
fn object_is_activity_hint(object: &Option<StatementObject>) -> bool {
    !matches!(object, Some(o) if !matches!(o, StatementObject::Activity(_)))
}

pub(crate) fn statement(cx: &mut Ctx, v: Value) -> Option<Statement> {
    let mut m = object(cx, v)?;
    let id = opt(cx, &mut m, "id", uuid);
    let the_actor = req(cx, &mut m, "actor", actor);
    let the_verb = req(cx, &mut m, "verb", verb);
    let object_seen = m.contains_key("object");
    let the_object = req(cx, &mut m, "object", |cx, v| statement_object(cx, v, false));
    voiding_rule(cx, &the_verb, &the_object, object_seen);
    let is_activity = object_is_activity_hint(&the_object);
    let the_result = opt(cx, &mut m, "result", result);
    let the_context = opt(cx, &mut m, "context", |cx, v| context(cx, v, is_activity));
    let the_timestamp = opt(cx, &mut m, "timestamp", timestamp);
    let stored = opt(cx, &mut m, "stored", timestamp);
    let authority = opt(cx, &mut m, "authority", actor);
    let version = opt(cx, &mut m, "version", |cx, v| {
        let s = string(cx, v)?;
        if syntax::is_supported_version(&s) {
            Some(s)
        } else {
            cx.error("must be 1.0.x or 2.0.x");
            None
        }
    });
    let the_attachments = opt(cx, &mut m, "attachments", attachments);
    finish(cx, m);
    Some(Statement {
        id,
        actor: the_actor?,
        verb: the_verb?,
        object: the_object?,
        result: the_result,
        context: the_context,
        timestamp: the_timestamp,
        stored,
        authority,
        version,
        attachments: the_attachments,
    })
}
