//! The catalog diff, page by page: what each fetched course means for the
//! stored catalog, and — once the whole catalog was fetched — which stored
//! courses departed and whether the run may archive them
//! ([`archive_decision`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::MappedCourse;

/// What we know of a stored course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Stored archived.
    pub archived: bool,
    /// The per-field hashes as stored: a JSON object of field name → hash. Kept
    /// as text (parsed only for a course whose content changed) so that a
    /// catalog of 50,000 known courses stays small in memory.
    pub field_hashes: String,
    /// The stored [`MappedCourse::content_hash`].
    pub content_hash: String,
}

impl Known {
    /// A stored course from its state and the hashes computed when it was
    /// stored ([`MappedCourse::field_hashes`], [`MappedCourse::content_hash_from`]).
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

/// How far a run may archive: the largest share of the active catalog one
/// run archives (0–1), unless the operator explicitly allows more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchivePolicy {
    /// The largest share (0–1) of the active catalog one run may archive.
    pub max_share: f64,
    /// The operator's explicit permission to archive more than `max_share`.
    pub allow_mass_archive: bool,
}

/// What a run does at its end with the stored courses it did not see active.
#[derive(Debug, Clone, PartialEq)]
pub enum ArchiveDecision {
    /// Archive these stored courses (sorted, each once; possibly none).
    Archive(Vec<String>),
    /// Archive nothing.
    Refused(ArchiveRefusal),
}

/// Why a run archives nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchiveRefusal {
    /// The catalog was not fetched to its end (a page failed, the fetch
    /// stopped): what is missing from it may only be missing from this run.
    #[error("the catalog was not fetched to its end; nothing was archived")]
    IncompleteFetch,
    /// More than the policy's share of the active catalog would go at once,
    /// and the operator did not allow it.
    #[error(
        "the run would archive {would_archive} of {active} active courses ({:.0} %, above {:.0} %); nothing was archived",
        share * 100.0,
        max_share * 100.0
    )]
    MassArchive {
        /// How many courses the run would archive.
        would_archive: usize,
        /// How many courses were active before the run.
        active: usize,
        /// `would_archive / active`.
        share: f64,
        /// The policy's [`ArchivePolicy::max_share`].
        max_share: f64,
    },
}

