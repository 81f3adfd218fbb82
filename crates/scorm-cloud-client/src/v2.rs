//! SCORM Cloud API V2 (REST/JSON, Rustici's recommended API; V1 is on a
//! deprecation schedule): the same LMS needs — import, registration, results,
//! launch link — as request descriptions and parsers, with HTTP Basic
//! `appId:secret`. Results map onto the same types as V1, so the flows above
//! do not care which version is configured.

use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

use crate::parse::{
    Completion, Error, ErrorCode, ImportJob, ImportResult, ImportStatus, RegistrationReport,
    Success,
};
use crate::request::{AuthType, IdError, NewRegistration, ResultsFormat, check_id};

/// The HTTP method of a [`RequestV2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST` (with [`RequestV2::json`] as an `application/json` body, or a multipart upload).
    Post,
    /// `HEAD`.
    Head,
    /// `DELETE`.
    Delete,
}

/// A V2 call: method, URL, JSON body, and the `Authorization` header value
/// (never shown by `Debug`).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RequestV2 {
    /// The HTTP method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The JSON body, when the call has one.
    pub json: Option<String>,
    /// The `Authorization` header value (`Basic …` of `appId:secret`): a
    /// credential, skipped by `Serialize` and `Debug`; never log it.
    #[serde(skip)]
    pub authorization: String,
    /// For an upload: the multipart file part (`file`) the caller streams.
    pub file_part: Option<String>,
}

impl std::fmt::Debug for RequestV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestV2")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("file_part", &self.file_part)
            .finish_non_exhaustive()
    }
}

/// Where and as whom, for API V2.
#[derive(Clone)]
pub struct ClientV2 {
    /// e.g. `https://cloud.scorm.com/api/v2/`
    pub base: Url,
    /// The application id (the Basic user name).
    pub app_id: String,
    secret: String,
}

impl std::fmt::Debug for ClientV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientV2")
            .field("base", &self.base.as_str())
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl ClientV2 {
    /// A client for the API at `base` (a trailing `/` is added when missing),
    /// as application `app_id` with its secret key (kept private: not shown by
    /// `Debug`, only sent in [`RequestV2::authorization`]).
    pub fn new(mut base: Url, app_id: impl Into<String>, secret: impl Into<String>) -> Self {
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Self {
            base,
            app_id: app_id.into(),
            secret: secret.into(),
        }
    }

    fn req(&self, method: Method, path_and_query: &str, json: Option<Value>) -> RequestV2 {
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.app_id, self.secret));
        RequestV2 {
            method,
            url: format!("{}{}", self.base, path_and_query),
            json: json.map(|j| j.to_string()),
            authorization: format!("Basic {auth}"),
            file_part: None,
        }
    }

    /// `POST /courses/importJobs/upload?courseId=…` with a streamed `file` part.
    /// `mayCreateNewVersion=true`: importing an existing course id makes a
    /// new version of it, as V1's importCourseAsync does (without it V2
    /// refuses the import).
    pub fn import_upload(&self, course_id: &str) -> Result<RequestV2, IdError> {
        check_id("courseId", course_id)?;
        let mut r = self.req(
            Method::Post,
            &format!(
                "courses/importJobs/upload?courseId={}&mayCreateNewVersion=true",
                seg(course_id)
            ),
            None,
        );
        r.file_part = Some("file".into());
        Ok(r)
    }

    /// `POST /courses/importJobs?courseId=…` with `{url}`: SCORM Cloud fetches the package.
    pub fn import_from_url(
        &self,
        course_id: &str,
        package_url: &str,
    ) -> Result<RequestV2, IdError> {
        check_id("courseId", course_id)?;
        Ok(self.req(
            Method::Post,
            &format!(
                "courses/importJobs?courseId={}&mayCreateNewVersion=true",
                seg(course_id)
            ),
            Some(json!({ "url": package_url })),
        ))
    }

    /// `GET /courses/importJobs/{id}` (read with [`parse_import_job`]).
    pub fn import_job(&self, job_id: &str) -> RequestV2 {
        self.req(
            Method::Get,
            &format!("courses/importJobs/{}", seg(job_id)),
            None,
        )
    }

    /// `POST /registrations`. Fails when an id is invalid; blank names and
    /// an absent email are left out (optional in V2).
    pub fn create_registration(&self, r: &NewRegistration) -> Result<RequestV2, IdError> {
        check_id("courseId", &r.course_id)?;
        check_id("registrationId", &r.registration_id)?;
        check_id("learner.id", &r.learner_id)?;
        let mut body = json!({
            "courseId": r.course_id,
            "registrationId": r.registration_id,
            "learner": {"id": r.learner_id},
        });
        // Optional in V2: sent when known, never as empty strings.
        if !r.first_name.trim().is_empty() {
            body["learner"]["firstName"] = json!(r.first_name);
        }
        if !r.last_name.trim().is_empty() {
            body["learner"]["lastName"] = json!(r.last_name);
        }
        if let Some(e) = &r.email {
            body["learner"]["email"] = json!(e);
        }
        if let Some(pb) = &r.postback {
            body["postBack"] = json!({
                "url": pb.url,
                "authType": match pb.auth { AuthType::Form => "form", AuthType::HttpBasic => "httpbasic" },
                "userName": pb.user,
                "password": pb.password,
                "resultsFormat": match pb.format { ResultsFormat::Course => "course", ResultsFormat::Activity => "activity", ResultsFormat::Full => "full" },
            });
        }
        Ok(self.req(Method::Post, "registrations", Some(body)))
    }

    /// `HEAD /registrations/{id}` (read with [`parse_exists`]).
    pub fn registration_exists(&self, id: &str) -> RequestV2 {
        self.req(Method::Head, &format!("registrations/{}", seg(id)), None)
    }

    /// `GET /registrations/{id}`: its progress (read with [`parse_registration`]).
    pub fn registration(&self, id: &str) -> RequestV2 {
        self.req(Method::Get, &format!("registrations/{}", seg(id)), None)
    }

    /// `DELETE /registrations/{id}`.
    pub fn delete_registration(&self, id: &str) -> RequestV2 {
        self.req(Method::Delete, &format!("registrations/{}", seg(id)), None)
    }

    /// `DELETE /registrations/{id}/progress`: clears the learner's progress.
    pub fn reset_registration(&self, id: &str) -> RequestV2 {
        self.req(
            Method::Delete,
            &format!("registrations/{}/progress", seg(id)),
            None,
        )
    }

    /// `POST /registrations/{id}/launchLink`: build it when the learner launches.
    pub fn launch_link(&self, id: &str, redirect_on_exit: &str, expiry_secs: u32) -> RequestV2 {
        self.req(
            Method::Post,
            &format!("registrations/{}/launchLink", seg(id)),
            Some(json!({"redirectOnExitUrl": redirect_on_exit, "expiry": expiry_secs})),
        )
    }
}

