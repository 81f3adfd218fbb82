//! A Rust service mounts coursebridge's routes in its own axum server, under
//! a prefix of its choosing, beside routes of its own: statements go in and
//! come back through the prefix, and the `more` link of a statements page
//! stays under it.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use ingest_server::config::Config;
use ingest_server::state::App;
use ingest_server::{auth, server};
use serde_json::{Value, json};
use store::{Credential, Integration, Store};
use testkit::{Engine, TestDatabase};

async fn seed(store: &Store) -> String {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&Integration {
        id: "os".into(),
        provider: "opensesame".into(),
        lms_group: "g".into(),
        connector_author: "a@example.com".into(),
        settings: json!({}),
        active: true,
        created_ms: 0,
        updated_ms: 0,
        deactivated_ms: None,
    })
    .await
    .expect("integration");
    let secret = auth::new_secret();
    tx.insert_credential(&Credential {
        client_id: "wh_os".into(),
        integration_id: "os".into(),
        secret_hash: auth::hash_secret(&secret),
        created_ms: 0,
        revoked_ms: None,
    })
    .await
    .expect("credential");
    tx.commit().await.expect("commit");
    secret
}

fn statement(n: u32) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:learner{n}@example.com")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("https://provider.example.com/course/{n}")},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_serve_under_a_prefix_beside_the_hosts_own() {
    let db = TestDatabase::create(Engine::Sqlite, "mount").await;
    let store = db.open().await;
    let secret = seed(&store).await;
    let app = Arc::new(App::new(store, Config::default()));
    // The host's own server: its routes, and ours under /lrs.
    let host = Router::new()
        .route("/", get(|| async { "the host's page" }))
        .nest("/lrs", server::router(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = tokio::spawn(async move { axum::serve(listener, host).await });

    let client = reqwest::Client::new();
    let post = client
        .post(format!("{base}/lrs/xapi/statements"))
        .basic_auth("wh_os", Some(&secret))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(json!([statement(1), statement(2), statement(3)]).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(
        post.status(),
        200,
        "{}",
        post.text().await.unwrap_or_default()
    );

    // A page of one, then `more`, followed as a client would: on the host.
    let mut next = "/lrs/xapi/statements?limit=1".to_owned();
    let mut seen = 0;
    while !next.is_empty() {
        assert!(next.starts_with("/lrs/xapi/statements?"), "more: {next}");
        let page: Value = client
            .get(format!("{base}{next}"))
            .basic_auth("wh_os", Some(&secret))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .expect("get")
            .error_for_status()
            .expect("a page")
            .text()
            .await
            .map(|t| serde_json::from_str(&t).expect("json"))
            .expect("body");
        seen += page["statements"].as_array().expect("statements").len();
        next = page["more"].as_str().unwrap_or_default().to_owned();
    }
    assert_eq!(seen, 3);

    // The host's routes are its own; ours are not at the root.
    let own = client.get(&base).send().await.expect("host page");
    assert_eq!(own.text().await.expect("text"), "the host's page");
    let root = client
        .get(format!("{base}/xapi/about"))
        .send()
        .await
        .expect("root");
    assert_eq!(root.status(), 404);
    let about = client
        .get(format!("{base}/lrs/xapi/about"))
        .send()
        .await
        .expect("about");
    assert_eq!(about.status(), 200);

    served.abort();
    db.remove().await;
}

/// The operators' console under the host's prefix: its redirects, links,
/// forms and cookies all stay under it, and an operator signs in through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_under_a_prefix() {
    let db = TestDatabase::create(Engine::Sqlite, "mount-console").await;
    let store = db.open().await;
    seed(&store).await;
    {
        let mut tx = store.begin().await.expect("begin");
        tx.insert_operator(&store::Operator {
            username: "ops".into(),
            password_hash: ingest_server::console::hash_password("correct horse battery staple")
                .expect("hash"),
            created_ms: 0,
            disabled_ms: None,
        })
        .await
        .expect("operator");
        tx.commit().await.expect("commit");
    }
    let app = Arc::new(App::new(store, Config::default()));
    let host = Router::new().nest("/lrs", server::router(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = tokio::spawn(async move { axum::serve(listener, host).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie_of = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };

    let r = client
        .get(format!("{base}/lrs/console"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/lrs/console/login");
    let r = client
        .get(format!("{base}/lrs/console/login"))
        .send()
        .await
        .expect("login form");
    let login_cookie = cookie_of(&r, "cb_login");
    assert!(
        login_cookie.contains("Path=/lrs/console;"),
        "{login_cookie}"
    );
    let page = r.text().await.expect("page");
    assert!(page.contains("action=\"/lrs/console/login\""), "{page}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_owned();
    let token = login_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("cookie value");
    let r = client
        .post(format!("{base}/lrs/console/login"))
        .header("Cookie", format!("cb_login={token}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&username=ops&password=correct+horse+battery+staple"
        ))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/lrs/console");
    let session = cookie_of(&r, "cb_session");
    assert!(session.contains("Path=/lrs/console;"), "{session}");
    let value = session.split(';').next().expect("cookie").to_owned();
    let r = client
        .get(format!("{base}/lrs/console"))
        .header("Cookie", value)
        .send()
        .await
        .expect("overview");
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("page");
    assert!(
        page.contains("href=\"/lrs/console/catalog\""),
        "links stay under the prefix"
    );
    assert!(page.contains("action=\"/lrs/console/logout\""));
    assert!(!page.contains("=\"/console"), "no link leaves the prefix");
    served.abort();
    db.remove().await;
}
