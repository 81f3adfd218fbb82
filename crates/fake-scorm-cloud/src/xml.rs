//! The XML answers: `<rsp stat="ok">`, `<rsp stat="fail">` and the
//! registration report.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::FakeRegistration;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn report_xml(regid: &str, r: &FakeRegistration, format: &str) -> String {
    let score = r.score.map_or("unknown".to_owned(), |s| s.to_string());
    let big_four = format!(
        "<complete>{}</complete><success>{}</success><totaltime>{}</totaltime><score>{}</score>",
        esc(&r.complete),
        esc(&r.success),
        r.total_time_secs,
        score
    );
    let body = if format == "course" {
        big_four.clone()
    } else {
        // activity/full: the big four, then an activity tree carrying its own values
        format!(
            "{big_four}<activity id=\"{}\"><title>root</title><complete>{}</complete><success>{}</success><score>{}</score><children/></activity>",
            esc(&r.course_id),
            esc(&r.complete),
            esc(&r.success),
            score
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rsp stat=\"ok\"><registrationreport format=\"{}\" regid=\"{}\" instanceid=\"0\">{body}</registrationreport></rsp>",
        esc(format),
        esc(regid)
    )
}

pub(crate) fn ok(inner: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rsp stat=\"ok\">{inner}</rsp>"
    ))
}

pub(crate) fn fail(code: u32, msg: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rsp stat=\"fail\"><err code=\"{code}\" msg=\"{}\"/></rsp>",
        esc(msg)
    ))
}

pub(crate) fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}
