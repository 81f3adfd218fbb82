//! The point of the VFS: a transaction's frames reach the default VFS in a
//! few writes, not two per page. (A file of its own: the counters are the
//! process's, and the other tests write logs too.)

use rusqlite::{Connection, OpenFlags};

#[test]
fn a_commit_is_written_in_few_calls() {
    let dir = std::env::temp_dir().join(format!("wal-coalesce-{}-counters", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let vfs = wal_coalesce::register().expect("register the VFS");
    let c = Connection::open_with_flags_and_vfs(
        dir.join("test.db"),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        vfs,
    )
    .expect("open through the VFS");
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
    )
    .expect("set up");
    let before = wal_coalesce::counters();
    let tx = c.unchecked_transaction().expect("begin");
    for i in 0..300 {
        tx.execute("INSERT INTO t (id, v) VALUES (?1, randomblob(3000))", [i])
            .expect("insert");
    }
    tx.commit().expect("commit");
    let after = wal_coalesce::counters();
    let frames = after.frames - before.frames;
    let writes = after.writes - before.writes;
    // 300 rows of 3,000 bytes: a page each, and the table's inner pages.
    assert!(frames >= 300, "{frames} frames");
    // 1.2 MB in writes of up to 124 KiB, and the log's own header.
    assert!(writes <= 12, "{writes} writes for {frames} frames");
    let count: i64 = c
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("count");
    assert_eq!(count, 300);
}
