//! SCORM Cloud postbacks: the first line is the Content-Type, the second
//! the Authorization header, the rest the body. Never panics; a postback
//! with other credentials is never accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorm_cloud_client::postback;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let content_type = lines.next().and_then(|l| std::str::from_utf8(l).ok());
    let authorization = lines.next().and_then(|l| std::str::from_utf8(l).ok());
    let body = lines.next().unwrap_or_default();
    let Ok(delivery) = postback::read(content_type, authorization, body) else {
        return;
    };
    let accepted = postback::authenticate(&delivery, "coursebridge", |p| p == "s3cret");
    if accepted.is_ok() {
        assert_eq!(delivery.user, "coursebridge");
        assert_eq!(delivery.password, "s3cret");
    }
});
