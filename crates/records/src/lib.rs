//! `records`: what happens to a learning record between "received" and
//! "statistics updated", shared by both binaries.
//!
//! - [`record_statements`]: store a batch of prepared statements in the caller's
//!   transaction — retries accepted, conflicts refused, voiding applied — match
//!   each to a course (by the integration's activity-id rules) and a learner (by
//!   identity key), park what does not match, and refold the statistics of every
//!   learner/course touched.
//! - [`record_event`]: a launch, a SCORM result or an override, then refold.
//! - [`apply_pending`]: retry parked statements after a sync or a new mapping.
//! - [`replay`]: rebuild every statistic from the log (after a policy change).
//!
//! The statement log and the learning events are the source of truth; the
//! statistics rows are derived and rebuilt by [`refold`].

use std::collections::BTreeMap;

// Per-group maps and the writer's caches hash with foldhash (seeded at random
// per process, as std's are): SipHash was 3–5 % of the group writer's work.
use foldhash::HashMap;

use stats_rules::{Event, EventKind, LearnerState, LearnerStats, TargetKind, fold};
use store::{
    AttemptRow, CourseFields, LearningEventRow, NewStatement, PendingRow, StatsRow, Store,
    StoreError, Tx,
};
use time::OffsetDateTime;
use uuid::Uuid;
use xapi_model::{Actor, LearnerKey, Statement};

mod rules;

pub use rules::{IntegrationRules, RulesError, provider_of};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("statement {id}: a different statement is already stored under this id")]
    Conflict { id: Uuid },
    #[error("statement {id}: the batch holds two different statements with this id")]
    BatchConflict { id: Uuid },
    #[error("statement {id}: voids {target}, which is itself a voiding statement")]
    VoidsVoiding { id: Uuid, target: Uuid },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A validated statement completed by the receiving side (id, stored,
/// authority, version, timestamp), with the JSON it arrived as and its
/// normalized form (computed here, by the request, not by the writer).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub statement: Statement,
    pub raw: String,
    pub canonical: String,
    /// The raw data of its attachments that came with it (multipart/mixed),
    /// stored in the same transaction as the statement.
    pub attachments: Vec<AttachmentData>,
    /// What [`Prepared::derive`] computed under an integration's rules.
    derived: Option<Derived>,
    /// The statement came without a timestamp: its timestamp is `stored`
    /// (xAPI), and moves with it ([`Prepared::restamp`]).
    timestamp_is_stored: bool,
    /// Where `stored` (and a timestamp that is `stored`) stand in
    /// `canonical`; `None` if they could not be located (then
    /// [`Prepared::restamp`] serializes again).
    stamps: Option<Stamps>,
}

/// Byte ranges of RFC 3339 texts (inside their quotes) in a canonical form.
#[derive(Debug, Clone, PartialEq)]
struct Stamps {
    stored: std::ops::Range<usize>,
    timestamp: Option<std::ops::Range<usize>>,
}

/// What `serde_json` writes between a statement's `stored` value and its
/// end: the fields after `stored`, in the order of [`Statement`]'s fields.
#[derive(serde::Serialize)]
struct AfterStored<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    authority: Option<&'a xapi_model::Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<&'a Vec<xapi_model::Attachment>>,
}

/// Locates `stored` (and, when `timestamp_is_stored`, the timestamp just
/// before it) in `canonical`, `serde_json::to_string(s)`: from the end,
/// after measuring what follows `stored`, so that no text a sender wrote
/// (an extension, a language map) can be taken for it. Every range found is
/// checked against the text it must hold.
fn locate_stamps(s: &Statement, canonical: &str, timestamp_is_stored: bool) -> Option<Stamps> {
    let text = s.stored?.to_rfc3339();
    let after = serde_json::to_string(&AfterStored {
        authority: s.authority.as_ref(),
        version: s.version.as_ref(),
        attachments: s.attachments.as_ref(),
    })
    .ok()?;
    // `{}` leaves the closing brace; `{"authority":…}` is written as `,"authority":…}`.
    let tail = if after.len() == 2 { 1 } else { after.len() };
    let end = canonical.len().checked_sub(tail + 1)?;
    let stored = end.checked_sub(text.len())?..end;
    let found = |r: &std::ops::Range<usize>, key: &str| {
        canonical.get(r.clone()) == Some(text.as_str())
            && canonical
                .get(..r.start)
                .is_some_and(|head| head.ends_with(key))
            && canonical.get(r.end..r.end + 1) == Some("\"")
    };
    if !found(&stored, "\"stored\":\"") {
        return None;
    }
    let timestamp = if timestamp_is_stored {
        // `"timestamp":"T","stored":"S"`: T ends 12 bytes before S starts.
        let end = stored.start.checked_sub(12)?;
        let r = end.checked_sub(text.len())?..end;
        if !found(&r, "\"timestamp\":\"") {
            return None;
        }
        Some(r)
    } else {
        None
    };
    Some(Stamps { stored, timestamp })
}

/// What storing a statement needs that depends only on the statement and on
/// its integration's rules: its actor's identity key, the columns it is
/// filtered by, and — when it is about an activity — how it is matched to a
/// course and the learning event it gives. The request computes it
/// ([`Prepared::derive`]), so that the one writer does not; the writer
/// computes it only for a statement not derived under its integration's rules.
#[derive(Debug, Clone, PartialEq)]
struct Derived {
    /// The integration whose rules these are.
    integration_id: String,
    actor_key: Option<String>,
    registration: Option<String>,
    voids: Option<String>,
    broad: bool,
    /// None when the statement is not about an activity, or voids another.
    learning: Option<Learning>,
}

/// How a statement about an activity is matched and what it gives once it is.
#[derive(Debug, Clone, PartialEq)]
struct Learning {
    kind: TargetKind,
    /// The activity id, normalized by the integration's rules.
    activity: String,
    event: Event,
    event_json: String,
}

