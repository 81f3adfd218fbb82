//! The query string of `GET /statements`, as form-encoded bytes. Never
//! panics; every refusal names a parameter or the rule.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use xapi_model::query::{StatementsQuery, parse};

fuzz_target!(|data: &[u8]| {
    let q: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    match parse(&q) {
        Ok(StatementsQuery::List(list)) => {
            assert!(list.limit.is_none_or(|n| n > 0));
            assert_eq!(list.agent_ifi.is_some(), list.criteria.agent.is_some());
        }
        Ok(StatementsQuery::Single(one)) => {
            assert!(q.contains_key("statementId") != q.contains_key("voidedStatementId"));
            assert_eq!(one.voided, q.contains_key("voidedStatementId"));
        }
        Err(e) => assert!(!e.0.is_empty()),
    }
});
