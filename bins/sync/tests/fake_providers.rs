//! `coursebridge-sync` against fake OpenSesame and Udemy Business APIs on
//! loopback, implementing their wire formats: OAuth2 client credentials
//! (Basic, scope `content`), bearer tokens that expire, `limit`/`page` paging
//! with `paging.next`, Udemy's Basic auth and `page`/`page_size`/`next`,
//! 429 with `Retry-After`, a failing page.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use store::{Integration, Store};
use sync::lifecycle::{self, Activation};
use sync::retry::RetryPolicy;
use sync::run::{self, Options, Quiet};

#[derive(Default)]
struct Fake {
    base: String,
    courses: Vec<Value>,
    tokens: HashSet<String>,
    token_fetches: u32,
    content_requests: u32,
    /// A token stops working after this many content requests.
    token_lifetime: Option<u32>,
    uses: std::collections::HashMap<String, u32>,
    throttle_page_once: Option<u32>,
    fail_page: Option<u32>,
    /// This page is never answered (the connection stays open).
    hang_page: Option<u32>,
    next_host: Option<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn basic_ok(h: &HeaderMap, user: &str, pass: &str) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn token(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    let mut f = s.lock().expect("lock");
    if !basic_ok(&h, "os-client", "os-secret") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if body != "grant_type=client_credentials&scope=content" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    f.token_fetches += 1;
    let t = format!("tok-{}", f.token_fetches);
    f.tokens.insert(t.clone());
    Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600, "scope": "content"}))
        .into_response()
}

struct Json(Value);
impl IntoResponse for Json {
    fn into_response(self) -> Response {
        ([("content-type", "application/json")], self.0.to_string()).into_response()
    }
}

async fn content(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let hang = s.lock().expect("lock").hang_page == Some(page);
    if hang {
        return std::future::pending::<Response>().await;
    }
    content_now(&s, &h, &q)
}

fn content_now(
    s: &Shared,
    h: &HeaderMap,
    q: &std::collections::HashMap<String, String>,
) -> Response {
    let mut f = s.lock().expect("lock");
    f.content_requests += 1;
    let token = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let lifetime = f.token_lifetime;
    let used = {
        let u = f.uses.entry(token.clone()).or_insert(0);
        *u += 1;
        *u
    };
    if !f.tokens.contains(&token) || lifetime.is_some_and(|l| used > l) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        )
            .into_response();
    }
    if q.get("customerIntegrationId").map(String::as_str) != Some("ci-1")
        || q.get("limit").map(String::as_str) != Some("50")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad parameters"})),
        )
            .into_response();
    }
    let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    if f.fail_page == Some(page) {
        return (StatusCode::BAD_GATEWAY, "upstream broke").into_response();
    }
    if f.throttle_page_once == Some(page) {
        f.throttle_page_once = None;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    let start = ((page - 1) * 50) as usize;
    let items: Vec<Value> = f.courses.iter().skip(start).take(50).cloned().collect();
    let more = f.courses.len() > start + 50;
    let host = f.next_host.clone().unwrap_or_else(|| f.base.clone());
    let next = if more {
        format!(
            "{host}/v1/content?customerIntegrationId=ci-1&limit=50&page={}",
            page + 1
        )
    } else {
        String::new()
    };
    Json(json!({"data": items, "paging": {"next": next}})).into_response()
}

async fn udemy_list(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let f = s.lock().expect("lock");
    if !basic_ok(&h, "ub-client", "ub-secret") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "Invalid credentials"})),
        )
            .into_response();
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = q
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(12);
    let items: Vec<Value> = f
        .courses
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    let next = (f.courses.len() > page * size).then(|| {
        format!(
            "{}/api-2.0/organizations/42/courses/list/?page={}&page_size={size}",
            f.base,
            page + 1
        )
    });
    Json(json!({"count": f.courses.len(), "next": next, "previous": null, "results": items}))
        .into_response()
}

async fn start_fake(courses: Vec<Value>) -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(Fake {
        courses,
        ..Fake::default()
    }));
    let app = axum::Router::new()
        .route("/oauth2/aus1/v1/token", post(token))
        .route("/v1/content", get(content))
        .route("/api-2.0/organizations/42/courses/list/", get(udemy_list))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    shared.lock().expect("lock").base = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (shared, base)
}

