//! The Document resources' inputs: a query string for each resource, method
//! and version, and a POST merge of two documents. Never panics; a refusal
//! names its parameter; a merge keeps every key and the posted values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xapi_model::documents::{
    ApiVersion, Method, Resource, check_preconditions, merge_json, parse_document_query,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let resource = [Resource::State, Resource::ActivityProfile, Resource::AgentProfile]
        [usize::from(selector % 3)];
    let method = [Method::Get, Method::Head, Method::Put, Method::Post, Method::Delete]
        [usize::from(selector / 3 % 5)];
    let version = if selector & 0x80 == 0 { ApiVersion::V1_0 } else { ApiVersion::V2_0 };
    // The rest: a query string, then (after a NUL) two documents to merge.
    let mut parts = rest.splitn(3, |b| *b == 0);
    let query = parts.next().unwrap_or_default();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query).into_owned().collect();
    match parse_document_query(resource, method, version, &params) {
        Ok(q) => assert_eq!(q.resource, resource),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let (stored, posted) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let _ = check_preconditions(
        version,
        resource,
        method,
        std::str::from_utf8(stored).ok(),
        std::str::from_utf8(posted).ok(),
        std::str::from_utf8(query).ok(),
    );
    if let Ok(merged) = merge_json(stored, posted) {
        let merged: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&merged).expect("a merge is a JSON object");
        let posted: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(posted).expect("the posted document was an object");
        for (k, v) in posted {
            assert_eq!(merged.get(&k), Some(&v), "the posted value wins");
        }
    }
});
