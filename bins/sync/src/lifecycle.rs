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
    if a.provider == "scorm-cloud"
        && a.settings.get("secret_env").is_none()
        && a.settings.get("secret_file").is_none()
    {
        return Err(LifecycleError::Invalid(
            "settings missing for scorm-cloud: secret_env (or secret_file)".into(),
        ));
    }
    if a.settings.get("catalog_file").is_none() {
        let missing: Vec<&str> = crate::config::required(&a.provider)
            .iter()
            .copied()
            .filter(|k| a.settings.get(*k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(LifecycleError::Invalid(format!(
                "settings missing for {}: {} (or catalog_file)",
                a.provider,
                missing.join(", ")
            )));
        }
    }
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
