//! `Store::hold_key`: a lock on a key held outside any transaction. Holders
//! of one key take turns; another key, and write transactions, are not held
//! up; a lock dropped without release is released all the same. Both engines.

use std::time::Duration;

use testkit::{Engine, TestDatabase};
use tokio::time::timeout;

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn key_locks_serialize_holders_of_one_key_only,
    key_locks_serialize_holders_of_one_key_only_postgres = run()
);

async fn run(engine: Engine) {
    let db = TestDatabase::create(engine, "key-lock").await;
    let store = db.open().await;
    let held = store.hold_key(7).await.expect("lock 7");

    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            let l = store.hold_key(7).await.expect("lock 7 again");
            l.release().await.expect("release");
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!second.is_finished(), "a second holder of 7 waits");

    let other = timeout(Duration::from_secs(2), store.hold_key(8))
        .await
        .expect("another key is free")
        .expect("lock 8");
    other.release().await.expect("release 8");
    let tx = timeout(Duration::from_secs(2), store.begin())
        .await
        .expect("a write transaction is not held up")
        .expect("begin");
    tx.commit().await.expect("commit");

    held.release().await.expect("release 7");
    timeout(Duration::from_secs(5), second)
        .await
        .expect("the second holder got it")
        .expect("task");

    let dropped = store.hold_key(9).await.expect("lock 9");
    drop(dropped);
    let again = timeout(Duration::from_secs(5), store.hold_key(9))
        .await
        .expect("a dropped lock is released")
        .expect("lock 9 again");
    again.release().await.expect("release 9");

    store.close().await;
    db.remove().await;
}
