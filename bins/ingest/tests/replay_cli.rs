//! `coursebridge-ingest replay` as an operator runs it without a terminal
//! (a pipe, a log): its progress as plain lines on stderr, its report alone
//! on stdout.

mod common;

use std::process::Command;

use ingest_server::config::Config;
use store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_shows_progress_lines_on_stderr_and_its_report_on_stdout() {
    let dir = testkit::scratch_dir("cb-replay-cli");
    let db = dir.join("t.db");
    let db = db.to_str().expect("a UTF-8 path");
    let secret = common::served::seed(db).await;
    let store = Store::open(db).await.expect("open");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let server = ingest_server::server::start(store.clone(), config)
        .await
        .expect("start");
    let client = reqwest::Client::new();
    // Three statements of two learners: two statistics.
    for (n, learner) in [(1, 0), (2, 0), (3, 1)] {
        let id = format!("00000000-0000-4000-8000-00000000000{n}");
        let r = client
            .post(format!("http://{}/xapi/statements", server.addr))
            .basic_auth("wh_ub", Some(&secret))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(common::served::progressed(&id, learner, 0.5).to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 200);
    }
    server.stop().await.expect("stop");
    store.close().await;

    let out = Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .args(["--database", db, "replay"])
        .env("COURSEBRIDGE_LOG", "error")
        .output()
        .expect("run coursebridge-ingest");
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "replayed 3 statements into 2 learner statistics (0 statements marked voided by a voiding statement stored before them)\n",
        "stdout is the report alone"
    );
    // Each step when it starts and when it is done (a quick replay: nothing between).
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "replay statements: 0/3",
            "replay statements: 3/3",
            "replay statistics: 0/2",
            "replay statistics: 2/2",
        ],
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
