//! The parameters SCORM Cloud's API V1 marks required, by method — every
//! method the flows call. A call without one (or with it empty) is refused
//! the way the service refuses it: a failure envelope naming the parameter,
//! before anything else happens. docs/scorm.md lists the same table.

/// (method, required parameters besides `method`, `appid`, `ts`, `sig`).
pub const REQUIRED: &[(&str, &[&str])] = &[
    ("rustici.course.importCourseAsync", &["courseid"]),
    ("rustici.course.getAsyncImportResult", &["token"]),
    ("rustici.course.exists", &["courseid"]),
    ("rustici.course.getCourseList", &[]),
    ("rustici.course.deleteCourse", &["courseid"]),
    (
        "rustici.registration.createRegistration",
        &["courseid", "regid", "fname", "lname", "learnerid"],
    ),
    ("rustici.registration.getRegistrationResult", &["regid"]),
    ("rustici.registration.exists", &["regid"]),
    ("rustici.registration.deleteRegistration", &["regid"]),
    ("rustici.registration.resetRegistration", &["regid"]),
    ("rustici.registration.updatePostbackInfo", &["regid", "url"]),
    ("rustici.registration.launch", &["regid"]),
    (
        "rustici.registration.testRegistrationPostUrl",
        &["postbackurl"],
    ),
];

/// The error code the fake answers a missing parameter with.
pub const MISSING_PARAMETER: u32 = 100;

/// The first required parameter of `method` that `params` lacks (absent or
/// empty), if any.
pub fn missing(method: &str, params: &[(String, String)]) -> Option<&'static str> {
    let (_, required) = REQUIRED.iter().find(|(m, _)| *m == method)?;
    required
        .iter()
        .copied()
        .find(|name| !params.iter().any(|(k, v)| k == name && !v.is_empty()))
}
