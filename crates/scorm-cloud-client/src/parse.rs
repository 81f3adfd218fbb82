//! Responses, parsed from bytes. Tolerant: elements are found at any depth,
//! unknown enum values are kept, `unknown` scores are `None`; strict where it
//! matters: a failure envelope is an error, a missing `<success/>` is a failure.

use serde::Serialize;

/// A parsed XML element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (namespace prefix dropped); `#document` for the root
    /// [`document`] returns.
    pub name: String,
    /// Attributes in document order, local names, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// The element's own text and CDATA, concatenated (each piece trimmed).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The value of this element's attribute `name`, if it has one.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first element of this name at any depth (this one included).
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every element of this name at any depth, in document order.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.find_all(name, out);
        }
    }

    /// The trimmed text of the first element `name` at any depth ([`Element::find`]).
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|e| e.text.trim())
    }
}

/// SCORM Cloud's error codes we act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    /// 103: the signature is missing.
    SignatureMissing,
    /// 104: the signature does not match.
    SignatureMismatch,
    /// Any other code (`-1` when the failure envelope has none).
    Other(i64),
}

/// Why a response could not be read as the answer expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
pub enum Error {
    /// SCORM Cloud answered with a failure envelope (`<rsp stat="fail">`, or
    /// API V2's error JSON with its HTTP status as the code).
    #[error("SCORM Cloud error {code:?}: {message}")]
    Api {
        /// The error code.
        code: ErrorCode,
        /// SCORM Cloud's message (empty when it gave none).
        message: String,
    },
    /// The bytes are not well-formed XML (or, for API V2, not the JSON expected).
    #[error("response is not XML: {0}")]
    Xml(String),
    /// The response lacks the named element (or V2 property) the call answers with.
    #[error("response lacks <{0}>")]
    Missing(&'static str),
    /// A numeric field holds something that is not a number (`unknown` and
    /// empty are `None`, not errors).
    #[error("{field}: {value:?} is not a number")]
    Number {
        /// The element or property.
        field: &'static str,
        /// Its text.
        value: String,
    },
}

/// Parses a document into its root element.
pub fn document(bytes: &[u8]) -> Result<Element, Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = vec![Element {
        name: "#document".into(),
        ..Element::default()
    }];
    let mut buf = Vec::new();
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Element, Error> {
        let mut el = Element {
            name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
            ..Element::default()
        };
        for a in e.attributes() {
            let a = a.map_err(|e| Error::Xml(e.to_string()))?;
            let v = a.unescape_value().map_err(|e| Error::Xml(e.to_string()))?;
            el.attrs.push((
                String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                v.into_owned(),
            ));
        }
        Ok(el)
    };
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| Error::Xml(e.to_string()))?
        {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let el = open(&e)?;
                stack
                    .last_mut()
                    .ok_or_else(|| Error::Xml("unbalanced".into()))?
                    .children
                    .push(el);
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| Error::Xml("unbalanced".into()))?;
                stack
                    .last_mut()
                    .ok_or_else(|| Error::Xml("unbalanced".into()))?
                    .children
                    .push(el);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| Error::Xml(e.to_string()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err(Error::Xml("unclosed element".into()));
    }
    let doc = stack.pop().ok_or_else(|| Error::Xml("empty".into()))?;
    if doc.children.is_empty() {
        return Err(Error::Xml("no root element".into()));
    }
    Ok(doc)
}

/// A document whose `<rsp>` (when there is one) says `ok`.
pub fn ok(bytes: &[u8]) -> Result<Element, Error> {
    let doc = document(bytes)?;
    if let Some(rsp) = doc.find("rsp") {
        if rsp.attr("stat") == Some("fail") {
            let err = rsp.find("err");
            let code = err
                .and_then(|e| e.attr("code"))
                .and_then(|c| c.trim().parse::<i64>().ok())
                .unwrap_or(-1);
            let message = err.and_then(|e| e.attr("msg")).unwrap_or("").to_owned();
            return Err(Error::Api {
                code: match code {
                    103 => ErrorCode::SignatureMissing,
                    104 => ErrorCode::SignatureMismatch,
                    n => ErrorCode::Other(n),
                },
                message,
            });
        }
    }
    Ok(doc)
}

