//! Incremental statistics equal a full refold, whatever the arrival order:
//! statements arrive late, are retried, are voided; after every request the
//! stored statistics must equal a fold of the whole log. SQLite here; the same
//! code path runs on PostgreSQL in the ingest suite.

mod common;

use records::Prepared;
use serde_json::json;
use xapi_model::{Actor, Agent, Ifi};

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_statistics_equal_a_full_refold() {
    let (store, rules, course, dir) = common::store_with_course("incremental").await;
    let learner = {
        let mut tx = store.begin().await.expect("begin");
        tx.set_activity_ids("os", course, &["https://provider.example.com/c".into()])
            .await
            .expect("ids");
        let l = tx
            .upsert_learner("u", None, None, 0)
            .await
            .expect("learner");
        tx.map_identity("mbox:ada@example.com", l)
            .await
            .expect("identity");
        tx.commit().await.expect("commit");
        l
    };
    let authority = Actor::Agent(Agent {
        name: None,
        ifi: Ifi::Mbox("mailto:lrs@example.com".into()),
    });
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut sent: Vec<serde_json::Value> = Vec::new();
    for step in 0..80u32 {
        let r = xorshift(&mut rng);
        let body = match r % 10 {
            // a retry of an earlier statement
            0 if !sent.is_empty() => sent[(r as usize / 10) % sent.len()].clone(),
            // void an earlier statement
            1 if !sent.is_empty() => {
                let target = sent[(r as usize / 10) % sent.len()]["id"].clone();
                json!({"id": uuid::Uuid::new_v4().to_string(), "actor": {"mbox": "mailto:admin@example.com"},
                       "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}, "object": {"objectType": "StatementRef", "id": target}})
            }
            _ => {
                // timestamps spread over the policy eras, arriving in any order
                let day = (r >> 8) % 250;
                let completed = r % 3 == 0;
                json!({
                    "id": uuid::Uuid::new_v4().to_string(),
                    "actor": {"mbox": "mailto:Ada@example.com"},
                    "verb": {"id": if completed { "http://adlnet.gov/expapi/verbs/completed" } else { "http://adlnet.gov/expapi/verbs/progressed" }},
                    "object": {"id": "https://provider.example.com/c"},
                    "result": {"completion": completed, "success": r % 5 != 0, "score": {"scaled": ((r >> 16) % 100) as f64 / 100.0}, "duration": format!("PT{}M", (r >> 24) % 90)},
                    "timestamp": format!("2024-{:02}-{:02}T{:02}:00:00Z", 3 + day / 28, 1 + day % 28, (r >> 32) % 24),
                })
            }
        };
        let statement = xapi_model::parse_statement(body.to_string().as_bytes()).expect("valid");
        let now = time::OffsetDateTime::now_utc();
        let prepared: Vec<Prepared> = vec![
            records::prepare(
                statement,
                body.to_string(),
                now,
                uuid::Uuid::new_v4(),
                &authority,
                "1.0.0",
            )
            .expect("prepare"),
        ];
        let mut tx = store.begin().await.expect("begin");
        records::record_statements(&mut tx, &rules, &prepared, i64::from(step))
            .await
            .expect("record");
        tx.commit().await.expect("commit");
        if body["verb"]["id"] != "http://adlnet.gov/expapi/verbs/voided" {
            sent.push(body);
        }

        // Compare the stored statistics with a full refold (rolled back).
        let mut tx = store.begin().await.expect("begin");
        let live = tx
            .stats_for(course, learner)
            .await
            .expect("read")
            .map(|r| records::stats_of(&r, &rules).expect("stored state"));
        let rebuilt = records::refold(&mut tx, &rules, course, learner, i64::from(step))
            .await
            .expect("refold");
        tx.rollback().await.expect("rollback");
        if let Some(live) = live {
            assert_eq!(
                live, rebuilt,
                "step {step}: incremental statistics differ from a full refold"
            );
        }
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