fn derive(rules: &IntegrationRules, s: &Statement) -> Result<Derived, RecordError> {
    let learning = match s.activity().filter(|_| !s.is_voiding()) {
        None => None,
        Some(activity) => {
            let kind = rules.stats.provider.target_kind(s);
            let event = statement_event(rules, s, kind)?;
            let event_json = event_json(&event)?;
            Some(Learning {
                kind,
                activity: rules.normalize(&activity.id),
                event,
                event_json,
            })
        }
    };
    Ok(Derived {
        integration_id: rules.integration_id.clone(),
        actor_key: LearnerKey::from_actor(&s.actor).map(|k| k.to_string()),
        registration: s
            .context
            .as_ref()
            .and_then(|c| c.registration)
            .map(|r| r.to_string()),
        voids: s.voided_target().map(|t| t.to_string()),
        broad: !xapi_model::format::is_plain(s),
        learning,
    })
}

impl Prepared {
    /// Computes, under the rules of the integration it is sent to, what
    /// storing it needs (its identity key, its course matching, its learning
    /// event), so that the writer finds it done. Call it last: the writer
    /// trusts it for this statement and these rules' integration.
    pub fn derive(mut self, rules: &IntegrationRules) -> Result<Self, RecordError> {
        self.derived = Some(derive(rules, &self.statement)?);
        Ok(self)
    }

    /// What [`Prepared::derive`] computed for `rules`' integration, or
    /// computed now.
    fn derived_for(
        &self,
        rules: &IntegrationRules,
    ) -> Result<std::borrow::Cow<'_, Derived>, RecordError> {
        match &self.derived {
            Some(d) if d.integration_id == rules.integration_id => {
                Ok(std::borrow::Cow::Borrowed(d))
            }
            _ => derive(rules, &self.statement).map(std::borrow::Cow::Owned),
        }
    }
}

/// An attachment's raw data, named by the SHA-2 its statement gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentData {
    /// Lower-case hex.
    pub sha2: String,
    pub content_type: String,
    /// Shared by every statement of a request that names the same data.
    pub content: std::sync::Arc<[u8]>,
}

/// Sets what the LRS sets: an id when absent, `stored` (now), `authority`, the
/// version, and `timestamp` = `stored` when absent (xAPI §2.4.7/§2.4.8); then
/// serializes the normalized form that is stored and served.
pub fn prepare(
    mut statement: Statement,
    raw: String,
    now: OffsetDateTime,
    authority: &Actor,
    version: &str,
) -> Result<Prepared, RecordError> {
    let stored = xapi_model::Timestamp(now);
    statement.id.get_or_insert_with(Uuid::new_v4);
    statement.stored = Some(stored);
    statement.authority = Some(authority.clone());
    statement.version.get_or_insert_with(|| version.to_owned());
    let timestamp_is_stored = statement.timestamp.is_none();
    statement.timestamp.get_or_insert(stored);
    let canonical =
        serde_json::to_string(&statement).map_err(|e| RecordError::Corrupt(e.to_string()))?;
    let stamps = locate_stamps(&statement, &canonical, timestamp_is_stored);
    Ok(Prepared {
        statement,
        raw,
        canonical,
        attachments: Vec::new(),
        derived: None,
        timestamp_is_stored,
        stamps,
    })
}

impl Prepared {
    /// Sets `stored` to `now` (and the timestamp, where the statement came
    /// without one and so took `stored`'s): its canonical form and learning
    /// event as [`prepare`] with `now` would have made them. The server
    /// stamps each batch as it hands it to the writer, so that `stored`
    /// follows the order in which statements are written (docs/ARCHITECTURE.md,
    /// "stored is the order of the log").
    pub fn restamp(&mut self, now: OffsetDateTime) -> Result<(), RecordError> {
        let stored = xapi_model::Timestamp(now);
        self.statement.stored = Some(stored);
        if self.timestamp_is_stored {
            self.statement.timestamp = Some(stored);
        }
        self.stamps = match self.stamps.take() {
            Some(at) => {
                let text = stored.to_rfc3339();
                let old = &self.canonical;
                let mut out = String::with_capacity(old.len() + 2 * text.len());
                let mut from = 0;
                let mut moved = |r: &std::ops::Range<usize>, out: &mut String| {
                    out.push_str(&old[from..r.start]);
                    let start = out.len();
                    out.push_str(&text);
                    from = r.end;
                    start..out.len()
                };
                let timestamp = at.timestamp.as_ref().map(|r| moved(r, &mut out));
                let stored = moved(&at.stored, &mut out);
                out.push_str(&old[from..]);
                self.canonical = out;
                Some(Stamps { stored, timestamp })
            }
            None => {
                self.canonical = serde_json::to_string(&self.statement)
                    .map_err(|e| RecordError::Corrupt(e.to_string()))?;
                locate_stamps(&self.statement, &self.canonical, self.timestamp_is_stored)
            }
        };
        if let Some(learning) = self.derived.as_mut().and_then(|d| d.learning.as_mut()) {
            learning.event.stored = now;
            if self.timestamp_is_stored {
                learning.event.at = now;
            }
            learning.event_json = event_json(&learning.event)?;
        }
        Ok(())
    }
}

/// What happened to one statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; applied to statistics unless parked (with the reason).
    Stored { parked: Option<String> },
    /// Already stored with the same content (a sender's retry): nothing changed.
    Duplicate,
}