fn os_course(i: usize, active: bool) -> Value {
    json!({"id": format!("os-{i:04}"), "title": format!("Course {i}"), "duration": "00:30:00", "languages": ["en"], "categories": ["|Skills|Topic"],
           "publisherName": "Pub", "active": active, "quickLaunchUrl": format!("https://os.example/launch/{i}"), "xApiActivityId": format!("https://www.opensesame.com/c/os-{i:04}"), "type": "course"})
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        max_total: Duration::from_secs(3),
        request_timeout: Duration::from_secs(5),
    }
}

async fn setup(base: &str, provider: &str) -> (Store, std::path::PathBuf) {
    let dir = testkit::scratch_dir("cb-sync");
    let store = Store::open(dir.join("s.db").to_str().expect("utf8"))
        .await
        .expect("open");
    let settings = if provider == "opensesame" {
        json!({"base_url": base, "token_url": format!("{base}/oauth2/aus1/v1/token"), "customer_integration_id": "ci-1", "client_id": "os-client", "client_secret_env": "FAKE_OS_SECRET"})
    } else {
        json!({"base_url": base, "org_id": "42", "client_id": "ub-client", "client_secret_env": "FAKE_UB_SECRET", "page_size": 12})
    };
    lifecycle::activate(
        &store,
        &Activation {
            id: "it".into(),
            provider: provider.into(),
            group: "g1".into(),
            author: "admin@acme.example".into(),
            settings,
            force: false,
        },
        0,
    )
    .await
    .expect("activate");
    (store, dir)
}

async fn integration(store: &Store) -> Integration {
    let mut tx = store.read().await.expect("read");
    tx.integration("it").await.expect("read").expect("exists")
}

async fn sync_once(store: &Store, opts: &Options) -> run::Report {
    let i = integration(store).await;
    let env = |name: &str| match name {
        "FAKE_OS_SECRET" => Some("os-secret".to_owned()),
        "FAKE_UB_SECRET" => Some("ub-secret".to_owned()),
        "FAKE_OS_SECRET_WRONG" => Some("nope".to_owned()),
        _ => None,
    };
    let source = sync::config::source_with(&i, quick(), &env).expect("source");
    run::run(store, &i, source, opts, &Quiet).await
}

