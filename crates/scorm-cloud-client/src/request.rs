//! Typed operations → request descriptions. The caller sends them (and streams
//! the file of an upload); nothing here does I/O or reads a clock.

use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

use crate::sign::{signed_query, timestamp};

/// The HTTP method of a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HttpMethod {
    /// `GET`, no body.
    Get,
    /// `POST`: a multipart upload ([`Request::file_part`]) or, in API V2, a JSON body.
    Post,
}

/// What to send. The URL can carry postback credentials (`urlpass`): its
/// `Debug` form shows only the method name, never the query.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The full URL, signed (API V1: the signature is in the query). Send it
    /// as is: any change to its query breaks the signature.
    pub url: String,
    /// For an upload: a `multipart/form-data` body with one file part of this
    /// name, which the caller streams from disk (never held in memory).
    pub file_part: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method =
            url::form_urlencoded::parse(self.url.split_once('?').map_or("", |(_, q)| q).as_bytes())
                .find(|(k, _)| k == "method")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("api", &method)
            .field("file_part", &self.file_part)
            .finish_non_exhaustive()
    }
}

/// Where and as whom.
#[derive(Clone)]
pub struct Client {
    /// The API endpoint, e.g. `https://cloud.scorm.com/api`.
    pub base: Url,
    /// The application id (`appid`).
    pub app_id: String,
    secret: String,
    /// `origin` parameter (`org.app.version`, lower case), when set.
    pub origin: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// How SCORM Cloud authenticates postbacks to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthType {
    /// Credentials and report as form fields (`username`, `password`, `data`).
    Form,
    /// Credentials in HTTP Basic, the report as the body.
    HttpBasic,
}

impl AuthType {
    fn name(self) -> &'static str {
        match self {
            AuthType::Form => "form",
            AuthType::HttpBasic => "httpbasic",
        }
    }
}

/// How much of a registration a report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResultsFormat {
    /// The course as a whole (completion, success, score, time).
    Course,
    /// The course and each activity's status.
    Activity,
    /// Everything, including interactions and objectives.
    Full,
}

impl ResultsFormat {
    fn name(self) -> &'static str {
        match self {
            ResultsFormat::Course => "course",
            ResultsFormat::Activity => "activity",
            ResultsFormat::Full => "full",
        }
    }
}

/// Where SCORM Cloud posts registration results, with the credentials it sends.
#[derive(Clone, PartialEq, Eq)]
pub struct Postback {
    /// Where SCORM Cloud posts (use https, with no redirect in front of it).
    pub url: String,
    /// How the credentials are sent.
    pub auth: AuthType,
    /// The user name SCORM Cloud sends.
    pub user: String,
    /// The password SCORM Cloud sends (hidden from `Debug`).
    pub password: String,
    /// The report's format.
    pub format: ResultsFormat,
}

impl std::fmt::Debug for Postback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postback")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("user", &self.user)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// A registration to create: a learner on a course. Checked when the request
/// is built ([`Client::create_registration`]): the ids as [`check_id`] says,
/// and both names non-blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// The course (our id, as imported).
    pub course_id: String,
    /// Our id for the registration.
    pub registration_id: String,
    /// Our id for the learner.
    pub learner_id: String,
    /// The learner's first name (required by API V1).
    pub first_name: String,
    /// The learner's last name (required by API V1).
    pub last_name: String,
    /// The learner's email, if known.
    pub email: Option<String>,
    /// Where to post this registration's results, if anywhere.
    pub postback: Option<Postback>,
}

/// An id or required parameter SCORM Cloud would refuse; each variant names
/// the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is empty.
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    /// The id has more than 255 characters.
    #[error("{0}: at most 255 characters (SCORM Cloud stores ids as strings up to 255)")]
    TooLong(&'static str),
    /// The id contains a control character.
    #[error("{0}: control characters are not allowed")]
    Control(&'static str),
    /// A parameter SCORM Cloud requires would be sent empty (and so left out).
    #[error("{0}: required by SCORM Cloud, and empty")]
    Required(&'static str),
}

/// Seed 003: "IDs are yours" — course, registration and learner ids are
/// strings of at most 255 characters.
pub fn check_id(what: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty(what));
    }
    if id.chars().count() > 255 {
        return Err(IdError::TooLong(what));
    }
    if id.chars().any(char::is_control) {
        return Err(IdError::Control(what));
    }
    Ok(())
}