/// Calls that answer `<success/>`; its absence is a failure.
pub fn success(bytes: &[u8]) -> Result<(), Error> {
    ok(bytes)?
        .find("success")
        .map(|_| ())
        .ok_or(Error::Missing("success"))
}

/// `exists` calls: `<result>true|false</result>`.
pub fn exists(bytes: &[u8]) -> Result<bool, Error> {
    match ok(bytes)?.text_of("result") {
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Error::Missing("result")),
    }
}

/// `importCourseAsync`: the job token.
pub fn import_token(bytes: &[u8]) -> Result<String, Error> {
    let doc = ok(bytes)?;
    let token = doc.find("token").ok_or(Error::Missing("token"))?;
    let id = token.text_of("id").unwrap_or(token.text.trim());
    if id.is_empty() {
        Err(Error::Missing("id"))
    } else {
        Ok(id.to_owned())
    }
}

/// The state of an asynchronous import job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImportStatus {
    /// Accepted, not started.
    Created,
    /// In progress: poll again.
    Running,
    /// Done; the results say whether the package was imported.
    Finished,
    /// The job failed ([`ImportJob::error`]).
    Error,
    /// A status this client does not know, as sent.
    Other(String),
}

/// The outcome of importing one package (a job may report several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportResult {
    /// Whether SCORM Cloud imported the package.
    pub successful: bool,
    /// The course title read from the package.
    pub title: Option<String>,
    /// SCORM Cloud's message about the import.
    pub message: Option<String>,
    /// The parser's warnings about the package (non-empty ones).
    pub warnings: Vec<String>,
}

/// An import job as polled ([`import_job`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportJob {
    /// Where the job is.
    pub status: ImportStatus,
    /// The job's own `<message>` (not a result's).
    pub message: Option<String>,
    /// The progress text SCORM Cloud gives, as sent.
    pub progress: Option<String>,
    /// The import results, once finished.
    pub results: Vec<ImportResult>,
    /// `<error code>` of a failed import.
    pub error: Option<(String, String)>,
}

impl ImportJob {
    /// Whether polling can stop.
    pub fn is_done(&self) -> bool {
        matches!(self.status, ImportStatus::Finished | ImportStatus::Error)
    }
}

/// `getAsyncImportResult`: status, and the import results when finished
/// (directly under `rsp` or under `<importresults>`: searched at any depth).
pub fn import_job(bytes: &[u8]) -> Result<ImportJob, Error> {
    let doc = ok(bytes)?;
    let status = match doc.text_of("status").ok_or(Error::Missing("status"))? {
        "created" => ImportStatus::Created,
        "running" => ImportStatus::Running,
        "finished" => ImportStatus::Finished,
        "error" => ImportStatus::Error,
        other => ImportStatus::Other(other.to_owned()),
    };
    let mut found = Vec::new();
    doc.find_all("importresult", &mut found);
    let results = found
        .into_iter()
        .map(|r| {
            let mut w = Vec::new();
            r.find_all("warning", &mut w);
            ImportResult {
                successful: r
                    .attr("successful")
                    .is_some_and(|s| s.eq_ignore_ascii_case("true")),
                title: r.text_of("title").map(str::to_owned),
                message: r.text_of("message").map(str::to_owned),
                warnings: w
                    .iter()
                    .map(|e| e.text.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
            }
        })
        .collect();
    let error = doc.find("error").map(|e| {
        (
            e.attr("code").unwrap_or("").to_owned(),
            e.text.trim().to_owned(),
        )
    });
    let top_message = doc
        .find("rsp")
        .unwrap_or(&doc)
        .children
        .iter()
        .find(|c| c.name == "message")
        .map(|m| m.text.trim().to_owned());
    Ok(ImportJob {
        status,
        message: top_message,
        progress: doc.text_of("progress").map(str::to_owned),
        results,
        error,
    })
}

/// One course of a course list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CourseInfo {
    /// The course id (ours: SCORM Cloud keeps the id it was imported under).
    pub id: String,
    /// Its title.
    pub title: Option<String>,
    /// The number of versions, as sent.
    pub versions: Option<String>,
    /// The number of registrations, as sent.
    pub registrations: Option<String>,
}

