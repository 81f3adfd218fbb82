//! A statement's result and its score.

use serde_json::Value;

use super::values::{boolean, duration, extensions, finish, number, object, opt, string};
use crate::error::Ctx;
use crate::model::{Score, StatementResult};

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

pub(super) fn result(cx: &mut Ctx, v: Value) -> Option<StatementResult> {
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
