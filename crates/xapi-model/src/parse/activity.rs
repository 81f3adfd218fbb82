//! Activities (with their definitions and interaction components) and
//! StatementRefs.

use serde_json::Value;

use super::values::{
    Obj, array, extensions, finish, iri, irl, language_map, object, object_type, opt, req, string,
    uuid,
};
use crate::error::{Ctx, Seg};
use crate::model::{
    Activity, ActivityDefinition, InteractionComponent, InteractionType, StatementRef,
};

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
pub(super) fn activity(cx: &mut Ctx, v: Value) -> Option<Activity> {
    let mut m = object(cx, v)?;
    if let Some(t) = object_type(cx, &mut m) {
        if t != "Activity" {
            cx.error_at("objectType", "must be \"Activity\"");
            return None;
        }
    }
    activity_fields(cx, m)
}

pub(super) fn activity_fields(cx: &mut Ctx, mut m: Obj) -> Option<Activity> {
    let id = req(cx, &mut m, "id", iri);
    let definition = opt(cx, &mut m, "definition", definition).map(Box::new);
    finish(cx, m);
    Some(Activity {
        id: id?,
        definition,
    })
}

pub(super) fn statement_ref_fields(cx: &mut Ctx, mut m: Obj) -> Option<StatementRef> {
    let id = req(cx, &mut m, "id", uuid);
    finish(cx, m);
    Some(StatementRef { id: id? })
}

/// A StatementRef; `objectType` is required and must be `StatementRef`.
pub(super) fn statement_ref(cx: &mut Ctx, v: Value) -> Option<StatementRef> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        Some("StatementRef") => statement_ref_fields(cx, m),
        _ => {
            cx.error_at("objectType", "is required and must be \"StatementRef\"");
            None
        }
    }
}
