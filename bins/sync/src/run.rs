//! One sync of one integration: stream the catalog page by page, apply
//! creations and updates as pages arrive, and archive — only once the whole
//! catalog was fetched, and only below the mass-archive threshold.

use std::collections::{HashMap, HashSet};

use course_mapping::diff::{
    ArchiveDecision, ArchivePolicy, ArchiveRefusal, Change, Known, archive_decision, classify,
};
use course_mapping::{MappedCourse, Rejected};
use lms_delivery::EventType;
use records::IntegrationRules;
use serde::Serialize;
use store::{CourseFields, Integration, RunCounts, Store};

use crate::providers::{Kind, Source};

#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    pub allow_mass_archive: bool,
    /// Refuse to archive more than this share of the active catalog (0–1).
    pub max_archive_share: f64,
    /// Identifies this process in the sync lock.
    pub holder: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            allow_mass_archive: false,
            max_archive_share: 0.2,
            holder: format!("sync-{}", uuid::Uuid::new_v4()),
        }
    }
}

/// What a run did (the `--json` report).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    pub integration: String,
    pub created: i64,
    pub updated: i64,
    pub archived: i64,
    pub reactivated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub pages: i64,
    /// `ok` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
    pub dry_run: bool,
    /// Parked statements applied because their courses arrived.
    pub pending_applied: usize,
    pub warnings: i64,
    pub rejected_courses: Vec<Rejected>,
    /// Changed fields per updated course (dry runs and `--json`), at most 1,000.
    pub changes: Vec<serde_json::Value>,
}

impl Report {
    fn counts(&self) -> RunCounts {
        RunCounts {
            created: self.created,
            updated: self.updated,
            archived: self.archived,
            reactivated: self.reactivated,
            unchanged: self.unchanged,
            rejected: self.rejected,
            pages: self.pages,
        }
    }
}

/// Something to tell about progress (a progress bar, log lines, or nothing).
pub trait Progress {
    fn page(&self, integration: &str, page: u32, courses_so_far: i64);
}

