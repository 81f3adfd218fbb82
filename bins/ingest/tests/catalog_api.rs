//! The catalog read API (`GET /api/v1/courses`, `GET /api/v1/courses/{integration}/{external_id}`)
//! and `POST /api/v1/launch-links`, over real HTTP on loopback, on SQLite and
//! on PostgreSQL (the latter with `--ignored` and COURSEBRIDGE_TEST_POSTGRES_URL).

use std::collections::HashMap;
use std::future::Future;

use base64::Engine as _;
use ingest_server::config::Config;
use ingest_server::server::{self, Running};
use serde_json::{Value, json};
use store::{CourseFields, Credential, Integration, ScormCourse, Store};
use testkit::{Engine, TestDatabase};

const LAUNCH_SECRET: &str = "test-launch-secret-0123456789abcdef";
const T0: i64 = 1_727_000_000_000;
/// An external id with a slash, spaces, a `?`, a `%` and a `+`.
const ODD_ID: &str = "dept/a b?c%d+e";

struct Env {
    server: Running,
    base: String,
    client: reqwest::Client,
    lms: String,
    provider: String,
    store: Store,
}

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// A path segment, percent-encoded (`/`, spaces and the rest).
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Env {
    async fn send(&self, rb: reqwest::RequestBuilder) -> Answer {
        let r = rb.send().await.expect("request");
        Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.expect("body"),
        }
    }
    async fn get_as(&self, path: &str, auth: Option<&str>) -> Answer {
        let mut rb = self.client.get(format!("{}{path}", self.base));
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        self.send(rb).await
    }
    async fn get(&self, path: &str) -> Answer {
        self.get_as(path, Some(&self.lms)).await
    }
    /// A page of `GET /api/v1/courses?{query}` (200 asserted).
    async fn courses(&self, query: &str) -> (Vec<Value>, Option<String>) {
        let a = self.get(&format!("/api/v1/courses?{query}")).await;
        assert_eq!(a.status, 200, "{query}: {}", a.text);
        let body = a.json();
        let items = body["items"].as_array().expect("items").clone();
        (items, body["next_cursor"].as_str().map(str::to_owned))
    }
    /// `kind/external_id` of each item.
    async fn names(&self, query: &str) -> Vec<String> {
        self.courses(query).await.0.iter().map(key).collect()
    }
    /// Saves a course (or path) of an integration at time `at`.
    async fn upsert(
        &self,
        integration: &str,
        kind: &str,
        id: &str,
        name: &str,
        archived: bool,
        at: i64,
    ) {
        let mut tx = self.store.begin().await.expect("begin");
        tx.upsert_course(
            integration,
            kind,
            id,
            &CourseFields {
                name: name.into(),
                launch_url: Some(format!("https://provider.example/launch/{id}")),
                ..CourseFields::default()
            },
            archived,
            "h",
            at,
        )
        .await
        .expect("course");
        tx.commit().await.expect("commit");
    }
}

fn key(item: &Value) -> String {
    format!(
        "{}:{}",
        item["integration"].as_str().expect("integration"),
        item["external_id"].as_str().expect("external_id")
    )
}

fn integration(id: &str, provider: &str, group: &str) -> Integration {
    Integration {
        id: id.into(),
        provider: provider.into(),
        lms_group: group.into(),
        connector_author: "admin@acme.example".into(),
        settings: json!({}),
        active: true,
        created_ms: T0,
        updated_ms: T0,
        deactivated_ms: None,
    }
}