/// "Same id, same content?" on two statements as received (their `raw`
/// text): xAPI's comparison rules (`xapi_model::compare`), so that a
/// sender's retry is recognised even when it differs only where an LRS may
/// (a timestamp we set, the timestamp's offset, an Activity's definition, …).
fn same_content(a: &str, b: &str) -> Result<bool, RecordError> {
    if a == b {
        return Ok(true);
    }
    let parse = |raw: &str| {
        xapi_model::parse_statement(raw.as_bytes()).map_err(|e| {
            RecordError::Corrupt(format!("a stored statement does not parse again: {e}"))
        })
    };
    Ok(xapi_model::compare::same_statement(&parse(a)?, &parse(b)?))
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// How a statement relates to courses and learners.
enum Resolution {
    /// Not about an activity (voiding, about an agent, …): stored, never parked.
    NotLearning,
    Learning {
        course: Option<i64>,
        learner: Option<i64>,
        activity: String,
        learner_key: Option<String>,
    },
}

impl Resolution {
    fn pending_reason(&self) -> Option<(String, String)> {
        match self {
            Resolution::NotLearning => None,
            Resolution::Learning {
                course,
                learner,
                activity,
                learner_key,
                ..
            } => {
                let mut reasons = Vec::new();
                let mut details = Vec::new();
                if course.is_none() {
                    reasons.push("unknown-course");
                    details.push(format!("activity {activity}"));
                }
                if learner.is_none() {
                    reasons.push("unknown-learner");
                    details.push(match learner_key {
                        Some(k) => format!("learner {k}"),
                        None => "learner: anonymous group".to_owned(),
                    });
                }
                (!reasons.is_empty()).then(|| (reasons.join(","), details.join("; ")))
            }
        }
    }
}

/// Course and learner lookups already made in this transaction (a batch
/// usually names the same course and learners many times).
#[derive(Default)]
struct Lookups {
    courses: HashMap<String, Option<i64>>,
    learners: HashMap<String, Option<i64>>,
}

async fn resolve(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    s: &Statement,
    d: &Derived,
    now_ms: i64,
    seen: &mut Lookups,
) -> Result<Resolution, RecordError> {
    let (Some(learning), Some(activity)) = (&d.learning, s.activity()) else {
        return Ok(Resolution::NotLearning);
    };
    let (kind, norm) = (learning.kind, &learning.activity);
    let known = match seen.courses.get(norm) {
        Some(c) => *c,
        None => tx
            .course_by_activity_id(&rules.integration_id, norm)
            .await?
            .map(|c| c.id),
    };
    let course = match known {
        Some(c) => Some(c),
        None if kind == TargetKind::Path => {
            // Providers' learning paths are not in the course catalog: the first
            // statement about one registers it (seed 001).
            let name = activity
                .definition
                .as_ref()
                .and_then(|d| d.name.as_ref())
                .and_then(|n| n.best(&["en-US", "en"]))
                .unwrap_or(&activity.id)
                .to_owned();
            let fields = CourseFields {
                name,
                ..CourseFields::default()
            };
            let id = tx
                .upsert_course(
                    &rules.integration_id,
                    "path",
                    norm,
                    &fields,
                    false,
                    "",
                    now_ms,
                )
                .await?;
            tx.set_activity_ids(&rules.integration_id, id, std::slice::from_ref(norm))
                .await?;
            Some(id)
        }
        None => None,
    };
    if let Some(c) = course {
        seen.courses.insert(norm.clone(), Some(c));
    }
    let learner = match &d.actor_key {
        Some(k) => match seen.learners.get(k.as_str()) {
            Some(l) => *l,
            None => {
                let l = tx.learner_by_identity(k).await?;
                seen.learners.insert(k.clone(), l);
                l
            }
        },
        None => None,
    };
    Ok(Resolution::Learning {
        course,
        learner,
        activity: norm.clone(),
        learner_key: d.actor_key.clone(),
    })
}

fn statement_event(
    rules: &IntegrationRules,
    s: &Statement,
    kind: TargetKind,
) -> Result<Event, RecordError> {
    let (Some(id), Some(at), Some(stored)) = (s.id, s.timestamp, s.stored) else {
        return Err(RecordError::Corrupt(
            "a prepared statement lacks id, timestamp or stored".into(),
        ));
    };
    Ok(Event {
        id,
        at: at.0,
        stored: stored.0,
        kind: EventKind::Statement(rules.stats.provider.statement_facts(s, kind)),
    })
}

/// Stores a batch in the caller's transaction (all or nothing: on error the
/// caller rolls back) and refolds the statistics of every learner and course it
/// touched, once each, in key order.
pub async fn record_statements(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    batch: &[Prepared],
    now_ms: i64,
) -> Result<Vec<Outcome>, RecordError> {
    let (outcomes, touched) = store_statements(tx, rules, batch, now_ms).await?;
    update_touched(tx, rules, &touched, now_ms).await?;
    Ok(outcomes)
}

/// How a learner's statistics on a course must be brought up to date.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// New events, to apply to the stored state when they all sort after it.
    Append(Vec<Event>),
    /// Something was removed or is out of order: fold the whole log again.
    Rebuild,
}

/// The (course, learner) pairs whose statistics a batch changed, and how.
pub type Touched = BTreeMap<(i64, i64), Change>;

/// Adds the changes of `from` to `into`, by the rules of [`touch`].
pub fn merge(into: &mut Touched, from: Touched) {
    for (key, change) in from {
        match change {
            Change::Append(events) if events.is_empty() => {
                into.entry(key)
                    .or_insert_with(|| Change::Append(Vec::new()));
            }
            Change::Append(events) => {
                for e in events {
                    touch(into, key, Some(e));
                }
            }
            Change::Rebuild => touch(into, key, None),
        }
    }
}

/// Records a change for a target; a rebuild absorbs everything else.
pub fn touch(touched: &mut Touched, key: (i64, i64), event: Option<Event>) {
    let entry = touched
        .entry(key)
        .or_insert_with(|| Change::Append(Vec::new()));
    match (entry, event) {
        (Change::Append(events), Some(e)) => events.push(e),
        (c @ Change::Append(_), None) => *c = Change::Rebuild,
        (Change::Rebuild, _) => {}
    }
}

/// Stores a batch without refolding; returns what must be refolded. Used by a
/// group commit that refolds the union of several batches at the end, in key
/// order, so that concurrent writers take their locks in one global order.
/// Statements are written in id order, for the same reason.
pub async fn store_statements(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    batch: &[Prepared],
    now_ms: i64,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    let refs: Vec<&Prepared> = batch.iter().collect();
    store_statement_refs(tx, rules, &refs, now_ms).await
}

/// [`store_statements`] over borrowed statements (a group commit stores the
/// batches of several requests as one without copying them).
pub async fn store_statement_refs(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    batch: &[&Prepared],
    now_ms: i64,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    store_statement_refs_with(tx, rules, batch, now_ms, None).await
}

