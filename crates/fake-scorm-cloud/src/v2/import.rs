//! Course imports over V2: `POST courses/importJobs/upload` (multipart, part
//! `file`), `POST courses/importJobs` (`{"url"}`: the fake fetches the
//! package) and `GET courses/importJobs/{jobId}`.
//!
//! Shapes from Rustici's generated V2 clients
//! (`RusticiSoftware/scormcloud-api-v2-client-java`, `docs/CourseApi.md`,
//! `ImportFetchRequestSchema.md`, `ImportJobResultSchema.md`,
//! `ImportResultSchema.md`, `StringResultSchema`): both imports answer
//! `{"result": jobId}`; a job is `{jobId, status: RUNNING|COMPLETE|ERROR,
//! message, importResult: {parserWarnings, course: {id, title}}}`.
//! `mayCreateNewVersion` (query, default false): "If this is set to false and
//! the course already exists, the upload will fail" — here the job ends in
//! ERROR (whether the service refuses at creation instead is not documented).

use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::{
    Refusal, V2, bad_request, begin, check_http_url, check_id, json, json_body, ops, query,
    query_get, req_str,
};
use crate::import::inspect_package;
use crate::state::{Inner, Poll, lock, new_job, poll_job};

/// How long fetching a package from a URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// `courseId` (required, ≤ 255) and `mayCreateNewVersion` (`true`/`false`).
fn course_params(params: &[(String, String)]) -> Result<(String, bool), Refusal> {
    let course_id = query_get(params, "courseId")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad_request("The query parameter 'courseId' is required"))?;
    check_id("courseId", course_id)?;
    let may_create = match query_get(params, "mayCreateNewVersion") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(bad_request(
                "The query parameter 'mayCreateNewVersion' must be true or false",
            ));
        }
    };
    Ok((course_id.to_owned(), may_create))
}

/// Starts the job; a course that exists already is not replaced unless
/// `mayCreateNewVersion` is true: that job ends in ERROR.
fn start(
    g: &mut Inner,
    course_id: &str,
    may_create: bool,
    bytes: u64,
    outcome: Result<(String, Vec<String>), String>,
) -> Response {
    let existing = g.courses.get(course_id).filter(|c| c.versions > 0);
    let (bytes, outcome) = match existing {
        Some(c) if !may_create => (
            c.bytes,
            Err(format!(
                "Course '{course_id}' already exists and mayCreateNewVersion is false"
            )),
        ),
        _ => (bytes, outcome),
    };
    let job = new_job(g, course_id, bytes, outcome);
    json(StatusCode::OK, &json!({ "result": job }))
}

/// `POST courses/importJobs/upload?courseId=…` with the package as the
/// multipart part `file`.
pub(crate) async fn upload(
    State(s): State<V2>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, Refusal> {
    // authenticate before reading the upload, as V1 does
    super::authenticate(&lock(&s.inner), &headers)?;
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let file = if multipart {
        match Multipart::from_request(request, &()).await {
            Ok(mut mp) => read_file_part(&mut mp).await,
            Err(e) => Err(format!("The multipart body is invalid: {e}")),
        }
    } else {
        Err(String::new())
    };
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::IMPORT_UPLOAD)?;
    let (course_id, may_create) = course_params(&query(q.as_deref()))?;
    if !multipart {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The upload must be sent as multipart/form-data",
        ));
    }
    let data = file
        .map_err(bad_request)?
        .ok_or_else(|| bad_request("The multipart part 'file' is required"))?;
    let outcome = inspect_package(&data);
    Ok(start(
        &mut g,
        &course_id,
        may_create,
        data.len() as u64,
        outcome,
    ))
}

/// The bytes of the part named `file` (`None` without one).
async fn read_file_part(mp: &mut Multipart) -> Result<Option<Vec<u8>>, String> {
    let mut data = None;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(data),
            Err(e) => return Err(format!("The multipart body is invalid: {e}")),
        };
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(c)) => bytes.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => return Err(format!("The upload was interrupted: {e}")),
            }
        }
        data = Some(bytes);
    }
}

/// `POST courses/importJobs?courseId=…` with `{"url": …}`: the package is
/// fetched from the URL (an answer other than 2xx, or no answer, makes the
/// job end in ERROR, as a package that is not one does).
pub(crate) async fn fetch(
    State(s): State<V2>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    let (course_id, may_create, url) = {
        let mut g = lock(&s.inner);
        begin(&mut g, &headers, ops::IMPORT_FETCH)?;
        let (course_id, may_create) = course_params(&query(q.as_deref()))?;
        let obj = json_body(&headers, &body)?;
        let url = req_str(&obj, "url", "url")?;
        check_http_url("url", &url)?;
        (course_id, may_create, url)
    };
    let fetched = fetch_package(&s.fetch, &url).await;
    let bytes = fetched.as_ref().map_or(0, |d| d.len() as u64);
    let outcome = fetched.and_then(|data| inspect_package(&data));
    let mut g = lock(&s.inner);
    Ok(start(&mut g, &course_id, may_create, bytes, outcome))
}

async fn fetch_package(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("Could not fetch the package from {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "Could not fetch the package from {url}: HTTP {}",
            status.as_u16()
        ));
    }
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("Could not fetch the package from {url}: {e}"))
}

/// `GET courses/importJobs/{jobId}`: RUNNING for the configured number of
/// polls, then COMPLETE with the course's title and parser warnings, or ERROR.
pub(crate) async fn job(
    State(s): State<V2>,
    Path(job_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let mut g = lock(&s.inner);
    begin(&mut g, &headers, ops::IMPORT_JOB)?;
    let course_id = g.jobs.get(&job_id).map(|j| j.course_id.clone());
    let (Some(course_id), Some(poll)) = (course_id, poll_job(&mut g, &job_id)) else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("Import job '{job_id}' not found"),
        ));
    };
    let body = match poll {
        Poll::Running => json!({
            "jobId": job_id,
            "status": "RUNNING",
            "message": "Import in progress",
        }),
        Poll::Complete(title, warnings) => json!({
            "jobId": job_id,
            "status": "COMPLETE",
            "message": "Import successful",
            "importResult": {
                "webPathToCourse": format!("courses/{}/", super::seg(&course_id)),
                "parserWarnings": warnings,
                "courseLanguages": [],
                "course": { "id": course_id, "title": title },
            },
        }),
        Poll::Error(message) => json!({
            "jobId": job_id,
            "status": "ERROR",
            "message": message,
        }),
    };
    Ok(json(StatusCode::OK, &body))
}