/// Two integrations; in `os-acme` a course with every field (T0), a plain
/// course (T0+1s), a learning path (T0+2s), an archived course (T0+3s) and
/// the course [`ODD_ID`] (T0+4s); in `ub-acme` one course (T0+5s).
/// Returns (LMS credentials, provider credentials) as `Authorization` values.
async fn seed(store: &Store) -> (String, String) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_integration(&integration("os-acme", "opensesame", "g1"))
        .await
        .expect("integration");
    tx.insert_integration(&integration("ub-acme", "udemy-business", "g2"))
        .await
        .expect("integration");
    let full = tx
        .upsert_course(
            "os-acme",
            "course",
            "full-1",
            &CourseFields {
                name: "Leading Remote Teams, \"well\"".into(),
                description: Some("<p>How to lead</p>".into()),
                image_url: Some("https://img.example/full-1.png".into()),
                duration_minutes: Some(72),
                author: Some("=cmd|' /C calc'!A0".into()),
                lang: Some("en".into()),
                launch_url: Some("https://opensesame.example/launch/full-1".into()),
                modified_at: Some("2024-09-01T00:00:00Z".into()),
                subjects: vec!["Leadership".into(), "Remote work".into()],
                content_type: Some("video".into()),
            },
            false,
            "h",
            T0,
        )
        .await
        .expect("course");
    tx.set_activity_ids(
        "os-acme",
        full,
        &[
            "https://www.opensesame.com/c/full-1".into(),
            "https://www.opensesame.com/c/full-1-alt".into(),
        ],
    )
    .await
    .expect("ids");
    tx.upsert_scorm_course(&ScormCourse {
        course_id: "scorm-full-1".into(),
        integration_id: None,
        title: Some("Leading Remote Teams".into()),
        lms_course: Some(full),
        created_ms: T0,
        updated_ms: T0,
    })
    .await
    .expect("scorm course");
    let simple = [
        ("os-acme", "course", "plain-2", false, T0 + 1_000),
        ("os-acme", "path", "path-3", false, T0 + 2_000),
        ("os-acme", "course", "archived-4", true, T0 + 3_000),
        ("os-acme", "course", ODD_ID, false, T0 + 4_000),
        ("ub-acme", "course", "1565838", false, T0 + 5_000),
    ];
    for (integration, kind, id, archived, at) in simple {
        tx.upsert_course(
            integration,
            kind,
            id,
            &CourseFields {
                name: format!("Course {id}"),
                launch_url: Some(format!("https://provider.example/launch/{}", segment(id))),
                ..CourseFields::default()
            },
            archived,
            "h",
            at,
        )
        .await
        .expect("course");
    }
    let secret = ingest_server::auth::new_secret();
    tx.insert_credential(&Credential {
        client_id: "wh_os".into(),
        integration_id: "os-acme".into(),
        secret_hash: ingest_server::auth::hash_secret(&secret),
        created_ms: T0,
        revoked_ms: None,
    })
    .await
    .expect("cred");
    let provider = basic("wh_os", &secret);
    let lms_secret = ingest_server::auth::new_secret();
    tx.insert_api_client(
        "lms_test",
        &ingest_server::auth::hash_secret(&lms_secret),
        T0,
    )
    .await
    .expect("lms");
    tx.commit().await.expect("commit");
    (basic("lms_test", &lms_secret), provider)
}

/// A free loopback port, so that `public_url` (where minted links point)
/// can name the server before it starts.
fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn start(store: Store, launch_secret: Option<&str>) -> Env {
    let (lms, provider) = seed(&store).await;
    let listen = free_addr();
    let base = format!("http://{listen}");
    let config = Config {
        listen,
        public_url: base.clone(),
        launch_secret: launch_secret.map(str::to_owned),
        limits: ingest_server::config::Limits {
            max_page: 50,
            ..Default::default()
        },
        ..Default::default()
    };
    let server = server::start(store.clone(), config).await.expect("start");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Env {
        server,
        base,
        client,
        lms,
        provider,
        store,
    }
}

/// Runs a check on a fresh, migrated, seeded store served by the ingest
/// server (with a launch secret).
async fn on<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_with_secret(engine, Some(LAUNCH_SECRET), check).await;
}

/// [`on`] without a launch secret configured.
async fn on_without_secret<F, Fut>(engine: Engine, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    on_with_secret(engine, None, check).await;
}

