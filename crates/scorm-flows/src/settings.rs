//! A `scorm-cloud` integration's settings, read from the integration record
//! (secrets by the name of the environment variable that holds them).

use scorm_cloud_client::{AuthType, ResultsFormat};
use store::Integration;
use url::Url;

use crate::ScormError;

/// Which SCORM Cloud API the flows speak (setting `api_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// API V1 (`rustici.*` methods, signed queries, XML): the default.
    V1,
    /// API V2 (REST/JSON, HTTP Basic): Rustici's recommended API.
    V2,
}

/// When the registration is created in SCORM Cloud (seed 003: "either way is fine").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// When the course is assigned to the learner.
    AtAssignment,
    /// Right before the learner's first launch (costs nothing if never launched).
    AtLaunch,
}

#[derive(Clone)]
pub struct Settings {
    pub integration_id: String,
    /// Which API the flows speak.
    pub api_version: ApiVersion,
    /// The API endpoint: `https://cloud.scorm.com/api` (V1) or
    /// `https://cloud.scorm.com/api/v2/` (V2) by default.
    pub base_url: Url,
    pub app_id: String,
    pub(crate) secret: String,
    /// How SCORM Cloud and learners' browsers reach the ingest server
    /// (postbacks go to `{public_url}/scorm/postback`).
    pub public_url: Url,
    pub creation: Creation,
    pub postback_auth: AuthType,
    /// The results format postbacks use (`course` by default: the big four).
    pub results_format: ResultsFormat,
    /// Where the return page sends the learner after a course, if anywhere
    /// (a fixed setting, never taken from a request).
    pub return_url: Option<Url>,
    /// The `origin` parameter (`org.app.version`).
    pub origin: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("integration_id", &self.integration_id)
            .field("base_url", &self.base_url.as_str())
            .field("app_id", &self.app_id)
            .field("public_url", &self.public_url.as_str())
            .field("creation", &self.creation)
            .finish_non_exhaustive()
    }
}

/// Looks up an environment variable by name.
type SecretLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The settings a `scorm-cloud` integration must have (and `secret_env` or
/// `secret_file`: the name of the variable, or the file, holding the secret key).
pub const REQUIRED: &[&str] = &["app_id", "public_url"];

/// Every setting [`Settings::from_integration`] reads (besides `rules`).
pub const KNOWN: &[&str] = &[
    "api_version",
    "base_url",
    "app_id",
    "secret_env",
    "secret_file",
    "public_url",
    "registrations",
    "postback_auth",
    "results_format",
    "return_url",
    "origin",
];

fn http_url(integration: &str, name: &'static str, v: &str) -> Result<Url, ScormError> {
    let u = Url::parse(v).map_err(|e| ScormError::Settings {
        integration: integration.to_owned(),
        name,
        problem: format!("{v:?}: {e}"),
    })?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(ScormError::Settings {
            integration: integration.to_owned(),
            name,
            problem: "must be an http(s) URL".into(),
        });
    }
    Ok(u)
}

