//! Provider catalog JSON (OpenSesame and Udemy Business items) through
//! the seed-000 mapping and the HTML sanitizer. Never panics; whatever
//! the mapping accepts has an external id and sanitized HTML.
#![no_main]

use course_mapping::{opensesame, udemy};
use libfuzzer_sys::fuzz_target;

fn map_one(v: &serde_json::Value) {
    for mapped in [opensesame::map(v), udemy::map(v)].into_iter().flatten() {
        assert!(!mapped.external_id.is_empty());
        let _ = mapped.content_hash();
    }
    let _ = opensesame::external_id(v);
    let _ = udemy::external_id(v);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let clean = course_mapping::sanitize_html(text);
        assert!(!clean.to_ascii_lowercase().contains("<script"));
        let _ = course_mapping::duration_minutes(text);
        let _ = course_mapping::language_tag(text);
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    map_one(&value);
    match &value {
        serde_json::Value::Array(items) => items.iter().for_each(map_one),
        serde_json::Value::Object(fields) => {
            for v in fields.values() {
                if let serde_json::Value::Array(items) = v {
                    items.iter().for_each(map_one);
                }
            }
        }
        _ => {}
    }
});
