//! SCORM Cloud API V1 answers (XML) on arbitrary bytes, through every
//! parser the flows use. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorm_cloud_client::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = parse::document(data) {
        let mut all = Vec::new();
        doc.find_all("registration", &mut all);
        let _ = doc.text_of("complete");
        let _ = doc.attr("id");
    }
    let _ = parse::ok(data);
    let _ = parse::success(data);
    let _ = parse::exists(data);
    let _ = parse::import_token(data);
    if let Ok(job) = parse::import_job(data) {
        let _ = job.is_done();
    }
    let _ = parse::course_list(data);
    let _ = parse::registration_report(data);
    let _ = parse::server_time(data);
});