/// [`store_statement_refs`], taking the learners of identity keys from
/// `cache` where it has them (and looking up only the others, which it then
/// keeps).
pub async fn store_statement_refs_with(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    batch: &[&Prepared],
    now_ms: i64,
    mut cache: Option<&mut WriterCache>,
) -> Result<(Vec<Outcome>, Touched), RecordError> {
    // Written in the order of `stored` (the order requests were queued in,
    // on the server), by id within a request.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| {
        (
            batch[i].statement.stored.map(|t| t.0),
            batch[i].statement.id,
        )
    });
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    // Ids already met in this batch, with where (content is compared only when
    // an id repeats, which is rare: a sender's retry inside one batch).
    let mut seen: HashMap<Uuid, usize> = HashMap::default();
    let mut touched = Touched::new();
    let mut lookups = Lookups::default();

    // What each statement's request derived (or, if it did not, derived now).
    let derived: Vec<std::borrow::Cow<'_, Derived>> = batch
        .iter()
        .map(|p| p.derived_for(rules))
        .collect::<Result<_, _>>()?;
    // Every learner of the batch the cache does not know, in one query.
    let keys: std::collections::BTreeSet<&str> = derived
        .iter()
        .filter_map(|d| d.actor_key.as_deref())
        .collect();
    let mut unknown: Vec<String> = Vec::new();
    for k in keys {
        match cache.as_ref().and_then(|c| c.learner(k)) {
            Some(l) => {
                lookups.learners.insert(k.to_owned(), Some(l));
            }
            None => unknown.push(k.to_owned()),
        }
    }
    let found = tx.learners_by_identities(&unknown).await?;
    for k in unknown {
        let l = found.get(&k).copied();
        if let (Some(cache), Some(l)) = (cache.as_deref_mut(), l) {
            cache.keep_learner(k.clone(), l);
        }
        lookups.learners.insert(k, l);
    }

    // 1. What each new statement is: checked, resolved.
    struct Row<'d> {
        index: usize,
        id: Uuid,
        resolution: Resolution,
        activity: Option<&'d str>,
        derived: &'d Derived,
        /// The learning event it gives a known course and learner, and its JSON.
        event: Option<&'d Learning>,
    }
    let mut rows: Vec<Row> = Vec::with_capacity(batch.len());
    for i in order {
        let s = &batch[i].statement;
        let id = s.id.ok_or_else(|| {
            RecordError::Corrupt("statement without id: call prepare() first".into())
        })?;
        if let Some(&prev) = seen.get(&id) {
            if !same_content(&batch[prev].raw, &batch[i].raw)? {
                return Err(RecordError::BatchConflict { id });
            }
            outcomes[i] = Some(Outcome::Duplicate);
            continue;
        }
        seen.insert(id, i);
        if let Some(target) = s.voided_target() {
            let stored = tx.statement(&target.to_string()).await?;
            // Another integration's statement is not there for this one.
            if let Some(t) = stored.filter(|t| t.integration_id == rules.integration_id) {
                if t.voids.is_some() {
                    return Err(RecordError::VoidsVoiding { id, target });
                }
            }
        }
        let d: &Derived = &derived[i];
        let resolution = resolve(tx, rules, s, d, now_ms, &mut lookups).await?;
        let event = match &resolution {
            Resolution::Learning {
                course: Some(_),
                learner: Some(_),
                ..
            } => d.learning.as_ref(),
            _ => None,
        };
        rows.push(Row {
            index: i,
            id,
            resolution,
            event,
            activity: s.activity().map(|a| a.id.as_str()),
            derived: d,
        });
    }

    // 2. All statements in one insert; ids already stored come back missing.
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let targets = |r: &Row| match &r.resolution {
        Resolution::Learning {
            course: Some(c),
            learner: Some(l),
            ..
        } => (Some(*c), Some(*l)),
        _ => (None, None),
    };
    let new_rows: Vec<NewStatement<'_>> = rows
        .iter()
        .zip(&ids)
        .map(|(r, id)| {
            let s = &batch[r.index].statement;
            let (course_id, learner_id) = targets(r);
            NewStatement {
                id,
                integration_id: &rules.integration_id,
                raw: &batch[r.index].raw,
                canonical: &batch[r.index].canonical,
                stored_ms: s.stored.map_or(now_ms, |t| ms(t.0)),
                timestamp_ms: s.timestamp.map_or(now_ms, |t| ms(t.0)),
                verb: &s.verb.id,
                activity_id: r.activity,
                registration: r.derived.registration.as_deref(),
                actor_key: r.derived.actor_key.as_deref(),
                voids: r.derived.voids.as_deref(),
                course_id,
                learner_id,
                event: r.event.map(|l| l.event_json.as_str()),
                broad: r.derived.broad,
            }
        })
        .collect();
    let inserted = tx.insert_statements(&new_rows).await?;
    drop(new_rows);
    // New statements that a voiding statement already stored refers to (it
    // came first): stored voided, never applied (xAPI 1.0.3 Data 2.3.2).
    let fresh: Vec<String> = rows
        .iter()
        .zip(&ids)
        .filter(|(r, id)| r.derived.voids.is_none() && inserted.contains(*id))
        .map(|(_, id)| id.clone())
        .collect();
    let voided_already = tx.voided_targets(&rules.integration_id, &fresh).await?;
    // Their attachments' data, once per SHA-2 (already stored: unchanged).
    let data: std::collections::BTreeMap<&str, &AttachmentData> = batch
        .iter()
        .flat_map(|p| &p.attachments)
        .map(|a| (a.sha2.as_str(), a))
        .collect();
    if !data.is_empty() {
        let rows: Vec<store::NewAttachment<'_>> = data
            .values()
            .map(|a| store::NewAttachment {
                integration_id: &rules.integration_id,
                sha2: &a.sha2,
                content_type: &a.content_type,
                content: &a.content,
                stored_ms: now_ms,
            })
            .collect();
        tx.insert_attachments(&rows).await?;
    }

    // 3. Per statement: retry or conflict, voiding, event or parking.
    for (r, id_text) in rows.iter().zip(&ids) {
        if !inserted.contains(id_text) {
            let existing = tx
                .statement(id_text)
                .await?
                .ok_or_else(|| RecordError::Corrupt(format!("statement {} vanished", r.id)))?;
            // Statement ids are unique across integrations; another
            // integration's statement is never this one's retry.
            if existing.integration_id != rules.integration_id
                || !same_content(&existing.raw, &batch[r.index].raw)?
            {
                return Err(RecordError::Conflict { id: r.id });
            }
            outcomes[r.index] = Some(Outcome::Duplicate);
            continue;
        }
        if voided_already.contains(id_text) {
            tx.void_statement(&rules.integration_id, id_text).await?;
            outcomes[r.index] = Some(Outcome::Stored { parked: None });
            continue;
        }
        if let Some(target) = &r.derived.voids {
            if tx.void_statement(&rules.integration_id, target).await? {
                if let Some(t) = tx.statement(target).await? {
                    if let (Some(c), Some(l)) = (t.course_id, t.learner_id) {
                        touch(&mut touched, (c, l), None);
                    }
                }
            }
        }
        let parked = match (r.event, targets(r)) {
            (Some(learning), (Some(c), Some(l))) => {
                touch(&mut touched, (c, l), Some(learning.event.clone()));
                None
            }
            _ => match r.resolution.pending_reason() {
                Some((reason, detail)) => {
                    tx.park(&PendingRow {
                        statement_id: id_text.clone(),
                        integration_id: rules.integration_id.clone(),
                        reason: reason.clone(),
                        detail,
                        parked_ms: now_ms,
                    })
                    .await?;
                    Some(reason)
                }
                None => None,
            },
        };
        outcomes[r.index] = Some(Outcome::Stored { parked });
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| RecordError::Corrupt("a statement was not processed".into())))
        .collect::<Result<_, _>>()?;
    Ok((outcomes, touched))
}