fn body(status: u16, bytes: &[u8]) -> Result<Value, Error> {
    let v: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(|e| Error::Xml(format!("not JSON: {e}")))?
    };
    if (200..300).contains(&status) {
        return Ok(v);
    }
    Err(Error::Api {
        code: ErrorCode::Other(i64::from(status)),
        message: v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

/// The job id of an import (`{"result": "…"}`).
pub fn parse_job_id(status: u16, bytes: &[u8]) -> Result<String, Error> {
    body(status, bytes)?
        .get("result")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(Error::Missing("result"))
}

/// An import job (`RUNNING|COMPLETE|ERROR`) in V1's terms.
pub fn parse_import_job(status: u16, bytes: &[u8]) -> Result<ImportJob, Error> {
    let v = body(status, bytes)?;
    let st = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or(Error::Missing("status"))?;
    let status = match st.to_ascii_uppercase().as_str() {
        "RUNNING" => ImportStatus::Running,
        "COMPLETE" => ImportStatus::Finished,
        "ERROR" => ImportStatus::Error,
        _ => ImportStatus::Other(st.to_owned()),
    };
    let message = v.get("message").and_then(Value::as_str).map(str::to_owned);
    let results = v
        .get("importResult")
        .filter(|r| r.is_object())
        .map(|r| ImportResult {
            successful: status == ImportStatus::Finished,
            title: r
                .get("course")
                .and_then(|c| c.get("title"))
                .or_else(|| r.get("title"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            message: r.get("message").and_then(Value::as_str).map(str::to_owned),
            warnings: r
                .get("parserWarnings")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|w| w.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .into_iter()
        .collect();
    let error = (status == ImportStatus::Error)
        .then(|| (String::new(), message.clone().unwrap_or_default()));
    Ok(ImportJob {
        status,
        message,
        progress: None,
        results,
        error,
    })
}

/// A registration's big four in V1's terms (`score.scaled` is 0–100 in V2).
pub fn parse_registration(status: u16, bytes: &[u8]) -> Result<RegistrationReport, Error> {
    let v = body(status, bytes)?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase()
    };
    Ok(RegistrationReport {
        registration_id: v.get("id").and_then(Value::as_str).map(str::to_owned),
        complete: match text("registrationCompletion").as_str() {
            "COMPLETED" => Completion::Complete,
            "INCOMPLETE" => Completion::Incomplete,
            "UNKNOWN" => Completion::Unknown,
            other => Completion::Other(other.to_owned()),
        },
        success: match text("registrationSuccess").as_str() {
            "PASSED" => Success::Passed,
            "FAILED" => Success::Failed,
            "UNKNOWN" => Success::Unknown,
            other => Success::Other(other.to_owned()),
        },
        score: v
            .get("score")
            .and_then(|s| s.get("scaled"))
            .and_then(Value::as_f64),
        total_time_secs: v.get("totalSecondsTracked").and_then(Value::as_f64),
    })
}

/// `HEAD /registrations/{id}`: 200 exists, 404 does not.
pub fn parse_exists(status: u16) -> Result<bool, Error> {
    match status {
        200..=299 => Ok(true),
        404 => Ok(false),
        other => Err(Error::Api {
            code: ErrorCode::Other(i64::from(other)),
            message: String::new(),
        }),
    }
}

/// The launch link of a [`ClientV2::launch_link`] answer (`{"launchLink": …}`).
pub fn parse_launch_link(status: u16, bytes: &[u8]) -> Result<String, Error> {
    body(status, bytes)?
        .get("launchLink")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(Error::Missing("launchLink"))
}
