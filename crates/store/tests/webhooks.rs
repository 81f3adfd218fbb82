//! Webhook subscriptions' lease and progress rules, on both engines.

use std::future::Future;

use store::{Attempt, NewWebhook, Progress, Store};
use testkit::{Engine, TestDatabase};

async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Store>,
{
    let db = TestDatabase::create(engine, "store-webhooks").await;
    let store = check(db.open().await).await;
    store.close().await;
    db.remove().await;
}

testkit::both!(one_lease_holder_and_only_it_records, on);
testkit::both!(redelivery_and_disabling_stop_the_holder, on);

async fn subscription(store: &Store) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_webhook(&NewWebhook {
        id: "sub_1".into(),
        url: "https://lms.example/hook".into(),
        event_types: vec!["course.*".into()],
        integration_id: None,
        description: None,
        secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0".into(),
        delivered_through: 0,
        now_ms: 1_000,
    })
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
}

fn progress(through: i64, until: i64) -> Progress {
    Progress {
        epoch: 0,
        delivered_through: through,
        failures: 0,
        failing_since_ms: None,
        next_attempt_ms: 0,
        lease_until_ms: until,
        release: false,
        disable: None,
    }
}

async fn one_lease_holder_and_only_it_records(store: Store) -> Store {
    subscription(&store).await;
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.due_webhooks(2_000, 5, 10).await.expect("due"),
        vec!["sub_1"]
    );
    assert_eq!(
        tx.due_webhooks(2_000, 0, 10).await.expect("due"),
        Vec::<String>::new(),
        "caught up"
    );
    let a = tx
        .acquire_webhook_lease("sub_1", "a", 2_000, 10_000)
        .await
        .expect("a");
    assert_eq!(
        a.expect("leased").secret,
        "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
    );
    assert!(
        tx.acquire_webhook_lease("sub_1", "b", 3_000, 11_000)
            .await
            .expect("b")
            .is_none()
    );
    assert!(
        tx.due_webhooks(3_000, 5, 10).await.expect("due").is_empty(),
        "leased"
    );
    assert!(
        !tx.record_webhook_progress("sub_1", "b", &progress(3, 11_000), 3_000)
            .await
            .expect("b")
    );
    assert!(
        tx.record_webhook_progress("sub_1", "a", &progress(2, 12_000), 3_000)
            .await
            .expect("a")
    );
    // Expired: another owner takes it, and the first one's records fail.
    assert!(
        tx.acquire_webhook_lease("sub_1", "b", 12_001, 20_000)
            .await
            .expect("b")
            .is_some()
    );
    assert!(
        !tx.record_webhook_progress("sub_1", "a", &progress(5, 20_000), 12_002)
            .await
            .expect("a")
    );
    let mut released = progress(4, 0);
    released.release = true;
    assert!(
        tx.record_webhook_progress("sub_1", "b", &released, 12_003)
            .await
            .expect("b")
    );
    let w = tx.webhook("sub_1").await.expect("get").expect("exists");
    assert_eq!((w.delivered_through, w.lease_owner), (4, None));
    tx.insert_webhook_attempts(&[Attempt {
        subscription_id: "sub_1".into(),
        seq: 3,
        attempt: 1,
        at_ms: 12_000,
        status: Some(200),
        latency_ms: 3,
        error: None,
    }])
    .await
    .expect("attempts");
    assert_eq!(
        tx.webhook_attempts("sub_1", 10).await.expect("list").len(),
        1
    );
    tx.commit().await.expect("commit");
    store
}

async fn redelivery_and_disabling_stop_the_holder(store: Store) -> Store {
    subscription(&store).await;
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.acquire_webhook_lease("sub_1", "a", 2_000, 10_000)
            .await
            .expect("a")
            .is_some()
    );
    assert!(
        tx.redeliver_webhook("sub_1", 1, false, 2_500)
            .await
            .expect("redeliver")
    );
    // The holder is still delivering its last request: nobody else may
    // start until it has stopped and released.
    assert!(
        tx.acquire_webhook_lease("sub_1", "b", 2_550, 10_000)
            .await
            .expect("b")
            .is_none(),
        "a redelivery does not hand the lease to another instance"
    );
    assert!(
        !tx.record_webhook_progress("sub_1", "a", &progress(7, 10_000), 2_600)
            .await
            .expect("a")
    );
    assert_eq!(
        tx.webhook("sub_1")
            .await
            .expect("get")
            .expect("exists")
            .delivered_through,
        0
    );
    tx.release_webhook_lease("sub_1", "a")
        .await
        .expect("release");
    let b = tx
        .acquire_webhook_lease("sub_1", "b", 2_700, 10_000)
        .await
        .expect("b")
        .expect("free once released");
    assert_eq!((b.delivered_through, b.epoch), (0, 1));
    let mut p = progress(3, 10_000);
    p.epoch = b.epoch;
    assert!(
        tx.record_webhook_progress("sub_1", "b", &p, 2_800)
            .await
            .expect("b")
    );
    p.release = true;
    assert!(
        tx.record_webhook_progress("sub_1", "b", &p, 2_900)
            .await
            .expect("b")
    );

    assert!(
        tx.acquire_webhook_lease("sub_1", "a", 3_000, 10_000)
            .await
            .expect("a")
            .is_some()
    );
    assert!(
        tx.disable_webhook("sub_1", "by hand", 3_100)
            .await
            .expect("disable")
    );
    assert!(
        !tx.record_webhook_progress("sub_1", "a", &progress(1, 10_000), 3_200)
            .await
            .expect("a")
    );
    // Refused: the holder stops and gives the lease up, as the dispatcher does.
    tx.release_webhook_lease("sub_1", "a")
        .await
        .expect("release");
    assert!(
        tx.acquire_webhook_lease("sub_1", "a", 3_300, 10_000)
            .await
            .expect("a")
            .is_none()
    );
    assert!(
        tx.due_webhooks(20_000, 5, 10)
            .await
            .expect("due")
            .is_empty(),
        "disabled"
    );
    assert!(
        tx.redeliver_webhook("sub_1", 1, true, 3_400)
            .await
            .expect("redeliver")
    );
    let w = tx.webhook("sub_1").await.expect("get").expect("exists");
    assert!(
        w.enabled && w.disabled_reason.is_none() && w.lease_owner.is_none(),
        "{w:?}"
    );
    tx.commit().await.expect("commit");
    store
}
