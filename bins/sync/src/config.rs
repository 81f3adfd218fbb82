//! Integration settings → a catalog source. Provider secrets are never stored:
//! settings name the environment variable that holds them.

use std::time::Duration;

use serde_json::Value;
use store::Integration;
use url::Url;

use crate::providers::{Kind, OpenSesame, Source, Udemy};
use crate::retry::RetryPolicy;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("integration {integration}: setting {name}: {problem}")]
    Setting {
        integration: String,
        name: &'static str,
        problem: String,
    },
    #[error("integration {0}: provider must be opensesame or udemy-business")]
    Provider(String),
}

/// The settings each provider needs (besides `catalog_file`, which replaces them all).
pub fn required(provider: &str) -> &'static [&'static str] {
    match provider {
        "opensesame" => &[
            "base_url",
            "token_url",
            "customer_integration_id",
            "client_id",
            "client_secret_env",
        ],
        "udemy-business" => &["base_url", "org_id", "client_id", "client_secret_env"],
        "scorm-cloud" => scorm_flows::settings::REQUIRED,
        _ => &[],
    }
}

/// Every setting a provider's integration reads (besides `rules`).
pub fn known(provider: &str) -> &'static [&'static str] {
    match provider {
        "opensesame" => &[
            "base_url",
            "token_url",
            "customer_integration_id",
            "client_id",
            "client_secret_env",
            "catalog_file",
        ],
        "udemy-business" => &[
            "base_url",
            "org_id",
            "client_id",
            "client_secret_env",
            "page_size",
            "catalog_file",
        ],
        "scorm-cloud" => scorm_flows::settings::KNOWN,
        _ => &[],
    }
}

fn setting<'a>(i: &'a Integration, name: &'static str) -> Result<&'a str, SettingsError> {
    i.settings
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SettingsError::Setting {
            integration: i.id.clone(),
            name,
            problem: "missing".into(),
        })
}

fn url(i: &Integration, name: &'static str) -> Result<Url, SettingsError> {
    let raw = setting(i, name)?;
    let mut u = Url::parse(raw).map_err(|e| SettingsError::Setting {
        integration: i.id.clone(),
        name,
        problem: format!("{raw:?}: must be an http(s) URL ({e})"),
    })?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(SettingsError::Setting {
            integration: i.id.clone(),
            name,
            problem: "must be an http(s) URL".into(),
        });
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

fn secret(i: &Integration, env: &dyn Fn(&str) -> Option<String>) -> Result<String, SettingsError> {
    let var = setting(i, "client_secret_env")?;
    env(var).ok_or_else(|| SettingsError::Setting {
        integration: i.id.clone(),
        name: "client_secret_env",
        problem: format!("environment variable {var} is not set"),
    })
}

/// Checks an integration's settings as a run reads them ([`source_with`]),
/// without reading the secret: `client_secret_env` must name a variable, but
/// the variable need not be set here (the run's environment holds it). Also
/// refuses a `page_size` that a run would ignore (not a whole number above 0).
pub fn check(i: &Integration) -> Result<(), SettingsError> {
    source_with(i, RetryPolicy::default(), &|_| Some(String::new()))?;
    match i.settings.get("page_size") {
        None => Ok(()),
        Some(v)
            if v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .is_some_and(|n| n > 0) =>
        {
            Ok(())
        }
        Some(v) => Err(SettingsError::Setting {
            integration: i.id.clone(),
            name: "page_size",
            problem: format!("{v}: must be a whole number above 0"),
        }),
    }
}

/// The source of an integration, reading secrets from the process environment.
pub fn source(i: &Integration, policy: RetryPolicy) -> Result<Source, SettingsError> {
    source_with(i, policy, &|name| std::env::var(name).ok())
}

/// The source of an integration, reading secrets through `env`.
pub fn source_with(
    i: &Integration,
    policy: RetryPolicy,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Source, SettingsError> {
    let kind = match i.provider.as_str() {
        "opensesame" => Kind::OpenSesame,
        "udemy-business" => Kind::Udemy,
        _ => return Err(SettingsError::Provider(i.id.clone())),
    };
    if let Some(path) = i.settings.get("catalog_file").and_then(Value::as_str) {
        return Ok(Source::File {
            kind,
            path: path.to_owned(),
            done: false,
        });
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("coursebridge-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SettingsError::Setting {
            integration: i.id.clone(),
            name: "base_url",
            problem: e.to_string(),
        })?;
    Ok(match kind {
        Kind::OpenSesame => Source::OpenSesame(OpenSesame {
            client,
            policy,
            base_url: url(i, "base_url")?,
            token_url: {
                let raw = setting(i, "token_url")?;
                Url::parse(raw).map_err(|e| SettingsError::Setting {
                    integration: i.id.clone(),
                    name: "token_url",
                    problem: format!("{raw:?}: must be a URL ({e})"),
                })?
            },
            customer_integration_id: setting(i, "customer_integration_id")?.to_owned(),
            client_id: setting(i, "client_id")?.to_owned(),
            client_secret: secret(i, env)?,
            token: None,
            next: None,
            page: 0,
        }),
        Kind::Udemy => Source::Udemy(Udemy {
            client,
            policy,
            base_url: url(i, "base_url")?,
            org_id: setting(i, "org_id")?.to_owned(),
            client_id: setting(i, "client_id")?.to_owned(),
            client_secret: secret(i, env)?,
            page_size: i
                .settings
                .get("page_size")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(100),
            next: None,
            page: 0,
        }),
    })
}
