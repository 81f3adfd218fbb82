//! A statement's attachments (their metadata; the parts are checked elsewhere).

use serde_json::Value;

use super::values::{array, finish, iri, irl, language_map, object, opt, req, string};
use crate::error::{Ctx, Seg};
use crate::model::Attachment;
use crate::syntax;

pub(super) fn attachments(cx: &mut Ctx, v: Value) -> Option<Vec<Attachment>> {
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
