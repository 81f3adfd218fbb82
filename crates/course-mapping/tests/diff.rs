//! Properties of the catalog diff.

use std::collections::{HashMap, HashSet};

use course_mapping::MappedCourse;
use course_mapping::diff::{Change, Known, apply, classify, departed};
use proptest::prelude::*;

fn course() -> impl Strategy<Value = MappedCourse> {
    (
        0u8..30,
        "[A-Z][a-z]{2,8}",
        proptest::option::of(1i64..300),
        any::<bool>(),
        proptest::option::of(prop::sample::select(vec!["en", "fr", "de"])),
    )
        .prop_map(|(id, name, duration, archived, lang)| MappedCourse {
            external_id: format!("c-{id}"),
            name,
            description: None,
            image: None,
            course_duration: duration,
            author: None,
            lang: lang.map(str::to_owned),
            languages: lang.map(|l| vec![l.to_owned()]).unwrap_or_default(),
            launch_url: Some(format!("https://p.example/{id}")),
            modified_at: None,
            subjects: vec![],
            archived,
            content_type: Some("course".into()),
            activity_ids: vec![format!("c-{id}")],
            warnings: vec![],
        })
}

/// A catalog: unique external ids.
fn catalog() -> impl Strategy<Value = Vec<MappedCourse>> {
    prop::collection::vec(course(), 0..25).prop_map(|v| {
        let mut seen = HashSet::new();
        v.into_iter()
            .filter(|c| seen.insert(c.external_id.clone()))
            .collect()
    })
}

fn known_of(c: &MappedCourse) -> Known {
    Known::new(c.archived, &c.field_hashes(), c.content_hash())
}

proptest! {
    /// After a sync the stored catalog is the fetched one, and every course the
    /// provider dropped is archived (never deleted).
    #[test]
    fn applying_the_diff_yields_the_new_state(old in catalog(), new in catalog()) {
        let known: HashMap<String, Known> = apply(&HashMap::new(), &old);
        let next = apply(&known, &new);
        for c in &new {
                        prop_assert_eq!(&next[&c.external_id], &known_of(c));
        }
        let fetched: HashSet<&str> = new.iter().map(|c| c.external_id.as_str()).collect();
        for id in known.keys() {
            prop_assert!(next.contains_key(id), "nothing is deleted");
            if !fetched.contains(id.as_str()) {
                prop_assert!(next[id].archived, "{} left the catalog and must be archived", id);
            }
        }
    }

    /// Syncing an unchanged catalog changes nothing.
    #[test]
    fn an_unchanged_catalog_yields_zero_changes(cat in catalog(), old in catalog()) {
        let known = apply(&apply(&HashMap::new(), &old), &cat);
        for c in &cat {
            prop_assert_eq!(classify(known.get(&c.external_id), c), Change::Unchanged);
        }
        let seen: HashSet<String> = cat.iter().map(|c| c.external_id.clone()).collect();
        prop_assert!(departed(&known, &seen).is_empty());
        prop_assert_eq!(apply(&known, &cat), known);
    }

    /// An update names exactly the fields whose values changed.
    #[test]
    fn updates_name_the_changed_fields(c in course(), new_name in "[a-z]{3,9}", new_duration in 301i64..400) {
        let mut c = c;
        c.archived = false;
        let known = known_of(&c);
        let mut changed = c.clone();
        changed.name = new_name;
        changed.course_duration = Some(new_duration);
        prop_assert_eq!(classify(Some(&known), &changed), Change::Updated(vec!["courseDuration".into(), "name".into()]));
        let mut inactive = c.clone();
        inactive.archived = true;
                prop_assert_eq!(classify(Some(&known), &inactive), Change::Deactivated(vec![]));
        let mut inactive_changed = changed.clone();
        inactive_changed.archived = true;
        prop_assert_eq!(classify(Some(&known), &inactive_changed), Change::Deactivated(vec!["courseDuration".into(), "name".into()]));
        let mut archived_known = known.clone();
        archived_known.archived = true;
        prop_assert_eq!(classify(Some(&archived_known), &c), Change::Reactivated(vec![]));
    }
}
