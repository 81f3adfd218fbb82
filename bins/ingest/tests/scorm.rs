//! The SCORM Cloud routes end to end over real HTTP: the ingest server and the
//! fake SCORM Cloud on loopback; the fake checks every signature and the
//! 15-minute window, and posts registration results back to the server.
//! SQLite always; PostgreSQL with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL.
//! API V2: `scorm_v2.rs`.

use std::time::Duration;

use fake_scorm_cloud::FakeScormCloud;
use serde_json::json;

mod scorm_env;

use scorm_env::*;

testkit::both!(assign_launch_postback_statistics, on);
async fn assign_launch_postback_statistics(env: Env) -> Env {
    // the LMS assigns (this integration creates registrations at first launch)
    let body = json!({"course_id": "course-1", "learner": "u-1", "email": "u-1@example.com", "first_name": "Ada", "last_name": "Lovelace"});
    let (s, reg) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["registration_id"].as_str().expect("id").to_owned();
    assert!(reg["remote_created_at_ms"].is_null(), "{reg}");
    let (s, again) = env.api_post("/api/v1/scorm/registrations", &body).await;
    assert_eq!(
        (s, again["registration_id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert!(env.fake.registration(&id).is_none());
    // a misspelt field is named, not ignored
    let (s, err) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-1", "registraton_id": "x"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(err.to_string().contains("registraton_id"), "{err}");
    // no names and no email to derive them from: refused, naming the field
    let (s, err) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-nameless"}),
        )
        .await;
    assert_eq!(s, 400, "{err}");
    assert!(err.to_string().contains("first_name: required"), "{err}");

    // the learner follows the LMS-signed link: 302 to a launch URL built now
    let link = env.link(&ingest_server::scorm::launch_path(&id), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let launch_url = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(launch_url.starts_with(&env.fake.api_url()), "{launch_url}");
    let fake_reg = env.fake.registration(&id).expect("created at launch");
    assert_eq!(fake_reg.learner_id, "u-1");
    let pb = fake_reg.postback.clone().expect("postback settings");
    assert_eq!(pb.url, format!("{}/scorm/postback", env.base));
    // SCORM Cloud accepts the launch URL (signature, 15-minute window)
    let r = env.http.get(&launch_url).send().await.expect("player");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    let back = query_param(&launch_url, "redirecturl").expect("redirecturl");
    assert!(
        back.starts_with(&format!("{}/scorm/return/", env.base)),
        "{back}"
    );
    let stats = env.stats("u-1").await;
    assert_eq!(stats["course"], "course-1");
    assert!(
        stats["first_activity_at"].is_string(),
        "the launch is recorded: {stats}"
    );

    // links: another learner's, an edited one, an expired one
    let theirs = env.link(&ingest_server::scorm::launch_path(&id), "u-2", 300);
    assert_eq!(
        env.http
            .get(&theirs)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );
    let edited = link.replace("learner=u-1", "learner=u-2");
    assert_eq!(
        env.http
            .get(&edited)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );
    let expired = env.link(&ingest_server::scorm::launch_path(&id), "u-1", -1);
    assert_eq!(
        env.http
            .get(&expired)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        403
    );

    // the learner passes: SCORM Cloud posts the result back
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
    assert!(stats["completed_at"].is_string());

    // duplicates and late deliveries are harmless
    let report = env.fake.report(&id).expect("report");
    assert_eq!(env.fake.send_postback(&pb, &report).await, Ok(200));
    let older = report
        .replace("<totaltime>600</totaltime>", "<totaltime>100</totaltime>")
        .replace(
            "<complete>complete</complete>",
            "<complete>incomplete</complete>",
        );
    assert_ne!(older, report);
    assert_eq!(env.fake.send_postback(&pb, &older).await, Ok(200));
    assert_eq!(env.stats("u-1").await, stats, "nothing changed");
    // wrong credentials: 401, and nothing changes
    let mut wrong = pb.clone();
    wrong.password = "guess".into();
    assert_eq!(env.fake.send_postback(&wrong, &report).await, Ok(401));

    // a lost postback: the return page triggers a refresh
    env.fake
        .update(&id, "complete", "passed", Some(95.0), 700.0)
        .expect("update");
    let r = env.http.get(&back).send().await.expect("return");
    assert_eq!(r.status().as_u16(), 200);
    let mut refreshed = false;
    for _ in 0..100 {
        if env.stats("u-1").await["score"] == json!(95.0) {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refreshed, "the return page refreshed the registration");
    // an edited return link does nothing
    let r = env
        .http
        .get(back.replace("learner=u-1", "learner=u-9"))
        .send()
        .await
        .expect("return");
    assert_eq!(r.status().as_u16(), 403);

    // the LMS refreshes by hand and reads the registration
    env.fake
        .update(&id, "complete", "passed", Some(97.0), 800.0)
        .expect("update");
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/refresh"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["result"]["score"], json!(97.0));
    assert_eq!(view["result"]["source"], "refresh");

    // an administrator overrides; the statistics say so
    let (s, view) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/override"),
            &json!({"score": 100.0, "by": "admin@acme.example", "reason": "re-graded"}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["overridden"]["by"], "admin@acme.example");
    let stats = env.stats("u-1").await;
    assert_eq!(stats["score"], json!(100.0));
    let (s, _) = env
        .api_post(
            &format!("/api/v1/scorm/registrations/{id}/override"),
            &json!({"score": 101.0, "by": "admin"}),
        )
        .await;
    assert_eq!(s, 400);
    // the LMS API needs LMS credentials
    let r = env
        .http
        .get(format!("{}/api/v1/scorm/registrations/{id}", env.base))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status().as_u16(), 401);
    env
}

testkit::both!(course_launch_assigns_on_the_way, on);
async fn course_launch_assigns_on_the_way(env: Env) -> Env {
    let link = env.link(
        &ingest_server::scorm::course_launch_path("course-1"),
        "u-7",
        300,
    );
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let ids = env.fake.registration_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // the same learner again: the same registration
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(env.fake.registration_ids(), ids);
    // SCORM Cloud refuses: 502, and no registration is left behind
    let link = env.link(
        &ingest_server::scorm::course_launch_path("course-1"),
        "u-8",
        300,
    );
    env.fake.fail_next(
        "rustici.registration.createRegistration",
        1,
        "quota reached",
    );
    let (s, body) = env.call(env.http.get(&link)).await;
    assert_eq!(s, 502, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("quota reached")
            || body.to_string().contains("quota reached"),
        "{body}"
    );
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "works once SCORM Cloud accepts");
    assert_eq!(env.fake.registration_ids().len(), 2);
    // an unknown course
    let link = env.link(
        &ingest_server::scorm::course_launch_path("nope"),
        "u-7",
        300,
    );
    assert_eq!(
        env.http
            .get(&link)
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        404
    );
    env
}

testkit::both!(changed_settings_apply_to_the_next_request, on);
/// The server reads a SCORM Cloud integration's settings for every request
/// (`scorm_flows::connect_course`): settings changed in the database — as
/// `coursebridge-sync configure` changes them — apply to the next request,
/// without a restart.
async fn changed_settings_apply_to_the_next_request(env: Env) -> Env {
    let moved = FakeScormCloud::start("APP1", SCORM_SECRET)
        .await
        .expect("fake");
    moved.add_course("course-1", "Safety Basics");
    // assigned under the old settings (at-launch: nothing in SCORM Cloud yet)
    let (s, before) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-1", "email": "u-1@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{before}");
    let before = before["registration_id"].as_str().expect("id").to_owned();

    let mut settings = {
        let mut tx = env.store.read().await.expect("read");
        tx.integration("scorm-acme")
            .await
            .expect("read")
            .expect("exists")
            .settings
    };
    settings["base_url"] = json!(moved.api_url());
    settings["registrations"] = json!("at-assignment");
    let keys = vec!["base_url".to_owned(), "registrations".to_owned()];
    let mut tx = env.store.begin().await.expect("begin");
    assert!(
        tx.change_integration_settings(
            "scorm-acme",
            &settings,
            &store::NewSettingChange {
                changed_ms: 1,
                author: "ops",
                keys_set: &keys,
                keys_unset: &[],
            },
        )
        .await
        .expect("change")
    );
    tx.commit().await.expect("commit");

    // at-assignment now: created in SCORM Cloud at once, at the new address
    let (s, after) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-2", "email": "u-2@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{after}");
    let after = after["registration_id"].as_str().expect("id").to_owned();
    assert!(moved.registration(&after).is_some(), "the new address");
    assert!(env.fake.registration(&after).is_none());
    // the older assignment is created at the new address at its launch
    let link = env.link(&ingest_server::scorm::launch_path(&before), "u-1", 300);
    let r = env.http.get(&link).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    let launch_url = r.headers()["location"].to_str().expect("loc").to_owned();
    assert!(launch_url.starts_with(&moved.api_url()), "{launch_url}");
    assert!(moved.registration(&before).is_some());
    assert!(env.fake.registration(&before).is_none());
    env
}
