//! `GET /api` (and `POST /api` without an upload): the API methods, and the
//! content player that `rustici.registration.launch` redirects to.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::auth::authenticate;
use crate::state::{
    ApiVersion, FakeRegistration, Inner, Poll, Postback, lock, poll_job, take_injected,
};
use crate::xml::{esc, fail, ok, report_xml, xml};

pub(crate) fn params_of(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) async fn api_get(State(s): State<Arc<Mutex<Inner>>>, RawQuery(q): RawQuery) -> Response {
    let params = params_of(q.as_deref());
    dispatch(&s, &params)
}

pub(crate) fn take_failure(g: &mut Inner, method: &str) -> Option<Response> {
    take_injected(g, method).map(|(code, msg)| fail(code, &msg))
}

pub(crate) fn dispatch(s: &Arc<Mutex<Inner>>, params: &[(String, String)]) -> Response {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let method = get("method").unwrap_or_default();
    let mut g = lock(s);
    if method == "rustici.debug.getTime" {
        let now = OffsetDateTime::now_utc() + time::Duration::seconds(g.clock_offset_secs);
        let ts = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        return ok(&format!("<currenttime>{ts}</currenttime>"));
    }
    if let Err(r) = authenticate(&g, params) {
        return *r;
    }
    if let Some(name) = crate::required::missing(&method, params) {
        g.calls.push(format!("{method} (missing {name})"));
        return fail(
            crate::required::MISSING_PARAMETER,
            &format!("The required parameter '{name}' is missing"),
        );
    }
    if let Some(r) = take_failure(&mut g, &method) {
        return r;
    }
    g.calls.push(method.clone());
    let regid = get("regid");
    match method.as_str() {
        "rustici.course.getAsyncImportResult" => {
            let Some(token) = get("token") else {
                return fail(1, "token is required");
            };
            match poll_job(&mut g, &token) {
                None => fail(1, "no import job by that token"),
                Some(Poll::Running) => ok("<status>running</status><progress>50</progress>"),
                Some(Poll::Complete(title, warnings)) => {
                    let w: String = warnings
                        .iter()
                        .map(|w| format!("<warning>{}</warning>", esc(w)))
                        .collect();
                    ok(&format!(
                        "<status>finished</status><message>Import finished</message><importresults><importresult successful=\"true\"><title>{}</title><message>Import Successful</message><parserwarnings>{w}</parserwarnings></importresult></importresults>",
                        esc(&title)
                    ))
                }
                Some(Poll::Error(e)) => ok(&format!(
                    "<status>error</status><error code=\"2\">{}</error>",
                    esc(&e)
                )),
            }
        }
        "rustici.course.exists" => {
            let exists =
                get("courseid").is_some_and(|c| g.courses.get(&c).is_some_and(|c| c.versions > 0));
            ok(&format!("<result>{exists}</result>"))
        }
        "rustici.course.getCourseList" => {
            let list: String = g
                .courses
                .iter()
                .filter(|(_, c)| c.versions > 0)
                .map(|(id, c)| {
                    let regs = g
                        .registrations
                        .values()
                        .filter(|r| &r.course_id == id)
                        .count();
                    format!(
                        "<course id=\"{}\" title=\"{}\" versions=\"{}\" registrations=\"{regs}\"/>",
                        esc(id),
                        esc(&c.title),
                        c.versions
                    )
                })
                .collect();
            ok(&format!("<courselist>{list}</courselist>"))
        }
        "rustici.course.deleteCourse" => match get("courseid") {
            Some(c) if g.courses.remove(&c).is_some() => ok("<success/>"),
            _ => fail(1, "The course does not exist"),
        },
        "rustici.registration.createRegistration" => {
            let (Some(course_id), Some(regid), Some(learner_id)) =
                (get("courseid"), regid, get("learnerid"))
            else {
                return fail(1, "courseid, regid and learnerid are required");
            };
            if [&course_id, &regid, &learner_id]
                .iter()
                .any(|v| v.chars().count() > 255)
            {
                return fail(1, "ids are limited to 255 characters");
            }
            if g.courses.get(&course_id).is_none_or(|c| c.versions == 0) {
                return fail(1, "The course does not exist");
            }
            if g.registrations.contains_key(&regid) {
                return fail(1, "A registration with this id already exists");
            }
            let postback = get("postbackurl").map(|url| Postback {
                url,
                auth: get("authtype").unwrap_or_else(|| "form".into()),
                user: get("urlname").unwrap_or_default(),
                password: get("urlpass").unwrap_or_default(),
                format: get("resultsformat").unwrap_or_else(|| "course".into()),
            });
            g.registrations.insert(
                regid,
                FakeRegistration {
                    course_id,
                    learner_id,
                    first_name: get("fname").unwrap_or_default(),
                    last_name: get("lname").unwrap_or_default(),
                    email: get("email"),
                    postback,
                    complete: "unknown".into(),
                    success: "unknown".into(),
                    score: None,
                    total_time_secs: 0.0,
                    api: ApiVersion::V1,
                },
            );
            ok("<success/>")
        }
        "rustici.registration.getRegistrationResult" => {
            let Some(r) = regid.as_ref().and_then(|id| g.registrations.get(id)) else {
                return fail(1, "The registration does not exist");
            };
            let format = get("resultsformat").unwrap_or_else(|| "course".into());
            let body = report_xml(regid.as_deref().unwrap_or(""), r, &format);
            xml(body)
        }
        "rustici.registration.exists" => {
            let exists = regid.is_some_and(|r| g.registrations.contains_key(&r));
            ok(&format!("<result>{exists}</result>"))
        }
        "rustici.registration.deleteRegistration" => match regid {
            Some(r) if g.registrations.remove(&r).is_some() => ok("<success/>"),
            _ => fail(1, "The registration does not exist"),
        },
        "rustici.registration.resetRegistration" => {
            match regid.and_then(|r| g.registrations.get_mut(&r)) {
                Some(r) => {
                    r.complete = "unknown".into();
                    r.success = "unknown".into();
                    r.score = None;
                    r.total_time_secs = 0.0;
                    ok("<success/>")
                }
                None => fail(1, "The registration does not exist"),
            }
        }
        "rustici.registration.updatePostbackInfo" => {
            let pb = Postback {
                url: get("url").unwrap_or_default(),
                auth: get("authtype").unwrap_or_else(|| "form".into()),
                user: get("name").unwrap_or_default(),
                password: get("password").unwrap_or_default(),
                format: get("resultsformat").unwrap_or_else(|| "course".into()),
            };
            match regid.and_then(|r| g.registrations.get_mut(&r)) {
                Some(r) => {
                    r.postback = Some(pb);
                    ok("<success/>")
                }
                None => fail(1, "The registration does not exist"),
            }
        }
        "rustici.registration.launch" => {
            let Some(r) = regid.filter(|r| g.registrations.contains_key(r)) else {
                return fail(1, "The registration does not exist");
            };
            let mut player = format!("{}/player/{}", g.base, url_path(&r));
            if let Some(back) = get("redirecturl") {
                player.push_str("?redirecturl=");
                player.push_str(
                    &url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>(),
                );
            }
            (
                StatusCode::FOUND,
                [(header::LOCATION, player)],
                String::new(),
            )
                .into_response()
        }
        other => fail(1, &format!("unknown method {other:?}")),
    }
}

fn url_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The content player (a stand-in page) the launch links lead to: V1's
/// (`rustici.registration.launch`) and V2's (`launchLink`, which also carries
/// `expires`, the Unix time after which the fake's clock refuses it with 403).
/// The page links back to `redirecturl`, where the learner returns on exit.
pub(crate) async fn player(
    State(s): State<Arc<Mutex<Inner>>>,
    Path(regid): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = params_of(q.as_deref());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let g = lock(&s);
    if let Some(expires) = get("expires") {
        let now = OffsetDateTime::now_utc().unix_timestamp() + g.clock_offset_secs;
        if expires.parse::<i64>().map_or(true, |e| now > e) {
            return (StatusCode::FORBIDDEN, "This launch link has expired").into_response();
        }
    }
    let exit = get("redirecturl")
        .filter(|u| !u.is_empty())
        .map(|u| format!("<p><a id=\"exit\" href=\"{}\">Exit</a></p>", esc(u)))
        .unwrap_or_default();
    match g.registrations.get(&regid) {
        Some(r) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><title>player</title><p>Playing {} for {}</p>{exit}",
                esc(&r.course_id),
                esc(&r.learner_id)
            ),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
