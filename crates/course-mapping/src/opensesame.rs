//! OpenSesame course objects (`GET /v1/content` → `data[]`) per seed 000.

use serde_json::Value;

use crate::normalize::{duration_minutes, language_tag, sanitize_html, subjects_from_paths};
use crate::{MappedCourse, Rejected, content_type};

pub(crate) fn text(v: &Value, field: &str, warnings: &mut Vec<String>) -> Option<String> {
    match v.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            warnings.push(format!("{field}: not a string; ignored"));
            None
        }
    }
}

pub(crate) fn url(v: &Value, field: &str, warnings: &mut Vec<String>) -> Option<String> {
    let s = text(v, field, warnings)?;
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(s),
        _ => {
            warnings.push(format!("{field}: not an http(s) URL; ignored"));
            None
        }
    }
}

/// `active`: a boolean, 0/1, or "true"/"false"; anything else counts as active
/// (never archive on a value we do not understand) with a warning.
fn active(v: &Value, warnings: &mut Vec<String>) -> bool {
    match v.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(0) => false,
        Some(Value::Number(n)) if n.as_i64() == Some(1) => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s == "0" => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s == "1" => true,
        Some(other) => {
            warnings.push(format!("active: {other} not understood; treated as active"));
            true
        }
    }
}

/// The external id [`map`] would give this course, without mapping it.
pub fn external_id(v: &Value) -> Option<String> {
    text(v, "id", &mut Vec::new())
}

/// Maps one OpenSesame course, or says why it cannot be mapped.
pub fn map(v: &Value) -> Result<MappedCourse, Rejected> {
    let mut w = Vec::new();
    let id = text(v, "id", &mut w);
    let Some(external_id) = id.clone() else {
        return Err(Rejected {
            id: None,
            reason: "id: missing (externalId is mandatory)".into(),
        });
    };
    let Some(name) = text(v, "title", &mut w) else {
        return Err(Rejected {
            id,
            reason: "title: missing (name is mandatory)".into(),
        });
    };
    let description = text(v, "descriptionHtml", &mut w)
        .map(|h| sanitize_html(&h))
        .or_else(|| text(v, "descriptionText", &mut w).map(|t| sanitize_html(&t)));
    let course_duration = text(v, "duration", &mut w).and_then(|d| {
        let m = duration_minutes(&d);
        if m.is_none() {
            w.push(format!(
                "duration: {d:?} not understood (hh:mm:ss expected); left empty"
            ));
        }
        m
    });
    let mut languages = Vec::new();
    match v.get("languages") {
        Some(Value::Array(items)) => {
            for l in items {
                match l.as_str().and_then(language_tag) {
                    Some(tag) if !languages.contains(&tag) => languages.push(tag),
                    Some(_) => {}
                    None => w.push(format!("languages: {l} is not a language code; ignored")),
                }
            }
        }
        Some(Value::String(s)) => match language_tag(s) {
            Some(tag) => languages.push(tag),
            None => w.push(format!("languages: {s:?} is not a language code; ignored")),
        },
        None | Some(Value::Null) => {}
        Some(other) => w.push(format!("languages: {other} not understood; ignored")),
    }
    let categories: Vec<String> = match v.get("categories") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let ctype = text(v, "type", &mut w).and_then(|t| {
        let c = content_type(&t);
        if c.is_none() {
            w.push(format!("type: {t:?} has no LMS content type; left empty"));
        }
        c.map(str::to_owned)
    });
    let mut activity_ids = vec![external_id.clone()];
    if let Some(x) = text(v, "xApiActivityId", &mut w) {
        if !activity_ids.contains(&x) {
            activity_ids.push(x);
        }
    }
    let archived = !active(v, &mut w);
    Ok(MappedCourse {
        external_id,
        name,
        description,
        image: url(v, "imageUrl", &mut w).or_else(|| url(v, "thumbnailUrl", &mut w)),
        course_duration,
        author: text(v, "publisherName", &mut w),
        lang: languages.first().cloned(),
        languages,
        launch_url: url(v, "quickLaunchUrl", &mut w),
        modified_at: text(v, "dateUpdated", &mut w),
        subjects: subjects_from_paths(categories.iter().map(String::as_str)),
        archived,
        content_type: ctype,
        activity_ids,
        warnings: w,
    })
}
