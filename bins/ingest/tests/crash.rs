//! Nothing acknowledged is lost when the server process dies: the real binary
//! serves concurrent batches — and voiding statements sent at the same
//! moment as their targets — and is killed (SIGKILL) in the middle of them;
//! after a restart every statement that got a 2xx is stored, every
//! acknowledged target of an acknowledged void is voided (a voiding check the
//! kill interrupted is repaired at the start), and the statistics equal what
//! a replay of the stored log gives. On SQLite and on PostgreSQL. A crash of the machine is the log's sync on SQLite, which every
//! answer waits for (`durable_answers.rs`), and PostgreSQL's own commit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::Store;
use testkit::{Engine, TestDatabase};

mod common;

use common::served::{LEARNERS, free_port, progressed, seed, serve, statistics, wait_ready};

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn acknowledged_statements_survive_a_killed_server,
    acknowledged_statements_survive_a_killed_server_postgres = kill_under_load_on()
);

/// [`kill_under_load`] on a fresh database.
async fn kill_under_load_on(engine: Engine) {
    let db = TestDatabase::create(engine, "crash").await;
    kill_under_load(db.url()).await;
    db.remove().await;
}

/// Seeds `db`, serves it, kills the server under load, checks what a restart
/// finds and that the restarted server takes statements.
async fn kill_under_load(db: &str) {
    let secret = seed(db).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(db, port);
    wait_ready(&client, &base).await;

    // Eight senders post batches of ten until the server is gone; two more
    // post targets and their voids at the same moment.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let voided_pairs = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for t in 0..2usize {
        let (client, base, secret, acknowledged, voided_pairs) = (
            client.clone(),
            base.clone(),
            secret.clone(),
            acknowledged.clone(),
            voided_pairs.clone(),
        );
        senders.push(tokio::spawn(async move {
            let post = |body: Value| {
                client
                    .post(format!("{base}/xapi/statements"))
                    .basic_auth("wh_ub", Some(&secret))
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
            };
            for round in 0usize.. {
                let ids: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
                let targets: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| progressed(id, (t * 5 + round + i) % LEARNERS, 1.0))
                    .collect();
                let voids: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        json!({"actor": {"mbox": "mailto:admin@example.com"},
                               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                               "object": {"objectType": "StatementRef", "id": id}})
                    })
                    .collect();
                let (a, b) = tokio::join!(post(Value::Array(targets)), post(Value::Array(voids)));
                match (a, b) {
                    (Ok(a), Ok(b)) if a.status().is_success() && b.status().is_success() => {
                        acknowledged
                            .lock()
                            .expect("lock")
                            .extend(ids.iter().cloned());
                        voided_pairs.lock().expect("lock").extend(ids);
                    }
                    (Ok(a), Ok(b)) if a.status().is_success() || b.status().is_success() => {
                        // One answered, the other not (the kill): no pair.
                        return;
                    }
                    (Ok(a), Ok(b)) => {
                        panic!("refused before the kill: {} {}", a.status(), b.status())
                    }
                    _ => return,
                }
            }
        }));
    }
    for t in 0..8usize {
        let (client, base, secret, acknowledged) = (
            client.clone(),
            base.clone(),
            secret.clone(),
            acknowledged.clone(),
        );
        senders.push(tokio::spawn(async move {
            for round in 0usize.. {
                let ids: Vec<String> = (0..10).map(|_| uuid::Uuid::new_v4().to_string()).collect();
                let batch: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let n = (t * 7 + round * 3 + i) % LEARNERS;
                        progressed(id, n, ((round * 10 + i) % 100) as f64 / 100.0)
                    })
                    .collect();
                let sent = client
                    .post(format!("{base}/xapi/statements"))
                    .basic_auth("wh_ub", Some(&secret))
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(Value::Array(batch).to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acknowledged.lock().expect("lock").extend(ids);
                    }
                    Ok(r) => panic!("refused before the kill: {}", r.status()),
                    // The server is gone.
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill it while they are sending, once a good number were acknowledged.
    let until = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().expect("lock").len() < 2_000 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    for s in senders {
        s.await.expect("sender");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 2_000,
        "only {} acknowledged",
        acknowledged.len()
    );

    let voided_pairs = voided_pairs.lock().expect("lock").clone();
    assert!(!voided_pairs.is_empty(), "no voiding pair was acknowledged");
    eprintln!(
        "crash: {} statements acknowledged before SIGKILL, {} of them voided by acknowledged pairs",
        acknowledged.len(),
        voided_pairs.len()
    );

    // The next start repairs a voiding check the kill interrupted.
    let mut restarted = serve(db, port);
    wait_ready(&client, &base).await;
    let store = Store::open(db).await.expect("reopen");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let left = store
            .read()
            .await
            .expect("read")
            .unvoided_targets()
            .await
            .expect("read");
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "not repaired at start: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    restarted.kill().expect("stop");
    restarted.wait().expect("reaped");

    // The store as it is then: every acknowledged statement, every
    // acknowledged pair's target voided.
    {
        let mut tx = store.read().await.expect("read");
        for id in &voided_pairs {
            let s = tx.statement(id).await.expect("lookup").expect("stored");
            assert!(
                s.voided,
                "statement {id} and its void were acknowledged; it is not voided"
            );
        }
    }
    {
        let mut tx = store.read().await.expect("read");
        for id in &acknowledged {
            assert!(
                tx.statement(id).await.expect("lookup").is_some(),
                "statement {id} was acknowledged and is lost"
            );
        }
    }
    // (PostgreSQL enforces references itself: None.)
    assert!(
        matches!(
            store.foreign_key_violations().await.expect("check"),
            None | Some(0)
        ),
        "no reference points nowhere"
    );
    // The statistics are those of the stored log.
    let live = statistics(&store).await;
    assert_eq!(live.len(), LEARNERS, "every learner has statistics");
    let rules = records::rules_for(&common::ub_integration()).expect("rules");
    records::replay(&store, |_| Ok(rules.clone()), common::T0)
        .await
        .expect("replay");
    assert_eq!(statistics(&store).await, live);

    // And the restarted server takes statements again.
    store.close().await;
    let mut server = serve(db, port);
    wait_ready(&client, &base).await;
    let id = uuid::Uuid::new_v4().to_string();
    let r = client
        .post(format!("{base}/xapi/statements"))
        .basic_auth("wh_ub", Some(&secret))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(progressed(&id, 0, 0.5).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    server.kill().expect("stop");
    server.wait().expect("reaped");
}