impl Client {
    /// A client for the API at `base`, as application `app_id` with its
    /// secret key (kept private: not shown by `Debug`, used only to sign).
    pub fn new(base: Url, app_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            base,
            app_id: app_id.into(),
            secret: secret.into(),
            origin: None,
        }
    }

    /// The signed URL of a V1 call.
    fn url(&self, method: &str, params: &[(&str, &str)], now: OffsetDateTime) -> String {
        let mut all: Vec<(String, String)> = vec![
            ("method".into(), method.into()),
            ("appid".into(), self.app_id.clone()),
            ("ts".into(), timestamp(now)),
        ];
        if let Some(o) = &self.origin {
            all.push(("origin".into(), o.clone()));
        }
        all.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let base = self.base.as_str().trim_end_matches('/');
        format!("{base}?{}", signed_query(&self.secret, &all))
    }

    fn get(&self, method: &str, params: &[(&str, &str)], now: OffsetDateTime) -> Request {
        Request {
            method: HttpMethod::Get,
            url: self.url(method, params, now),
            file_part: None,
        }
    }

    /// `rustici.course.importCourseAsync`: a multipart POST whose file part
    /// (`filedata`) the caller streams.
    pub fn import_course_async(
        &self,
        course_id: &str,
        now: OffsetDateTime,
    ) -> Result<Request, IdError> {
        check_id("courseid", course_id)?;
        Ok(Request {
            method: HttpMethod::Post,
            url: self.url(
                "rustici.course.importCourseAsync",
                &[("courseid", course_id)],
                now,
            ),
            file_part: Some("filedata".into()),
        })
    }

    /// A freshly signed URL a browser form can POST a package to directly
    /// (valid about 15 minutes: build it when the user submits, not before);
    /// SCORM Cloud then redirects the browser to `redirect_url`.
    pub fn import_upload_url(
        &self,
        course_id: &str,
        redirect_url: &str,
        now: OffsetDateTime,
    ) -> Result<String, IdError> {
        check_id("courseid", course_id)?;
        Ok(self.url(
            "rustici.course.importCourseAsync",
            &[("courseid", course_id), ("redirecturl", redirect_url)],
            now,
        ))
    }

    /// `rustici.course.getAsyncImportResult`: poll an import job (read with
    /// [`crate::parse::import_job`]; delays: [`crate::import_poll_delays`]).
    pub fn get_async_import_result(&self, token: &str, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.course.getAsyncImportResult",
            &[("token", token)],
            now,
        )
    }

    /// `rustici.course.exists` (read with [`crate::parse::exists`]).
    pub fn course_exists(&self, course_id: &str, now: OffsetDateTime) -> Request {
        self.get("rustici.course.exists", &[("courseid", course_id)], now)
    }

    /// `rustici.course.getCourseList`, optionally filtered by a regular
    /// expression on course ids (read with [`crate::parse::course_list`]).
    pub fn get_course_list(&self, filter: Option<&str>, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.course.getCourseList",
            &[("filter", filter.unwrap_or(""))],
            now,
        )
    }

    /// `rustici.course.deleteCourse` (read with [`crate::parse::success`]).
    pub fn delete_course(&self, course_id: &str, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.course.deleteCourse",
            &[("courseid", course_id)],
            now,
        )
    }

    /// `rustici.registration.createRegistration` (read with
    /// [`crate::parse::success`]). Fails when an id is invalid or a name is blank.
    pub fn create_registration(
        &self,
        r: &NewRegistration,
        now: OffsetDateTime,
    ) -> Result<Request, IdError> {
        check_id("courseid", &r.course_id)?;
        check_id("regid", &r.registration_id)?;
        check_id("learnerid", &r.learner_id)?;
        // API V1 requires both names; an empty one would be left out of the
        // signed query and refused by the service.
        if r.first_name.trim().is_empty() {
            return Err(IdError::Required("fname"));
        }
        if r.last_name.trim().is_empty() {
            return Err(IdError::Required("lname"));
        }
        let mut p: Vec<(&str, &str)> = vec![
            ("courseid", &r.course_id),
            ("regid", &r.registration_id),
            ("learnerid", &r.learner_id),
            ("fname", &r.first_name),
            ("lname", &r.last_name),
            ("email", r.email.as_deref().unwrap_or("")),
        ];
        if let Some(pb) = &r.postback {
            p.extend([
                ("postbackurl", pb.url.as_str()),
                ("authtype", pb.auth.name()),
                ("urlname", &pb.user),
                ("urlpass", &pb.password),
                ("resultsformat", pb.format.name()),
            ]);
        }
        Ok(self.get("rustici.registration.createRegistration", &p, now))
    }

    /// `rustici.registration.getRegistrationResult` (read with
    /// [`crate::parse::registration_report`]).
    pub fn get_registration_result(
        &self,
        registration_id: &str,
        format: ResultsFormat,
        now: OffsetDateTime,
    ) -> Request {
        self.get(
            "rustici.registration.getRegistrationResult",
            &[("regid", registration_id), ("resultsformat", format.name())],
            now,
        )
    }

    /// The launch URL the learner's browser is redirected to — build it at
    /// launch time, never embed it in a page (it expires in ~15 minutes).
    pub fn launch_url(
        &self,
        registration_id: &str,
        redirect_url: &str,
        now: OffsetDateTime,
    ) -> String {
        self.url(
            "rustici.registration.launch",
            &[("regid", registration_id), ("redirecturl", redirect_url)],
            now,
        )
    }

    /// `rustici.registration.exists` (read with [`crate::parse::exists`]).
    pub fn registration_exists(&self, registration_id: &str, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.registration.exists",
            &[("regid", registration_id)],
            now,
        )
    }

    /// `rustici.registration.deleteRegistration` (read with [`crate::parse::success`]).
    pub fn delete_registration(&self, registration_id: &str, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.registration.deleteRegistration",
            &[("regid", registration_id)],
            now,
        )
    }

    /// `rustici.registration.resetRegistration`: clears the learner's
    /// progress (read with [`crate::parse::success`]).
    pub fn reset_registration(&self, registration_id: &str, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.registration.resetRegistration",
            &[("regid", registration_id)],
            now,
        )
    }

    /// `rustici.registration.updatePostbackInfo` (read with [`crate::parse::success`]).
    /// Note the parameter names differ from createRegistration's (`url`, `name`, `password`).
    pub fn update_postback_info(
        &self,
        registration_id: &str,
        pb: &Postback,
        now: OffsetDateTime,
    ) -> Request {
        self.get(
            "rustici.registration.updatePostbackInfo",
            &[
                ("regid", registration_id),
                ("url", &pb.url),
                ("authtype", pb.auth.name()),
                ("name", &pb.user),
                ("password", &pb.password),
                ("resultsformat", pb.format.name()),
            ],
            now,
        )
    }

    /// `rustici.registration.testRegistrationPostUrl`: SCORM Cloud posts a
    /// test report to the postback URL (read with [`crate::parse::success`]).
    pub fn test_registration_post_url(&self, pb: &Postback, now: OffsetDateTime) -> Request {
        self.get(
            "rustici.registration.testRegistrationPostUrl",
            &[
                ("postbackurl", &pb.url),
                ("authtype", pb.auth.name()),
                ("urlname", &pb.user),
                ("urlpass", &pb.password),
            ],
            now,
        )
    }

    /// `rustici.debug.getTime` needs no signature (for clock-skew checks).
    pub fn get_time(&self) -> Request {
        let base = self.base.as_str().trim_end_matches('/');
        Request {
            method: HttpMethod::Get,
            url: format!("{base}?method=rustici.debug.getTime"),
            file_part: None,
        }
    }
}
