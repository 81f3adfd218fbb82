//! `Store::hold_key`: a lease on a key held outside any transaction, in the
//! database. Holders of one key take turns — also when they are two stores
//! on one database (two processes); another key, and write transactions,
//! are not held up; a lease dropped without release is given back all the
//! same. Both engines.

use std::time::Duration;

use store::Store;
use testkit::{Engine, TestDatabase};
use tokio::time::timeout;

testkit::both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fn key_leases_serialize_holders_of_one_key_only,
    key_leases_serialize_holders_of_one_key_only_postgres = run()
);

async fn run(engine: Engine) {
    let db = TestDatabase::create(engine, "key-lock").await;
    let store = db.open().await;
    // A second store on the same database: another process, as far as
    // anything in memory goes.
    let other_process = Store::open(db.url()).await.expect("second store");
    let held = store.hold_key(7).await.expect("lease 7");

    let second = {
        let other_process = other_process.clone();
        tokio::spawn(async move {
            let l = other_process.hold_key(7).await.expect("lease 7 again");
            l.release().await;
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "a second holder of 7 waits");

    let other = timeout(Duration::from_secs(5), store.hold_key(8))
        .await
        .expect("another key is free")
        .expect("lease 8");
    other.release().await;
    let tx = timeout(Duration::from_secs(5), store.begin())
        .await
        .expect("a write transaction is not held up")
        .expect("begin");
    tx.commit().await.expect("commit");

    held.release().await;
    timeout(Duration::from_secs(10), second)
        .await
        .expect("the second holder got it")
        .expect("task");

    let dropped = store.hold_key(9).await.expect("lease 9");
    drop(dropped);
    let again = timeout(Duration::from_secs(10), other_process.hold_key(9))
        .await
        .expect("a dropped lease is given back")
        .expect("lease 9 again");
    again.release().await;

    other_process.close().await;
    store.close().await;
    db.remove().await;
}