impl Settings {
    /// Reads the settings of a `scorm-cloud` integration; `env` looks up the
    /// secret by the name in `secret_env`.
    pub fn from_integration(
        i: &Integration,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ScormError> {
        Self::read(i, Some(env))
    }

    /// Checks the settings of a `scorm-cloud` integration as
    /// [`Settings::from_integration`] reads them, every one but the secret
    /// itself: `secret_env` or `secret_file` must be named, but the variable
    /// is not looked up nor the file read (an operator's shell need not hold
    /// the secret the ingest server reads).
    pub fn check(i: &Integration) -> Result<(), ScormError> {
        Self::read(i, None).map(|_| ())
    }

    /// `env`: `None` to leave the secret unread (empty).
    fn read(i: &Integration, env: Option<&SecretLookup<'_>>) -> Result<Self, ScormError> {
        if i.provider != "scorm-cloud" {
            return Err(ScormError::NotScorm(i.id.clone()));
        }
        let get = |name: &'static str| {
            i.settings
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let need = |name: &'static str| {
            get(name).ok_or_else(|| ScormError::Settings {
                integration: i.id.clone(),
                name,
                problem: "missing".into(),
            })
        };
        let secret = match (get("secret_env"), get("secret_file"), env) {
            (Some(_), _, None) | (None, Some(_), None) => String::new(),
            (Some(name), _, Some(env)) => {
                env(name)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ScormError::Settings {
                        integration: i.id.clone(),
                        name: "secret_env",
                        problem: format!("environment variable {name} is not set"),
                    })?
            }
            (None, Some(path), Some(_)) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ScormError::Settings {
                    integration: i.id.clone(),
                    name: "secret_file",
                    problem: format!("{path}: not readable or empty"),
                })?,
            (None, None, _) => {
                return Err(ScormError::Settings {
                    integration: i.id.clone(),
                    name: "secret_env",
                    problem: "missing (or secret_file)".into(),
                });
            }
        };
        let creation = match get("registrations").unwrap_or("at-launch") {
            "at-launch" => Creation::AtLaunch,
            "at-assignment" => Creation::AtAssignment,
            other => {
                return Err(ScormError::Settings {
                    integration: i.id.clone(),
                    name: "registrations",
                    problem: format!("{other:?}: must be at-launch or at-assignment"),
                });
            }
        };
        let postback_auth = match get("postback_auth").unwrap_or("form") {
            "form" => AuthType::Form,
            "httpbasic" => AuthType::HttpBasic,
            other => {
                return Err(ScormError::Settings {
                    integration: i.id.clone(),
                    name: "postback_auth",
                    problem: format!("{other:?}: must be form or httpbasic"),
                });
            }
        };
        let results_format = match get("results_format").unwrap_or("course") {
            "course" => ResultsFormat::Course,
            "activity" => ResultsFormat::Activity,
            "full" => ResultsFormat::Full,
            other => {
                return Err(ScormError::Settings {
                    integration: i.id.clone(),
                    name: "results_format",
                    problem: format!("{other:?}: must be course, activity or full"),
                });
            }
        };
        let api_version = match get("api_version").unwrap_or("v1") {
            "v1" => ApiVersion::V1,
            "v2" => ApiVersion::V2,
            other => {
                return Err(ScormError::Settings {
                    integration: i.id.clone(),
                    name: "api_version",
                    problem: format!("{other:?}: must be v1 or v2"),
                });
            }
        };
        let default_base = match api_version {
            ApiVersion::V1 => "https://cloud.scorm.com/api",
            ApiVersion::V2 => "https://cloud.scorm.com/api/v2/",
        };
        let public_url = http_url(&i.id, "public_url", need("public_url")?)?;
        Ok(Self {
            integration_id: i.id.clone(),
            api_version,
            base_url: http_url(&i.id, "base_url", get("base_url").unwrap_or(default_base))?,
            app_id: need("app_id")?.to_owned(),
            secret,
            public_url,
            creation,
            postback_auth,
            results_format,
            return_url: get("return_url")
                .map(|u| http_url(&i.id, "return_url", u))
                .transpose()?,
            origin: get("origin").map(str::to_owned),
        })
    }

    /// Where SCORM Cloud posts registration results.
    pub fn postback_url(&self) -> String {
        format!(
            "{}/scorm/postback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// The API V2 client (HTTP Basic with the application id and secret).
    pub fn client_v2(&self) -> scorm_cloud_client::v2::ClientV2 {
        scorm_cloud_client::v2::ClientV2::new(self.base_url.clone(), &self.app_id, &self.secret)
    }

    pub fn client(&self) -> scorm_cloud_client::Client {
        let mut c =
            scorm_cloud_client::Client::new(self.base_url.clone(), &self.app_id, &self.secret);
        c.origin.clone_from(&self.origin);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration(settings: serde_json::Value) -> Integration {
        Integration {
            id: "scorm".into(),
            provider: "scorm-cloud".into(),
            lms_group: "g".into(),
            connector_author: "a".into(),
            settings,
            active: true,
            created_ms: 0,
            updated_ms: 0,
            deactivated_ms: None,
        }
    }

    #[test]
    fn check_reads_everything_but_the_secret() {
        let ok = serde_json::json!({"app_id": "A", "public_url": "https://cb.example",
            "secret_env": "NOT_SET_ANYWHERE_1234", "registrations": "at-assignment"});
        Settings::check(&integration(ok.clone())).expect("the variable is not looked up");
        assert!(Settings::from_integration(&integration(ok), &|_| None).is_err());
        let file = serde_json::json!({"app_id": "A", "public_url": "https://cb.example",
            "secret_file": "/nonexistent/secret"});
        Settings::check(&integration(file)).expect("the file is not read");
        for (settings, name) in [
            (
                serde_json::json!({"app_id": "A", "public_url": "https://cb.example"}),
                "secret_env",
            ),
            (
                serde_json::json!({"app_id": "A", "public_url": "https://cb.example",
                    "secret_env": "S", "registrations": "sometimes"}),
                "registrations",
            ),
            (
                serde_json::json!({"app_id": "A", "public_url": "https://cb.example",
                    "secret_env": "S", "base_url": "not a url"}),
                "base_url",
            ),
        ] {
            match Settings::check(&integration(settings)) {
                Err(ScormError::Settings { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {:?}", other.map(|()| "ok")),
            }
        }
    }
}
