//! `docs/openapi.yaml` against the routes the server registers. The spec is
//! written in YAML's JSON form (YAML 1.2 is a superset of JSON), so that YAML
//! tools read it and this test needs no YAML parser. It parses,
//! is OpenAPI 3.1, documents every route outside `/xapi` (the xAPI
//! specification's) and `/console` (pages for people, docs/console.md) with exactly the
//! methods served, documents no route that is not served unless it is marked
//! `x-planned` (and then it must not be served yet), and every `$ref` in it
//! resolves. The served routes are read from the source: every `.route(…)` of
//! `server.rs` and of every router it merges (`.merge(module::router())`,
//! followed into that module's file, and so on).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn read(relative: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn spec() -> Value {
    serde_json::from_str(&read("../../docs/openapi.yaml")).expect("docs/openapi.yaml is JSON")
}

/// The text of the call that starts at `open` (an opening parenthesis), up
/// to its closing one.
fn call_text(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route( call")
}

/// Whether `word(` starts at `at` in `text` as a whole identifier: `get(`
/// or `.put(`, not `scorm::post_x(` nor `target(`.
fn method_call_at(text: &str, at: usize, word: &str) -> bool {
    let before = text[..at].chars().next_back();
    text[at + word.len()..].starts_with('(')
        && before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
}

/// The crate whose `src/server.rs` builds the router.
const SERVER_CRATE: &str = "../../crates/ingest-server/src";

/// The module path of a source file under `src/` (`delivery/webhooks/routes.rs`
/// → `delivery::webhooks::routes`; `a/mod.rs` → `a`).
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The file under `src/` of the module that defines the function a
/// `.merge(…)` argument calls (`delivery::webhooks::routes::router()`), read
/// from the crate root (`crate::` or a `use crate::{…}` name, as in
/// server.rs) or from the merging module (`super::`, `self::`, a child).
fn merged_file(from: &str, call: &str) -> String {
    let expr = call.trim();
    let path = expr
        .strip_suffix("()")
        .unwrap_or_else(|| panic!("{from}: .merge({expr}): expected a call without arguments"));
    let mut segments: Vec<&str> = path.split("::").collect();
    segments.pop(); // the function
    let here = module_of(from);
    let mut candidates: Vec<Vec<String>> = Vec::new();
    match segments.first().copied() {
        Some("crate") => candidates.push(segments[1..].iter().map(|s| (*s).to_owned()).collect()),
        Some("super") | Some("self") => {
            let mut m = here.clone();
            for s in &segments {
                match *s {
                    "super" => {
                        m.pop();
                    }
                    "self" => {}
                    other => m.push(other.to_owned()),
                }
            }
            candidates.push(m);
        }
        _ => {
            candidates.push(segments.iter().map(|s| (*s).to_owned()).collect());
            let mut child = here.clone();
            child.extend(segments.iter().map(|s| (*s).to_owned()));
            candidates.push(child);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(SERVER_CRATE);
    for m in &candidates {
        let joined = m.join("/");
        for file in [format!("{joined}.rs"), format!("{joined}/mod.rs")] {
            if root.join(&file).is_file() {
                return file;
            }
        }
    }
    panic!("{from}: .merge({expr}): no source file for {candidates:?}")
}

/// The aliases a file gives the routing functions (`use axum::routing::{get
/// as get_, …}`): method → the names it is called by.
fn method_names(text: &str) -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    for m in METHODS {
        names.push((m, m.to_owned()));
        let pattern = format!("{m} as ");
        for (at, _) in text.match_indices(&pattern) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `target as …`
            }
            let alias: String = text[at + pattern.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push((m, alias));
        }
    }
    names
}

/// Path → methods of every `.route("…", get(…).post(…))` in one file (under
/// `src/`), and in the files of the routers it merges.
fn routes_of(file: &str, out: &mut BTreeMap<String, BTreeSet<String>>, seen: &mut Vec<String>) {
    if seen.iter().any(|f| f == file) {
        return;
    }
    seen.push(file.to_owned());
    let text = read(&format!("{SERVER_CRATE}/{file}"));
    assert!(
        !text.contains(".nest("),
        "{file}: a nested router: teach this test its prefix"
    );
    let names = method_names(&text);
    for (at, _) in text.match_indices(".route(") {
        let call = call_text(&text, at + ".route".len());
        let path = call
            .split('"')
            .nth(1)
            .expect("a route's path is its first string literal");
        let handlers = &call[call.find(',').expect("a route has handlers")..];
        let mut methods = BTreeSet::new();
        for (m, name) in &names {
            if handlers
                .match_indices(name.as_str())
                .any(|(i, _)| method_call_at(handlers, i, name))
            {
                methods.insert((*m).to_owned());
            }
        }
        assert!(!methods.is_empty(), "{file}: no method found for {path}");
        out.entry(path.to_owned()).or_default().extend(methods);
    }
    for (at, _) in text.match_indices(".merge(") {
        let call = call_text(&text, at + ".merge".len());
        let merged = merged_file(file, call);
        routes_of(&merged, out, seen);
    }
}

/// Path → methods of every route the server serves.
fn served() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut files = Vec::new();
    routes_of("server.rs", &mut out, &mut files);
    assert!(out.len() > 20, "{files:?} parsed: {out:?}");
    out
}

