//! A statement is acknowledged only once it is durable. On SQLite the group
//! writer's direct connection commits without an fsync, and a thread of its
//! own syncs the log before any request of the group is answered
//! (`writer::Syncer`). Here the sync is a test's own function: answers must
//! wait for it, and after a failed sync nothing more is accepted (over HTTP:
//! 503 and `/readyz` not ready).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingest_server::writer::{SyncFn, WriteError, Writer};
use records::{IntegrationRules, Prepared};
use serde_json::Value;
use store::Store;

mod common;

async fn setup() -> (Store, Arc<IntegrationRules>, std::path::PathBuf) {
    let dir = testkit::scratch_dir("cb-durable");
    let store = Store::open(dir.join("t.db").to_str().expect("utf8"))
        .await
        .expect("open");
    common::seed_ub(&store, &[]).await;
    let rules = Arc::new(records::rules_for(&common::ub_integration()).expect("rules"));
    (store, rules, dir)
}

/// A Udemy progress statement with this id.
fn statement_json(id: &str) -> Value {
    common::progressed(id, None, 0.5)
}

fn statement(id: &str) -> Prepared {
    let raw = statement_json(id).to_string();
    let parsed = xapi_model::parse_statement(raw.as_bytes()).expect("valid");
    let authority = parsed.actor.clone();
    records::prepare(
        parsed,
        raw,
        time::OffsetDateTime::now_utc(),
        uuid::Uuid::new_v4(),
        &authority,
        "1.0.3",
    )
    .expect("prepare")
}

async fn is_stored(store: &Store, id: &str) -> bool {
    let mut tx = store.read().await.expect("read");
    tx.statement(id).await.expect("lookup").is_some()
}

/// A sync that waits until the test lets it go, and says each time it starts.
fn gated() -> (
    SyncFn,
    mpsc::Receiver<()>,
    mpsc::Sender<std::io::Result<()>>,
) {
    let (started_tx, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<std::io::Result<()>>();
    let (started_tx, released) = (Mutex::new(started_tx), Mutex::new(released));
    let sync: SyncFn = Arc::new(move || {
        let _ = started_tx.lock().expect("lock").send(());
        released
            .lock()
            .expect("lock")
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("test ended")))
    });
    (sync, started, release)
}

/// Waits (off the runtime's threads) until a sync has started; gives the
/// receiver back for the next.
async fn sync_started(started: mpsc::Receiver<()>) -> mpsc::Receiver<()> {
    tokio::task::spawn_blocking(move || {
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("a sync after the commit");
        started
    })
    .await
    .expect("join")
}

