//! Udemy Business course-list items (`GET /api-2.0/organizations/{org}/courses/list/` → `results[]`).

use serde_json::Value;

use crate::normalize::{language_tag, sanitize_html, subjects_from_paths};
use crate::opensesame::{text, url};
use crate::{MappedCourse, Rejected};

/// The largest image (`size_750x422` beats `size_480x270` …).
fn largest_image(v: &Value, w: &mut Vec<String>) -> Option<String> {
    let images = v.get("images")?.as_object()?;
    let area = |k: &str| -> u64 {
        k.strip_prefix("size_")
            .and_then(|d| d.split_once('x'))
            .and_then(|(a, b)| Some(a.parse::<u64>().ok()? * b.parse::<u64>().ok()?))
            .unwrap_or(0)
    };
    let best = images
        .iter()
        .filter(|(_, u)| u.is_string())
        .max_by_key(|(k, _)| area(k))?;
    let holder = serde_json::json!({ "image": best.1 });
    url(&holder, "image", w)
}

/// The external id [`map`] would give this course, without mapping it.
pub fn external_id(v: &Value) -> Option<String> {
    match v.get("id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Maps one Udemy Business course-list item, or says why it cannot be mapped.
pub fn map(v: &Value) -> Result<MappedCourse, Rejected> {
    let mut w = Vec::new();
    let external_id = external_id(v);
    let Some(external_id) = external_id else {
        return Err(Rejected {
            id: None,
            reason: "id: missing (externalId is mandatory)".into(),
        });
    };
    let Some(name) = text(v, "title", &mut w) else {
        return Err(Rejected {
            id: Some(external_id),
            reason: "title: missing (name is mandatory)".into(),
        });
    };
    let course_duration = match v.get("estimated_content_length") {
        Some(Value::Number(n)) => n.as_i64(),
        None | Some(Value::Null) => None,
        Some(other) => {
            w.push(format!(
                "estimated_content_length: {other} is not a number of minutes; left empty"
            ));
            None
        }
    };
    let locale = v
        .get("locale")
        .and_then(|l| l.get("locale").or(Some(l)))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let lang = locale.as_deref().and_then(|l| {
        let t = language_tag(l);
        if t.is_none() {
            w.push(format!("locale: {l:?} is not a locale; ignored"));
        }
        t
    });
    let categories: Vec<String> = v
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let instructors: Vec<String> = v
        .get("instructors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    i.as_str().map(str::to_owned).or_else(|| {
                        i.get("display_name")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut activity_ids = Vec::new();
    match text(v, "xapi_activity_id", &mut w) {
        Some(x) => activity_ids.push(x),
        None => w.push(
            "xapi_activity_id: missing; statements about this course cannot be matched".into(),
        ),
    }
    Ok(MappedCourse {
        external_id,
        name,
        description: text(v, "description", &mut w).map(|h| sanitize_html(&h)),
        image: largest_image(v, &mut w),
        course_duration,
        author: (!instructors.is_empty()).then(|| instructors.join(", ")),
        languages: lang.iter().cloned().collect(),
        lang,
        launch_url: url(v, "url", &mut w),
        modified_at: text(v, "last_update_date", &mut w),
        subjects: subjects_from_paths(categories.iter().map(String::as_str)),
        archived: false,
        content_type: Some("course".into()),
        activity_ids,
        warnings: w,
    })
}
