//! `coursebridge-sync configure`: changing an integration's settings in place
//! (issue 29). Rotating a client id or the name of a secret's variable,
//! moving `base_url`, changing SCORM Cloud's `public_url` or `registrations`
//! archive nothing and touch no course: the new settings are read by the next
//! run (catalog providers) or the next request (SCORM Cloud, the ingest
//! server). The settings are checked as `activate` checks them, then by the
//! parser that reads them at run time; a refused change writes nothing. The
//! change is recorded — who, when, which keys — never the values.

use serde_json::{Map, Value};
use store::{Integration, NewSettingChange, SettingChange, Store};

use crate::lifecycle::{self, LifecycleError};

/// What an operator asks for.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub id: String,
    /// `KEY=VALUE`, as `activate --setting` takes them.
    pub set: Vec<String>,
    /// Keys to remove (`rules.X` for a key of `rules`).
    pub unset: Vec<String>,
    /// Who changes them; the integration's connector author by default.
    pub author: Option<String>,
}

/// What was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    pub provider: String,
    pub active: bool,
    pub author: String,
    pub keys_set: Vec<String>,
    pub keys_unset: Vec<String>,
    /// Remarks for the operator (a secret's variable not set here).
    pub notes: Vec<String>,
}

/// Keys that are not settings: they belong to the integration itself, and
/// `activate` changes them (a group change touches every course record).
const NOT_SETTINGS: &[&str] = &[
    "provider",
    "lms_group",
    "group",
    "connector_author",
    "author",
    "active",
    "id",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("integration {0} does not exist")]
    Unknown(String),
    #[error("nothing to change: give --setting KEY=VALUE or --unset KEY")]
    Nothing,
    #[error(
        "{key} is not a setting: an integration's provider, group and author change with `deactivate` then `activate` (--force for another group)"
    )]
    NotASetting { key: String },
    #[error("integration {id}: setting {key}: unknown for {provider} (its settings: {known})")]
    UnknownKey {
        id: String,
        provider: String,
        key: String,
        known: String,
    },
    #[error("setting {key}: both set and unset")]
    SetAndUnset { key: String },
    #[error("integration {id}: --unset {key}: the integration has no such setting")]
    NotSet { id: String, key: String },
    #[error("integration {id}: --unset {key}: {key} is required ({missing})")]
    Required {
        id: String,
        key: String,
        missing: lifecycle::MissingSettings,
    },
    #[error("integration {id}: {missing}")]
    Missing {
        id: String,
        missing: lifecycle::MissingSettings,
    },
    #[error("integration {id}: setting {key}: {detail}")]
    Rule {
        id: String,
        key: String,
        detail: String,
    },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Catalog(#[from] crate::config::SettingsError),
    #[error(transparent)]
    Scorm(#[from] scorm_flows::ScormError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl ConfigureError {
    /// The exit code: 1 when the database failed, 2 for everything the
    /// operator can correct.
    pub fn exit_code(&self) -> u8 {
        match self {
            ConfigureError::Store(_) => 1,
            _ => 2,
        }
    }
}

impl From<LifecycleError> for ConfigureError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Store(s) => ConfigureError::Store(s),
            other => ConfigureError::Usage(other.to_string()),
        }
    }
}

