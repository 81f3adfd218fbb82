//! What the LMS list APIs (statistics, courses) share: parameters checked
//! the same way, opaque cursors, pages as JSON or as CSV.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::error::ApiError;

/// 400 naming the first parameter not in `known`.
pub fn refuse_unknown(q: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(bad) => Err(ApiError::bad_request(format!("{bad}: unknown parameter"))),
        None => Ok(()),
    }
}

/// `limit`: 100 unless given, then within 1..=`max`.
pub fn limit(q: &HashMap<String, String>, max: i64) -> Result<i64, ApiError> {
    match q.get("limit").map(|l| l.parse::<i64>()) {
        None => Ok(100),
        Some(Ok(n)) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {max}"
        ))),
    }
}

/// `updated_since` (RFC 3339) as Unix milliseconds.
pub fn updated_since(q: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    q.get("updated_since")
        .map(|v| {
            xapi_model::parse_timestamp(v)
                .map(|t| i64::try_from(t.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|rule| ApiError::bad_request(format!("updated_since: {rule}")))
        })
        .transpose()
}

/// `format=csv` or `Accept: text/csv`.
pub fn wants_csv(q: &HashMap<String, String>, headers: &HeaderMap) -> bool {
    q.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))
}

/// One CSV cell: quoted when needed, spreadsheet formulas neutralized; an
/// array is its length, an object `true`.
pub fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.len().to_string(),
        Value::Object(_) => "true".into(),
        other => other.to_string(),
    };
    // Quote when needed; neutralize spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.is_string() {
        format!("'{s}")
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// An opaque cursor over these numbers.
pub fn encode_cursor(parts: &[i64]) -> String {
    URL_SAFE_NO_PAD.encode(
        parts
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// The numbers of a cursor made by [`encode_cursor`]; 400 when it is not one.
pub fn decode_cursor<const N: usize>(c: &str) -> Result<[i64; N], ApiError> {
    let bad =
        || ApiError::bad_request("cursor: malformed (use the next_cursor of a previous page)");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    let parts = text
        .split(':')
        .map(str::parse::<i64>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad())?;
    parts.try_into().map_err(|_| bad())
}

/// A page as CSV: a header line, a line per row (each cell by
/// [`csv_field`]), the next cursor in `x-next-cursor`.
pub fn csv_page(columns: &[&str], rows: &[Value], next: Option<String>) -> Response {
    let mut out = columns.join(",");
    out.push('\n');
    for j in rows {
        out.push_str(
            &columns
                .iter()
                .map(|c| csv_field(&j[c]))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    let mut r = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
    if let Some(Ok(v)) = next.map(|n| HeaderValue::from_str(&n)) {
        r.headers_mut().insert("x-next-cursor", v);
    }
    r
}

/// A page as JSON: `{"items": [...], "next_cursor": ...}`.
pub fn json_page(items: Vec<Value>, next: Option<String>) -> Response {
    let body = json!({ "items": items, "next_cursor": next });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_keep_the_statistics_format() {
        // The statistics API's cursors from before this module: base64 of "u:c:l".
        assert_eq!(encode_cursor(&[1, 2, 3]), URL_SAFE_NO_PAD.encode("1:2:3"));
        assert_eq!(
            decode_cursor::<3>(&encode_cursor(&[-5, 0, 9])).ok(),
            Some([-5, 0, 9])
        );
        assert_eq!(
            decode_cursor::<2>(&encode_cursor(&[7, 8])).ok(),
            Some([7, 8])
        );
        for bad in [
            encode_cursor(&[1, 2, 3]),
            "!!".into(),
            URL_SAFE_NO_PAD.encode("1:x"),
        ] {
            let e = decode_cursor::<2>(&bad).err().map(|e| e.message);
            assert_eq!(
                e.as_deref(),
                Some("cursor: malformed (use the next_cursor of a previous page)")
            );
        }
    }

    #[test]
    fn csv_cells() {
        assert_eq!(csv_field(&json!(null)), "");
        assert_eq!(csv_field(&json!(12)), "12");
        assert_eq!(csv_field(&json!(true)), "true");
        assert_eq!(csv_field(&json!([1, 2])), "2");
        assert_eq!(csv_field(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_field(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&json!("=1+1")), "'=1+1");
        assert_eq!(csv_field(&json!("-3")), "'-3");
        assert_eq!(csv_field(&json!(-3)), "-3", "numbers are not formulas");
        // OWASP's list: a leading tab or carriage return too.
        assert_eq!(csv_field(&json!("\t=1+1")), "'\t=1+1");
        assert_eq!(csv_field(&json!("\r=1+1")), "\"'\r=1+1\"");
    }
}
