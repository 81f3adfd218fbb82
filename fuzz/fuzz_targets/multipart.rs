//! `multipart/mixed` statement requests: the first line is the
//! Content-Type header, the rest the body. Never panics; every part it
//! returns lies inside the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xapi_model::multipart;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    let _ = multipart::essence(content_type);
    let Ok(boundary) = multipart::boundary(content_type) else {
        return;
    };
    let Ok(parts) = multipart::parse(body, &boundary) else {
        return;
    };
    let range = body.as_ptr_range();
    for part in &parts {
        let inner = part.body.as_ptr_range();
        assert!(part.body.is_empty() || (range.start <= inner.start && inner.end <= range.end));
        let _ = part.header("content-type");
        let _ = part.header("X-Experience-API-Hash");
    }
});
