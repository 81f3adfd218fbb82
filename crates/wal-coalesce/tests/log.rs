//! The coalescing VFS against SQLite itself: what a connection through it
//! commits is what readers through the default VFS see, at once, and the log
//! it leaves is SQLite's own (recovered from a copy by the default VFS).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wal-coalesce-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("test.db")
}

/// The writer: through the VFS, in WAL mode, no automatic checkpoints (the
/// tests decide when the log is copied back).
fn writer(path: &Path) -> Connection {
    let vfs = wal_coalesce::register().expect("register the VFS");
    let c = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        vfs,
    )
    .expect("open through the VFS");
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB);",
    )
    .expect("set up");
    c
}

/// A reader through SQLite's default VFS.
fn reader(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).expect("open a reader")
}

/// Rows of `n` KiB-ish values, each different (so every page changes).
fn insert(c: &Connection, from: i64, rows: i64, size: usize) {
    let mut st = c
        .prepare_cached("INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)")
        .expect("prepare");
    for i in from..from + rows {
        let v: Vec<u8> = (0..size).map(|j| (i as usize * 31 + j) as u8).collect();
        st.execute(rusqlite::params![i, format!("key-{i:08}"), v])
            .expect("insert");
    }
}

/// One transaction of [`insert`], committed.
fn commit_rows(c: &Connection, from: i64, rows: i64, size: usize) {
    let tx = c.unchecked_transaction().expect("begin");
    insert(&tx, from, rows, size);
    tx.commit().expect("commit");
}

/// Count and a checksum of everything, as a reader sees it.
fn seen(c: &Connection) -> (i64, i64) {
    c.query_row(
        "SELECT count(*), coalesce(sum(length(v) + unicode(substr(k, 5)) + id), 0) FROM t",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("read")
}

/// SQLite's own check of the whole database finds nothing wrong.
fn assert_intact(c: &Connection) {
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |x| x.get(0))
        .expect("integrity check");
    assert_eq!(ok, "ok");
}

fn expected(rows: i64, size: usize) -> (i64, i64) {
    let sum: i64 = (0..rows)
        .map(|i| size as i64 + i64::from(u32::from('0')) + i)
        .sum();
    (rows, sum)
}

#[test]
fn every_commit_is_seen_at_once_by_a_default_vfs_reader() {
    let path = temp_db("visible");
    let w = writer(&path);
    let r = reader(&path);
    let mut rows = 0;
    for round in 0..200 {
        let n = 1 + round % 17;
        commit_rows(&w, rows, n, 900 + (round as usize % 5) * 700);
        rows += n;
        // The reader's own snapshot starts after the commit returned.
        let (count, _) = seen(&r);
        assert_eq!(count, rows, "after round {round}");
        if round % 50 == 49 {
            // The log copied back and started again, by the other connection.
            let busy: i64 = r
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |x| x.get(0))
                .expect("checkpoint");
            assert_eq!(busy, 0);
        }
    }
    assert_intact(&r);
}

#[test]
fn a_copy_of_the_log_is_recovered_by_the_default_vfs() {
    let path = temp_db("recover");
    let w = writer(&path);
    let size = 1500;
    let mut rows = 0;
    for _ in 0..40 {
        commit_rows(&w, rows, 25, size);
        rows += 25;
    }
    // The database file and its log as they are on disk right now (nothing
    // checkpointed): opening the copy makes SQLite rebuild the index from the
    // log's frames, checking every checksum; a frame missing or torn would
    // end the log there and lose the commits after it.
    let copy = path.with_file_name("copy.db");
    std::fs::copy(&path, &copy).expect("copy the database");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mut wal_copy = copy.as_os_str().to_owned();
    wal_copy.push("-wal");
    let log_len = std::fs::copy(&wal, &wal_copy).expect("copy the log");
    assert!(
        log_len > 1_000_000,
        "the commits are in the log ({log_len} bytes)"
    );
    let r = reader(&copy);
    assert_eq!(seen(&r), expected(rows, size));
    drop(w);
}

#[test]
fn spilled_and_rolled_back_frames_are_never_seen() {
    let path = temp_db("rollback");
    let w = writer(&path);
    // A tiny cache: a large transaction spills pages to the log before it commits.
    w.execute_batch("PRAGMA cache_size = 20")
        .expect("cache size");
    let r = reader(&path);
    let size = 3000;
    commit_rows(&w, 0, 400, size);
    assert_eq!(seen(&r), expected(400, size));

    // Spills, then a rollback: nothing of it is seen, and the next commit
    // (written over the abandoned frames) is whole.
    let tx = w.unchecked_transaction().expect("begin");
    insert(&tx, 400, 3000, size);
    tx.rollback().expect("rollback");
    assert_eq!(seen(&r), expected(400, size));
    commit_rows(&w, 400, 100, size);
    assert_eq!(seen(&r), expected(500, size));

    // Larger than what is held at most: written in parts, committed whole.
    let rows = (wal_coalesce::MAX_HELD as i64 / size as i64) * 2;
    commit_rows(&w, 500, rows, size);
    assert_eq!(seen(&r), expected(500 + rows, size));
    assert_intact(&r);
}

#[test]
fn registering_twice_gives_the_same_vfs() {
    assert_eq!(wal_coalesce::register(), Ok(wal_coalesce::VFS_NAME));
    assert_eq!(wal_coalesce::register(), Ok(wal_coalesce::VFS_NAME));
}