async fn on_with_secret<F, Fut>(engine: Engine, secret: Option<&str>, check: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    let db = TestDatabase::create(engine, "catalog").await;
    let store = db.open().await;
    let env = check(start(store, secret).await).await;
    env.server.stop().await.expect("graceful stop");
    env.store.close().await;
    db.remove().await;
}

testkit::both!(every_field_of_a_course, on);
testkit::both!(filters, on);
testkit::both!(paging_survives_concurrent_updates, on);
testkit::both!(csv_pages, on);
testkit::both!(one_course_by_odd_external_id, on);
testkit::both!(bad_parameters_are_named, on);
testkit::both!(credentials_are_required, on);
testkit::both!(launch_links_open_the_course, on);
testkit::both!(launch_links_refuse_bad_requests, on);
testkit::both!(launch_links_need_a_secret, on_without_secret);

async fn every_field_of_a_course(env: Env) -> Env {
    let (items, next) = env.courses("").await;
    assert_eq!(next, None, "one page");
    assert_eq!(
        items.iter().map(key).collect::<Vec<_>>(),
        [
            "os-acme:full-1",
            "os-acme:plain-2",
            "os-acme:path-3",
            "os-acme:archived-4",
            &format!("os-acme:{ODD_ID}"),
            "ub-acme:1565838",
        ],
        "both kinds, archived or not, in order of their last change"
    );
    assert_eq!(
        items[0],
        json!({
            "integration": "os-acme",
            "provider": "opensesame",
            "lms_group": "g1",
            "external_id": "full-1",
            "kind": "course",
            "name": "Leading Remote Teams, \"well\"",
            "description": "<p>How to lead</p>",
            "image": "https://img.example/full-1.png",
            "duration_minutes": 72,
            "author": "=cmd|' /C calc'!A0",
            "lang": "en",
            "launch_url": "https://opensesame.example/launch/full-1",
            "modified_at": "2024-09-01T00:00:00Z",
            "subjects": ["Leadership", "Remote work"],
            "archived": false,
            "content_type": "video",
            "activity_ids": [
                "https://www.opensesame.com/c/full-1",
                "https://www.opensesame.com/c/full-1-alt"
            ],
            "scorm_course_id": "scorm-full-1",
            "created_at": "2024-09-22T10:13:20Z",
            "updated_at": "2024-09-22T10:13:20Z",
            "archived_at": null,
        })
    );
    let archived = &items[3];
    assert_eq!(archived["archived"], json!(true));
    assert_eq!(archived["archived_at"], json!("2024-09-22T10:13:23Z"));
    assert_eq!(archived["activity_ids"], json!([]));
    assert_eq!(archived["scorm_course_id"], Value::Null);
    assert_eq!(items[2]["kind"], json!("path"));
    // The list and the single route show one shape.
    let one = env.get("/api/v1/courses/os-acme/full-1").await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), items[0]);
    env
}

async fn filters(env: Env) -> Env {
    let odd = format!("os-acme:{ODD_ID}");
    assert_eq!(env.names("integration=ub-acme").await, ["ub-acme:1565838"]);
    assert_eq!(env.names("status=archived").await, ["os-acme:archived-4"]);
    assert_eq!(
        env.names("status=active&integration=os-acme").await,
        ["os-acme:full-1", "os-acme:plain-2", "os-acme:path-3", &odd]
    );
    assert_eq!(env.names("kind=path").await, ["os-acme:path-3"]);
    assert_eq!(
        env.names("kind=course&status=active&integration=os-acme")
            .await,
        ["os-acme:full-1", "os-acme:plain-2", &odd]
    );
    // updated_since is inclusive, in any RFC 3339 offset.
    assert_eq!(
        env.names("updated_since=2024-09-22T10:13:23Z").await,
        ["os-acme:archived-4", &odd, "ub-acme:1565838"]
    );
    assert_eq!(
        env.names("updated_since=2024-09-22T12:13:24%2B02:00").await,
        [odd.as_str(), "ub-acme:1565838"]
    );
    assert!(env.names("integration=nope").await.is_empty());
    // A course archived later shows up as archived and among the latest changes.
    {
        let mut tx = env.store.begin().await.expect("begin");
        let c = tx
            .course_by_external_id("os-acme", "plain-2")
            .await
            .expect("read")
            .expect("course");
        tx.set_course_archived(c.id, true, T0 + 10_000)
            .await
            .expect("archive");
        tx.commit().await.expect("commit");
    }
    assert_eq!(
        env.names("status=archived").await,
        ["os-acme:archived-4", "os-acme:plain-2"]
    );
    let (items, _) = env.courses("updated_since=2024-09-22T10:13:30Z").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["archived_at"], json!("2024-09-22T10:13:30Z"));
    env
}

