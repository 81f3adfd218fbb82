//! The Agents resource (the Person object) and the Activities resource (the
//! canonical Activity) over HTTP, on SQLite and PostgreSQL, under xAPI
//! 1.0.3 and 2.0.0: built from the statements an integration sent and the
//! identity mappings, never from another integration's statements.

mod lrs_env;

use lrs_env::{Env, on, q};
use reqwest::Method;
use serde_json::{Value, json};

const ACTIVITY: &str = "http://example.com/activities/course-1";
const VERSIONS: [&str; 2] = ["1.0.3", "2.0.0"];

fn statement(actor: Value, object: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": object,
    })
}

fn activity(definition: Value) -> Value {
    json!({"objectType": "Activity", "id": ACTIVITY, "definition": definition})
}

async fn person(env: &Env, auth: &str, agent: &Value, version: &str) -> Value {
    let a = env
        .req(
            Method::GET,
            &format!("/xapi/agents?agent={}", q(&agent.to_string())),
            auth,
            Some(version),
        )
        .send()
        .await;
    assert_eq!(a.status, 200, "{version}: {}", a.json());
    assert_eq!(a.header("x-experience-api-version"), Some(version));
    a.json()
}

async fn a_person_is_every_identifier_the_integration_saw(env: Env) -> Env {
    // The LMS knows Ada by email and by its own account.
    let mut tx = env.store.begin().await.expect("begin");
    let learner = tx
        .upsert_learner("u-ada", Some("ada@example.com"), Some("Ada"), lrs_env::T0)
        .await
        .expect("learner");
    for key in [
        "mbox:ada@example.com",
        "account:https://lms.example.com|4711",
    ] {
        assert!(tx.map_identity(key, learner).await.expect("map"));
    }
    tx.commit().await.expect("commit");

    let by_mbox =
        json!({"objectType": "Agent", "name": "Ada Lovelace", "mbox": "mailto:ada@example.com"});
    let by_account = json!({"name": "A. Lovelace", "account": {"homePage": "https://lms.example.com", "name": "4711"}});
    let other_tenant =
        json!({"name": "Ada (another integration)", "mbox": "mailto:ada@example.com"});
    for (auth, actor) in [
        (&env.os, &by_mbox),
        (&env.os, &by_account),
        (&env.ub, &other_tenant),
    ] {
        assert_eq!(
            env.post_statement(auth, &statement(actor.clone(), activity(json!({}))))
                .await,
            200
        );
    }

    for v in VERSIONS {
        let p = person(&env, &env.os, &json!({"mbox": "mailto:ada@example.com"}), v).await;
        assert_eq!(p["objectType"], "Person", "{v}: {p}");
        assert_eq!(p["mbox"], json!(["mailto:ada@example.com"]), "{v}: {p}");
        assert_eq!(
            p["account"],
            json!([{"homePage": "https://lms.example.com", "name": "4711"}]),
            "{v}: the mapped account this integration used"
        );
        let names = p["name"].as_array().expect("names");
        assert!(
            names.contains(&json!("Ada Lovelace")) && names.contains(&json!("A. Lovelace")),
            "{v}: {p}"
        );
        assert!(
            !names.contains(&json!("Ada (another integration)")),
            "{v}: another integration's statements are not disclosed: {p}"
        );
        // Asked by the account: the same person.
        let by_acc = person(
            &env,
            &env.os,
            &json!({"account": {"homePage": "https://lms.example.com", "name": "4711"}}),
            v,
        )
        .await;
        assert_eq!(by_acc["mbox"], p["mbox"], "{v}");
    }

    // Someone never seen: the Person of the agent asked about.
    let p = person(
        &env,
        &env.os,
        &json!({"name": "Nobody", "mbox": "mailto:nobody@example.com"}),
        "2.0.0",
    )
    .await;
    assert_eq!(
        p,
        json!({"objectType": "Person", "name": ["Nobody"], "mbox": ["mailto:nobody@example.com"]})
    );

    // Bad parameters.
    for (path, param) in [
        ("/xapi/agents".to_owned(), "agent"),
        (
            format!("/xapi/agents?agent={}", q("{\"name\": \"no identifier\"}")),
            "agent",
        ),
        (
            format!(
                "/xapi/agents?agent={}&since=x",
                q("{\"mbox\": \"mailto:a@example.com\"}")
            ),
            "since",
        ),
    ] {
        let a = env
            .req(Method::GET, &path, &env.os, Some("1.0.3"))
            .send()
            .await;
        assert_eq!(a.status, 400, "{path}: {}", a.json());
        assert!(a.error().contains(param), "{path}: {}", a.error());
    }
    env
}