async fn active_courses(store: &Store) -> (usize, usize) {
    let mut tx = store.read().await.expect("read");
    let all = tx.courses("it").await.expect("courses");
    (all.iter().filter(|c| !c.archived).count(), all.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_tokens_and_an_unchanged_rerun() {
    let (fake, base) = start_fake((0..120).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(
        (r.outcome.as_str(), r.created, r.pages, r.error.clone()),
        ("ok", 120, 3, None),
        "{r:?}"
    );
    assert_eq!(
        fake.lock().expect("lock").token_fetches,
        1,
        "the token is cached across pages"
    );
    let again = sync_once(&store, &Options::default()).await;
    assert_eq!(
        (
            again.created,
            again.updated,
            again.archived,
            again.unchanged
        ),
        (0, 0, 0, 120)
    );
    {
        let mut tx = store.read().await.expect("read");
        let runs = tx.runs("it", 5).await.expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (
                runs[1].outcome.as_str(),
                runs[1].counts.created,
                runs[1].counts.pages
            ),
            ("ok", 120, 3)
        );
        let c = tx
            .course_by_activity_id("it", "https://www.opensesame.com/c/os-0007")
            .await
            .expect("match")
            .expect("found by xApiActivityId");
        assert_eq!(c.external_id, "os-0007");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_fetched_again_once() {
    let (fake, base) = start_fake((0..120).map(|i| os_course(i, true)).collect()).await;
    fake.lock().expect("lock").token_lifetime = Some(2);
    let (store, dir) = setup(&base, "opensesame").await;
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!((r.outcome.as_str(), r.created), ("ok", 120), "{r:?}");
    assert_eq!(fake.lock().expect("lock").token_fetches, 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_waited_out() {
    let (fake, base) = start_fake((0..60).map(|i| os_course(i, true)).collect()).await;
    fake.lock().expect("lock").throttle_page_once = Some(2);
    let (store, dir) = setup(&base, "opensesame").await;
    let started = std::time::Instant::now();
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!((r.outcome.as_str(), r.created), ("ok", 60), "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_page_archives_nothing() {
    let (fake, base) = start_fake((0..120).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    assert_eq!(sync_once(&store, &Options::default()).await.outcome, "ok");
    {
        let mut f = fake.lock().expect("lock");
        f.courses.truncate(100); // 20 courses left the catalog…
        f.fail_page = Some(2); // …but page 2 fails
    }
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(r.outcome, "failed");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("page 2") && e.contains("502")),
        "{r:?}"
    );
    assert_eq!(active_courses(&store).await, (120, 120), "nothing archived");
    let mut tx = store.read().await.expect("read");
    let last = &tx.runs("it", 1).await.expect("runs")[0];
    assert_eq!(last.outcome, "failed");
    assert!(last.error.as_deref().is_some_and(|e| e.contains("page 2")));
    drop(tx);
    let _ = std::fs::remove_dir_all(dir);
}

/// A provider that stops answering (the connection open, no answer): each
/// request ends at its timeout, the run fails naming the page, and nothing
/// is archived (issue 32, fault injection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_fails_the_run_and_archives_nothing() {
    let (fake, base) = start_fake((0..120).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    assert_eq!(sync_once(&store, &Options::default()).await.outcome, "ok");
    {
        let mut f = fake.lock().expect("lock");
        f.courses.truncate(100);
        f.hang_page = Some(2);
    }
    let i = integration(&store).await;
    let env = |name: &str| (name == "FAKE_OS_SECRET").then(|| "os-secret".to_owned());
    let policy = RetryPolicy {
        request_timeout: Duration::from_millis(300),
        ..quick()
    };
    let source = sync::config::source_with(&i, policy, &env).expect("source");
    let r = run::run(&store, &i, source, &Options::default(), &Quiet).await;
    assert_eq!(r.outcome, "failed", "{r:?}");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("page 2")),
        "{r:?}"
    );
    assert_eq!(active_courses(&store).await, (120, 120), "nothing archived");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_courses_and_the_mass_archive_guard() {
    let (fake, base) = start_fake((0..50).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    assert_eq!(sync_once(&store, &Options::default()).await.created, 50);
    // two become inactive, three leave: 5 of 50 = 10 %: allowed
    {
        let mut f = fake.lock().expect("lock");
        f.courses[0] = os_course(0, false);
        f.courses[1] = os_course(1, false);
        f.courses.truncate(47);
    }
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!((r.outcome.as_str(), r.archived), ("ok", 5), "{r:?}");
    assert_eq!(active_courses(&store).await, (45, 50));
    // the provider has a bad night: half the catalog is gone
    fake.lock().expect("lock").courses.truncate(20);
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(r.outcome, "failed");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("--allow-mass-archive")),
        "{r:?}"
    );
    assert_eq!(active_courses(&store).await, (45, 50), "nothing archived");
    let dry = sync_once(
        &store,
        &Options {
            dry_run: true,
            allow_mass_archive: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!((dry.outcome.as_str(), dry.archived), ("ok", 27));
    assert_eq!(
        active_courses(&store).await,
        (45, 50),
        "a dry run writes nothing"
    );
    let r = sync_once(
        &store,
        &Options {
            allow_mass_archive: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!((r.outcome.as_str(), r.archived), ("ok", 27));
    assert_eq!(
        active_courses(&store).await,
        (18, 50),
        "archived, never deleted"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_and_reactivate_without_duplicates() {
    let (_fake, base) = start_fake((0..10).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    assert_eq!(sync_once(&store, &Options::default()).await.created, 10);
    let ids_before: Vec<i64> = {
        let mut tx = store.read().await.expect("read");
        tx.courses("it")
            .await
            .expect("courses")
            .iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(
        lifecycle::deactivate(&store, "it", 1)
            .await
            .expect("deactivate"),
        10
    );
    assert_eq!(active_courses(&store).await, (0, 10));
    let settings = integration(&store).await.settings;
    let again = |group: &str, force: bool| Activation {
        id: "it".into(),
        provider: "opensesame".into(),
        group: group.into(),
        author: "admin@acme.example".into(),
        settings: settings.clone(),
        force,
    };
    let refused = lifecycle::activate(&store, &again("g2", false), 2).await;
    assert!(
        matches!(refused, Err(lifecycle::LifecycleError::OtherGroup { .. })),
        "{refused:?}"
    );
    assert_eq!(
        lifecycle::activate(&store, &again("g1", false), 3)
            .await
            .expect("same group"),
        lifecycle::Activated::Reactivated
    );
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!((r.created, r.reactivated), (0, 10), "{r:?}");
    let ids_after: Vec<i64> = {
        let mut tx = store.read().await.expect("read");
        tx.courses("it")
            .await
            .expect("courses")
            .iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(
        ids_after, ids_before,
        "the same course records, no duplicates"
    );
    assert!(matches!(
        lifecycle::activate(&store, &again("g1", false), 4).await,
        Err(lifecycle::LifecycleError::AlreadyActive(_))
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udemy_business_paging_and_basic_auth() {
    let courses: Vec<Value> = (0..30)
        .map(|i| json!({"id": 1000 + i, "title": format!("Udemy {i}"), "url": format!("https://acme.udemy.com/course/c-{i}/"), "estimated_content_length": 90,
                        "locale": {"locale": "en_US"}, "xapi_activity_id": format!("https://www.udemy.com/course/{}", 1000 + i)}))
        .collect();
    let (_fake, base) = start_fake(courses).await;
    let (store, dir) = setup(&base, "udemy-business").await;
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(
        (r.outcome.as_str(), r.created, r.pages),
        ("ok", 30, 3),
        "{r:?}"
    );
    let mut tx = store.read().await.expect("read");
    // Udemy's ids are matched leniently (www., scheme, trailing slash)
    let c = tx
        .course_by_activity_id("it", "http://udemy.com/course/1007")
        .await
        .expect("match")
        .expect("found");
    assert_eq!(c.fields.duration_minutes, Some(90));
    drop(tx);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_to_another_host_is_refused() {
    let (fake, base) = start_fake((0..60).map(|i| os_course(i, true)).collect()).await;
    fake.lock().expect("lock").next_host = Some("http://127.0.0.2:9".into());
    let (store, dir) = setup(&base, "opensesame").await;
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(r.outcome, "failed");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("refused")),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_run_clearly() {
    let (_fake, base) = start_fake((0..5).map(|i| os_course(i, true)).collect()).await;
    let (store, dir) = setup(&base, "opensesame").await;

    {
        let mut i = integration(&store).await;
        i.settings["client_secret_env"] = json!("FAKE_OS_SECRET_WRONG");
        let mut tx = store.begin().await.expect("begin");
        tx.update_integration(&i).await.expect("update");
        tx.commit().await.expect("commit");
    }
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!(r.outcome, "failed");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("401")),
        "{r:?}"
    );
    assert!(
        !r.error.as_deref().unwrap_or_default().contains("nope"),
        "the secret is never echoed"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The unchanged fast path never hides a course that must change state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_raw_objects_still_change_state_when_they_must() {
    let all: Vec<Value> = (0..10).map(|i| os_course(i, true)).collect();
    let (fake, base) = start_fake(all.clone()).await;
    let (store, dir) = setup(&base, "opensesame").await;
    assert_eq!(sync_once(&store, &Options::default()).await.created, 10);
    // one course leaves the catalog, then comes back exactly as it was
    fake.lock().expect("lock").courses.truncate(9);
    assert_eq!(sync_once(&store, &Options::default()).await.archived, 1);
    fake.lock().expect("lock").courses = all;
    let r = sync_once(&store, &Options::default()).await;
    assert_eq!((r.reactivated, r.unchanged), (1, 9), "{r:?}");
    assert_eq!(active_courses(&store).await, (10, 10));
    // every course turns inactive: the guard stops the run; an allowed run later archives them
    fake.lock().expect("lock").courses = (0..10).map(|i| os_course(i, false)).collect();
    assert_eq!(
        sync_once(&store, &Options::default()).await.outcome,
        "failed"
    );
    assert_eq!(active_courses(&store).await, (10, 10));
    let r = sync_once(
        &store,
        &Options {
            allow_mass_archive: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!((r.outcome.as_str(), r.archived), ("ok", 10), "{r:?}");
    assert_eq!(active_courses(&store).await, (0, 10));
    let _ = std::fs::remove_dir_all(dir);
}
