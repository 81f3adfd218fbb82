//! Activating, deactivating and re-activating an integration (seed 000:
//! re-activate in the same group, or duplicates appear; deactivation archives
//! every course and keeps every statistic).

use lms_delivery::EventType;
use store::{Integration, Store};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("integration {0} is already active")]
    AlreadyActive(String),
    #[error(
        "integration {id} was activated in group {previous}; re-activating it in group {requested} is refused (it would look like new courses to learners). Use --force to move it"
    )]
    OtherGroup {
        id: String,
        previous: String,
        requested: String,
    },
    #[error("integration {0} does not exist")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Record(#[from] records::RecordError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activated {
    Created,
    Reactivated,
}

pub struct Activation {
    pub id: String,
    pub provider: String,
    pub group: String,
    pub author: String,
    pub settings: serde_json::Value,
    pub force: bool,
}

/// Required settings that are missing, as `activate` (and `configure`)
/// refuse them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("settings missing for {provider}: {} ({alternative})", missing.join(", "))]
pub struct MissingSettings {
    pub provider: String,
    pub missing: Vec<&'static str>,
    /// What would do instead: `or secret_file`, `or catalog_file`.
    pub alternative: &'static str,
}

/// The settings a provider requires are present: SCORM Cloud's secret
/// (`secret_env` or `secret_file`), then each of [`crate::config::required`]
/// unless `catalog_file` replaces them.
pub fn check_required(provider: &str, settings: &serde_json::Value) -> Result<(), MissingSettings> {
    if provider == "scorm-cloud"
        && settings.get("secret_env").is_none()
        && settings.get("secret_file").is_none()
    {
        return Err(MissingSettings {
            provider: provider.to_owned(),
            missing: vec!["secret_env"],
            alternative: "or secret_file",
        });
    }
    if settings.get("catalog_file").is_none() {
        let missing: Vec<&'static str> = crate::config::required(provider)
            .iter()
            .copied()
            .filter(|k| settings.get(*k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(MissingSettings {
                provider: provider.to_owned(),
                missing,
                alternative: "or catalog_file",
            });
        }
    }
    Ok(())
}

/// `--setting KEY=VALUE` pairs, in order. Values of `rules.*` and
/// `page_size` that are numbers become JSON numbers (whole numbers as
/// integers), `true`/`false` of `rules.*` booleans; every other value is a
/// string.
pub fn parse_pairs(pairs: &[String]) -> Result<Vec<(String, serde_json::Value)>, LifecycleError> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                LifecycleError::Invalid(format!("--setting {p:?}: expected KEY=VALUE"))
            })?;
            if k.is_empty() || k == "rules." {
                return Err(LifecycleError::Invalid(format!(
                    "--setting {p:?}: the key is empty"
                )));
            }
            let typed = k.starts_with("rules.") || k == "page_size";
            let value = if !typed {
                serde_json::Value::String(v.to_owned())
            } else if let Ok(n) = v.parse::<i64>() {
                serde_json::json!(n)
            } else if let Some(n) = v.parse::<f64>().ok().filter(|n| n.is_finite()) {
                serde_json::json!(n)
            } else if k.starts_with("rules.") && (v == "true" || v == "false") {
                serde_json::Value::Bool(v == "true")
            } else {
                serde_json::Value::String(v.to_owned())
            };
            Ok((k.to_owned(), value))
        })
        .collect()
}

/// Sets one setting (`rules.X`: the key X of the `rules` object).
pub fn put_setting(
    settings: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    value: serde_json::Value,
) {
    match key.strip_prefix("rules.") {
        Some(r) => {
            let rules = settings
                .entry("rules")
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !rules.is_object() {
                *rules = serde_json::Value::Object(serde_json::Map::new());
            }
            if let Some(rules) = rules.as_object_mut() {
                rules.insert(r.to_owned(), value);
            }
        }
        None => {
            settings.insert(key.to_owned(), value);
        }
    }
}

