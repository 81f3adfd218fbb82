//! `/metrics` over HTTP, read as Prometheus does: every sample parsed with
//! its labels and checked against what the test did (statements posted,
//! requests per route, the group writer, SCORM postbacks, the sync runs
//! recorded in `sync_runs`), on SQLite and PostgreSQL.

mod common;

use std::collections::{BTreeMap, HashMap};

use ingest_server::config::Config;
use ingest_server::server;
use serde_json::json;
use store::{RunCounts, Store};
use testkit::{Engine, TestDatabase};

use common::{T0, progressed, seed_ub, ub_credential};

/// One sample: its labels and value.
type Sample = (BTreeMap<String, String>, f64);

/// A scrape: each family's type, and each sample name's samples.
#[derive(Debug)]
struct Scrape {
    types: HashMap<String, String>,
    samples: HashMap<String, Vec<Sample>>,
}

/// Parses the Prometheus text format (0.0.4); panics on a malformed line,
/// or on a sample whose family has no `# TYPE`.
fn parse(text: &str) -> Scrape {
    let mut types = HashMap::new();
    let mut samples: HashMap<String, Vec<Sample>> = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample: series value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|base| types.contains_key(*base))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family) || types.contains_key(name),
            "{name}: no # TYPE"
        );
        samples
            .entry(name.to_owned())
            .or_default()
            .push((labels, value));
    }
    Scrape { types, samples }
}

impl Scrape {
    /// The value of the sample `name` whose labels include `labels`
    /// (exactly one must match).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .samples
            .get(name)
            .unwrap_or_else(|| panic!("{name} not scraped"))
            .iter()
            .filter(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0]
    }

    fn kind(&self, family: &str) -> &str {
        self.types
            .get(family)
            .unwrap_or_else(|| panic!("{family}: no # TYPE"))
    }

    /// Checks a histogram's series: buckets never go down, `+Inf` is the count.
    fn check_histogram(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        assert_eq!(self.kind(family), "histogram");
        let mut buckets: Vec<(f64, f64)> = self.samples[&format!("{family}_bucket")]
            .iter()
            .filter(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(l, v)| {
                let le = match l["le"].as_str() {
                    "+Inf" => f64::INFINITY,
                    le => le.parse().expect("le"),
                };
                (le, *v)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
        let count = self.value(&format!("{family}_count"), labels);
        assert_eq!(
            buckets.last().map(|b| (b.0, b.1)),
            Some((f64::INFINITY, count))
        );
        count
    }
}

async fn scrape(client: &reqwest::Client, base: &str, lms: &str) -> Scrape {
    let r = client
        .get(format!("{base}/metrics"))
        .basic_auth("lms_test", Some(lms))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain; version=0.0.4")
    );
    parse(&r.text().await.expect("text"))
}

/// Two finished runs of `ub-acme` (ok, then failed 30 s long) and one running.
async fn record_sync_runs(store: &Store) {
    let mut tx = store.begin().await.expect("begin");
    let ok = tx.start_run("ub-acme", T0, false).await.expect("run");
    tx.finish_run(ok, T0 + 90_000, "ok", &RunCounts::default(), None)
        .await
        .expect("finish");
    let failed = tx
        .start_run("ub-acme", T0 + 100_000, false)
        .await
        .expect("run");
    tx.finish_run(
        failed,
        T0 + 130_000,
        "failed",
        &RunCounts::default(),
        Some("HTTP 500"),
    )
    .await
    .expect("finish");
    tx.start_run("ub-acme", T0 + 200_000, false)
        .await
        .expect("run");
    tx.commit().await.expect("commit");
}

