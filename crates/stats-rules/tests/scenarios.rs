//! Fixture-driven scenarios: `fixtures/scenarios/*.json`, each a timeline of
//! events for one learner, folded into statistics and snapshotted (one
//! snapshot per scenario). Every scenario is also folded reversed and with
//! every event duplicated, and applied incrementally in order: all must agree.
//! Every scenario that does not match is reported (insta's `glob!`), not just
//! the first.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use stats_rules::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    provider: Provider,
    #[serde(default)]
    year: Option<i32>,
    events: Vec<ScenarioEvent>,
    #[serde(default)]
    path: Option<PathDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioEvent {
    #[serde(default = "default_course")]
    course: String,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    stored: Option<String>,
    #[serde(default)]
    launch: Option<Launch>,
    /// A statement: `verb` (an ADL verb name or a full IRI), `object_type`, `result`.
    #[serde(default)]
    statement: Option<Value>,
    #[serde(default)]
    scorm: Option<ScormResult>,
    #[serde(rename = "override", default)]
    override_: Option<Override>,
}

fn default_course() -> String {
    "course".into()
}

fn ts(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("bad time {s}: {e}"))
}

/// Builds a real xAPI statement, validates it, and reduces it by the provider's rules.
fn statement_event(
    spec: &Value,
    course: &str,
    id: Uuid,
    at: &str,
    rules: &ProviderRules,
) -> StatementFacts {
    let verb = spec["verb"].as_str().expect("statement.verb");
    let verb_iri = if verb.contains(':') {
        verb.to_owned()
    } else {
        format!("http://adlnet.gov/expapi/verbs/{verb}")
    };
    let object_type = spec
        .get("object_type")
        .and_then(Value::as_str)
        .unwrap_or("http://adlnet.gov/expapi/activities/course");
    let mut st = json!({
        "id": id.to_string(),
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.com"},
        "verb": {"id": verb_iri},
        "object": {"objectType": "Activity", "id": format!("https://provider.example.com/{course}"), "definition": {"type": object_type}},
        "timestamp": at,
    });
    if let Some(r) = spec.get("result") {
        st["result"] = r.clone();
    }
    let parsed = xapi_model::statement_from_value(st)
        .unwrap_or_else(|e| panic!("scenario statement invalid: {e:?}"));
    rules.statement_facts(&parsed, rules.target_kind(&parsed))
}

fn events_of(s: &Scenario, rules: &ProviderRules) -> BTreeMap<String, Vec<Event>> {
    let mut by_course: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for (i, e) in s.events.iter().enumerate() {
        let at =
            e.at.as_deref()
                .or_else(|| e.statement.as_ref().and_then(|st| st["timestamp"].as_str()))
                .expect("event time (at)");
        let id = e.id.unwrap_or_else(|| Uuid::from_u128(i as u128 + 1));
        let kind = match (&e.launch, &e.statement, &e.scorm, &e.override_) {
            (Some(l), None, None, None) => EventKind::Launch(l.clone()),
            (None, Some(st), None, None) => {
                EventKind::Statement(statement_event(st, &e.course, id, at, rules))
            }
            (None, None, Some(r), None) => EventKind::Scorm(*r),
            (None, None, None, Some(o)) => EventKind::Override(o.clone()),
            _ => panic!("event {i}: exactly one of launch, statement, scorm, override"),
        };
        by_course.entry(e.course.clone()).or_default().push(Event {
            id,
            at: ts(at),
            stored: ts(e.stored.as_deref().unwrap_or(at)),
            kind,
        });
    }
    by_course
}

fn name(file: &Path) -> String {
    file.file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned()
}

/// A scenario folded into its statistics (checking that arrival order,
/// duplicates and incremental application do not change them), as snapshotted.
fn folded(file: &Path) -> Value {
    let name = name(file);
    let scenario: Scenario = serde_json::from_slice(&std::fs::read(file).expect("read"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut rules = Rules::new(ProviderRules::for_provider(scenario.provider));
    if let Some(y) = scenario.year {
        rules.policies = Policies::seed_000(y).expect("year");
    }
    let mut courses = serde_json::Map::new();
    let mut all_stats = BTreeMap::new();
    for (course, events) in events_of(&scenario, &rules.provider) {
        let stats = fold(events.clone(), &rules).stats(&rules);

        // Arrival order and duplication do not matter.
        let mut reversed_doubled: Vec<Event> = events.iter().rev().cloned().collect();
        reversed_doubled.extend(events.iter().cloned());
        assert_eq!(
            fold(reversed_doubled, &rules).stats(&rules),
            stats,
            "{name}/{course}: order or duplicates changed the result"
        );

        // Incremental application in order equals the fold.
        let mut sorted = events.clone();
        sorted.sort_by_key(Event::key);
        let mut state = LearnerState::default();
        for e in &sorted {
            state.apply(e, &rules).expect("in order");
        }
        assert_eq!(
            state.stats(&rules),
            stats,
            "{name}/{course}: incremental differs from fold"
        );

        courses.insert(
            course.clone(),
            serde_json::to_value(&stats).expect("serialize"),
        );
        all_stats.insert(course, stats);
    }
    let mut out = json!({ "description": scenario.description, "courses": courses });
    if let Some(path) = &scenario.path {
        out["path"] =
            serde_json::to_value(path_progress(path, |c| all_stats.get(c))).expect("serialize");
    }
    out
}

#[test]
fn scenarios() {
    let _serial = testkit::snapshots_one_at_a_time();
    let mut checks = testkit::FixtureChecks::default();
    let mut scenarios = 0;
    insta::glob!("../../../fixtures/scenarios", "*.json", |file| {
        scenarios += 1;
        if let Some(out) = checks.run(file, || folded(file)) {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path("snapshots");
            settings.set_prepend_module_to_snapshot(false);
            // The snapshot keeps the scenario's name alone (no `glob!` suffix).
            settings.remove_snapshot_suffix();
            let name = name(file);
            settings.bind(|| {
                insta::assert_snapshot!(name, serde_json::to_string_pretty(&out).expect("json"))
            });
        }
    });
    checks.assert_all_passed();
    assert!(
        scenarios >= 20,
        "expected the scenario set, found {scenarios}"
    );
}