/// The archive step's rule: a run archives only once the whole catalog was
/// fetched (`fetch_complete`), and never more than `policy.max_share` of the
/// courses active before it (`known`) unless `policy.allow_mass_archive`.
/// What it archives is every stored active course the catalog no longer
/// holds ([`departed`] from `seen`) and every one it listed inactive
/// (`deactivated`, [`Change::Deactivated`]).
pub fn archive_decision(
    known: &HashMap<String, Known>,
    seen: &HashSet<String>,
    deactivated: &[String],
    fetch_complete: bool,
    policy: ArchivePolicy,
) -> ArchiveDecision {
    if !fetch_complete {
        return ArchiveDecision::Refused(ArchiveRefusal::IncompleteFetch);
    }
    let active = known.values().filter(|k| !k.archived).count();
    let mut to_archive: Vec<String> = departed(known, seen)
        .into_iter()
        .map(str::to_owned)
        .collect();
    to_archive.extend(deactivated.iter().cloned());
    to_archive.sort();
    to_archive.dedup();
    let share = if active == 0 {
        0.0
    } else {
        to_archive.len() as f64 / active as f64
    };
    if share > policy.max_share && !policy.allow_mass_archive {
        return ArchiveDecision::Refused(ArchiveRefusal::MassArchive {
            would_archive: to_archive.len(),
            active,
            share,
            max_share: policy.max_share,
        });
    }
    ArchiveDecision::Archive(to_archive)
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use proptest::prelude::*;

    use super::{ArchiveDecision, ArchivePolicy, ArchiveRefusal, Known, archive_decision};

    fn known(active: usize, archived: usize) -> HashMap<String, Known> {
        let mut out = HashMap::new();
        for i in 0..active + archived {
            out.insert(
                format!("c{i:03}"),
                Known::new(i >= active, &BTreeMap::new(), format!("h{i}")),
            );
        }
        out
    }

    fn ids(range: std::ops::Range<usize>) -> HashSet<String> {
        range.map(|i| format!("c{i:03}")).collect()
    }

    const DEFAULT: ArchivePolicy = ArchivePolicy {
        max_share: 0.2,
        allow_mass_archive: false,
    };

    #[test]
    fn departed_and_deactivated_are_archived_below_the_share() {
        // 10 active, 2 archived; c008 and c009 are gone, c000 listed inactive.
        let d = archive_decision(
            &known(10, 2),
            &ids(0..8),
            &["c000".to_owned(), "c000".to_owned()],
            true,
            ArchivePolicy {
                max_share: 0.3,
                ..DEFAULT
            },
        );
        assert_eq!(
            d,
            ArchiveDecision::Archive(vec!["c000".into(), "c008".into(), "c009".into()])
        );
    }

    #[test]
    fn above_the_share_nothing_is_archived_unless_allowed() {
        let (k, seen) = (known(10, 0), ids(0..7));
        let refused = archive_decision(&k, &seen, &[], true, DEFAULT);
        let ArchiveDecision::Refused(why) = refused else {
            panic!("archived {refused:?}");
        };
        assert_eq!(
            why,
            ArchiveRefusal::MassArchive {
                would_archive: 3,
                active: 10,
                share: 0.3,
                max_share: 0.2
            }
        );
        assert_eq!(
            why.to_string(),
            "the run would archive 3 of 10 active courses (30 %, above 20 %); nothing was archived"
        );
        let allowed = ArchivePolicy {
            allow_mass_archive: true,
            ..DEFAULT
        };
        assert_eq!(
            archive_decision(&k, &seen, &[], true, allowed),
            ArchiveDecision::Archive(vec!["c007".into(), "c008".into(), "c009".into()])
        );
        // Exactly the share is allowed.
        assert_eq!(
            archive_decision(&k, &ids(0..8), &[], true, DEFAULT),
            ArchiveDecision::Archive(vec!["c008".into(), "c009".into()])
        );
    }

    #[test]
    fn an_incomplete_fetch_archives_nothing_even_when_allowed() {
        let allowed = ArchivePolicy {
            max_share: 1.0,
            allow_mass_archive: true,
        };
        assert_eq!(
            archive_decision(&known(10, 0), &ids(0..1), &[], false, allowed),
            ArchiveDecision::Refused(ArchiveRefusal::IncompleteFetch)
        );
    }

    #[test]
    fn an_empty_catalog_archives_nothing() {
        assert_eq!(
            archive_decision(&known(0, 3), &HashSet::new(), &[], true, DEFAULT),
            ArchiveDecision::Archive(vec![])
        );
    }

    proptest! {
        /// Whatever the catalog: an incomplete fetch archives nothing; a
        /// complete one archives exactly the departed and deactivated
        /// courses, never more than the share of the active ones without the
        /// flag, and is refused only when that share would be passed.
        #[test]
        fn never_past_the_share_without_the_flag(
            flags in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 0..40),
            max_share in 0.0f64..=1.0,
            allow in any::<bool>(),
            complete in any::<bool>(),
        ) {
            let mut k = HashMap::new();
            let mut seen = HashSet::new();
            let mut deactivated = Vec::new();
            let mut expected = Vec::new();
            for (i, (archived, listed, inactive)) in flags.iter().copied().enumerate() {
                let id = format!("c{i:03}");
                k.insert(id.clone(), Known::new(archived, &BTreeMap::new(), String::new()));
                if listed {
                    seen.insert(id.clone());
                    if inactive && !archived {
                        deactivated.push(id.clone());
                        expected.push(id);
                    }
                } else if !archived {
                    expected.push(id);
                }
            }
            let active = flags.iter().filter(|(archived, _, _)| !archived).count();
            let policy = ArchivePolicy { max_share, allow_mass_archive: allow };
            let d = archive_decision(&k, &seen, &deactivated, complete, policy);
            if !complete {
                prop_assert_eq!(d, ArchiveDecision::Refused(ArchiveRefusal::IncompleteFetch));
                return Ok(());
            }
            let within = active == 0 || expected.len() as f64 <= max_share * active as f64 + 1e-9;
            match d {
                ArchiveDecision::Archive(list) => {
                    prop_assert_eq!(&list, &expected);
                    prop_assert!(allow || within, "{} of {} archived", list.len(), active);
                }
                ArchiveDecision::Refused(ArchiveRefusal::MassArchive { would_archive, active: a, .. }) => {
                    prop_assert!(!allow);
                    prop_assert_eq!((would_archive, a), (expected.len(), active));
                    prop_assert!(expected.len() as f64 > max_share * active as f64 - 1e-9);
                }
                ArchiveDecision::Refused(other) => prop_assert!(false, "refused: {other}"),
            }
        }
    }
}
