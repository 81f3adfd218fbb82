//! The SCORM Cloud routes end to end on SCORM Cloud's API V2: the ingest
//! server and the fake SCORM Cloud (V2: Basic auth, JSON, launch links, JSON
//! postbacks) on loopback. SQLite always; PostgreSQL with `--ignored`.

use serde_json::json;

mod scorm_env;

use scorm_env::*;

testkit::both!(the_default_launch_posts_back_on_api_v2, on_v2);
/// The default mode (created at the first launch) on API V2, through the
/// server: assigned without names (derived from the email), created at the
/// launch with them and our postback settings, the learner sent to the
/// launch link SCORM Cloud made, which returns to our return page; the V2
/// postback (JSON) updates the statistics, a duplicate changes nothing, a
/// wrong password is refused.
async fn the_default_launch_posts_back_on_api_v2(env: Env) -> Env {
    let body = json!({"course_id": "course-1", "learner": "u-1", "email": "ada@example.com"});
    let (s, reg) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["registration_id"].as_str().expect("id").to_owned();
    assert!(
        env.fake.registration(&id).is_none(),
        "not before the launch"
    );

    let link = env.link(&ingest_server::scorm::launch_path(&id), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    let launch_link = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(
        env.fake
            .calls()
            .iter()
            .any(|c| c == fake_scorm_cloud::v2_ops::LAUNCH_LINK),
        "{:?}",
        env.fake.calls()
    );
    let fake_reg = env.fake.registration(&id).expect("created at launch");
    assert_eq!(
        (fake_reg.first_name.as_str(), fake_reg.last_name.as_str()),
        ("ada", "example.com")
    );
    let pb = fake_reg.postback.clone().expect("postback settings");
    assert_eq!(pb.url, format!("{}/scorm/postback", env.base));
    let r = env.http.get(&launch_link).send().await.expect("player");
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.expect("page");
    assert!(
        page.contains(&format!("{}/scorm/return/", env.base)),
        "the player returns to our return page: {page}"
    );

    let status = env
        .fake
        .progress(&id, "complete", "passed", Some(90.0), 600.0)
        .await
        .expect("postback");
    assert_eq!(status, Some(200));
    let stats = env.stats("u-1").await;
    assert_eq!(stats["progress"], json!(100.0), "{stats}");
    assert_eq!(stats["score"], json!(90.0));
    assert_eq!(stats["result"], "success");
    assert_eq!(stats["time_spent_ms"], 600_000);

    let report = env.fake.report_v2(&id).expect("report");
    assert!(report.trim_start().starts_with('{'), "JSON: {report}");
    assert_eq!(env.fake.send_postback_v2(&pb, &report).await, Ok(200));
    let mut wrong = pb.clone();
    wrong.password = "not-it".into();
    assert_eq!(env.fake.send_postback_v2(&wrong, &report).await, Ok(401));
    assert_eq!(env.stats("u-1").await, stats, "nothing changed");

    // the LMS resets it (the learner starts again), then deletes it
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/reset"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(
        env.fake.registration(&id).expect("kept").complete,
        "unknown"
    );
    let r = env
        .http
        .delete(format!("{}/api/v1/scorm/registrations/{id}", env.base))
        .header("Authorization", &env.lms)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    assert!(
        env.fake.registration(&id).is_none(),
        "gone from SCORM Cloud"
    );
    let (s, _) = env
        .api_get(&format!("/api/v1/scorm/registrations/{id}"))
        .await;
    assert_eq!(s, 404, "and from here");
    env
}
