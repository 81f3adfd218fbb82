//! A fake SCORM Cloud (API V1) on loopback, for tests and local try-outs.
//!
//! It implements the documented wire format (`../shared/reference/scorm-cloud.md`)
//! independently of `scorm-cloud-client`, so that a signing or parsing mistake
//! in the client cannot hide behind the same mistake here:
//!
//! - every call but `rustici.debug.getTime` must carry `appid`, `ts` and `sig`;
//!   `sig` is recomputed (names sorted case-insensitively, raw values, secret
//!   prefixed, MD5 hex, compared case-insensitively); a missing signature is
//!   error 103, a wrong one 104, an unknown app 100;
//! - `ts` (UTC `yyyyMMddHHmmss`) must be within 15 minutes of the fake's clock
//!   ("Timestamp sent is outside of expiration limit"; the code, 101 here, is
//!   not documented); the clock can be moved to test skew and expired links;
//! - answers are `<rsp stat="ok">…</rsp>` or `<rsp stat="fail"><err code msg/></rsp>`
//!   with HTTP 200 either way;
//! - `importCourseAsync` takes a multipart upload (`filedata` or `file`), checks
//!   it is a ZIP with an `imsmanifest.xml`, and answers a token; the job runs
//!   for a configurable number of polls, then finishes with the manifest's
//!   `<title>` and parser warnings, or errors;
//! - registrations are kept with their postback settings; [`FakeScormCloud::progress`]
//!   plays a learner and sends the postback (`form` or `httpbasic`, in the
//!   registration's results format), as SCORM Cloud does after each sync.
//!
//! Also a way to inject failures ([`FakeScormCloud::fail_next`]) and to see the
//! calls made ([`FakeScormCloud::calls`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use md5::{Digest, Md5};
use time::OffsetDateTime;

/// The 15 minutes within which a call must arrive after its `ts`.
pub const WINDOW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq)]
pub struct Postback {
    pub url: String,
    /// `form` or `httpbasic`.
    pub auth: String,
    pub user: String,
    pub password: String,
    /// `course`, `activity` or `full`.
    pub format: String,
}

/// A registration as the fake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRegistration {
    pub course_id: String,
    pub learner_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub postback: Option<Postback>,
    pub complete: String,
    pub success: String,
    pub score: Option<f64>,
    pub total_time_secs: f64,
}