const A: &str = "00000000-0000-4000-8000-0000000000a1";
const B: &str = "00000000-0000-4000-8000-0000000000b2";
const C: &str = "00000000-0000-4000-8000-0000000000c3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_is_answered_only_after_its_commit_is_synced() {
    let (store, rules, dir) = setup().await;
    let (sync, started, release) = gated();
    let writer = Writer::spawn_with_sync(store.clone(), 1, Some(sync));

    let submit = {
        let (writer, rules) = (writer.clone(), rules.clone());
        tokio::spawn(async move { writer.submit(rules, vec![statement(A)]).await })
    };
    // The group is committed, and its sync has begun…
    sync_started(started).await;
    assert!(is_stored(&store, A).await, "committed before the sync");
    // …but nobody is answered until it ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!submit.is_finished(), "answered before the log was synced");
    release.send(Ok(())).expect("release");
    let outcomes = tokio::time::timeout(Duration::from_secs(10), submit)
        .await
        .expect("answered after the sync")
        .expect("join")
        .expect("stored");
    assert_eq!(outcomes.len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_sync_nothing_is_acknowledged() {
    let (store, rules, dir) = setup().await;
    let (sync, started, release) = gated();
    let writer = Writer::spawn_with_sync(store.clone(), 1, Some(sync));
    assert!(writer.is_durable());

    let submit = {
        let (writer, rules) = (writer.clone(), rules.clone());
        tokio::spawn(async move { writer.submit(rules, vec![statement(B)]).await })
    };
    let started = sync_started(started).await;
    release
        .send(Err(std::io::Error::other("EIO from the disk")))
        .expect("release");
    let answer = tokio::time::timeout(Duration::from_secs(10), submit)
        .await
        .expect("answered")
        .expect("join");
    match answer {
        Err(WriteError::NotDurable(why)) => assert!(why.contains("EIO"), "{why}"),
        other => panic!("a failed sync acknowledged the statement: {other:?}"),
    }
    assert!(!writer.is_durable(), "the writer knows it is not durable");
    // Whatever comes next is refused at once, without being written.
    let next = writer.submit(rules.clone(), vec![statement(C)]).await;
    assert!(matches!(next, Err(WriteError::NotDurable(_))), "{next:?}");
    assert!(
        !is_stored(&store, C).await,
        "nothing written after a failed sync"
    );
    assert!(
        started.recv_timeout(Duration::from_millis(200)).is_err(),
        "no sync is tried again"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// What a submitter keeps for its batch (on the server, the batch's
/// in-flight `stored` time, which holds `Consistent-Through` back) is held by
/// the job: a request dropped while its batch is still to be answered (its
/// client went away) does not let go of it before the commit is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_submitter_keeps_outlives_a_dropped_request() {
    struct Flag(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let (store, rules, dir) = setup().await;
    let (sync, started, release) = gated();
    let writer = Writer::spawn_with_sync(store.clone(), 1, Some(sync));
    let let_go = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let submit = {
        let (writer, rules, flag) = (writer.clone(), rules.clone(), let_go.clone());
        tokio::spawn(async move {
            writer
                .submit_stamped(rules, vec![statement(A)], move |_| Ok(Flag(flag)))
                .await
        })
    };
    // Committed, its sync held; then the request goes away.
    sync_started(started).await;
    submit.abort();
    assert!(submit.await.is_err(), "the request was dropped");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !let_go.load(std::sync::atomic::Ordering::SeqCst),
        "let go before the commit was durable"
    );
    release.send(Ok(())).expect("release");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !let_go.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "never let go after the answer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        is_stored(&store, A).await,
        "the batch was stored all the same"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The real sync: what the direct connection commits, `fdatasync` makes
/// durable; its connection is `synchronous = NORMAL`, every other one FULL.
#[tokio::test]
async fn the_direct_connection_leaves_the_sync_to_the_writer() {
    let (store, _rules, dir) = setup().await;
    let native = store::NativeWriter::open(&store)
        .expect("open")
        .expect("SQLite opens a direct connection");
    native.log_sync().sync().expect("the log syncs");
    assert_eq!(native.synchronous().expect("pragma"), 1, "NORMAL");
    assert_eq!(
        store.sqlite_synchronous().await.expect("pragma"),
        Some(2),
        "the store's own connections sync every commit (FULL)"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Over HTTP: a statement whose commit could not be synced is not
/// acknowledged (503, so that the sender retries), nothing more is taken,
/// and `/readyz` says why; `/healthz` still answers (the process lives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_is_a_503_and_not_ready() {
    let (store, _rules, dir) = setup().await;
    let secret = common::ub_credential(&store, "wh_ub").await;
    let failing: SyncFn = Arc::new(|| Err(std::io::Error::other("EIO from the disk")));
    let config = ingest_server::config::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let server = ingest_server::server::start_with_sync(store.clone(), config, Some(failing))
        .await
        .expect("start");
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let post = |id: &str| {
        let body = serde_json::to_string(&statement_json(id)).expect("json");
        client
            .post(format!("{base}/xapi/statements"))
            .basic_auth("wh_ub", Some(&secret))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let get = |path: &str| client.get(format!("{base}{path}")).send();

    assert_eq!(get("/readyz").await.expect("readyz").status(), 200);
    let metrics = server.app.metrics_text();
    assert!(metrics.starts_with("# HELP coursebridge_writes_durable"));
    assert!(
        metrics.contains("\ncoursebridge_writes_durable 1\n"),
        "{metrics}"
    );
    let r = post(A).await.expect("post");
    assert_eq!(r.status(), 503);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("could not be synced") && text.contains("EIO"),
        "{text}"
    );
    let r = post(B).await.expect("post");
    assert_eq!(r.status(), 503, "nothing more is accepted");
    assert!(!is_stored(&store, B).await, "and nothing more is written");
    let ready = get("/readyz").await.expect("readyz");
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.expect("body").contains("restart"));
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    let metrics = server.app.metrics_text();
    assert!(
        metrics.contains("\ncoursebridge_writes_durable 0\n"),
        "{metrics}"
    );
    server.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(dir);
}

/// What `/metrics` says of the group writer: every committed group with its
/// requests and statements, and every sync of the log; a request refused on
/// its own commits nothing and is not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_counters_count_committed_groups_and_syncs() {
    let (store, rules, dir) = setup().await;
    let syncs = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sync: SyncFn = {
        let syncs = syncs.clone();
        Arc::new(move || {
            syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    };
    let writer = Writer::spawn_with_sync(store.clone(), 1, Some(sync));
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::SeqCst);

    let stored = writer
        .submit(rules.clone(), vec![statement(A), statement(B)])
        .await
        .expect("stored");
    assert_eq!(stored.len(), 2);
    let c = writer.counters();
    assert_eq!(
        (c.groups.get(), c.requests.get(), c.statements.get()),
        (1, 1, 2)
    );
    assert_eq!(c.log_syncs.get(), 1);
    assert_eq!(load(&syncs), 1, "each counted sync is a real one");

    // The same id with other content: refused, nothing committed.
    let mut other = statement_json(A);
    other["result"]["score"]["scaled"] = serde_json::json!(0.9);
    let raw = other.to_string();
    let parsed = xapi_model::parse_statement(raw.as_bytes()).expect("valid");
    let authority = parsed.actor.clone();
    let conflicting = records::prepare(
        parsed,
        raw,
        time::OffsetDateTime::now_utc(),
        uuid::Uuid::new_v4(),
        &authority,
        "1.0.3",
    )
    .expect("prepare");
    let refused = writer.submit(rules.clone(), vec![conflicting]).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!((c.groups.get(), c.requests.get()), (1, 1));

    // Ten requests at once: however they were grouped, all are counted.
    let ids: Vec<String> = (0..10)
        .map(|n| format!("00000000-0000-4000-8000-0000000001{n:02}"))
        .collect();
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (writer, rules, s) = (writer.clone(), rules.clone(), statement(id));
            tokio::spawn(async move { writer.submit(rules, vec![s]).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("stored");
    }
    let groups = c.groups.get();
    assert!((2..=11).contains(&groups), "{groups} groups");
    assert_eq!((c.requests.get(), c.statements.get()), (11, 12));
    assert!(
        c.log_syncs.get() <= groups + 1,
        "one sync per group at most"
    );
    assert_eq!(c.log_syncs.get(), load(&syncs));

    let text = ingest_server::metrics::Metrics::new(c).render(writer.is_durable(), 0);
    for line in [
        format!("\ncoursebridge_write_groups_total {groups}\n"),
        "\ncoursebridge_write_group_requests_total 11\n".to_owned(),
        "\ncoursebridge_write_group_statements_total 12\n".to_owned(),
        format!("\ncoursebridge_log_syncs_total {}\n", load(&syncs)),
        // One size observation per group.
        format!("\ncoursebridge_write_group_size_requests_count {groups}\n"),
        "\ncoursebridge_write_group_size_requests_sum 11.0\n".to_owned(),
        "\ncoursebridge_write_group_size_statements_sum 12.0\n".to_owned(),
    ] {
        assert!(text.contains(&line), "{line:?} not in {text}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn document_put(state_id: &str) -> ingest_server::writer::DocumentWrite {
    use xapi_model::documents::{ApiVersion, Resource};
    ingest_server::writer::DocumentWrite {
        key: store::DocumentKey {
            scope: store::DocumentScope {
                integration_id: "ub-acme".into(),
                resource: "state".into(),
                activity_id: "http://example.com/a".into(),
                agent_key: "mbox:ada@example.com".into(),
                registration: String::new(),
            },
            document_id: state_id.into(),
        },
        op: ingest_server::writer::DocumentOp::Put {
            content_type: "application/json".into(),
            content: br#"{"page": 1}"#.to_vec(),
        },
        version: ApiVersion::V1_0,
        resource: Resource::State,
        if_match: None,
        if_none_match: None,
        strict: false,
        max_bytes: 1 << 20,
    }
}

/// A document write, like a statement, is answered only once its commit is
/// synced, and not acknowledged at all when the sync fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_is_answered_only_after_its_commit_is_synced() {
    let (store, _, dir) = setup().await;
    let (sync, started, release) = gated();
    let writer = Writer::spawn_with_sync(store.clone(), 1, Some(sync));
    let stored = |store: Store, id: &'static str| async move {
        store
            .read()
            .await
            .expect("read")
            .document(&document_put(id).key)
            .await
            .expect("lookup")
            .is_some()
    };

    let submit = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.submit_document(document_put("kept")).await })
    };
    let started = sync_started(started).await;
    assert!(
        stored(store.clone(), "kept").await,
        "committed before the sync"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!submit.is_finished(), "answered before the log was synced");
    release.send(Ok(())).expect("release");
    let written = tokio::time::timeout(Duration::from_secs(10), submit)
        .await
        .expect("answered after the sync")
        .expect("join")
        .expect("written");
    assert!(written.etag.is_some());

    // A failed sync: the write is not acknowledged, nor is any after it.
    let submit = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.submit_document(document_put("lost")).await })
    };
    sync_started(started).await;
    release
        .send(Err(std::io::Error::other("disk on fire")))
        .expect("release");
    let answer = tokio::time::timeout(Duration::from_secs(10), submit)
        .await
        .expect("answered")
        .expect("join");
    assert!(
        matches!(
            answer,
            Err(ingest_server::writer::DocumentWriteError::Write(
                WriteError::NotDurable(_)
            ))
        ),
        "{answer:?}"
    );
    let again = writer.submit_document(document_put("after")).await;
    assert!(
        matches!(
            again,
            Err(ingest_server::writer::DocumentWriteError::Write(
                WriteError::NotDurable(_)
            ))
        ),
        "{again:?}"
    );
    assert!(!stored(store.clone(), "after").await);
    let _ = std::fs::remove_dir_all(dir);
}