async fn an_activity_is_its_definitions_merged(env: Env) -> Env {
    let ada = json!({"mbox": "mailto:ada@example.com"});
    let first = activity(json!({
        "name": {"en-US": "Course one", "fr-FR": "Cours un"},
        "type": "http://adlnet.gov/expapi/activities/course",
    }));
    let later = activity(json!({
        "name": {"en-US": "Course 1"},
        "description": {"en-US": "The first course"},
    }));
    let elsewhere = activity(json!({"name": {"de-DE": "Kurs (andere Integration)"}}));
    assert_eq!(
        env.post_statement(&env.os, &statement(ada.clone(), first))
            .await,
        200
    );
    assert_eq!(
        env.post_statement(&env.os, &statement(ada.clone(), later))
            .await,
        200
    );
    assert_eq!(
        env.post_statement(&env.ub, &statement(ada, elsewhere))
            .await,
        200
    );

    for v in VERSIONS {
        let a = env
            .req(
                Method::GET,
                &format!("/xapi/activities?activityId={}", q(ACTIVITY)),
                &env.os,
                Some(v),
            )
            .send()
            .await;
        assert_eq!(a.status, 200, "{v}: {}", a.json());
        let act = a.json();
        assert_eq!(act["objectType"], "Activity");
        assert_eq!(act["id"], ACTIVITY);
        let d = &act["definition"];
        assert_eq!(
            d["name"]["en-US"], "Course 1",
            "{v}: the later name wins: {act}"
        );
        assert_eq!(
            d["name"]["fr-FR"], "Cours un",
            "{v}: a language only the earlier had is kept: {act}"
        );
        assert!(
            d["name"].get("de-DE").is_none(),
            "{v}: another integration's definition is not used: {act}"
        );
        assert_eq!(d["type"], "http://adlnet.gov/expapi/activities/course");
        assert_eq!(d["description"]["en-US"], "The first course");
    }

    // Never seen: the Activity with its id only.
    let unknown = "http://example.com/activities/never";
    let a = env
        .req(
            Method::GET,
            &format!("/xapi/activities?activityId={}", q(unknown)),
            &env.os,
            Some("2.0.0"),
        )
        .send()
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"objectType": "Activity", "id": unknown}));

    for path in [
        "/xapi/activities".to_owned(),
        "/xapi/activities?activityId=not%20an%20iri".to_owned(),
        format!(
            "/xapi/activities?activityId={}&activityId={}",
            q(ACTIVITY),
            q(ACTIVITY)
        ),
        format!("/xapi/activities?activityId={}&agent=x", q(ACTIVITY)),
    ] {
        let a = env
            .req(Method::GET, &path, &env.os, Some("1.0.3"))
            .send()
            .await;
        assert_eq!(a.status, 400, "{path}: {}", a.json());
    }
    // HEAD: headers, no body.
    let h = env
        .req(
            Method::HEAD,
            &format!("/xapi/activities?activityId={}", q(ACTIVITY)),
            &env.os,
            Some("1.0.3"),
        )
        .send()
        .await;
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(h.header("content-type"), Some("application/json"));
    env
}

testkit::both!(a_person_is_every_identifier_the_integration_saw, on);
testkit::both!(an_activity_is_its_definitions_merged, on);