async fn paging_survives_concurrent_updates(env: Env) -> Env {
    // Ten more courses, so that pages of 3 take several requests.
    for n in 0..10 {
        env.upsert(
            "ub-acme",
            "course",
            &format!("more-{n:02}"),
            "More",
            false,
            T0 + 6_000 + n,
        )
        .await;
    }
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let (items, next) = env.courses(&query).await;
        assert!(items.len() <= 3);
        seen.extend(items);
        pages += 1;
        if pages == 2 {
            // While the consumer pages: a course it passed and one it has
            // not reached yet change.
            env.upsert("os-acme", "course", "full-1", "Renamed", false, T0 + 20_000)
                .await;
            env.upsert(
                "ub-acme",
                "course",
                "more-05",
                "Renamed too",
                false,
                T0 + 20_001,
            )
            .await;
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for i in &seen {
        *count.entry(key(i)).or_default() += 1;
    }
    assert_eq!(count.len(), 16, "every record was listed: {count:?}");
    assert_eq!(count["os-acme:full-1"], 2, "passed, changed, listed again");
    assert_eq!(
        count["ub-acme:more-05"], 1,
        "moved ahead of the cursor: listed once"
    );
    let last_two: Vec<(String, &str)> = seen[seen.len() - 2..]
        .iter()
        .map(|i| (key(i), i["name"].as_str().expect("name")))
        .collect();
    assert_eq!(
        last_two,
        [
            ("os-acme:full-1".to_owned(), "Renamed"),
            ("ub-acme:more-05".to_owned(), "Renamed too")
        ],
        "the latest changes come last, with their new values"
    );
    // The order is (last change, id) throughout.
    let times: Vec<&str> = seen
        .iter()
        .map(|i| i["updated_at"].as_str().expect("updated_at"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by_key(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .expect("time")
    });
    assert_eq!(times, sorted);
    env
}

async fn csv_pages(env: Env) -> Env {
    let a = env.get("/api/v1/courses?format=csv&limit=2").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.headers["content-type"].to_str().expect("type"),
        "text/csv; charset=utf-8"
    );
    let next = a.headers["x-next-cursor"]
        .to_str()
        .expect("cursor")
        .to_owned();
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(
        lines[0],
        ingest_server::catalog::CSV_COLUMNS.join(","),
        "a header line of every scalar field"
    );
    assert_eq!(
        lines[0],
        "integration,provider,lms_group,external_id,kind,name,description,image,duration_minutes,author,lang,launch_url,modified_at,subjects,archived,content_type,activity_ids,scorm_course_id,created_at,updated_at,archived_at"
    );
    assert_eq!(
        lines[1],
        "os-acme,opensesame,g1,full-1,course,\"Leading Remote Teams, \"\"well\"\"\",<p>How to lead</p>,https://img.example/full-1.png,72,'=cmd|' /C calc'!A0,en,https://opensesame.example/launch/full-1,2024-09-01T00:00:00Z,Leadership|Remote work,false,video,https://www.opensesame.com/c/full-1|https://www.opensesame.com/c/full-1-alt,scorm-full-1,2024-09-22T10:13:20Z,2024-09-22T10:13:20Z,",
        "quoted, the formula neutralized, lists joined with |"
    );
    assert_eq!(lines.len(), 3);
    // The CSV cursor continues as the JSON one does; Accept: text/csv works too.
    let b = env
        .send(
            env.client
                .get(format!(
                    "{}/api/v1/courses?limit=50&cursor={next}",
                    env.base
                ))
                .header("Authorization", &env.lms)
                .header("Accept", "text/csv"),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert!(b.headers.get("x-next-cursor").is_none(), "the last page");
    let rows: Vec<&str> = b.text.lines().skip(1).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0].starts_with("os-acme,opensesame,g1,path-3,path,"));
    assert!(
        rows[2].starts_with("os-acme,opensesame,g1,dept/a b?c%d+e,course,"),
        "{}",
        rows[2]
    );
    // An explicit format=json wins over the Accept header.
    let c = env
        .send(
            env.client
                .get(format!("{}/api/v1/courses?format=json", env.base))
                .header("Authorization", &env.lms)
                .header("Accept", "text/csv"),
        )
        .await;
    assert_eq!(c.json()["items"].as_array().map(Vec::len), Some(6));
    env
}

