//! The operators' console in a real browser: Debian's headless Chromium
//! driven through chromedriver (WebDriver) against the server on loopback,
//! on SQLite, with a SCORM Cloud integration on the fake service. Signs in
//! (a wrong password first), reads a synced catalog and its run, finds a
//! learner's statistic after a statement is posted, refreshes a SCORM
//! registration against the fake, revokes a credential, sends a forged form,
//! and checks that markup in titles and statements is shown escaped.
//! Screenshots go to `$CARGO_TARGET_TMPDIR/console/` (docs/console.md shows
//! the best). Without chromedriver the test says so and passes, except in CI
//! (`CI` set), where it fails.

mod browser;
mod scorm_env;

use base64::Engine as _;
use browser::{Browser, Driver};
use serde_json::json;
use store::{CourseFields, Credential, Integration, RunCounts};

const PASSWORD: &str = "correct horse battery staple";
const MARKUP: &str = "<script>document.title='owned'</script><b>Bold</b> Course";

async fn seed(env: &scorm_env::Env) -> String {
    let mut tx = env.store.begin().await.expect("begin");
    tx.insert_integration(&Integration {
        id: "os-acme".into(),
        provider: "opensesame".into(),
        lms_group: "g1".into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({}),
        active: true,
        created_ms: 0,
        updated_ms: 0,
        deactivated_ms: None,
    })
    .await
    .expect("integration");
    let now = ingest_server::state::now_ms();
    let run = tx
        .start_run("os-acme", now - 5_000, false)
        .await
        .expect("run");
    for (i, name) in ["Leading Remote Teams", MARKUP].iter().enumerate() {
        let course = tx
            .upsert_course(
                "os-acme",
                "course",
                &format!("c-{i}"),
                &CourseFields {
                    name: (*name).into(),
                    ..CourseFields::default()
                },
                false,
                "h",
                now - 4_000,
            )
            .await
            .expect("course");
        tx.set_activity_ids(
            "os-acme",
            course,
            &[format!("http://opensesame.example/c-{i}")],
        )
        .await
        .expect("ids");
        // What the sync appends with each course it creates.
        tx.append_events(&[store::NewEvent {
            event_type: "course.created",
            integration_id: "os-acme".into(),
            course_id: Some(course),
            learner_id: None,
            data: "{}".into(),
            at_ms: now - 4_000,
        }])
        .await
        .expect("event");
    }
    tx.finish_run(
        run,
        now - 1_000,
        "ok",
        &RunCounts {
            created: 2,
            rejected: 1,
            pages: 1,
            ..RunCounts::default()
        },
        None,
    )
    .await
    .expect("finish");
    tx.insert_run_rejections(
        run,
        &[store::RunRejection {
            external_id: Some("c-9".into()),
            reason: "title: missing".into(),
        }],
    )
    .await
    .expect("rejections");
    let learner = tx
        .upsert_learner("u-7", Some("grace@example.com"), None, now)
        .await
        .expect("learner");
    tx.map_identity("mbox:grace@example.com", learner)
        .await
        .expect("identity");
    let secret = ingest_server::auth::new_secret();
    tx.insert_credential(&Credential {
        client_id: "wh_console".into(),
        integration_id: "os-acme".into(),
        secret_hash: ingest_server::auth::hash_secret(&secret),
        created_ms: now,
        revoked_ms: None,
    })
    .await
    .expect("credential");
    tx.insert_operator(&store::Operator {
        username: "ops".into(),
        password_hash: ingest_server::console::hash_password(PASSWORD).expect("hash"),
        created_ms: now,
        disabled_ms: None,
    })
    .await
    .expect("operator");
    tx.commit().await.expect("commit");
    secret
}

