//! The small readers every part of the statement is built from: JSON types,
//! required/optional properties, unknown-property reporting, and the value
//! syntaxes (IRI, IRL, UUID, language tag and map, extensions, timestamp,
//! duration).

use serde_json::{Map, Value};

use super::timestamp::parse_timestamp;
use crate::duration::Duration;
use crate::error::{Ctx, Seg};
use crate::model::{Extensions, LanguageMap, Timestamp};
use crate::syntax;

pub(super) type Obj = Map<String, Value>;

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

pub(super) fn object(cx: &mut Ctx, v: Value) -> Option<Obj> {
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

pub(super) fn array(cx: &mut Ctx, v: Value) -> Option<Vec<Value>> {
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
pub(super) fn opt<T>(
    cx: &mut Ctx,
    m: &mut Obj,
    key: &'static str,
    f: impl FnOnce(&mut Ctx, Value) -> Option<T>,
) -> Option<T> {
    let v = take(cx, m, key)?;
    cx.at(Seg::Key(key), |cx| f(cx, v))
}

/// A required property, read by `f` at its own path.
pub(super) fn req<T>(
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
pub(super) fn finish(cx: &mut Ctx, m: Obj) {
    for (k, _) in m {
        cx.at(Seg::Prop(k), |cx| cx.error("unknown property"));
    }
}

pub(super) fn string(cx: &mut Ctx, v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        other => {
            cx.error(format!("must be a string, found {}", type_name(&other)));
            None
        }
    }
}

pub(super) fn boolean(cx: &mut Ctx, v: Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(b),
        other => {
            cx.error(format!("must be a boolean, found {}", type_name(&other)));
            None
        }
    }
}

pub(super) fn number(cx: &mut Ctx, v: Value) -> Option<f64> {
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

pub(super) fn iri(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_absolute_iri(&s) {
        Some(s)
    } else {
        cx.error("must be an absolute IRI");
        None
    }
}

pub(super) fn irl(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_irl(&s) {
        Some(s)
    } else {
        cx.error("must be an absolute IRL (a resolvable URL)");
        None
    }
}

pub(super) fn uuid(cx: &mut Ctx, v: Value) -> Option<uuid::Uuid> {
    let s = string(cx, v)?;
    let parsed = syntax::parse_uuid(&s);
    if parsed.is_none() {
        cx.error("must be a UUID in the hyphenated form (RFC 4122)");
    }
    parsed
}

pub(super) fn language_tag(cx: &mut Ctx, v: Value) -> Option<String> {
    let s = string(cx, v)?;
    if syntax::is_language_tag(&s) {
        Some(s)
    } else {
        cx.error("must be a valid RFC 5646 language tag");
        None
    }
}

pub(super) fn language_map(cx: &mut Ctx, v: Value) -> Option<LanguageMap> {
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

pub(super) fn extensions(cx: &mut Ctx, v: Value) -> Option<Extensions> {
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

pub(super) fn timestamp(cx: &mut Ctx, v: Value) -> Option<Timestamp> {
    let s = string(cx, v)?;
    match parse_timestamp(&s) {
        Ok(t) => Some(Timestamp(t)),
        Err(rule) => {
            cx.error(rule);
            None
        }
    }
}

pub(super) fn duration(cx: &mut Ctx, v: Value) -> Option<Duration> {
    let s = string(cx, v)?;
    match Duration::parse(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.error(e.to_string());
            None
        }
    }
}

pub(super) fn object_type(cx: &mut Ctx, m: &mut Obj) -> Option<String> {
    opt(cx, m, "objectType", string)
}
