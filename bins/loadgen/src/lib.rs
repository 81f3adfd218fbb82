//! What `coursebridge-loadgen` and the group writer's bench
//! (`benches/write_path.rs`) share: the load database and the statements.

use serde_json::json;
use store::{Integration, Store};

/// What [`seed`] created that a caller needs.
pub struct Seeded {
    /// The integration `load` (Udemy Business rules).
    pub integration: Integration,
    /// The webhook client `wh_load`'s secret (only its hash is stored).
    pub secret: String,
}

/// Prepares a migrated store: integration `load`, course `c-1` with the
/// activity id the statements use, `learners` learners with mapped emails
/// (`learner{i}@example.com`), and webhook credentials.
pub async fn seed(store: &Store, learners: u32) -> Result<Seeded, String> {
    let mut tx = store.begin().await.map_err(|e| e.to_string())?;
    let now = ingest_server::state::now_ms();
    let integration = Integration {
        id: "load".into(),
        provider: "udemy-business".into(),
        lms_group: "load".into(),
        connector_author: "load@example.com".into(),
        settings: json!({}),
        active: true,
        created_ms: now,
        updated_ms: now,
        deactivated_ms: None,
    };
    tx.insert_integration(&integration)
        .await
        .map_err(|e| e.to_string())?;
    let course = tx
        .upsert_course(
            "load",
            "course",
            "c-1",
            &store::CourseFields {
                name: "Load course".into(),
                ..Default::default()
            },
            false,
            "h",
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
    tx.set_activity_ids("load", course, &["http://udemy.com/course/1".into()])
        .await
        .map_err(|e| e.to_string())?;
    for i in 0..learners {
        let id = tx
            .upsert_learner(
                &format!("u-{i}"),
                Some(&format!("learner{i}@example.com")),
                None,
                now,
            )
            .await
            .map_err(|e| e.to_string())?;
        tx.map_identity(&format!("mbox:learner{i}@example.com"), id)
            .await
            .map_err(|e| e.to_string())?;
    }
    let secret = ingest_server::auth::new_secret();
    tx.insert_credential(&store::Credential {
        client_id: "wh_load".into(),
        integration_id: "load".into(),
        secret_hash: ingest_server::auth::hash_secret(&secret),
        created_ms: now,
        revoked_ms: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(Seeded {
        integration,
        secret,
    })
}

/// A Udemy "progressed" statement of learner `learner` on the load course
/// with the id given, as JSON text written from a template: the load
/// generator sends it as is, so that its own CPU (on the machine it
/// measures) goes to the requests, not to building JSON values.
pub fn statement_text(learner: u32, scaled: f64, id: uuid::Uuid) -> String {
    format!(
        concat!(
            r#"{{"id":"{id}","actor":{{"mbox":"mailto:learner{learner}@example.com"}},"#,
            r#""verb":{{"id":"http://adlnet.gov/expapi/verbs/progressed","display":{{"en-US":"progressed"}}}},"#,
            r#""object":{{"id":"https://www.udemy.com/course/1/","definition":{{"type":"http://adlnet.gov/expapi/activities/course","name":{{"en-US":"Load course"}}}}}},"#,
            r#""result":{{"completion":false,"score":{{"scaled":{scaled}}}}},"timestamp":"2024-10-02T09:14:03.120Z"}}"#
        ),
        id = id.hyphenated(),
        learner = learner,
        scaled = scaled,
    )
}