#[derive(Debug, Clone)]
struct Job {
    course_id: String,
    polls_left: u32,
    outcome: Result<(String, Vec<String>), String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeCourse {
    pub title: String,
    pub versions: u32,
    pub bytes: u64,
}

#[derive(Debug)]
struct Inner {
    app_id: String,
    secret: String,
    clock_offset_secs: i64,
    polls_before_done: u32,
    courses: BTreeMap<String, FakeCourse>,
    jobs: HashMap<String, Job>,
    registrations: BTreeMap<String, FakeRegistration>,
    calls: Vec<String>,
    fail_next: HashMap<String, VecDeque<(u32, String)>>,
    next_token: u64,
    base: String,
}

/// A running fake. Dropping it stops the server.
pub struct FakeScormCloud {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for FakeScormCloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeScormCloud {
    /// Starts on `127.0.0.1`, on a free port, for this application id and secret.
    pub async fn start(app_id: &str, secret: &str) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), app_id, secret).await
    }

    pub async fn start_on(addr: SocketAddr, app_id: &str, secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            clock_offset_secs: 0,
            polls_before_done: 1,
            courses: BTreeMap::new(),
            jobs: HashMap::new(),
            registrations: BTreeMap::new(),
            calls: Vec::new(),
            fail_next: HashMap::new(),
            next_token: 1,
            base: format!("http://{addr}"),
        }));
        let app = Router::new()
            .route("/api", get(api_get).post(api_post))
            .route("/player/{regid}", get(player))
            .route("/_fake/progress", axum::routing::post(control_progress))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            inner,
            addr,
            task,
            http,
        })
    }

    /// The API endpoint, e.g. `http://127.0.0.1:4321/api`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Moves the fake's clock (seconds; positive = the fake is ahead of us).
    pub fn set_clock_offset(&self, secs: i64) {
        lock(&self.inner).clock_offset_secs = secs;
    }

    /// How many `getAsyncImportResult` calls answer `running` before the job ends.
    pub fn set_polls_before_done(&self, n: u32) {
        lock(&self.inner).polls_before_done = n;
    }

    /// The next call of `method` (e.g. `rustici.registration.createRegistration`)
    /// fails with this code and message.
    pub fn fail_next(&self, method: &str, code: u32, message: &str) {
        lock(&self.inner)
            .fail_next
            .entry(method.to_owned())
            .or_default()
            .push_back((code, message.to_owned()));
    }

    /// The methods called so far, in order (only calls that passed authentication).
    pub fn calls(&self) -> Vec<String> {
        lock(&self.inner).calls.clone()
    }

    /// The token of the latest import job.
    pub fn last_token(&self) -> Option<String> {
        let g = lock(&self.inner);
        g.next_token
            .checked_sub(1)
            .filter(|n| *n > 0)
            .map(|n| format!("job-{n:04}"))
    }

    pub fn registration(&self, regid: &str) -> Option<FakeRegistration> {
        lock(&self.inner).registrations.get(regid).cloned()
    }

    pub fn registration_ids(&self) -> Vec<String> {
        lock(&self.inner).registrations.keys().cloned().collect()
    }

    pub fn course(&self, course_id: &str) -> Option<FakeCourse> {
        lock(&self.inner).courses.get(course_id).cloned()
    }

    /// Adds a course as if it had been imported.
    pub fn add_course(&self, course_id: &str, title: &str) {
        lock(&self.inner).courses.insert(
            course_id.to_owned(),
            FakeCourse {
                title: title.to_owned(),
                versions: 1,
                bytes: 0,
            },
        );
    }

    /// The learner makes progress: the registration's state changes, and the
    /// postback (when the registration has one) is sent. Returns the status the
    /// postback got, or `None` without a postback URL.
    pub async fn progress(
        &self,
        regid: &str,
        complete: &str,
        success: &str,
        score: Option<f64>,
        total_time_secs: f64,
    ) -> Result<Option<u16>, String> {
        let (report, pb) = {
            let mut g = lock(&self.inner);
            set_state(&mut g, regid, complete, success, score, total_time_secs)?;
            posted_report(&g, regid).ok_or_else(|| format!("no registration {regid}"))?
        };
        match pb {
            None => Ok(None),
            Some(pb) => self.send_postback(&pb, &report).await.map(Some),
        }
    }

    /// Changes a registration's state without sending a postback (a postback
    /// lost or delayed: what a manual refresh is for).
    pub fn update(
        &self,
        regid: &str,
        complete: &str,
        success: &str,
        score: Option<f64>,
        total_time_secs: f64,
    ) -> Result<(), String> {
        set_state(
            &mut lock(&self.inner),
            regid,
            complete,
            success,
            score,
            total_time_secs,
        )
    }

    /// Sends a postback with this report body (e.g. an old one again, to test
    /// duplicates and out-of-order deliveries). Returns the HTTP status.
    pub async fn send_postback(&self, pb: &Postback, report_xml: &str) -> Result<u16, String> {
        send_postback(&self.http, pb, report_xml).await
    }

    /// The report a registration would post now, in its postback format.
    pub fn report(&self, regid: &str) -> Option<String> {
        posted_report(&lock(&self.inner), regid).map(|(report, _)| report)
    }
}

/// Sets a registration's big four.
fn set_state(
    g: &mut Inner,
    regid: &str,
    complete: &str,
    success: &str,
    score: Option<f64>,
    total_time_secs: f64,
) -> Result<(), String> {
    let r = g
        .registrations
        .get_mut(regid)
        .ok_or_else(|| format!("no registration {regid}"))?;
    r.complete = complete.to_owned();
    r.success = success.to_owned();
    r.score = score;
    r.total_time_secs = total_time_secs;
    Ok(())
}