async fn one_course_by_odd_external_id(env: Env) -> Env {
    let a = env
        .get(&format!("/api/v1/courses/os-acme/{}", segment(ODD_ID)))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    assert_eq!(j["external_id"], json!(ODD_ID));
    assert_eq!(j["name"], json!(format!("Course {ODD_ID}")));
    let path = env.get("/api/v1/courses/os-acme/path-3").await;
    assert_eq!(path.json()["kind"], json!("path"));
    let missing = env.get("/api/v1/courses/os-acme/dept%2Fnope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["error"],
        json!("course \"dept/nope\" not found in integration \"os-acme\"")
    );
    let no_integration = env.get("/api/v1/courses/os-nope/full-1").await;
    assert_eq!(no_integration.status, 404);
    assert_eq!(
        no_integration.json()["error"],
        json!("integration \"os-nope\" not found")
    );
    // A course of another integration is not found under this one.
    let other = env.get("/api/v1/courses/os-acme/1565838").await;
    assert_eq!(other.status, 404);
    let extra = env.get("/api/v1/courses/os-acme/full-1?format=csv").await;
    assert_eq!(extra.status, 400);
    assert_eq!(extra.json()["error"], json!("format: unknown parameter"));
    env
}

async fn bad_parameters_are_named(env: Env) -> Env {
    for (query, message) in [
        ("status=gone", "status: must be active or archived"),
        (
            "kind=module",
            "kind: must be course or path (both when not given)",
        ),
        ("limit=0", "limit: must be between 1 and 50"),
        ("limit=51", "limit: must be between 1 and 50"),
        ("limit=ten", "limit: must be between 1 and 50"),
        (
            "cursor=%21%21",
            "cursor: malformed (use the next_cursor of a previous page)",
        ),
        // base64 of "1:2:3": a statistics cursor, not a catalog one
        (
            "cursor=MToyOjM",
            "cursor: malformed (use the next_cursor of a previous page)",
        ),
        ("format=xml", "format: must be json or csv"),
        ("since=2024-01-01T00:00:00Z", "since: unknown parameter"),
    ] {
        let a = env.get(&format!("/api/v1/courses?{query}")).await;
        assert_eq!(a.status, 400, "{query}: {}", a.text);
        assert_eq!(a.json()["error"], json!(message), "{query}");
    }
    let a = env.get("/api/v1/courses?updated_since=yesterday").await;
    assert_eq!(a.status, 400);
    let error = a.json()["error"].as_str().expect("error").to_owned();
    assert!(error.starts_with("updated_since: "), "{error}");
    env
}

