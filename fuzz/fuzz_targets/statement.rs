//! The statement parser and validator on arbitrary bytes: a `POST
//! /statements` body (one statement or an array). Never panics; a statement
//! it accepts serializes to a form that parses again to an equal value, and
//! every format of it can be served.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xapi_model::format::{Format, apply};

fuzz_target!(|data: &[u8]| {
    let _ = xapi_model::batch::json_depth_exceeds(data, 64);
    let Ok(items) = xapi_model::parse_statement_batch(data) else {
        return;
    };
    for statement in items.into_iter().flatten() {
        let bytes = serde_json::to_vec(&statement).expect("a statement serializes");
        let again = xapi_model::parse_statement(&bytes).expect("its own output parses");
        assert_eq!(again, statement, "the round trip keeps the statement");
        let _ = xapi_model::version_errors(&statement, xapi_model::ApiVersion::V1_0);
        for format in [Format::Ids, Format::Canonical] {
            let mut copy = statement.clone();
            apply(&mut copy, format, &["en-US".to_owned()]);
        }
    }
});
