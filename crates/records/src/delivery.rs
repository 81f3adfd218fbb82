//! The records the LMS receives — a course, a learner's statistics — as JSON,
//! and the outbox events that carry them, appended in the caller's
//! transaction (docs/EVENTS.md).

use lms_delivery::{EventType, rfc3339_ms};
use serde_json::{Map, Value, json};
use stats_rules::{Attempt, OverrideRecord};
use store::{Conn, CourseRecord, NewEvent, StatsRow, Tx};

use crate::RecordError;

fn time(ms: Option<i64>) -> Value {
    ms.and_then(rfc3339_ms).map_or(Value::Null, Value::String)
}

/// A course record as the catalog API and the `course.*` events show it:
/// every field of seed 000's mapping, with where it comes from and when it
/// changed.
pub fn course_json(r: &CourseRecord) -> Value {
    let c = &r.course;
    let f = &c.fields;
    json!({
        "integration": c.integration_id,
        "provider": r.provider,
        "lms_group": r.lms_group,
        "external_id": c.external_id,
        "kind": c.kind,
        "name": f.name,
        "description": f.description,
        "image": f.image_url,
        "duration_minutes": f.duration_minutes,
        "author": f.author,
        "lang": f.lang,
        "launch_url": f.launch_url,
        "modified_at": f.modified_at,
        "subjects": f.subjects,
        "archived": c.archived,
        "content_type": f.content_type,
        "activity_ids": r.activity_ids,
        "scorm_course_id": r.scorm_course_id,
        "created_at": time(Some(c.first_seen_ms)),
        "updated_at": time(Some(r.updated_ms)),
        "archived_at": time(r.archived_ms),
    })
}

/// A learner's statistics without the course and learner identifiers (the
/// API and the feed add those): the row's columns, and from the folded state
/// the attempts, whether the learner launched from the LMS and the override
/// in force. Serialized directly (the statement path writes one per touched
/// statistic).
#[derive(Debug, serde::Serialize)]
pub struct StatisticData<'a> {
    pub integration: &'a str,
    pub progress: f64,
    pub completed: bool,
    pub result: Option<&'a str>,
    pub score: Option<f64>,
    pub time_spent_ms: Option<i64>,
    pub first_activity_at: Option<String>,
    pub last_activity_at: Option<String>,
    pub completed_at: Option<String>,
    pub attempts: &'a [Attempt],
    pub launched_from_lms: bool,
    pub overridden: Option<&'a OverrideRecord>,
    pub updated_at: Option<String>,
}

impl<'a> StatisticData<'a> {
    pub fn new(
        row: &'a StatsRow,
        attempts: &'a [Attempt],
        launched_from_lms: bool,
        overridden: Option<&'a OverrideRecord>,
    ) -> Self {
        StatisticData {
            integration: &row.integration_id,
            progress: row.progress,
            completed: row.completed,
            result: row.result.as_deref(),
            score: row.score,
            time_spent_ms: row.time_spent_ms,
            first_activity_at: row.first_activity_ms.and_then(rfc3339_ms),
            last_activity_at: row.last_activity_ms.and_then(rfc3339_ms),
            completed_at: row.completed_at_ms.and_then(rfc3339_ms),
            attempts,
            launched_from_lms,
            overridden,
            updated_at: rfc3339_ms(row.updated_ms),
        }
    }
}

/// A statistic's event data (`StatisticData`) as a JSON object (the statistics API adds the
/// identifiers to it).
pub fn statistic_fields(
    row: &StatsRow,
    attempts: &[Attempt],
    launched_from_lms: bool,
    overridden: Option<&OverrideRecord>,
) -> Result<Map<String, Value>, RecordError> {
    match serde_json::to_value(StatisticData::new(
        row,
        attempts,
        launched_from_lms,
        overridden,
    )) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(RecordError::Corrupt(
            "statistics as JSON: not an object".into(),
        )),
        Err(e) => Err(RecordError::Corrupt(format!("statistics as JSON: {e}"))),
    }
}

/// The `statistic.updated` event of a statistics row just written.
pub(crate) fn statistic_event(
    row: &StatsRow,
    stats: &stats_rules::LearnerStats,
) -> Result<NewEvent, RecordError> {
    let data = serde_json::to_string(&StatisticData::new(
        row,
        &stats.attempts,
        stats.launched_from_lms,
        stats.overridden.as_ref(),
    ))
    .map_err(|e| RecordError::Corrupt(format!("statistics as JSON: {e}")))?;
    Ok(NewEvent {
        event_type: EventType::StatisticUpdated.as_str(),
        integration_id: row.integration_id.clone(),
        course_id: Some(row.course_id),
        learner_id: Some(row.learner_id),
        data,
        at_ms: row.updated_ms,
    })
}

/// One change to a course record, for [`append_course_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseChange {
    pub course_id: i64,
    pub event: EventType,
    /// The fields that changed (`course.updated`, `course.reactivated`).
    pub changed_fields: Vec<String>,
}

impl CourseChange {
    pub fn new(course_id: i64, event: EventType) -> Self {
        CourseChange {
            course_id,
            event,
            changed_fields: Vec::new(),
        }
    }
}

/// Appends the `course.*` events of these changes, each carrying the
/// course's whole record as it is now in this transaction.
pub async fn append_course_events<C: Conn>(
    tx: &mut Tx<'_, C>,
    changes: &[CourseChange],
    now_ms: i64,
) -> Result<(), RecordError> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = changes.iter().map(|c| c.course_id).collect();
    let records: std::collections::HashMap<i64, CourseRecord> = tx
        .course_records(&ids)
        .await?
        .into_iter()
        .map(|r| (r.course.id, r))
        .collect();
    let mut events = Vec::with_capacity(changes.len());
    for change in changes {
        let record = records.get(&change.course_id).ok_or_else(|| {
            RecordError::Corrupt(format!(
                "course {} changed but is not stored",
                change.course_id
            ))
        })?;
        let mut data = course_json(record);
        if matches!(
            change.event,
            EventType::CourseUpdated | EventType::CourseReactivated
        ) && let Value::Object(map) = &mut data
        {
            map.insert("changed_fields".into(), json!(change.changed_fields));
        }
        events.push(NewEvent {
            event_type: change.event.as_str(),
            integration_id: record.course.integration_id.clone(),
            course_id: Some(change.course_id),
            learner_id: None,
            data: data.to_string(),
            at_ms: now_ms,
        });
    }
    tx.append_events(&events).await?;
    Ok(())
}