fn event_json(event: &Event) -> Result<String, RecordError> {
    event
        .to_json()
        .map_err(|e| RecordError::Corrupt(e.to_string()))
}

/// The `learning_events` row of a launch, SCORM result or override.
fn event_row(
    rules: &IntegrationRules,
    event: &Event,
    course: i64,
    learner: i64,
    kind: &str,
) -> Result<LearningEventRow, RecordError> {
    Ok(LearningEventRow {
        id: event.id.to_string(),
        integration_id: rules.integration_id.clone(),
        course_id: course,
        learner_id: learner,
        statement_id: None,
        kind: kind.into(),
        at_ms: ms(event.at),
        stored_ms: ms(event.stored),
        payload: event_json(event)?,
    })
}

/// Records a launch, a SCORM result or an override for a known learner and
/// course, then refolds their statistics.
pub async fn record_event(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    event: &Event,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    let kind = match &event.kind {
        EventKind::Statement(_) => "statement",
        EventKind::Launch(_) => "launch",
        EventKind::Scorm(_) => "scorm",
        EventKind::Override(_) => "override",
    };
    tx.insert_learning_event(&event_row(rules, event, course, learner, kind)?)
        .await?;
    update_stats(
        tx,
        rules,
        course,
        learner,
        &Change::Append(vec![event.clone()]),
        now_ms,
    )
    .await
}

fn attempt_rows(stats: &LearnerStats) -> Vec<AttemptRow> {
    let opt_ms = |t: Option<OffsetDateTime>| t.map(ms);
    stats
        .attempts
        .iter()
        .map(|a| AttemptRow {
            number: i64::from(a.number),
            entry: match &a.entry {
                stats_rules::EntryPoint::Catalog => "catalog".to_owned(),
                stats_rules::EntryPoint::Path(p) => format!("path:{p}"),
                stats_rules::EntryPoint::Unknown => "unknown".to_owned(),
            },
            started_ms: ms(a.started_at),
            completed_ms: opt_ms(a.completed_at),
            time_spent_ms: a.time_spent_ms.and_then(|t| i64::try_from(t).ok()),
            score: a.score,
            result: a.result.map(outcome_name),
        })
        .collect()
}

fn outcome_name(o: stats_rules::Outcome) -> String {
    match o {
        stats_rules::Outcome::Success => "success".to_owned(),
        stats_rules::Outcome::Failed => "failed".to_owned(),
    }
}

/// The advisory-lock key of one learner's statistics on one course.
fn target_key(course: i64, learner: i64) -> i64 {
    course.wrapping_mul(0x9E37_79B9).wrapping_add(learner)
}

/// Brings one learner's statistics on one course up to date (see [`update_many`]).
pub async fn update_stats(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    change: &Change,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    let mut out = update_many(tx, &[((course, learner), change, rules)], now_ms).await?;
    out.pop()
        .ok_or_else(|| RecordError::Corrupt("no statistics computed".into()))
}

/// Brings many learners' statistics up to date, locking them in key order:
/// new events that all sort after a stored state are applied to it (the live
/// case: constant cost, one read and one write for the whole set); anything
/// else — no state yet, an earlier event, a voided one — folds that learner's
/// whole log again. Returns the statistics in the order given.
pub async fn update_many(
    tx: &mut Tx<'_>,
    targets: &[((i64, i64), &Change, &IntegrationRules)],
    now_ms: i64,
) -> Result<Vec<LearnerStats>, RecordError> {
    let (stats, _) = update_many_with(tx, targets, now_ms, None).await?;
    Ok(stats)
}

/// What a single writer knows of the database between its transactions: the
/// learner states it committed, so that the next transaction need not read
/// and parse them again ([`update_many_with`]), and the learners that
/// identity keys map to, so that it need not look them up again
/// ([`store_statement_refs_with`]).
///
/// It is the writer's to keep true: a state is in it only as this writer
/// committed it, and an identity only as a transaction read it (the writer
/// never maps identities itself), so the writer [`clear`](WriterCache::clear)s
/// it whenever anything else may have written since (SQLite's
/// `data_version`: `Tx::data_version`), and [`keep`](WriterCache::keep)s the
/// states a transaction wrote only once that transaction committed. A state
/// taken out by a transaction that then failed is simply no longer there.
#[derive(Debug)]
pub struct WriterCache {
    states: HashMap<(i64, i64), LearnerState>,
    learners: HashMap<String, i64>,
    limit: usize,
}

