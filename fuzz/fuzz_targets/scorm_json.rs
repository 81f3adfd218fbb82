//! SCORM Cloud API V2 answers (JSON): the first two bytes are the HTTP
//! status, the rest the body, through every V2 parser. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorm_cloud_client::v2;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 500, rest),
        _ => return,
    };
    let _ = v2::parse_job_id(status, body);
    let _ = v2::parse_import_job(status, body);
    let _ = v2::parse_registration(status, body);
    let _ = v2::parse_exists(status);
    let _ = v2::parse_launch_link(status, body);
});