/// Removes one setting (`rules.X` from the `rules` object, and the object
/// once empty); false when it was not there.
pub fn remove_setting(
    settings: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> bool {
    let Some(r) = key.strip_prefix("rules.") else {
        return settings.remove(key).is_some();
    };
    let Some(rules) = settings.get_mut("rules").and_then(|v| v.as_object_mut()) else {
        return false;
    };
    let removed = rules.remove(r).is_some();
    if rules.is_empty() {
        settings.remove("rules");
    }
    removed
}

/// The settings object of `--setting KEY=VALUE` pairs (see [`parse_pairs`]).
pub fn parse_settings(pairs: &[String]) -> Result<serde_json::Value, LifecycleError> {
    let mut m = serde_json::Map::new();
    for (k, v) in parse_pairs(pairs)? {
        put_setting(&mut m, &k, v);
    }
    Ok(serde_json::Value::Object(m))
}

pub async fn activate(
    store: &Store,
    a: &Activation,
    now_ms: i64,
) -> Result<Activated, LifecycleError> {
    if records::provider_of(&a.provider).is_none() || a.provider == "generic" {
        return Err(LifecycleError::Invalid(format!(
            "provider {:?}: must be opensesame, udemy-business or scorm-cloud",
            a.provider
        )));
    }
    check_required(&a.provider, &a.settings).map_err(|m| LifecycleError::Invalid(m.to_string()))?;
    let mut tx = store.begin().await?;
    let result = match tx.integration(&a.id).await? {
        None => {
            tx.insert_integration(&Integration {
                id: a.id.clone(),
                provider: a.provider.clone(),
                lms_group: a.group.clone(),
                connector_author: a.author.clone(),
                settings: a.settings.clone(),
                active: true,
                created_ms: now_ms,
                updated_ms: now_ms,
                deactivated_ms: None,
            })
            .await?;
            Activated::Created
        }
        Some(i) if i.active => return Err(LifecycleError::AlreadyActive(a.id.clone())),
        Some(i) if i.lms_group != a.group && !a.force => {
            return Err(LifecycleError::OtherGroup {
                id: a.id.clone(),
                previous: i.lms_group,
                requested: a.group.clone(),
            });
        }
        Some(i) => {
            // Every course record carries its integration's provider and
            // group: a change to them is a change to each record.
            let mut changed_fields = Vec::new();
            if i.provider != a.provider {
                changed_fields.push("provider".to_owned());
            }
            if i.lms_group != a.group {
                changed_fields.push("lms_group".to_owned());
            }
            tx.update_integration(&Integration {
                provider: a.provider.clone(),
                lms_group: a.group.clone(),
                connector_author: a.author.clone(),
                settings: a.settings.clone(),
                updated_ms: now_ms,
                ..i
            })
            .await?;
            tx.set_integration_active(&a.id, true, now_ms).await?;
            // The same course records come back with the next sync: their rows
            // were kept, archived, and are matched by external id. SCORM Cloud
            // courses have no catalog sync: the imported ones return now.
            let mut changes: Vec<records::CourseChange> = Vec::new();
            if a.provider == "scorm-cloud" {
                let back = tx.unarchive_scorm_courses(&a.id, now_ms).await?;
                changes.extend(back.into_iter().map(|id| records::CourseChange {
                    course_id: id,
                    event: EventType::CourseReactivated,
                    changed_fields: changed_fields.clone(),
                }));
            }
            if !changed_fields.is_empty() {
                for id in tx.touch_courses(&a.id, now_ms).await? {
                    if !changes.iter().any(|c| c.course_id == id) {
                        changes.push(records::CourseChange {
                            course_id: id,
                            event: EventType::CourseUpdated,
                            changed_fields: changed_fields.clone(),
                        });
                    }
                }
            }
            records::append_course_events(&mut tx, &changes, now_ms).await?;
            Activated::Reactivated
        }
    };
    tx.commit().await?;
    Ok(result)
}

/// Stops syncing and archives every course; statistics are kept. Returns how
/// many courses were archived.
pub async fn deactivate(store: &Store, id: &str, now_ms: i64) -> Result<u64, LifecycleError> {
    let mut tx = store.begin().await?;
    if !tx.set_integration_active(id, false, now_ms).await? {
        return Err(LifecycleError::Unknown(id.to_owned()));
    }
    let archived = tx.archive_all_courses(id, now_ms).await?;
    let changes: Vec<records::CourseChange> = archived
        .iter()
        .map(|id| records::CourseChange::new(*id, EventType::CourseArchived))
        .collect();
    records::append_course_events(&mut tx, &changes, now_ms).await?;
    tx.commit().await?;
    Ok(archived.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Whole numbers stay whole (a run reads `page_size` and
    /// `rules.policy_year` as integers), `rules.*` booleans are booleans:
    /// the parsed settings are read back by the run's parsers.
    #[test]
    fn settings_are_typed_as_their_readers_expect() {
        let s = parse_settings(&pairs(&[
            "page_size=12",
            "rules.policy_year=2024",
            "rules.launch_progress=37.5",
            "rules.ignore_www=false",
            "client_id=007",
        ]))
        .expect("parse");
        assert_eq!(s["page_size"].as_u64(), Some(12));
        assert_eq!(s["rules"]["ignore_www"], serde_json::json!(false));
        assert_eq!(s["client_id"], "007", "other values stay strings");
        let rules = records::IntegrationRules::from_settings("it", "udemy-business", &s)
            .expect("the rules parse");
        assert!(!rules.activity_ids.ignore_www);
        assert_eq!(rules.stats.provider.launch_progress, Some(37.5));
        assert!(parse_settings(&pairs(&["no-equals"])).is_err());
        assert!(parse_settings(&pairs(&["=x"])).is_err());
        let mut m = s.as_object().cloned().expect("object");
        assert!(remove_setting(&mut m, "rules.policy_year"));
        assert!(remove_setting(&mut m, "rules.launch_progress"));
        assert!(remove_setting(&mut m, "rules.ignore_www"));
        assert!(m.get("rules").is_none(), "an emptied rules object goes");
        assert!(!remove_setting(&mut m, "rules.ignore_www"));
    }
}