/// The report a registration posts now (in its postback's results format),
/// and its postback settings.
fn posted_report(g: &Inner, regid: &str) -> Option<(String, Option<Postback>)> {
    let r = g.registrations.get(regid)?;
    let format = r.postback.as_ref().map_or("course", |p| p.format.as_str());
    Some((report_xml(regid, r, format), r.postback.clone()))
}

async fn send_postback(http: &reqwest::Client, pb: &Postback, xml: &str) -> Result<u16, String> {
    let req = if pb.auth == "httpbasic" {
        let cred = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", pb.user, pb.password));
        http.post(&pb.url)
            .header(header::AUTHORIZATION, format!("Basic {cred}"))
            .header(header::CONTENT_TYPE, "text/xml")
            .body(xml.to_owned())
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data", xml)
            .append_pair("username", &pb.user)
            .append_pair("password", &pb.password)
            .finish();
        http.post(&pb.url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    };
    req.send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("postback to {}: {e}", pb.url))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn report_xml(regid: &str, r: &FakeRegistration, format: &str) -> String {
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

fn ok(inner: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rsp stat=\"ok\">{inner}</rsp>"
    ))
}

fn fail(code: u32, msg: &str) -> Response {
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rsp stat=\"fail\"><err code=\"{code}\" msg=\"{}\"/></rsp>",
        esc(msg)
    ))
}

fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The documented signature, written again here on purpose.
fn signature(secret: &str, params: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    p.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut h = Md5::new();
    h.update(secret.as_bytes());
    for (k, v) in p {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

fn parse_ts(ts: &str) -> Option<i64> {
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<i32>().ok());
    let month = time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(n(0..4)?, month, u8::try_from(n(6..8)?).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(n(8..10)?).ok()?,
        u8::try_from(n(10..12)?).ok()?,
        u8::try_from(n(12..14)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp())
}

/// Authenticates a call; `Err` is the failure answer.
fn authenticate(g: &Inner, params: &[(String, String)]) -> Result<(), Box<Response>> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("appid") != Some(g.app_id.as_str()) {
        return Err(Box::new(fail(100, "Invalid appid")));
    }
    let Some(sig) = get("sig") else {
        return Err(Box::new(fail(103, "No signature provided")));
    };
    if !sig.eq_ignore_ascii_case(&signature(&g.secret, params)) {
        return Err(Box::new(fail(104, "The signature provided does not match")));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp() + g.clock_offset_secs;
    match get("ts").and_then(parse_ts) {
        Some(ts) if (now - ts).abs() <= WINDOW_SECS => Ok(()),
        _ => Err(Box::new(fail(
            101,
            "Timestamp sent is outside of expiration limit",
        ))),
    }
}

fn params_of(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn api_get(State(s): State<Arc<Mutex<Inner>>>, RawQuery(q): RawQuery) -> Response {
    let params = params_of(q.as_deref());
    dispatch(&s, &params)
}

async fn api_post(
    State(s): State<Arc<Mutex<Inner>>>,
    RawQuery(q): RawQuery,
    headers: axum::http::HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let params = params_of(q.as_deref());
    let method = params
        .iter()
        .find(|(k, _)| k == "method")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if method != "rustici.course.importCourseAsync" || !multipart {
        return dispatch(&s, &params);
    }
    {
        let g = lock(&s);
        if let Err(r) = authenticate(&g, &params) {
            return *r;
        }
    }
    let mut mp =
        match <Multipart as axum::extract::FromRequest<()>>::from_request(request, &()).await {
            Ok(m) => m,
            Err(e) => return fail(1, &format!("multipart: {e:?}")),
        };
    import(&s, &params, &mut mp).await
}

async fn import(
    s: &Arc<Mutex<Inner>>,
    params: &[(String, String)],
    mp: &mut Multipart,
) -> Response {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(course_id) = get("courseid") else {
        return fail(1, "courseid is required");
    };
    let mut data: Vec<u8> = Vec::new();
    let mut found = false;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return fail(1, &format!("multipart: {e}")),
        };
        if !matches!(field.name(), Some("filedata" | "file")) {
            continue;
        }
        found = true;
        let mut field = field;
        loop {
            match field.chunk().await {
                Ok(Some(c)) => data.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => return fail(1, &format!("upload: {e}")),
            }
        }
    }
    if !found {
        return fail(1, "no file part (filedata) in the upload");
    }
    let outcome = inspect_package(&data);
    let mut g = lock(s);
    if let Some(r) = take_failure(&mut g, "rustici.course.importCourseAsync") {
        return r;
    }
    g.calls.push("rustici.course.importCourseAsync".into());
    let token = format!("job-{:04}", g.next_token);
    g.next_token += 1;
    let polls_left = g.polls_before_done;
    let bytes = data.len() as u64;
    g.jobs.insert(
        token.clone(),
        Job {
            course_id: course_id.clone(),
            polls_left,
            outcome,
        },
    );
    if let Some(c) = g.courses.get_mut(&course_id) {
        c.bytes = bytes;
    }
    g.courses.entry(course_id).or_insert(FakeCourse {
        title: String::new(),
        versions: 0,
        bytes,
    });
    if let Some(redirect) = get("redirecturl") {
        // the browser form flow: back to the LMS's page
        return (
            StatusCode::FOUND,
            [(header::LOCATION, redirect)],
            String::new(),
        )
            .into_response();
    }
    ok(&format!("<token><id>{token}</id></token>"))
}

/// A ZIP with an `imsmanifest.xml`; the title is the manifest's first `<title>`.
fn inspect_package(data: &[u8]) -> Result<(String, Vec<String>), String> {
    if !data.starts_with(b"PK\x03\x04") {
        return Err("The uploaded file is not a zip file".into());
    }
    let text = String::from_utf8_lossy(data);
    if !text.contains("imsmanifest.xml") {
        return Err("The package has no imsmanifest.xml".into());
    }
    let title = text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| {
            t.trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&")
        })
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if !text.contains("<schemaversion>") {
        warnings.push("The manifest does not declare a schemaversion; assuming SCORM 1.2".into());
    }
    if title.is_empty() {
        warnings.push("The organization has no title".into());
    }
    Ok((title, warnings))
}