impl WriterCache {
    /// A cache of at most `limit` states and `limit` identities (each emptied
    /// when full).
    pub fn new(limit: usize) -> Self {
        Self {
            states: HashMap::default(),
            learners: HashMap::default(),
            limit,
        }
    }

    pub fn clear(&mut self) {
        self.states.clear();
        self.learners.clear();
    }

    /// Keeps the states a committed transaction wrote.
    pub fn keep(&mut self, written: Written) {
        if self.states.len() + written.0.len() > self.limit {
            self.states.clear();
        }
        for (key, state) in written.0.into_iter().take(self.limit) {
            self.states.insert(key, state);
        }
    }

    fn holds(&self, key: &(i64, i64)) -> bool {
        self.states.contains_key(key)
    }

    fn take(&mut self, key: &(i64, i64)) -> Option<LearnerState> {
        self.states.remove(key)
    }

    fn learner(&self, identity_key: &str) -> Option<i64> {
        self.learners.get(identity_key).copied()
    }

    /// Keeps what a transaction read: the learner an identity key maps to.
    fn keep_learner(&mut self, identity_key: String, learner: i64) {
        if self.learners.len() >= self.limit {
            self.learners.clear();
        }
        self.learners.insert(identity_key, learner);
    }
}

/// The states a transaction's [`update_many_with`] wrote, for
/// [`WriterCache::keep`] once it has committed.
#[derive(Debug, Default)]
pub struct Written(Vec<((i64, i64), LearnerState)>);

/// [`update_many`], taking the stored states from `cache` where it has them
/// (and reading only the others); also returns the states it wrote.
pub async fn update_many_with(
    tx: &mut Tx<'_>,
    targets: &[((i64, i64), &Change, &IntegrationRules)],
    now_ms: i64,
    mut cache: Option<&mut WriterCache>,
) -> Result<(Vec<LearnerStats>, Written), RecordError> {
    let keys: Vec<i64> = targets
        .iter()
        .map(|((c, l), _, _)| target_key(*c, *l))
        .collect();
    tx.lock_keys(&keys).await?;
    // Read only the states the cache does not hold.
    let unread: Vec<(i64, i64)> = targets
        .iter()
        .filter(|(key, change, _)| {
            matches!(change, Change::Append(_)) && !cache.as_ref().is_some_and(|c| c.holds(key))
        })
        .map(|(key, _, _)| *key)
        .collect();
    let stored = tx.stats_for_many(&unread).await?;
    let mut out = Vec::with_capacity(targets.len());
    let mut written = Vec::with_capacity(targets.len());
    let mut bulk = Vec::new();
    for (key, change, rules) in targets {
        let (course, learner) = *key;
        let incremental = match change {
            Change::Append(events) => cache
                .as_mut()
                .and_then(|c| c.take(key))
                .or_else(|| {
                    stored
                        .get(key)
                        .and_then(|row| serde_json::from_str::<LearnerState>(&row.state).ok())
                })
                .and_then(|mut state| {
                    let attempts_before = attempt_rows(&state.stats(&rules.stats));
                    let mut sorted = events.clone();
                    sorted.sort_by_key(Event::key);
                    // `apply` refuses an event that sorts before the state; then refold.
                    sorted
                        .iter()
                        .all(|e| state.apply(e, &rules.stats).is_ok())
                        .then_some((state, attempts_before))
                }),
            Change::Rebuild => None,
        };
        let state = match incremental {
            Some((state, attempts_before)) => {
                let (row, attempts, stats) = stats_row(rules, course, learner, &state, now_ms)?;
                if attempts == attempts_before {
                    bulk.push(row);
                } else {
                    tx.upsert_stats(&row, Some(&attempts)).await?;
                }
                out.push(stats);
                state
            }
            None => {
                let (stats, state) = refold_state(tx, rules, course, learner, now_ms).await?;
                out.push(stats);
                state
            }
        };
        written.push((*key, state));
    }
    tx.upsert_stats_many(&bulk).await?;
    Ok((out, Written(written)))
}

/// Rebuilds one learner's statistics on one course from the whole log.
pub async fn refold(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    now_ms: i64,
) -> Result<LearnerStats, RecordError> {
    Ok(refold_state(tx, rules, course, learner, now_ms).await?.0)
}