pub struct Quiet;
impl Progress for Quiet {
    fn page(&self, _: &str, _: u32, _: i64) {}
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

fn fields(c: &MappedCourse) -> CourseFields {
    CourseFields {
        name: c.name.clone(),
        description: c.description.clone(),
        image_url: c.image.clone(),
        duration_minutes: c.course_duration,
        author: c.author.clone(),
        lang: c.lang.clone(),
        launch_url: c.launch_url.clone(),
        modified_at: c.modified_at.clone(),
        subjects: c.subjects.clone(),
        content_type: c.content_type.clone(),
    }
}

const LOCK_TTL_MS: i64 = 10 * 60 * 1000;

/// Runs one sync. Never panics on provider data; a failure is in the report
/// (and recorded as a failed run) with nothing archived.
pub async fn run(
    store: &Store,
    integration: &Integration,
    mut source: Source,
    opts: &Options,
    progress: &dyn Progress,
) -> Report {
    let mut report = Report {
        integration: integration.id.clone(),
        dry_run: opts.dry_run,
        outcome: "failed".into(),
        ..Report::default()
    };
    let rules = match records::rules_for(integration) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    // The lock and the run record (a dry run writes nothing, so takes neither).
    let mut run_id = None;
    if !opts.dry_run {
        let started = async {
            let mut tx = store.begin().await?;
            if !tx
                .acquire_sync_lock(&integration.id, &opts.holder, now_ms(), LOCK_TTL_MS)
                .await?
            {
                return Ok::<_, store::StoreError>(None);
            }
            let id = tx.start_run(&integration.id, now_ms(), false).await?;
            tx.commit().await?;
            Ok(Some(id))
        }
        .await;
        match started {
            Ok(Some(id)) => run_id = Some(id),
            Ok(None) => {
                report.error = Some(format!(
                    "another sync of {} is running (lock held)",
                    integration.id
                ));
                return report;
            }
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    }
    let result = sync_pages(
        store,
        integration,
        &rules,
        &mut source,
        opts,
        progress,
        &mut report,
    )
    .await;
    report.outcome = if result.is_ok() {
        "ok".into()
    } else {
        "failed".into()
    };
    report.error = result.err();
    if let Some(id) = run_id {
        let finished = async {
            let mut tx = store.begin().await?;
            tx.finish_run(
                id,
                now_ms(),
                &report.outcome,
                &report.counts(),
                report.error.as_deref(),
            )
            .await?;
            let rejections: Vec<store::RunRejection> = report
                .rejected_courses
                .iter()
                .map(|r| store::RunRejection {
                    external_id: r.id.clone(),
                    reason: r.reason.clone(),
                })
                .collect();
            tx.insert_run_rejections(id, &rejections).await?;
            tx.release_sync_lock(&integration.id, &opts.holder).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = finished {
            report.outcome = "failed".into();
            report.error = Some(format!(
                "{}; recording the run failed: {e}",
                report.error.clone().unwrap_or_default()
            ));
        }
    }
    report
}

async fn sync_pages(
    store: &Store,
    integration: &Integration,
    rules: &IntegrationRules,
    source: &mut Source,
    opts: &Options,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<(), String> {
    let err = |e: store::StoreError| e.to_string();
    let mut known: HashMap<String, (i64, Known)> = HashMap::new();
    // The raw-object hash of each stored course, for the unchanged fast path.
    let mut sources: HashMap<String, String> = HashMap::new();
    {
        let mut tx = store.read().await.map_err(err)?;
        for e in tx.catalog(&integration.id).await.map_err(err)? {
            if !e.source_hash.is_empty() {
                sources.insert(e.external_id.clone(), e.source_hash);
            }
            known.insert(
                e.external_id,
                (
                    e.id,
                    Known {
                        archived: e.archived,
                        field_hashes: e.field_hashes,
                        content_hash: e.content_hash,
                    },
                ),
            );
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut deactivated: Vec<String> = Vec::new();
    let (map, external_id_of): (MapFn, IdFn) = match source.kind() {
        Kind::OpenSesame => (
            course_mapping::opensesame::map,
            course_mapping::opensesame::external_id,
        ),
        Kind::Udemy => (
            course_mapping::udemy::map,
            course_mapping::udemy::external_id,
        ),
    };
    // Pages are fetched by a task one page ahead of their processing.
    let (pages_tx, mut pages) = tokio::sync::mpsc::channel(1);
    let mut owned = std::mem::replace(
        source,
        Source::File {
            kind: source.kind(),
            path: String::new(),
            done: true,
        },
    );
    let fetcher = tokio::spawn(async move {
        loop {
            let next = owned.next_page().await;
            let end = !matches!(next, Ok(Some(_)));
            if pages_tx.send(next).await.is_err() || end {
                return;
            }
        }
    });
    let _stop_fetcher = AbortOnDrop(fetcher);
    // Why the catalog was not fetched to its end, if it was not.
    let mut fetch_failed: Option<String> = None;
    loop {
        // Only the provider's own "no more pages" ends the catalog; a fetcher
        // that stops without saying so fails the run (nothing is archived).
        let page = match pages.recv().await {
            Some(Ok(Some(page))) => page,
            Some(Ok(None)) => break,
            Some(Err(e)) => {
                fetch_failed = Some(format!("page {}: {e}", report.pages + 1));
                break;
            }
            None => {
                fetch_failed = Some(format!(
                    "page {}: the page fetcher stopped before the end of the catalog",
                    report.pages + 1
                ));
                break;
            }
        };
        report.pages += 1;
        let mut tx = if opts.dry_run {
            None
        } else {
            Some(store.begin().await.map_err(err)?)
        };
        if let Some(tx) = tx.as_mut() {
            tx.acquire_sync_lock(&integration.id, &opts.holder, now_ms(), LOCK_TTL_MS)
                .await
                .map_err(err)?;
        }
        let mut writes: Vec<store::CourseUpsert> = Vec::new();
        // What each write tells the LMS (docs/EVENTS.md).
        let mut told: Vec<(String, EventType, Vec<String>)> = Vec::new();
        let mut activity_ids: Vec<(String, Vec<String>)> = Vec::new();
        for item in &page.items {
            // Fast path: an active stored course whose raw object has not changed
            // is unchanged, without mapping (and sanitizing) it again.
            let source_hash = course_mapping::source_hash(item);
            if let Some(id) = external_id_of(item) {
                let active = known.get(&id).is_some_and(|(_, k)| !k.archived);
                if active && sources.get(&id) == Some(&source_hash) && !seen.contains(&id) {
                    seen.insert(id);
                    report.unchanged += 1;
                    continue;
                }
            }
            let course = match map(item) {
                Ok(c) => c,
                Err(r) => {
                    report.rejected += 1;
                    if report.rejected_courses.len() < 1000 {
                        report.rejected_courses.push(r);
                    }
                    continue;
                }
            };
            if !seen.insert(course.external_id.clone()) {
                report.warnings += 1;
                tracing::warn!(integration = %integration.id, course = %course.external_id, "the catalog lists this course twice; the first one counts");
                continue;
            }
            report.warnings += course.warnings.len() as i64;
            let change = classify(known.get(&course.external_id).map(|(_, k)| k), &course);
            match &change {
                Change::Created => report.created += 1,
                Change::Updated(_) => report.updated += 1,
                Change::Reactivated(_) => report.reactivated += 1,
                Change::Deactivated(_) => deactivated.push(course.external_id.clone()),
                Change::Unchanged => report.unchanged += 1,
            }
            if !matches!(change, Change::Unchanged | Change::Created) && report.changes.len() < 1000
            {
                report
                    .changes
                    .push(serde_json::json!({"course": course.external_id, "change": change}));
            }
            if tx.is_none() || matches!(change, Change::Unchanged) {
                continue;
            }
            // A deactivation keeps the course active until the end of the run,
            // and is mapped again next time (until it is archived).
            let deactivation = matches!(change, Change::Deactivated(_));
            match change {
                Change::Created => told.push((
                    course.external_id.clone(),
                    EventType::CourseCreated,
                    Vec::new(),
                )),
                Change::Updated(f) => {
                    told.push((course.external_id.clone(), EventType::CourseUpdated, f))
                }
                Change::Reactivated(f) => {
                    told.push((course.external_id.clone(), EventType::CourseReactivated, f))
                }
                // Archived at the end of the run; changed fields are news now.
                Change::Deactivated(f) if !f.is_empty() => {
                    told.push((course.external_id.clone(), EventType::CourseUpdated, f))
                }
                Change::Deactivated(_) | Change::Unchanged => {}
            }
            let archived = course.archived && !deactivation;
            activity_ids.push((
                course.external_id.clone(),
                course
                    .activity_ids
                    .iter()
                    .map(|a| rules.normalize(a))
                    .collect::<Vec<_>>(),
            ));
            let hashes = course.field_hashes();
            writes.push(store::CourseUpsert {
                external_id: course.external_id.clone(),
                fields: fields(&course),
                archived,
                content_hash: course.content_hash_from(&hashes),
                field_hashes: Known::new(archived, &hashes, String::new()).field_hashes,
                source_hash: if deactivation {
                    String::new()
                } else {
                    source_hash
                },
            });
        }
        // The page's courses in one upsert, their activity ids in one replace.
        if let Some(tx) = tx.as_mut() {
            let ids = tx
                .upsert_courses(&integration.id, now_ms(), &writes)
                .await
                .map_err(err)?;
            let by_id: Vec<(i64, Vec<String>)> = activity_ids
                .drain(..)
                .filter_map(|(ext, a)| ids.get(&ext).map(|id| (*id, a)))
                .collect();
            tx.replace_activity_ids(&integration.id, &by_id)
                .await
                .map_err(err)?;
            let changes: Vec<records::CourseChange> = told
                .drain(..)
                .filter_map(|(ext, event, changed_fields)| {
                    ids.get(&ext).map(|id| records::CourseChange {
                        course_id: *id,
                        event,
                        changed_fields,
                    })
                })
                .collect();
            records::append_course_events(tx, &changes, now_ms())
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(err)?;
        }
        progress.page(
            &integration.id,
            page.number,
            report.created + report.updated + report.unchanged + report.reactivated,
        );
    }
    // Archive only once the whole catalog was fetched, and below the share
    // (course_mapping::diff::archive_decision).
    let known_state: HashMap<String, Known> = known
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.clone()))
        .collect();
    let policy = ArchivePolicy {
        max_share: opts.max_archive_share,
        allow_mass_archive: opts.allow_mass_archive,
    };
    let complete = fetch_failed.is_none();
    let to_archive = match archive_decision(&known_state, &seen, &deactivated, complete, policy) {
        ArchiveDecision::Archive(courses) => courses,
        // The run fails with what stopped the fetch.
        ArchiveDecision::Refused(why @ ArchiveRefusal::IncompleteFetch) => {
            return Err(fetch_failed.unwrap_or_else(|| why.to_string()));
        }
        ArchiveDecision::Refused(why @ ArchiveRefusal::MassArchive { .. }) => {
            return Err(format!(
                "{why}. Check the provider, then rerun with --allow-mass-archive"
            ));
        }
    };
    report.archived = to_archive.len() as i64;
    if opts.dry_run {
        return Ok(());
    }
    let mut tx = store.begin().await.map_err(err)?;
    let now = now_ms();
    let mut archived = Vec::with_capacity(to_archive.len());
    for ext in &to_archive {
        if let Some((id, _)) = known.get(ext) {
            tx.set_course_archived(*id, true, now).await.map_err(err)?;
            archived.push(records::CourseChange::new(*id, EventType::CourseArchived));
        }
    }
    records::append_course_events(&mut tx, &archived, now)
        .await
        .map_err(|e| e.to_string())?;
    // Courses arrived: statements parked for them can be applied now.
    report.pending_applied = records::apply_pending(&mut tx, rules, now_ms())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(err)?;
    Ok(())
}

type MapFn = fn(&serde_json::Value) -> Result<MappedCourse, Rejected>;
type IdFn = fn(&serde_json::Value) -> Option<String>;

/// Stops the page fetcher when the run ends early.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
