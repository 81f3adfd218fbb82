//! The change feed over HTTP, on both engines: statements change learners'
//! statistics and each change is a `statistic.updated` event in `seq` order
//! with the identifiers the LMS knows; pages resume from `next_after`, filters
//! never make a consumer read an event twice or skip one; retention answers
//! 410, a consumer ahead of the server 409, bad parameters 400.

mod common;

use base64::Engine as _;
use common::{T0, progressed, seed_ub, ub_credential};
use ingest_server::config::Config;
use ingest_server::server;
use serde_json::{Value, json};
use store::Store;
use testkit::{Engine, TestDatabase};

struct Env {
    base: String,
    client: reqwest::Client,
    provider: String,
    lms: String,
    store: Store,
}

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

impl Env {
    async fn post_statements(&self, body: &Value) -> u16 {
        self.client
            .post(format!("{}/xapi/statements", self.base))
            .header("Authorization", &self.provider)
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("post")
            .status()
            .as_u16()
    }

    async fn feed(&self, query: &str) -> (u16, Value) {
        self.feed_as(query, Some(&self.lms)).await
    }

    async fn feed_as(&self, query: &str, auth: Option<&str>) -> (u16, Value) {
        let mut rb = self
            .client
            .get(format!("{}/api/v1/events{query}", self.base));
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        let r = rb.send().await.expect("get");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn seqs(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect()
}

async fn the_feed_tells_every_statistic_change_in_order(engine: Engine) {
    let db = TestDatabase::create(engine, "feed").await;
    let store = db.open().await;
    seed_ub(&store, &["ada@example.com", "bob@example.com"]).await;
    let provider = basic("wh_ub", &ub_credential(&store, "wh_ub").await);
    let lms_secret = ingest_server::auth::new_secret();
    {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_api_client("lms", &ingest_server::auth::hash_secret(&lms_secret), T0)
            .await
            .expect("lms");
        tx.commit().await.expect("commit");
    }
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    let retention = config.delivery.clone();
    let running = server::start(store.clone(), config).await.expect("start");
    let env = Env {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::new(),
        provider,
        lms: basic("lms", &lms_secret),
        store: store.clone(),
    };

    // Nothing yet.
    let (s, page) = env.feed("").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page, json!({"events": [], "next_after": 0, "last_seq": 0}));

    let batch = json!([
        progressed(
            "3f0c0c52-0000-4000-8000-000000000001",
            Some("ada@example.com"),
            0.4
        ),
        progressed(
            "3f0c0c52-0000-4000-8000-000000000002",
            Some("bob@example.com"),
            0.8
        ),
    ]);
    assert_eq!(env.post_statements(&batch).await, 200);
    let (s, page) = env.feed("?after=0").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(seqs(&page), vec![1, 2]);
    assert_eq!(
        (page["next_after"].as_i64(), page["last_seq"].as_i64()),
        (Some(2), Some(2))
    );
    let mut learners = Vec::new();
    for e in page["events"].as_array().expect("events") {
        assert_eq!(e["type"], "statistic.updated");
        assert_eq!(e["integration"], "ub-acme");
        assert!(
            e["id"].as_str().is_some_and(|id| id.starts_with("evt_")),
            "{e}"
        );
        assert!(e["timestamp"].is_string(), "{e}");
        let d = &e["data"];
        assert_eq!(
            (&d["course"], &d["kind"]),
            (&json!("1565838"), &json!("course"))
        );
        assert!(d["progress"].as_f64().is_some_and(|p| p > 0.0), "{d}");
        for field in [
            "completed",
            "result",
            "score",
            "time_spent_ms",
            "attempts",
            "updated_at",
            "last_activity_at",
        ] {
            assert!(d.get(field).is_some(), "{field} in {d}");
        }
        learners.push(d["learner"].as_str().expect("learner").to_owned());
    }
    learners.sort();
    assert_eq!(learners, ["u-0", "u-1"]);

    // A retried batch changes nothing and tells nothing.
    assert_eq!(env.post_statements(&batch).await, 200);
    let (_, page) = env.feed("?after=2").await;
    assert_eq!(seqs(&page), Vec::<i64>::new());

    // More changes; paging one event at a time from next_after sees each once.
    let more = json!([progressed(
        "3f0c0c52-0000-4000-8000-000000000003",
        Some("ada@example.com"),
        0.9
    ),]);
    assert_eq!(env.post_statements(&more).await, 200);
    let mut after = 0;
    let mut read = Vec::new();
    loop {
        let (s, page) = env.feed(&format!("?after={after}&limit=1")).await;
        assert_eq!(s, 200, "{page}");
        let got = seqs(&page);
        if got.is_empty() {
            break;
        }
        read.extend(got);
        after = page["next_after"].as_i64().expect("next_after");
    }
    assert_eq!(read, vec![1, 2, 3]);

    // Filters: nothing matches, yet the consumer moves on past what was examined.
    let (_, page) = env.feed("?after=0&types=course.*").await;
    assert_eq!(
        (seqs(&page), page["next_after"].as_i64()),
        (vec![], Some(3))
    );
    let (_, page) = env.feed("?after=0&integration=os-acme").await;
    assert_eq!(
        (seqs(&page), page["next_after"].as_i64()),
        (vec![], Some(3))
    );
    let (_, page) = env
        .feed("?after=0&types=statistic.updated&integration=ub-acme&limit=2")
        .await;
    assert_eq!(
        (seqs(&page), page["next_after"].as_i64()),
        (vec![1, 2], Some(2))
    );

    // Bad input names the parameter; no credentials, no feed.
    for (q, field) in [
        ("?after=-1", "after"),
        ("?after=x", "after"),
        ("?limit=0", "limit"),
        ("?limit=5001", "limit"),
        ("?types=course.deleted", "types"),
        ("?since=1", "since"),
    ] {
        let (s, body) = env.feed(q).await;
        assert_eq!(s, 400, "{q}: {body}");
        assert!(body.to_string().contains(field), "{q}: {body}");
    }
    assert_eq!(env.feed_as("", None).await.0, 401);
    assert_eq!(env.feed_as("", Some(&basic("lms", "wrong"))).await.0, 401);
    // A consumer ahead of the server (a database restored from a backup).
    let (s, body) = env.feed("?after=99").await;
    assert_eq!(s, 409, "{body}");

    // Past retention: 410, telling the consumer how to resynchronize.
    let later = ingest_server::clock::now_ms() + 31 * 86_400_000;
    assert_eq!(
        ingest_server::delivery::prune(&env.store, &retention, later)
            .await
            .expect("prune"),
        3
    );
    let (s, body) = env.feed("?after=0").await;
    assert_eq!(s, 410, "{body}");
    assert!(body.to_string().contains("/api/v1/courses"), "{body}");
    let (s, page) = env.feed("?after=3").await;
    assert_eq!((s, seqs(&page)), (200, vec![]), "{page}");

    running.stop().await.expect("stop");
    store.close().await;
    db.remove().await;
}

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    fn the_feed_tells_every_statistic_change_in_order_sqlite,
    the_feed_tells_every_statistic_change_in_order_postgres =
        the_feed_tells_every_statistic_change_in_order()
);