fn take_failure(g: &mut Inner, method: &str) -> Option<Response> {
    let (code, msg) = g.fail_next.get_mut(method)?.pop_front()?;
    g.calls.push(format!("{method} (failed)"));
    Some(fail(code, &msg))
}

fn dispatch(s: &Arc<Mutex<Inner>>, params: &[(String, String)]) -> Response {
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
            let Some(job) = g.jobs.get_mut(&token) else {
                return fail(1, "no import job by that token");
            };
            if job.polls_left > 0 {
                job.polls_left -= 1;
                return ok("<status>running</status><progress>50</progress>");
            }
            let job = job.clone();
            match job.outcome {
                Ok((title, warnings)) => {
                    let c = g
                        .courses
                        .entry(job.course_id.clone())
                        .or_insert(FakeCourse {
                            title: String::new(),
                            versions: 0,
                            bytes: 0,
                        });
                    if c.title != title || c.versions == 0 {
                        c.versions += 1;
                    }
                    c.title.clone_from(&title);
                    let w: String = warnings
                        .iter()
                        .map(|w| format!("<warning>{}</warning>", esc(w)))
                        .collect();
                    ok(&format!(
                        "<status>finished</status><message>Import finished</message><importresults><importresult successful=\"true\"><title>{}</title><message>Import Successful</message><parserwarnings>{w}</parserwarnings></importresult></importresults>",
                        esc(&title)
                    ))
                }
                Err(e) => {
                    if g.courses
                        .get(&job.course_id)
                        .is_some_and(|c| c.versions == 0)
                    {
                        g.courses.remove(&job.course_id);
                    }
                    ok(&format!(
                        "<status>error</status><error code=\"2\">{}</error>",
                        esc(&e)
                    ))
                }
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

/// The content player (a stand-in page).
async fn player(State(s): State<Arc<Mutex<Inner>>>, Path(regid): Path<String>) -> Response {
    let g = lock(&s);
    match g.registrations.get(&regid) {
        Some(r) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><title>player</title><p>Playing {} for {}</p>",
                esc(&r.course_id),
                esc(&r.learner_id)
            ),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /_fake/progress?regid=…&complete=…&success=…&score=…&totaltime=…`:
/// for try-outs by hand (the binary); tests call [`FakeScormCloud::progress`].
async fn control_progress(State(s): State<Arc<Mutex<Inner>>>, RawQuery(q): RawQuery) -> Response {
    let params = params_of(q.as_deref());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(regid) = get("regid") else {
        return (StatusCode::BAD_REQUEST, "regid is required").into_response();
    };
    let (report, pb) = {
        let mut g = lock(&s);
        if let Err(e) = set_state(
            &mut g,
            &regid,
            &get("complete").unwrap_or_else(|| "incomplete".into()),
            &get("success").unwrap_or_else(|| "unknown".into()),
            get("score").and_then(|v| v.parse().ok()),
            get("totaltime").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        ) {
            return (StatusCode::NOT_FOUND, e).into_response();
        }
        match posted_report(&g, &regid) {
            Some(r) => r,
            None => return (StatusCode::NOT_FOUND, "no such registration").into_response(),
        }
    };
    let Some(pb) = pb else {
        return (StatusCode::OK, "updated; no postback URL").into_response();
    };
    let http = reqwest::Client::new();
    match send_postback(&http, &pb, &report).await {
        Ok(status) => (StatusCode::OK, format!("postback answered {status}")).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}

/// A minimal SCORM 1.2 package (a ZIP, entries stored) whose manifest has this
/// title, for tests and try-outs.
pub fn package(title: &str) -> Vec<u8> {
    let manifest = format!(
        "<?xml version=\"1.0\"?><manifest identifier=\"m\" version=\"1\"><metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>\
         <organizations default=\"o\"><organization identifier=\"o\"><title>{}</title><item identifier=\"i\" identifierref=\"r\"><title>Lesson</title></item></organization></organizations>\
         <resources><resource identifier=\"r\" type=\"webcontent\" adlcp:scormtype=\"sco\" href=\"index.html\"><file href=\"index.html\"/></resource></resources></manifest>",
        esc(title)
    );
    zip(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        (
            "index.html",
            b"<!doctype html><title>Lesson</title><p>Hello</p>",
        ),
    ])
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive with these entries, stored (not compressed).
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
    for (name, data) in entries {
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let crc = crc32(data);
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        le32(&mut out, 0x0403_4b50);
        for n in [20u16, 0, 0, 0, 0] {
            le16(&mut out, n);
        }
        le32(&mut out, crc);
        le32(&mut out, size);
        le32(&mut out, size);
        le16(&mut out, name_len);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for n in [20u16, 20, 0, 0, 0, 0] {
            le16(&mut central, n);
        }
        le32(&mut central, crc);
        le32(&mut central, size);
        le32(&mut central, size);
        le16(&mut central, name_len);
        for n in [0u16, 0, 0, 0] {
            le16(&mut central, n);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    let cd_size = u32::try_from(central.len()).unwrap_or(u32::MAX);
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for n in [0u16, 0, count, count] {
        le16(&mut out, n);
    }
    le32(&mut out, cd_size);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_reference_vector() {
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let params = vec![
            p("method", "rustici.registration.getRegistrationResult"),
            p("appid", "MYAPPID"),
            p("ts", "20240101120000"),
            p("regid", "reg 42"),
            p("resultsformat", "course"),
        ];
        assert_eq!(
            signature("SECRETKEY123", &params),
            "50524793f26fcfd1670b35368aa4632c"
        );
    }

    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn packages_are_zips_with_a_manifest() {
        let p = package("Golf & Putting");
        assert!(p.starts_with(b"PK\x03\x04"));
        assert_eq!(
            inspect_package(&p),
            Ok(("Golf & Putting".to_owned(), vec![]))
        );
        assert!(inspect_package(b"not a zip").is_err());
    }

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_ts("20240101120000"), Some(1_704_110_400));
        assert_eq!(parse_ts("2024010112000"), None);
        assert_eq!(parse_ts("20241301120000"), None);
    }
}
