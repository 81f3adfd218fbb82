//! A statement's context: context activities, instructor and team,
//! xAPI 2.0's context agents and groups.

use serde_json::Value;

use super::activity::{activity, statement_ref};
use super::actor::{actor, agent, group};
use super::values::{
    Obj, array, extensions, finish, iri, language_tag, object, object_type, opt, req, string, uuid,
};
use crate::error::{Ctx, Seg};
use crate::model::{Activity, Context, ContextActivities, ContextAgent, ContextGroup};

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

pub(super) fn context(cx: &mut Ctx, v: Value, object_is_activity: bool) -> Option<Context> {
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