async fn credentials_are_required(env: Env) -> Env {
    let wrong = basic("lms_test", "not-the-secret");
    for path in ["/api/v1/courses", "/api/v1/courses/os-acme/full-1"] {
        for auth in [None, Some(wrong.as_str()), Some(env.provider.as_str())] {
            let a = env.get_as(path, auth).await;
            assert_eq!(a.status, 401, "{path} {auth:?}: {}", a.text);
            assert!(a.headers.contains_key("www-authenticate"));
        }
    }
    // Credentials are checked before parameters.
    let a = env.get_as("/api/v1/courses?status=gone", None).await;
    assert_eq!(a.status, 401);
    env
}

impl Env {
    async fn post(&self, path: &str, auth: Option<&str>, body: &str) -> Answer {
        let mut rb = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(a) = auth {
            rb = rb.header("Authorization", a);
        }
        self.send(rb).await
    }
}

async fn launch_links_open_the_course(env: Env) -> Env {
    let request = json!({
        "integration": "os-acme",
        "course": ODD_ID,
        "learner": "u-9",
        "email": "Grace.Hopper@example.com",
        "entry": "path:path-3",
        "ttl_secs": 600,
    });
    let a = env
        .post("/api/v1/launch-links", Some(&env.lms), &request.to_string())
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let body = a.json();
    let url = body["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/launch/os-acme/dept%2Fa%20b%3Fc%25d%2Be?",
            env.base
        )),
        "on public_url, the id percent-encoded: {url}"
    );
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let expires =
        time::OffsetDateTime::parse(body["expires_at"].as_str().expect("expires_at"), rfc3339)
            .expect("RFC 3339")
            .unix_timestamp();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 595..=now + 601).contains(&expires),
        "{expires} vs {now}"
    );
    // The very link the CLI mints (one function makes both).
    let config = Config {
        public_url: env.base.clone(),
        launch_secret: Some(LAUNCH_SECRET.into()),
        ..Default::default()
    };
    let same = ingest_server::launch::mint_link(
        &config,
        ingest_server::launch::LaunchTarget::Course {
            integration: "os-acme",
            course: ODD_ID,
        },
        "u-9",
        Some("Grace.Hopper@example.com"),
        "path:path-3",
        600,
        expires - 600,
    )
    .expect("mint");
    assert_eq!(same.url, url);
    // Following it launches the course: a redirect to the catalog's launch
    // URL, and a statistic launched from the LMS.
    let r = env.client.get(&url).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302, "{:?}", r.text().await);
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        "https://provider.example/launch/dept%2Fa%20b%3Fc%25d%2Be"
    );
    let stats = env.get("/api/v1/statistics?learner=u-9").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let items = stats.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["course"], json!(ODD_ID));
    assert_eq!(items[0]["launched_from_lms"], json!(true));
    assert_eq!(items[0]["attempts"][0]["entry"], json!({"path": "path-3"}));
    // Defaults: entry catalog, 300 s; and an edited link is refused.
    let a = env
        .post(
            "/api/v1/launch-links",
            Some(&env.lms),
            r#"{"integration": "os-acme", "course": "full-1", "learner": "u-10"}"#,
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let url = a.json()["url"].as_str().expect("url").to_owned();
    assert!(url.contains("entry=catalog"), "{url}");
    let r = env.client.get(&url).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(
        r.headers()["location"].to_str().expect("location"),
        "https://opensesame.example/launch/full-1"
    );
    let edited = url.replace("learner=u-10", "learner=u-11");
    let r = env.client.get(&edited).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 403);
    // The CLI prints a link of the same form that this server accepts.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coursebridge-ingest"))
        .args([
            "launch-link",
            "--integration",
            "os-acme",
            "--course",
            ODD_ID,
        ])
        .args(["--learner", "u-12", "--ttl", "60"])
        .env("COURSEBRIDGE_PUBLIC_URL", &env.base)
        .env("COURSEBRIDGE_LAUNCH_SECRET", LAUNCH_SECRET)
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = String::from_utf8(out.stdout).expect("utf-8");
    let cli = cli.trim();
    assert!(
        cli.starts_with(&format!(
            "{}/launch/os-acme/dept%2Fa%20b%3Fc%25d%2Be?learner=u-12&entry=catalog&exp=",
            env.base
        )),
        "{cli}"
    );
    let r = env.client.get(cli).send().await.expect("launch");
    assert_eq!(r.status().as_u16(), 302);
    env
}