/// Every key once, in the order first given.
fn dedup(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// Whether `key` is one of the provider's settings (`rules.X`: one of the rules).
fn known_key(provider: &str, key: &str) -> bool {
    match key.strip_prefix("rules.") {
        Some(r) => records::RULE_SETTINGS.contains(&r),
        None => crate::config::known(provider).contains(&key),
    }
}

fn known_list(provider: &str) -> String {
    crate::config::known(provider)
        .iter()
        .map(|k| (*k).to_owned())
        .chain(records::RULE_SETTINGS.iter().map(|r| format!("rules.{r}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings after the change, checked; the integration is not written.
pub fn apply(
    i: &Integration,
    set: &[(String, Value)],
    unset: &[String],
) -> Result<Value, ConfigureError> {
    for key in set.iter().map(|(k, _)| k).chain(unset) {
        if NOT_SETTINGS.contains(&key.as_str()) {
            return Err(ConfigureError::NotASetting { key: key.clone() });
        }
    }
    if let Some(key) = unset.iter().find(|k| set.iter().any(|(s, _)| s == *k)) {
        return Err(ConfigureError::SetAndUnset { key: key.clone() });
    }
    // Keys given are the provider's; keys removed may be anything stored
    // (an old or misspelt key is cleaned up that way).
    if let Some((key, _)) = set.iter().find(|(k, _)| !known_key(&i.provider, k)) {
        return Err(ConfigureError::UnknownKey {
            id: i.id.clone(),
            provider: i.provider.clone(),
            key: key.clone(),
            known: known_list(&i.provider),
        });
    }
    let mut settings: Map<String, Value> = i.settings.as_object().cloned().unwrap_or_default();
    for (k, v) in set {
        lifecycle::put_setting(&mut settings, k, v.clone());
    }
    for k in unset {
        if !lifecycle::remove_setting(&mut settings, k) {
            return Err(ConfigureError::NotSet {
                id: i.id.clone(),
                key: k.clone(),
            });
        }
    }
    let settings = Value::Object(settings);
    // As `activate` checks them…
    if let Err(missing) = lifecycle::check_required(&i.provider, &settings) {
        let removed = unset.iter().find(|k| {
            missing.missing.contains(&k.as_str())
                || (k.as_str() == "secret_file" && missing.alternative == "or secret_file")
                || (k.as_str() == "catalog_file" && missing.alternative == "or catalog_file")
        });
        return Err(match removed {
            Some(key) => ConfigureError::Required {
                id: i.id.clone(),
                key: key.clone(),
                missing,
            },
            None => ConfigureError::Missing {
                id: i.id.clone(),
                missing,
            },
        });
    }
    // …then as they are read: each rule given on its own (so that the error
    // names it), then all of them…
    for (k, v) in set {
        if let Some(r) = k.strip_prefix("rules.") {
            let alone = serde_json::json!({ "rules": { r: v } });
            records::IntegrationRules::from_settings(&i.id, &i.provider, &alone).map_err(|e| {
                ConfigureError::Rule {
                    id: i.id.clone(),
                    key: k.clone(),
                    // The detail starts with the name of the rule: said once.
                    detail: match e {
                        records::RulesError::Settings { detail, .. } => detail
                            .strip_prefix(&format!("{k}: "))
                            .or_else(|| detail.strip_prefix("rules: "))
                            .map_or_else(|| detail.clone(), str::to_owned),
                        other => other.to_string(),
                    },
                }
            })?;
        }
    }
    let candidate = Integration {
        settings: settings.clone(),
        ..i.clone()
    };
    records::rules_for(&candidate).map_err(|e| ConfigureError::Rule {
        id: i.id.clone(),
        key: "rules".into(),
        detail: match e {
            records::RulesError::Settings { detail, .. } => detail,
            other => other.to_string(),
        },
    })?;
    // …and by the provider's parser (without the secret's value).
    match i.provider.as_str() {
        "scorm-cloud" => scorm_flows::Settings::check(&candidate)?,
        _ => crate::config::check(&candidate)?,
    }
    Ok(settings)
}

/// Changes the settings of integration `c.id` (active or not) and records
/// the change, in one transaction; nothing else of the integration changes.
pub async fn configure(
    store: &Store,
    c: &Configuration,
    now_ms: i64,
) -> Result<Configured, ConfigureError> {
    if c.set.is_empty() && c.unset.is_empty() {
        return Err(ConfigureError::Nothing);
    }
    let set = lifecycle::parse_pairs(&c.set)?;
    let keys_set = dedup(set.iter().map(|(k, _)| k.clone()));
    let keys_unset = dedup(c.unset.iter().cloned());
    let mut tx = store.begin().await?;
    let i = tx
        .integration(&c.id)
        .await?
        .ok_or_else(|| ConfigureError::Unknown(c.id.clone()))?;
    let settings = apply(&i, &set, &keys_unset)?;
    let author = c
        .author
        .clone()
        .filter(|a| !a.trim().is_empty())
        .or_else(|| Some(i.connector_author.clone()).filter(|a| !a.trim().is_empty()))
        .unwrap_or_else(|| "cli".to_owned());
    let changed = tx
        .change_integration_settings(
            &i.id,
            &settings,
            &NewSettingChange {
                changed_ms: now_ms,
                author: &author,
                keys_set: &keys_set,
                keys_unset: &keys_unset,
            },
        )
        .await?;
    if !changed {
        return Err(ConfigureError::Unknown(c.id.clone()));
    }
    tx.commit().await?;
    let notes = ["client_secret_env", "secret_env"]
        .into_iter()
        .filter(|k| keys_set.iter().any(|s| s == k))
        .filter_map(|k| settings.get(k).and_then(Value::as_str))
        .filter(|var| std::env::var_os(var).is_none())
        .map(|var| {
            format!(
                "environment variable {var} is not set here: the process that reads the secret needs it"
            )
        })
        .collect();
    Ok(Configured {
        provider: i.provider,
        active: i.active,
        author,
        keys_set,
        keys_unset,
        notes,
    })
}

/// The recorded changes to an integration's settings, oldest first.
pub async fn history(store: &Store, id: &str) -> Result<Vec<SettingChange>, ConfigureError> {
    let mut tx = store.read().await?;
    if tx.integration(id).await?.is_none() {
        return Err(ConfigureError::Unknown(id.to_owned()));
    }
    Ok(tx.setting_changes(id).await?)
}
