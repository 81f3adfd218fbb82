//! Statements and SubStatements: the verb, the object (which may be a
//! SubStatement), the voiding rule, and the assembly of all the parts.

use serde_json::Value;

use super::activity::{activity_fields, statement_ref_fields};
use super::actor::{actor, agent_fields, authority, group_fields};
use super::attachments::attachments;
use super::context::context;
use super::result::result;
use super::values::{
    Obj, finish, iri, language_map, object, object_type, opt, req, string, timestamp, uuid,
};
use crate::error::Ctx;
use crate::model::{Statement, StatementObject, SubStatement, VERB_VOIDED, Verb};
use crate::syntax;

fn verb(cx: &mut Ctx, v: Value) -> Option<Verb> {
    let mut m = object(cx, v)?;
    let id = req(cx, &mut m, "id", iri);
    let display = opt(cx, &mut m, "display", language_map);
    finish(cx, m);
    Some(Verb { id: id?, display })
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
    let the_authority = opt(cx, &mut m, "authority", authority);
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
        authority: the_authority,
        version,
        attachments: the_attachments,
    })
}
