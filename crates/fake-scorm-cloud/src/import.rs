//! `POST /api` with a multipart upload: `rustici.course.importCourseAsync`
//! and the check of the uploaded package.

use std::sync::{Arc, Mutex};

use axum::extract::{Multipart, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{dispatch, params_of, take_failure};
use crate::auth::authenticate;
use crate::state::{Inner, lock, new_job};
use crate::xml::{fail, ok};

pub(crate) async fn api_post(
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
    if let Some(name) = crate::required::missing("rustici.course.importCourseAsync", params) {
        return fail(
            crate::required::MISSING_PARAMETER,
            &format!("The required parameter '{name}' is missing"),
        );
    }
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
    let token = new_job(&mut g, &course_id, data.len() as u64, outcome);
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
pub(crate) fn inspect_package(data: &[u8]) -> Result<(String, Vec<String>), String> {
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
