//! The catalog diff, page by page: what each fetched course means for the
//! stored catalog, and — once the whole catalog was fetched — which stored
//! courses departed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::MappedCourse;

/// What we know of a stored course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub archived: bool,
    /// The per-field hashes as stored: a JSON object of field name → hash. Kept
    /// as text (parsed only for a course whose content changed) so that a
    /// catalog of 50,000 known courses stays small in memory.
    pub field_hashes: String,
    pub content_hash: String,
}

impl Known {
    pub fn new(
        archived: bool,
        field_hashes: &BTreeMap<String, String>,
        content_hash: String,
    ) -> Self {
        Self {
            archived,
            field_hashes: serde_json::to_string(field_hashes).unwrap_or_else(|_| "{}".into()),
            content_hash,
        }
    }
}

/// What a fetched course means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change", content = "fields")]
pub enum Change {
    /// Not stored yet.
    Created,
    /// Stored and active; these fields changed.
    Updated(Vec<String>),
    /// Stored archived, active again (with the fields that changed).
    Reactivated(Vec<String>),
    /// Stored and active, now inactive (with the fields that changed): archive
    /// once the whole catalog was fetched.
    Deactivated(Vec<String>),
    /// Nothing to do.
    Unchanged,
}

fn changed_fields(known: &Known, fetched: &BTreeMap<String, String>) -> Vec<String> {
    let old: BTreeMap<String, String> =
        serde_json::from_str(&known.field_hashes).unwrap_or_default();
    let mut names: Vec<String> = fetched
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    names.extend(old.keys().filter(|k| !fetched.contains_key(*k)).cloned());
    names.sort();
    names.dedup();
    names
}

/// What a fetched course means for the stored catalog.
/// Content changes apply whenever they occur; the archive transition is
/// separate (and a deactivation waits for the end of the run).
pub fn classify(known: Option<&Known>, course: &MappedCourse) -> Change {
    let Some(k) = known else {
        return Change::Created;
    };
    let content_changed = k.content_hash != course.content_hash();
    let fields = if content_changed {
        changed_fields(k, &course.field_hashes())
    } else {
        Vec::new()
    };
    match (k.archived, course.archived) {
        (false, true) => Change::Deactivated(fields),
        (true, false) => Change::Reactivated(fields),
        _ if content_changed => Change::Updated(fields),
        _ => Change::Unchanged,
    }
}

/// The stored active courses the fetched catalog no longer holds.
pub fn departed<'a>(known: &'a HashMap<String, Known>, seen: &HashSet<String>) -> Vec<&'a str> {
    let mut out: Vec<&str> = known
        .iter()
        .filter(|(id, k)| !k.archived && !seen.contains(*id))
        .map(|(id, _)| id.as_str())
        .collect();
    out.sort_unstable();
    out
}

/// The stored state after a sync: what [`classify`] and [`departed`] imply,
/// applied (for tests and dry runs).
pub fn apply(known: &HashMap<String, Known>, fetched: &[MappedCourse]) -> HashMap<String, Known> {
    let mut next = known.clone();
    let mut seen = HashSet::new();
    for c in fetched {
        seen.insert(c.external_id.clone());
        match classify(known.get(&c.external_id), c) {
            Change::Unchanged => {}
            Change::Created
            | Change::Updated(_)
            | Change::Reactivated(_)
            | Change::Deactivated(_) => {
                next.insert(
                    c.external_id.clone(),
                    Known::new(c.archived, &c.field_hashes(), c.content_hash()),
                );
            }
        }
    }
    for id in departed(known, &seen) {
        if let Some(k) = next.get_mut(id) {
            k.archived = true;
        }
    }
    next
}