/// `getCourseList`: every `<course>` with an `id` (others are skipped).
pub fn course_list(bytes: &[u8]) -> Result<Vec<CourseInfo>, Error> {
    let doc = ok(bytes)?;
    doc.find("courselist").ok_or(Error::Missing("courselist"))?;
    let mut found = Vec::new();
    doc.find_all("course", &mut found);
    Ok(found
        .into_iter()
        .filter_map(|c| {
            Some(CourseInfo {
                id: c.attr("id")?.to_owned(),
                title: c.attr("title").map(str::to_owned),
                versions: c.attr("versions").map(str::to_owned),
                registrations: c.attr("registrations").map(str::to_owned),
            })
        })
        .collect())
}

/// A registration's completion status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Completion {
    /// `complete` or `completed`.
    Complete,
    /// `incomplete`.
    Incomplete,
    /// `unknown`, or absent.
    Unknown,
    /// Any other value, lower-cased.
    Other(String),
}

/// A registration's success status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Success {
    /// `passed`.
    Passed,
    /// `failed`.
    Failed,
    /// `unknown`, or absent.
    Unknown,
    /// Any other value, lower-cased.
    Other(String),
}

/// The "big four" of a registration report (any results format).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationReport {
    /// The registration id (`regid`), when the report carries it.
    pub registration_id: Option<String>,
    /// Completion.
    pub complete: Completion,
    /// Success.
    pub success: Success,
    /// The score as SCORM Cloud reports it (0–100); `unknown` → `None`.
    pub score: Option<f64>,
    /// Total time, seconds; `unknown` → `None`.
    pub total_time_secs: Option<f64>,
}

fn number(field: &'static str, s: Option<&str>) -> Result<Option<f64>, Error> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("unknown") => Ok(None),
        Some(v) => v.parse::<f64>().map(Some).map_err(|_| Error::Number {
            field,
            value: v.to_owned(),
        }),
    }
}

/// A `<registrationreport>`, wrapped in `<rsp>` or not (postbacks send either).
pub fn registration_report(bytes: &[u8]) -> Result<RegistrationReport, Error> {
    let doc = ok(bytes)?;
    let r = doc
        .find("registrationreport")
        .ok_or(Error::Missing("registrationreport"))?;
    // In activity/full formats the big four also appear on each activity: read
    // the report's own children first.
    let own = |name: &str| {
        r.children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.text.trim())
            .or_else(|| r.text_of(name))
    };
    Ok(RegistrationReport {
        registration_id: r.attr("regid").map(str::to_owned),
        complete: match own("complete")
            .unwrap_or("unknown")
            .to_ascii_lowercase()
            .as_str()
        {
            "complete" | "completed" => Completion::Complete,
            "incomplete" => Completion::Incomplete,
            "unknown" => Completion::Unknown,
            other => Completion::Other(other.to_owned()),
        },
        success: match own("success")
            .unwrap_or("unknown")
            .to_ascii_lowercase()
            .as_str()
        {
            "passed" => Success::Passed,
            "failed" => Success::Failed,
            "unknown" => Success::Unknown,
            other => Success::Other(other.to_owned()),
        },
        score: number("score", own("score"))?,
        total_time_secs: number("totaltime", own("totaltime"))?,
    })
}

/// `rustici.debug.getTime`: `yyyyMMddHHmmss`.
pub fn server_time(bytes: &[u8]) -> Result<String, Error> {
    ok(bytes)?
        .text_of("currenttime")
        .map(str::to_owned)
        .ok_or(Error::Missing("currenttime"))
}