/// POST /xapi/statements (1.0.3) as `auth`; the status.
async fn post_statement(env: &scorm_env::Env, auth: &str, statement: &serde_json::Value) -> u16 {
    env.http
        .post(format!("{}/xapi/statements", env.base))
        .header("Authorization", auth)
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(statement.to_string())
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

async fn sign_in(b: &Browser, base: &str, password: &str) {
    b.goto(&format!("{base}/console/login")).await;
    b.find("input[name=username]").await.type_text("ops").await;
    b.find("input[name=password]")
        .await
        .type_text(password)
        .await;
    b.click_to_load("main form button").await;
}

async fn the_console_in_a_browser(env: scorm_env::Env) -> scorm_env::Env {
    let Some(chromedriver) = browser::chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium-driver"
        );
        eprintln!("no chromedriver: the browser suite is skipped");
        return env;
    };
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    let secret = seed(&env).await;
    let base = env.base.clone();
    let driver = Driver::start(&chromedriver).await;
    let b = Browser::new(&driver, 1280, 900).await;

    // Not signed in: every page leads to the sign-in form.
    b.goto(&format!("{base}/console/credentials")).await;
    assert!(b.current_url().await.ends_with("/console/login"));
    // A wrong password is refused, and said so.
    sign_in(&b, &base, "not the password at all").await;
    assert!(b.text().await.contains("Wrong username or password"));
    b.screenshot(&shots.join("sign-in.png")).await;
    // The right one.
    sign_in(&b, &base, PASSWORD).await;
    assert_eq!(
        b.title().await,
        "What happened · coursebridge",
        "{}",
        b.text().await
    );
    let text = b.text().await;
    assert!(
        text.contains("os-acme") && text.contains("2 created"),
        "{text}"
    );
    b.screenshot(&shots.join("overview.png")).await;

    // The run: its changed courses and its rejection with the reason.
    b.goto(&format!("{base}/console/integrations/os-acme"))
        .await;
    b.click_to_load("td a[href^='/console/runs/']").await;
    let text = b.text().await;
    assert!(
        text.contains("course.created") && text.contains("Leading Remote Teams"),
        "{text}"
    );
    assert!(text.contains("title: missing"), "{text}");
    b.screenshot(&shots.join("run.png")).await;

    // The catalog: markup in a title is text, not markup.
    b.goto(&format!("{base}/console/catalog?q=course")).await;
    assert!(b.text().await.contains(MARKUP), "shown as written");
    assert!(
        b.source().await.contains("&lt;script&gt;"),
        "escaped in the page"
    );
    assert_ne!(b.title().await, "owned", "no script of a course ran");
    b.screenshot(&shots.join("catalog.png")).await;

    // Input is shown back as text: a search for markup, a bad filter explained.
    b.goto(&format!(
        "{base}/console/catalog?q=%22%3E%3Cb%20id%3Dinjected%3Ex%3C%2Fb%3E&archived=%3Ci%3E"
    ))
    .await;
    assert_eq!(
        b.script("return document.getElementById('injected') === null && document.querySelector('main i') === null;")
            .await,
        json!(true),
        "no element came from the query"
    );
    assert!(
        b.text()
            .await
            .contains("archived: <i> is not one of active, only, all")
    );

    // A statement is posted; its learner's statistic is found.
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("wh_console:{secret}"))
    );
    let statement = json!({
        "actor": {"name": "<i>Grace</i>", "mbox": "mailto:grace@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "http://opensesame.example/c-0"},
        "result": {"completion": true, "score": {"scaled": 0.9}},
    });
    assert_eq!(post_statement(&env, &auth, &statement).await, 200);
    // A statement whose learner is unknown is parked; its markup is text.
    let parked = json!({
        "actor": {"account": {"homePage": "https://lms.example.com", "name": "<b id=\"parked\">bob</b>"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "http://opensesame.example/c-0"},
    });
    assert_eq!(post_statement(&env, &auth, &parked).await, 200);
    b.goto(&format!("{base}/console/pending")).await;
    assert!(
        b.text().await.contains("<b id=\"parked\">bob</b>"),
        "{}",
        b.text().await
    );
    assert_eq!(
        b.script("return document.getElementById('parked') === null;")
            .await,
        json!(true),
        "a statement's markup is shown as text"
    );
    b.goto(&format!("{base}/console/statistics")).await;
    b.find("input[name=learner]").await.type_text("u-7").await;
    b.click_to_load("main form button").await;
    let text = b.text().await;
    assert!(
        text.contains("u-7") && text.contains("c-0") && text.contains("90.0"),
        "{text}"
    );
    b.screenshot(&shots.join("statistics.png")).await;

    // A SCORM registration, launched (so SCORM Cloud knows it), refreshed.
    let (s, reg) = env
        .api_post(
            "/api/v1/scorm/registrations",
            &json!({"course_id": "course-1", "learner": "u-1", "email": "u-1@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{reg}");
    let id = reg["registration_id"].as_str().expect("id").to_owned();
    let launch = env
        .http
        .get(env.link(&format!("/scorm/launch/{id}"), "u-1", 300))
        .send()
        .await
        .expect("launch");
    assert!(launch.status().is_redirection(), "{}", launch.status());
    b.goto(&format!("{base}/console/scorm")).await;
    b.click_to_load(&format!(
        "main form[action='/console/scorm/{id}/refresh'] button"
    ))
    .await;
    assert!(
        b.text().await.contains("refreshed from SCORM Cloud"),
        "{}",
        b.text().await
    );
    b.screenshot(&shots.join("scorm.png")).await;

    // A credential is revoked: its secret no longer works.
    b.goto(&format!("{base}/console/credentials")).await;
    b.click_to_load("main form[action='/console/credentials/wh_console/revoke'] button")
        .await;
    assert!(b.text().await.contains("is revoked"));
    assert_eq!(
        post_statement(&env, &auth, &statement).await,
        401,
        "a revoked secret"
    );
    b.screenshot(&shots.join("credentials.png")).await;

    // A forged form: refused, nothing changed.
    b.goto(&format!("{base}/console/scorm")).await;
    b.script("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged'); return true;")
        .await;
    b.click_to_load("main form[action^='/console/scorm/'] button")
        .await;
    assert!(
        b.text().await.contains("not from your session"),
        "{}",
        b.text().await
    );

    // The overview now has the day's statements.
    b.goto(&format!("{base}/console")).await;
    assert!(b.text().await.contains("2 accepted"), "{}", b.text().await);
    b.screenshot(&shots.join("overview-after.png")).await;

    // The audit log has every action.
    b.goto(&format!("{base}/console/audit")).await;
    let text = b.text().await;
    for action in [
        "sign-in-refused",
        "sign-in",
        "scorm-refresh",
        "credential-revoke",
        "refused",
    ] {
        assert!(text.contains(action), "{action} not audited: {text}");
    }

    // A phone's width: the page fits, tables scroll inside it.
    b.set_size(390, 844).await;
    b.goto(&format!("{base}/console")).await;
    let fits = b
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, json!(true), "the overview fits a phone's width");
    b.screenshot(&shots.join("overview-phone.png")).await;

    // Signing out ends the session.
    b.click_to_load("header form button").await;
    b.goto(&format!("{base}/console")).await;
    assert!(b.current_url().await.ends_with("/console/login"));
    b.close().await;
    drop(driver);
    eprintln!("screenshots in {}", shots.display());
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_browser() {
    scorm_env::on(testkit::Engine::Sqlite, the_console_in_a_browser).await;
}