/// [`refold`], also returning the state it wrote.
async fn refold_state(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    now_ms: i64,
) -> Result<(LearnerStats, LearnerState), RecordError> {
    tx.lock_key(target_key(course, learner)).await?;
    let rows = tx.learning_events_for_target(course, learner).await?;
    let events = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Event>(&r.payload)
                .map_err(|e| RecordError::Corrupt(format!("learning event {}: {e}", r.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(events, &rules.stats);
    let (row, attempts, stats) = stats_row(rules, course, learner, &state, now_ms)?;
    tx.upsert_stats(&row, Some(&attempts)).await?;
    Ok((stats, state))
}

/// The folded state a statistics row keeps.
pub fn state_of(row: &StatsRow) -> Result<LearnerState, RecordError> {
    serde_json::from_str(&row.state).map_err(|e| {
        RecordError::Corrupt(format!(
            "statistics state of course {} learner {}: {e}",
            row.course_id, row.learner_id
        ))
    })
}

/// The statistics of a stored row, under the integration's rules (the same
/// statistics the row's columns were written from, as long as the rules have
/// not changed since: after a change, `replay` rewrites the rows).
pub fn stats_of(row: &StatsRow, rules: &IntegrationRules) -> Result<LearnerStats, RecordError> {
    Ok(state_of(row)?.stats(&rules.stats))
}

/// The rows that store a state's statistics.
fn stats_row(
    rules: &IntegrationRules,
    course: i64,
    learner: i64,
    state: &LearnerState,
    now_ms: i64,
) -> Result<(StatsRow, Vec<AttemptRow>, LearnerStats), RecordError> {
    let stats = state.stats(&rules.stats);
    let opt_ms = |t: Option<OffsetDateTime>| t.map(ms);
    let row = StatsRow {
        course_id: course,
        learner_id: learner,
        integration_id: rules.integration_id.clone(),
        progress: stats.progress,
        completed: stats.completed,
        result: stats.result.map(outcome_name),
        score: stats.score,
        time_spent_ms: stats.time_spent_ms.and_then(|t| i64::try_from(t).ok()),
        first_activity_ms: opt_ms(stats.first_activity_at),
        last_activity_ms: opt_ms(stats.last_activity_at),
        completed_at_ms: opt_ms(stats.completed_at),
        attempts: i64::try_from(stats.attempts.len()).unwrap_or(i64::MAX),
        overridden: stats.overridden.is_some(),
        state: state
            .to_json()
            .map_err(|e| RecordError::Corrupt(e.to_string()))?,
        updated_ms: now_ms,
    };
    Ok((row, attempt_rows(&stats), stats))
}

/// Retries every parked statement of an integration: those that now match a
/// course and a learner are applied (and unparked); the others stay parked
/// with an updated reason. Returns how many were applied.
pub async fn apply_pending(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    now_ms: i64,
) -> Result<usize, RecordError> {
    let mut applied = 0;
    let mut touched = Touched::new();
    let mut lookups = Lookups::default();
    let mut after: Option<String> = None;
    loop {
        let page = tx
            .pending(Some(&rules.integration_id), after.as_deref(), 500)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.statement_id.clone());
        for p in page {
            let stored = tx.statement(&p.statement_id).await?.ok_or_else(|| {
                RecordError::Corrupt(format!("pending {} has no statement", p.statement_id))
            })?;
            if stored.voided {
                tx.unpark(&p.statement_id).await?;
                continue;
            }
            let s = xapi_model::parse_statement(stored.canonical.as_bytes())
                .map_err(|e| RecordError::Corrupt(format!("statement {}: {e}", p.statement_id)))?;
            let d = derive(rules, &s)?;
            let resolution = resolve(tx, rules, &s, &d, now_ms, &mut lookups).await?;
            if let (
                Resolution::Learning {
                    course: Some(c),
                    learner: Some(l),
                    ..
                },
                Some(learning),
            ) = (&resolution, d.learning)
            {
                tx.set_statement_target(&p.statement_id, *c, *l, &learning.event_json)
                    .await?;
                tx.unpark(&p.statement_id).await?;
                touch(&mut touched, (*c, *l), Some(learning.event));
                applied += 1;
            } else if let Some((reason, detail)) = resolution.pending_reason() {
                if reason != p.reason || detail != p.detail {
                    tx.park(&PendingRow {
                        reason,
                        detail,
                        ..p
                    })
                    .await?;
                }
            }
        }
    }
    update_touched(tx, rules, &touched, now_ms).await?;
    Ok(applied)
}

/// After a commit on a store with several writers (PostgreSQL): voids those
/// of `referred` — statements a voiding statement of the integration refers
/// to (`Store::voided_targets`) — that are not voided, and refolds the
/// statistics they counted in. That happens when a voiding statement and its
/// target commit at the same instant in two transactions, each before the
/// other is visible; whichever commits last finds the other. How many it
/// voided.
pub async fn repair_voiding(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    referred: &[String],
    now_ms: i64,
) -> Result<usize, RecordError> {
    let mut touched = Touched::new();
    let mut voided = 0;
    for id in referred {
        let Some(row) = tx
            .statement(id)
            .await?
            .filter(|r| r.integration_id == rules.integration_id && !r.voided && r.voids.is_none())
        else {
            continue;
        };
        if tx.void_statement(&rules.integration_id, id).await? {
            voided += 1;
            if let (Some(c), Some(l)) = (row.course_id, row.learner_id) {
                touch(&mut touched, (c, l), None);
            }
        }
    }
    update_touched(tx, rules, &touched, now_ms).await?;
    Ok(voided)
}

/// [`update_many`] for statistics one integration's statements touched.
async fn update_touched(
    tx: &mut Tx<'_>,
    rules: &IntegrationRules,
    touched: &Touched,
    now_ms: i64,
) -> Result<(), RecordError> {
    let targets: Vec<_> = touched
        .iter()
        .map(|(key, change)| (*key, change, rules))
        .collect();
    update_many(tx, &targets, now_ms).await.map(drop)
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub statements: usize,
    pub targets: usize,
    /// Statements found voided by a voiding statement stored before them and
    /// marked now (see `Tx::void_late_targets`).
    pub voided: u64,
}

/// Rebuilds every statistic from the log with the current rules: voided
/// flags are derived again from the voiding statements, statement facts from
/// the stored statements, then every learner's statistics on every course are
/// refolded.
pub async fn replay(
    store: &Store,
    rules_for: impl Fn(&str) -> Result<IntegrationRules, RulesError>,
    now_ms: i64,
) -> Result<ReplayReport, ReplayError> {
    let mut report = ReplayReport::default();
    let mut rules_cache: HashMap<String, IntegrationRules> = HashMap::default();
    let mut tx = store.begin().await.map_err(RecordError::from)?;
    report.voided = tx.void_late_targets().await.map_err(RecordError::from)?;
    for (statement_id, integration, canonical) in tx
        .statements_with_events()
        .await
        .map_err(RecordError::from)?
    {
        if !rules_cache.contains_key(&integration) {
            rules_cache.insert(integration.clone(), rules_for(&integration)?);
        }
        let rules = &rules_cache[&integration];
        let s = xapi_model::parse_statement(canonical.as_bytes())
            .map_err(|e| RecordError::Corrupt(format!("statement {statement_id}: {e}")))?;
        let event = statement_event(rules, &s, rules.stats.provider.target_kind(&s))?;
        tx.set_statement_event(&statement_id, &event_json(&event)?)
            .await
            .map_err(RecordError::from)?;
        report.statements += 1;
    }
    tx.commit().await.map_err(RecordError::from)?;
    let targets = {
        let mut tx = store.read().await.map_err(RecordError::from)?;
        tx.learning_targets().await.map_err(RecordError::from)?
    };
    for chunk in targets.chunks(500) {
        let mut tx = store.begin().await.map_err(RecordError::from)?;
        for (integration, course, learner) in chunk {
            if !rules_cache.contains_key(integration) {
                rules_cache.insert(integration.clone(), rules_for(integration)?);
            }
            refold(
                &mut tx,
                &rules_cache[integration],
                *course,
                *learner,
                now_ms,
            )
            .await?;
            report.targets += 1;
        }
        tx.commit().await.map_err(RecordError::from)?;
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Rules(#[from] RulesError),
}

#[cfg(test)]
mod restamp_tests {
    use super::*;
    use proptest::prelude::*;
    use xapi_model::{Account, Agent, Ifi};

    fn fixtures() -> Vec<(String, Statement)> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/statements/valid"
        );
        let mut out: Vec<(String, Statement)> = std::fs::read_dir(dir)
            .expect("the valid statement fixtures")
            .map(|e| e.expect("a fixture").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a readable fixture");
                let s = xapi_model::parse_statement(&bytes).expect("a valid fixture");
                (p.display().to_string(), s)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(out.len() >= 10, "fixtures missing: {}", out.len());
        out
    }

    fn rules(provider: &str) -> IntegrationRules {
        IntegrationRules::for_integration(&store::Integration {
            id: "i".into(),
            provider: provider.into(),
            lms_group: "g".into(),
            connector_author: "a".into(),
            settings: serde_json::json!({}),
            active: true,
            created_ms: 0,
            updated_ms: 0,
            deactivated_ms: None,
        })
        .expect("rules")
    }

    fn authority() -> Actor {
        Actor::Agent(Agent {
            name: None,
            ifi: Ifi::Account(Account {
                home_page: "https://lms.example.com".into(),
                name: "wh_client".into(),
            }),
        })
    }

    fn at(nanos: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("in range")
    }

    fn prepared(s: &Statement, now: OffsetDateTime, rules: &IntegrationRules) -> Prepared {
        prepare(s.clone(), "{}".into(), now, &authority(), "1.0.0")
            .and_then(|p| p.derive(rules))
            .expect("prepared")
    }

    /// Restamped at `t2`, a statement prepared at `t1` is what preparing it
    /// at `t2` gives: canonical text, statement, derived event and its JSON,
    /// and where its stamps stand.
    fn assert_restamp_equals_prepare(
        s: &Statement,
        t1: OffsetDateTime,
        t2: OffsetDateTime,
        rules: &IntegrationRules,
    ) {
        let mut moved = prepared(s, t1, rules);
        assert!(
            moved.stamps.is_some(),
            "stamps not located in {}",
            moved.canonical
        );
        moved.restamp(t2).expect("restamp");
        let fresh = prepared(s, t2, rules);
        assert_eq!(moved.canonical, fresh.canonical);
        assert_eq!(moved.statement, fresh.statement);
        assert_eq!(moved.derived, fresh.derived);
        assert_eq!(moved.timestamp_is_stored, fresh.timestamp_is_stored);
        assert_eq!(moved.stamps, fresh.stamps);
    }

    // 2000-01-01 … 2100-01-01, in nanoseconds.
    const FROM: i128 = 946_684_800_000_000_000;
    const TO: i128 = 4_102_444_800_000_000_000;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn restamping_equals_preparing_at_the_new_time(
            pick in 0usize..64,
            drop_timestamp in any::<bool>(),
            udemy in any::<bool>(),
            t1 in FROM..TO,
            t2 in FROM..TO,
            whole_ms in any::<bool>(),
        ) {
            let all = fixtures();
            let (_, mut s) = all[pick % all.len()].clone();
            // A fixed id: `prepare` would give each call its own.
            s.id.get_or_insert(Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef));
            if drop_timestamp {
                s.timestamp = None;
            }
            // Texts of other lengths: whole milliseconds drop the fraction's zeros.
            let t2 = if whole_ms { t2 - t2 % 1_000_000 } else { t2 };
            let rules = rules(if udemy { "udemy-business" } else { "opensesame" });
            assert_restamp_equals_prepare(&s, at(t1), at(t2), &rules);
        }
    }

    /// The stamp's own text elsewhere in the statement — in an extension
    /// before `stored`, in an attachment's display after it — is the
    /// sender's and stays: only `stored` (and a timestamp that is `stored`)
    /// move.
    #[test]
    fn restamping_moves_only_the_stamps_whatever_the_statement_holds() {
        let t1 = at(1_733_400_000_123_456_789);
        let t2 = at(1_733_400_000_987_654_321);
        let text = xapi_model::Timestamp(t1).to_rfc3339();
        let rules = rules("udemy-business");
        let all = fixtures();
        let with_attachment = all
            .iter()
            .find(|(name, _)| name.contains("attachment"))
            .expect("the attachment fixture");
        let plain = all
            .iter()
            .find(|(name, _)| name.contains("udemy-course-progressed-mbox"))
            .expect("the Udemy progress fixture");
        for (_, base) in [with_attachment, plain] {
            let mut v = serde_json::to_value(base).expect("json");
            v["id"] = serde_json::json!("0123e567-89ab-4def-8123-456789abcdef");
            v.as_object_mut().expect("object").remove("timestamp");
            v["result"]["extensions"] = serde_json::json!({
                "https://x.example.com/stamp": {"stored": text, "timestamp": text}
            });
            if let Some(list) = v.get_mut("attachments").and_then(|a| a.as_array_mut()) {
                for a in list {
                    a["display"] = serde_json::json!({"en-US": text});
                }
            }
            let s = xapi_model::statement_from_value(v).expect("still valid");
            let mut moved = prepared(&s, t1, &rules);
            assert_eq!(
                moved.canonical.matches(text.as_str()).count(),
                if s.attachments.is_some() { 5 } else { 4 }
            );
            moved.restamp(t2).expect("restamp");
            assert_eq!(
                moved.canonical.matches(text.as_str()).count(),
                if s.attachments.is_some() { 3 } else { 2 }
            );
            assert_restamp_equals_prepare(&s, t1, t2, &rules);
        }
    }
}
