//! The outbox on both engines: a reader polling the feed while several
//! writers commit out of order never skips an event and never sees one
//! twice; retention prunes the oldest events and remembers where it stopped.

use std::time::Duration;

use store::{NewEvent, Store};
use testkit::{Engine, TestDatabase};

async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDatabase::create(engine, "outbox").await;
    let store = db.open().await;
    check(store.clone()).await;
    store.close().await;
    db.remove().await;
}

fn event(writer: usize, n: usize, k: usize, at_ms: i64) -> NewEvent {
    NewEvent {
        event_type: "course.updated",
        integration_id: "it".into(),
        course_id: None,
        learner_id: None,
        data: format!("{{\"w\":{writer},\"n\":{n},\"k\":{k}}}"),
        at_ms,
    }
}

const WRITERS: usize = 4;
const TXS: usize = 40;
const PER_TX: usize = 3;

/// Writers hold their transactions open for different times after
/// appending, so that on PostgreSQL later inserts commit before earlier
/// ones; a sequencer and a reader run all along.
async fn a_polling_reader_misses_nothing(store: Store) {
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..TXS {
                let mut tx = store.begin().await.expect("begin");
                let events: Vec<NewEvent> = (0..PER_TX).map(|k| event(w, n, k, 1)).collect();
                tx.append_events(&events).await.expect("append");
                // 0–3 ms, different per writer and transaction.
                tokio::time::sleep(Duration::from_micros(((w * 7 + n * 13) % 4) as u64 * 1000))
                    .await;
                tx.commit().await.expect("commit");
            }
        }));
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sequencer = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let mut tx = store.begin().await.expect("begin");
                tx.sequence_events(50).await.expect("sequence");
                tx.commit().await.expect("commit");
                if finished {
                    return;
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
        })
    };
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            let mut after = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while seen.len() < WRITERS * TXS * PER_TX {
                assert!(
                    std::time::Instant::now() < deadline,
                    "read {} events",
                    seen.len()
                );
                let mut tx = store.read().await.expect("read");
                let page = tx.events_after(after, 7).await.expect("events");
                drop(tx);
                for e in &page {
                    assert_eq!(e.seq, after + 1, "no gap, no repeat");
                    after = e.seq;
                    seen.push(e.data.clone());
                }
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_micros(300)).await;
                }
            }
            seen
        })
    };
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    sequencer.await.expect("sequencer");
    let seen = reader.await.expect("reader");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), WRITERS * TXS * PER_TX, "every event, once");
    // One transaction's events keep their order. (On PostgreSQL they may be
    // interleaved with another transaction's that committed meanwhile: the
    // sequencer takes what is committed, in insert order, in chunks.)
    for w in 0..WRITERS {
        for n in 0..TXS {
            let at: Vec<usize> = (0..PER_TX)
                .map(|k| {
                    let text = format!("{{\"w\":{w},\"n\":{n},\"k\":{k}}}");
                    seen.iter().position(|s| *s == text).expect("seen")
                })
                .collect();
            assert!(at.windows(2).all(|p| p[0] < p[1]), "{at:?}");
        }
    }
    let mut tx = store.read().await.expect("read");
    let state = tx.outbox_state().await.expect("state");
    assert_eq!(state.last_seq, (WRITERS * TXS * PER_TX) as i64);
    assert_eq!(state.pruned_through, 0);
    assert!(!state.epoch.is_empty());
}

testkit::both!(a_polling_reader_misses_nothing, on);

/// Retention deletes the oldest events up to the first one still young
/// enough, records the last seq it deleted, and never reuses a seq.
async fn retention_prunes_the_oldest_and_remembers(store: Store) {
    let mut tx = store.begin().await.expect("begin");
    let events: Vec<NewEvent> = (0..10).map(|k| event(0, 0, k, 100 + k as i64)).collect();
    tx.append_events(&events).await.expect("append");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.sequence_events(100).await.expect("sequence");
    // Before 105: the events at 100..=104, seqs 1..=5.
    assert_eq!(tx.prune_events(105, 1000).await.expect("prune"), 5);
    assert_eq!(tx.prune_events(105, 1000).await.expect("again"), 0);
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.expect("read");
    let state = tx.outbox_state().await.expect("state");
    assert_eq!((state.pruned_through, state.last_seq), (5, 10));
    let left: Vec<i64> = tx
        .events_after(0, 100)
        .await
        .expect("events")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, (6..=10).collect::<Vec<_>>());
    drop(tx);
    // Everything pruned: the next event still gets the next seq.
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.prune_events(1_000, 1000).await.expect("prune"), 5);
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.append_events(&[event(1, 0, 0, 2_000)])
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.sequence_events(100).await.expect("sequence");
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.expect("read");
    let e = tx.events_after(10, 10).await.expect("events");
    assert_eq!(e.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![11]);
    let state = tx.outbox_state().await.expect("state");
    assert_eq!((state.pruned_through, state.last_seq), (10, 11));
}

testkit::both!(retention_prunes_the_oldest_and_remembers, on);

/// A rolled-back change leaves no event.
async fn a_rolled_back_change_tells_nothing(store: Store) {
    let mut tx = store.begin().await.expect("begin");
    tx.append_events(&[event(0, 0, 0, 1)])
        .await
        .expect("append");
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.sequence_events(100).await.expect("sequence"), 0);
    tx.commit().await.expect("commit");
    let mut tx = store.read().await.expect("read");
    assert!(tx.events_after(0, 10).await.expect("events").is_empty());
    assert_eq!(tx.outbox_state().await.expect("state").last_seq, 0);
}

testkit::both!(a_rolled_back_change_tells_nothing, on);