#[test]
fn the_route_parser_reads_server_rs_and_the_routers_it_merges() {
    let s = served();
    assert_eq!(
        s["/xapi/statements"],
        BTreeSet::from(["get".into(), "post".into(), "put".into()])
    );
    assert_eq!(s["/api/v1/launch-links"], BTreeSet::from(["post".into()]));
    assert_eq!(s["/healthz"], BTreeSet::from(["get".into()]));
    // From the merged webhooks router, whose `get` is imported as `get_`.
    assert_eq!(
        s["/api/v1/webhooks"],
        BTreeSet::from(["get".into(), "post".into()])
    );
    assert_eq!(s["/api/v1/webhooks/{id}"], BTreeSet::from(["get".into()]));
    assert_eq!(
        s["/api/v1/webhooks/{id}/redeliver"],
        BTreeSet::from(["post".into()])
    );
}

#[test]
fn it_is_openapi_3_1() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        spec["openapi"]
    );
    assert!(spec["info"]["title"].is_string());
    assert!(spec["paths"].is_object());
}

#[test]
fn every_served_route_is_documented_with_its_methods() {
    let spec = spec();
    let paths = spec["paths"].as_object().expect("paths");
    let mut problems = Vec::new();
    for (path, methods) in served() {
        if path.starts_with("/xapi/") {
            continue; // the xAPI specification documents these
        }
        if path == "/console" || path.starts_with("/console/") {
            continue; // HTML pages for people: docs/console.md documents these
        }
        let Some(item) = paths.get(&path) else {
            problems.push(format!("{path}: served, not documented"));
            continue;
        };
        if item.get("x-planned").is_some_and(|p| p == true) {
            problems.push(format!("{path}: served, but still marked x-planned"));
        }
        let documented: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| (*m).to_owned())
            .collect();
        if documented != methods {
            problems.push(format!(
                "{path}: serves {methods:?}, documents {documented:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_documented_route_is_served_or_planned() {
    let spec = spec();
    let served = served();
    let mut problems = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let planned = item.get("x-planned").is_some_and(|p| p == true);
        if !planned && !served.contains_key(path) {
            problems.push(format!(
                "{path}: documented, not served (mark it x-planned?)"
            ));
        }
        for m in METHODS {
            if let Some(op) = item.get(m) {
                if op["responses"].as_object().is_none_or(|r| r.is_empty()) {
                    problems.push(format!("{m} {path}: no responses"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_lms_api_of_issue_28_is_there() {
    let spec = spec();
    let paths = &spec["paths"];
    for (path, method) in [
        ("/api/v1/courses", "get"),
        ("/api/v1/courses/{integration}/{external_id}", "get"),
        ("/api/v1/launch-links", "post"),
        ("/api/v1/events", "get"),
        ("/api/v1/statistics", "get"),
        ("/api/v1/path-statistics", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}/disable", "post"),
        ("/api/v1/webhooks/{id}/enable", "post"),
        ("/api/v1/webhooks/{id}/redeliver", "post"),
        ("/api/v1/webhooks/{id}/attempts", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    // The course schema lists every field of the one JSON shape of a course.
    let course = &spec["components"]["schemas"]["Course"];
    let documented: BTreeSet<&str> = course["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    let csv: BTreeSet<&str> = ingest_server::catalog::CSV_COLUMNS.into_iter().collect();
    assert_eq!(documented, csv, "the Course schema and the CSV columns");
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    let mut all = Vec::new();
    refs(&spec, &mut all);
    assert!(!all.is_empty());
    let broken: Vec<&str> = all
        .into_iter()
        .filter(|r| {
            r.strip_prefix('#')
                .is_none_or(|pointer| spec.pointer(pointer).is_none())
        })
        .collect();
    assert!(broken.is_empty(), "{broken:?}");
}