async fn launch_links_refuse_bad_requests(env: Env) -> Env {
    let ok = json!({"integration": "os-acme", "course": "full-1", "learner": "u-1"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b.to_string()
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().expect("object").remove(k);
        b.to_string()
    };
    let ttl_rule = "ttl_secs: must be a whole number of seconds between 1 and 86400";
    for (body, status, message) in [
        (without("integration"), 400, "integration: missing"),
        (without("course"), 400, "course: missing"),
        (without("learner"), 400, "learner: missing"),
        (
            with("learner", json!(" ")),
            400,
            "learner: must not be empty",
        ),
        (with("learner", json!(42)), 400, "learner: must be a string"),
        (with("course", Value::Null), 400, "course: missing"),
        (
            with("email", json!("not-an-email")),
            400,
            "email: not an email address",
        ),
        (
            with("entry", json!("module")),
            400,
            "entry: must be catalog or path:<path id>",
        ),
        (
            with("entry", json!("path:")),
            400,
            "entry: must be catalog or path:<path id>",
        ),
        (with("ttl_secs", json!(0)), 400, ttl_rule),
        (with("ttl_secs", json!(86_401)), 400, ttl_rule),
        (with("ttl_secs", json!("60")), 400, ttl_rule),
        (with("ttl_secs", json!(1.5)), 400, ttl_rule),
        (
            with("redirect", json!("https://evil.example")),
            400,
            "redirect: unknown field (known: integration, course, learner, email, entry, ttl_secs)",
        ),
        ("[1, 2]".to_owned(), 400, "body: must be a JSON object"),
        (
            with("integration", json!("os-nope")),
            404,
            "integration \"os-nope\" not found",
        ),
        (
            with("course", json!("nope")),
            404,
            "course \"nope\" not found in integration \"os-acme\"",
        ),
        (
            with("course", json!("1565838")),
            404,
            "course \"1565838\" not found in integration \"os-acme\"",
        ),
        (
            with("course", json!("archived-4")),
            409,
            "course \"archived-4\" is archived",
        ),
        (
            with("course", json!("path-3")),
            409,
            "course \"path-3\" is a learning path: links open its courses (entry path:path-3)",
        ),
    ] {
        let a = env
            .post("/api/v1/launch-links", Some(&env.lms), &body)
            .await;
        assert_eq!(a.status, status, "{body}: {}", a.text);
        assert_eq!(a.json()["error"], json!(message), "{body}");
    }
    let a = env
        .post("/api/v1/launch-links", Some(&env.lms), "{not json")
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.json()["error"]
            .as_str()
            .expect("error")
            .starts_with("body: ")
    );
    for auth in [None, Some(env.provider.as_str())] {
        let a = env
            .post("/api/v1/launch-links", auth, &ok.to_string())
            .await;
        assert_eq!(a.status, 401, "{auth:?}: {}", a.text);
    }
    env
}

async fn launch_links_need_a_secret(env: Env) -> Env {
    let a = env
        .post(
            "/api/v1/launch-links",
            Some(&env.lms),
            &json!({"integration": "os-acme", "course": "full-1", "learner": "u-1"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(
        a.json()["error"],
        json!(
            "launch links are not configured on this server: set launch_secret (COURSEBRIDGE_LAUNCH_SECRET)"
        )
    );
    env
}