async fn after_statements(engine: Engine) {
    let db = TestDatabase::create(engine, "metrics").await;
    let store = db.open().await;
    seed_ub(&store, &["ada@example.com"]).await;
    let secret = ub_credential(&store, "wh_ub").await;
    let lms = ingest_server::auth::new_secret();
    {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_api_client("lms_test", &ingest_server::auth::hash_secret(&lms), T0)
            .await
            .expect("lms");
        tx.commit().await.expect("commit");
    }
    record_sync_runs(&store).await;
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let running = server::start(store.clone(), config).await.expect("start");
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        client
            .post(format!("{base}/xapi/statements"))
            .basic_auth("wh_ub", Some(&secret))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
    };
    // Two stored (one parked: unknown learner), then one invalid, then one more.
    let id = |n: u32| format!("00000000-0000-4000-8000-00000000000{n}");
    let batch = json!([
        progressed(&id(1), Some("ada@example.com"), 0.5),
        progressed(&id(2), Some("nobody@example.com"), 0.5),
    ]);
    assert_eq!(post(batch).await.expect("post").status(), 200);
    assert_eq!(
        post(json!({"actor": {}})).await.expect("post").status(),
        400
    );
    let one = progressed(&id(3), Some("ada@example.com"), 0.7);
    assert_eq!(post(one).await.expect("post").status(), 200);
    let postback = client
        .post(format!("{base}/scorm/postback"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("data=not-a-postback")
        .send()
        .await
        .expect("postback");
    assert!(postback.status().is_client_error(), "{}", postback.status());

    // Neither a raw path nor a made-up method becomes a series of its own.
    for (method, path) in [("GET", "/no/such/path/42"), ("BREW", "/xapi/statements")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = client
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .expect("request");
        assert!(r.status().is_client_error(), "{}", r.status());
    }

    let m = scrape(&client, &base, &lms).await;
    let family = "coursebridge_request_duration_seconds";
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("code", "4xx")];
    assert_eq!(m.check_histogram(family, &unmatched), 1.0);
    let other = [("route", "/xapi/statements"), ("method", "other")];
    assert_eq!(m.check_histogram(family, &other), 1.0);
    // The statements' counters.
    assert_eq!(m.kind("coursebridge_statements_accepted_total"), "counter");
    assert_eq!(m.value("coursebridge_statements_accepted_total", &[]), 3.0);
    assert_eq!(m.value("coursebridge_statements_pending_total", &[]), 1.0);
    assert_eq!(m.value("coursebridge_statements_rejected_total", &[]), 1.0);
    assert_eq!(m.value("coursebridge_writes_durable", &[]), 1.0);
    // Latency per route: exactly the requests sent, by status class.
    let route = |code| {
        [
            ("route", "/xapi/statements"),
            ("method", "POST"),
            ("code", code),
        ]
    };
    assert_eq!(m.check_histogram(family, &route("2xx")), 2.0);
    assert_eq!(m.check_histogram(family, &route("4xx")), 1.0);
    let postbacks = [("route", "/scorm/postback"), ("method", "POST")];
    assert_eq!(m.check_histogram(family, &postbacks), 1.0);
    assert!(
        !m.samples[&format!("{family}_count")]
            .iter()
            .any(|(l, _)| l["route"] == "/metrics"),
        "a scrape is timed once answered"
    );
    // The group writer: one size observation per group, summing to the requests.
    let groups = m.value("coursebridge_write_groups_total", &[]);
    let sizes = "coursebridge_write_group_size_requests";
    assert_eq!(m.check_histogram(sizes, &[]), groups);
    assert_eq!(m.value(&format!("{sizes}_sum"), &[]), 2.0);
    let statements = "coursebridge_write_group_size_statements";
    assert_eq!(m.check_histogram(statements, &[]), groups);
    assert_eq!(m.value(&format!("{statements}_sum"), &[]), 3.0);
    assert_eq!(m.kind("coursebridge_write_queue_depth"), "gauge");
    assert_eq!(m.value("coursebridge_write_queue_depth", &[]), 0.0);
    // SCORM postbacks.
    let refused = [("outcome", "refused")];
    assert_eq!(m.value("coursebridge_scorm_postbacks_total", &refused), 1.0);
    // The sync runs, read from sync_runs.
    let ub = ("integration", "ub-acme");
    for (outcome, n) in [("ok", 1.0), ("failed", 1.0)] {
        let labels = [ub, ("outcome", outcome)];
        assert_eq!(m.value("coursebridge_sync_runs_total", &labels), n);
    }
    assert_eq!(m.value("coursebridge_sync_runs_running", &[ub]), 1.0);
    let duration = m.value("coursebridge_sync_last_run_duration_seconds", &[ub]);
    assert_eq!(duration, 30.0);
    let finished = m.value("coursebridge_sync_last_run_timestamp_seconds", &[ub]);
    assert_eq!(finished, (T0 + 130_000) as f64 / 1000.0);
    let ok_at = m.value("coursebridge_sync_last_success_timestamp_seconds", &[ub]);
    assert_eq!(ok_at, (T0 + 90_000) as f64 / 1000.0);
    assert_eq!(m.value("coursebridge_sync_last_run_ok", &[ub]), 0.0);
    // Webhooks: nothing delivered, the lag histogram empty but declared.
    assert_eq!(
        m.check_histogram("coursebridge_webhook_delivery_lag_seconds", &[]),
        0.0
    );

    // A new run shows at the next scrape; the first scrape was timed.
    {
        let mut tx = store.begin().await.expect("begin");
        let ok = tx
            .start_run("ub-acme", T0 + 300_000, false)
            .await
            .expect("run");
        tx.finish_run(ok, T0 + 310_000, "ok", &RunCounts::default(), None)
            .await
            .expect("finish");
        tx.commit().await.expect("commit");
    }
    let m = scrape(&client, &base, &lms).await;
    let labels = [ub, ("outcome", "ok")];
    assert_eq!(m.value("coursebridge_sync_runs_total", &labels), 2.0);
    assert_eq!(m.value("coursebridge_sync_last_run_ok", &[ub]), 1.0);
    let metrics = [("route", "/metrics"), ("method", "GET"), ("code", "2xx")];
    assert_eq!(m.check_histogram(family, &metrics), 1.0);

    docs_and_dashboard_name_what_is_scraped(&m);

    running.stop().await.expect("stop");
    store.close().await;
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn scrape_after_statements,
    scrape_after_statements_postgres = after_statements()
);

/// The `coursebridge_…` names in `text`.
fn names_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("coursebridge_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// docs/operations.md's table lists every family scraped, and neither it
/// nor docs/grafana-dashboard.json names a series that is not scraped.
fn docs_and_dashboard_name_what_is_scraped(m: &Scrape) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("read");
    let operations = read("docs/operations.md");
    let documented = names_in(&operations);
    for family in m.types.keys() {
        assert!(
            documented.contains(family),
            "{family}: not in docs/operations.md"
        );
    }
    let dashboard = read("docs/grafana-dashboard.json");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    for name in names_in(&dashboard).iter().chain(&documented) {
        assert!(
            m.samples.contains_key(name) || m.types.contains_key(name),
            "{name}: named in the docs or the dashboard, not scraped"
        );
    }
}
