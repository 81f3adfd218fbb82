//! The SCORM Cloud operations the flows need, each on the API the
//! integration speaks (`api_version`): the flows call these and never see
//! whether a V1 signed query or a V2 JSON call went out. Answers map to the
//! same types (`scorm_cloud_client`'s parsers of both versions do that).

use std::path::Path;

use scorm_cloud_client::parse::{self, ImportJob, RegistrationReport};
use scorm_cloud_client::{NewRegistration, Postback, ResultsFormat, v2};

use crate::settings::ApiVersion;
use crate::{Remote, ScormError};

/// How long a V2 launch link may wait to be followed (V2 allows 10–300 s;
/// the learner's browser follows it at once).
pub const LAUNCH_LINK_EXPIRY_SECS: u32 = 120;

impl Remote {
    /// Uploads a package as course `course_id`; the import job's token
    /// (V1) or id (V2).
    pub async fn import_upload(
        &self,
        course_id: &str,
        package: &Path,
        sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<String, ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.import_course_async(course_id, self.now())?;
                let body = self
                    .upload("importCourseAsync", &req, package, sent)
                    .await?;
                parse::import_token(&body).map_err(ScormError::api("importCourseAsync"))
            }
            ApiVersion::V2 => {
                let req = self.v2.import_upload(course_id)?;
                let (status, body) = self
                    .upload_v2("importJobs/upload", &req, package, sent)
                    .await?;
                v2::parse_job_id(status, &body).map_err(ScormError::api("importJobs/upload"))
            }
        }
    }

    /// Asks SCORM Cloud to fetch the package at `url` itself (API V2 only;
    /// V1 imports only uploads).
    pub async fn import_from_url(&self, course_id: &str, url: &str) -> Result<String, ScormError> {
        match self.api {
            ApiVersion::V1 => Err(ScormError::Invalid(
                "import from a URL needs the integration setting api_version=v2".into(),
            )),
            ApiVersion::V2 => {
                let req = self.v2.import_from_url(course_id, url)?;
                let (status, body) = self.call_v2("importJobs", &req).await?;
                v2::parse_job_id(status, &body).map_err(ScormError::api("importJobs"))
            }
        }
    }

    /// An import job's state.
    pub async fn import_status(&self, token: &str) -> Result<ImportJob, ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.get_async_import_result(token, self.now());
                let body = self.call("getAsyncImportResult", &req).await?;
                parse::import_job(&body).map_err(ScormError::api("getAsyncImportResult"))
            }
            ApiVersion::V2 => {
                let (status, body) = self
                    .call_v2("importJobs/get", &self.v2.import_job(token))
                    .await?;
                v2::parse_import_job(status, &body).map_err(ScormError::api("importJobs/get"))
            }
        }
    }

    /// Creates a registration (its postback settings included).
    pub async fn create_registration(&self, r: &NewRegistration) -> Result<(), ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.create_registration(r, self.now())?;
                let body = self.call("createRegistration", &req).await?;
                parse::success(&body).map_err(ScormError::api("createRegistration"))
            }
            ApiVersion::V2 => {
                let req = self.v2.create_registration(r)?;
                let (status, body) = self.call_v2("createRegistration", &req).await?;
                v2_done(status, &body).map_err(ScormError::api("createRegistration"))
            }
        }
    }

    /// Whether SCORM Cloud has the registration.
    pub async fn registration_exists(&self, id: &str) -> Result<bool, ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.registration_exists(id, self.now());
                let body = self.call("registrationExists", &req).await?;
                parse::exists(&body).map_err(ScormError::api("registrationExists"))
            }
            ApiVersion::V2 => {
                let (status, _) = self
                    .call_v2("registrationExists", &self.v2.registration_exists(id))
                    .await?;
                v2::parse_exists(status).map_err(ScormError::api("registrationExists"))
            }
        }
    }

    /// Points an existing registration's postbacks at `pb` (a new password).
    /// V1 has `updatePostbackInfo`; V2 has no such call, so the registration
    /// is deleted and created again with `r` — only when SCORM Cloud shows
    /// no progress on it (a conflict otherwise).
    pub async fn renew_postback(
        &self,
        r: &NewRegistration,
        pb: &Postback,
    ) -> Result<(), ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self
                    .client
                    .update_postback_info(&r.registration_id, pb, self.now());
                let body = self.call("updatePostbackInfo", &req).await?;
                parse::success(&body).map_err(ScormError::api("updatePostbackInfo"))
            }
            ApiVersion::V2 => {
                // Never delete a registration a learner has used.
                let now = self.registration_result(&r.registration_id).await?;
                let untouched = now.complete == parse::Completion::Unknown
                    && now.success == parse::Success::Unknown
                    && now.score.is_none()
                    && now.total_time_secs.unwrap_or(0.0) == 0.0;
                if !untouched {
                    return Err(ScormError::Conflict(format!(
                        "registration {} is in SCORM Cloud with progress, but not recorded as created here: \
                         not replaced (check the SCORM Cloud application)",
                        r.registration_id
                    )));
                }
                self.delete_registration(&r.registration_id).await?;
                self.create_registration(r).await
            }
        }
    }

    /// Deletes a registration.
    pub async fn delete_registration(&self, id: &str) -> Result<(), ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.delete_registration(id, self.now());
                let body = self.call("deleteRegistration", &req).await?;
                parse::success(&body).map_err(ScormError::api("deleteRegistration"))
            }
            ApiVersion::V2 => {
                let (status, body) = self
                    .call_v2("deleteRegistration", &self.v2.delete_registration(id))
                    .await?;
                v2_done(status, &body).map_err(ScormError::api("deleteRegistration"))
            }
        }
    }

    /// Clears a registration's progress (the learner starts again).
    pub async fn reset_registration(&self, id: &str) -> Result<(), ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req = self.client.reset_registration(id, self.now());
                let body = self.call("resetRegistration", &req).await?;
                parse::success(&body).map_err(ScormError::api("resetRegistration"))
            }
            ApiVersion::V2 => {
                let (status, body) = self
                    .call_v2(
                        "deleteRegistrationProgress",
                        &self.v2.reset_registration(id),
                    )
                    .await?;
                v2_done(status, &body).map_err(ScormError::api("deleteRegistrationProgress"))
            }
        }
    }

    /// A registration's results now, in the course format (the big four).
    pub async fn registration_result(&self, id: &str) -> Result<RegistrationReport, ScormError> {
        match self.api {
            ApiVersion::V1 => {
                let req =
                    self.client
                        .get_registration_result(id, ResultsFormat::Course, self.now());
                let body = self.call("getRegistrationResult", &req).await?;
                parse::registration_report(&body).map_err(ScormError::api("getRegistrationResult"))
            }
            ApiVersion::V2 => {
                let (status, body) = self
                    .call_v2("getRegistrationProgress", &self.v2.registration(id))
                    .await?;
                v2::parse_registration(status, &body)
                    .map_err(ScormError::api("getRegistrationProgress"))
            }
        }
    }

    /// Where to send the learner now, returning to `return_to` on exit: V1
    /// signs the launch URL here (valid about 15 minutes); V2 asks SCORM
    /// Cloud for a launch link (valid [`LAUNCH_LINK_EXPIRY_SECS`]).
    pub async fn launch_link(&self, id: &str, return_to: &str) -> Result<String, ScormError> {
        match self.api {
            ApiVersion::V1 => Ok(self.client.launch_url(id, return_to, self.now())),
            ApiVersion::V2 => {
                let req = self.v2.launch_link(id, return_to, LAUNCH_LINK_EXPIRY_SECS);
                let (status, body) = self.call_v2("buildRegistrationLaunchLink", &req).await?;
                v2::parse_launch_link(status, &body)
                    .map_err(ScormError::api("buildRegistrationLaunchLink"))
            }
        }
    }
}

/// A V2 call that answers nothing on success (`204 No Content`, or an empty
/// 200); an error status is the service's error with its message.
fn v2_done(status: u16, body: &[u8]) -> Result<(), parse::Error> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_default();
    Err(parse::Error::Api {
        code: parse::ErrorCode::Other(i64::from(status)),
        message,
    })
}
