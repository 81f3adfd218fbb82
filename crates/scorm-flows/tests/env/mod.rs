//! What the flow suites share: a fresh store and fake SCORM Cloud per
//! check, run once on API V1 and once on API V2, and the integration,
//! course and registrations they start from.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use fake_scorm_cloud::{FakeScormCloud, v2_ops};
use scorm_flows::import::{self, Quiet};
use scorm_flows::registrations::{self, Assignment, Launcher};
use scorm_flows::{ApiVersion, Remote, Settings};
use serde_json::json;
use stats_rules::EntryPoint;
use store::{Integration, Store};
use testkit::{Engine, TestDatabase};
pub const SECRET: &str = "fake-secret-key";

pub struct Env {
    pub store: Store,
    pub fake: FakeScormCloud,
    pub dir: std::path::PathBuf,
    /// The API the integration speaks in this run.
    pub api: ApiVersion,
}

impl Env {
    /// The fake's name of an operation, by API version (for `fail_next` and
    /// the calls log).
    pub fn op(&self, v1: &'static str, v2: &'static str) -> &'static str {
        match self.api {
            ApiVersion::V1 => v1,
            ApiVersion::V2 => v2,
        }
    }

    pub fn create_op(&self) -> &'static str {
        self.op(
            "rustici.registration.createRegistration",
            v2_ops::CREATE_REGISTRATION,
        )
    }

    /// The report a postback of this registration would carry now.
    pub fn report(&self, id: &str) -> String {
        match self.api {
            ApiVersion::V1 => self.fake.report(id),
            ApiVersion::V2 => self.fake.report_v2(id),
        }
        .expect("report")
    }

    pub fn integration(&self, creation: &str, auth: &str) -> Integration {
        Integration {
            id: format!("scorm-{creation}"),
            provider: "scorm-cloud".into(),
            lms_group: "g1".into(),
            connector_author: "admin@acme.example".into(),
            settings: json!({
                "api_version": match self.api { ApiVersion::V1 => "v1", ApiVersion::V2 => "v2" },
                "base_url": match self.api {
                    ApiVersion::V1 => self.fake.api_url(),
                    ApiVersion::V2 => self.fake.api_v2_url(),
                },
                "app_id": "APP1",
                "secret_env": "FAKE_SCORM_SECRET",
                "public_url": "http://127.0.0.1:9/",
                "registrations": creation,
                "postback_auth": auth,
            }),
            active: true,
            created_ms: 0,
            updated_ms: 0,
            deactivated_ms: None,
        }
    }

    pub async fn setup(&self, creation: &str, auth: &str) -> (Integration, Settings, Remote) {
        let i = self.integration(creation, auth);
        let mut tx = self.store.begin().await.expect("begin");
        if tx.integration(&i.id).await.expect("read").is_none() {
            tx.insert_integration(&i).await.expect("integration");
        }
        tx.commit().await.expect("commit");
        let settings = Settings::from_integration(&i, &|name| {
            (name == "FAKE_SCORM_SECRET").then(|| SECRET.to_owned())
        })
        .expect("settings");
        let remote = Remote::new(&settings, scorm_flows::http_client().expect("http"));
        (i, settings, remote)
    }

    pub fn package(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).expect("write package");
        p
    }

    pub async fn import(&self, i: &Integration, remote: &Remote, course: &str) -> import::Imported {
        let p = self.package(
            &format!("{course}.zip"),
            &fake_scorm_cloud::package("Safety Basics"),
        );
        import::import_package(&self.store, remote, i, course, &p, fast_polls(), &Quiet)
            .await
            .expect("import")
    }
}

/// Serves `body` over HTTP on loopback to whoever asks (the fake, for an
/// import from a URL); the URL.
pub async fn serve_once(body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}/package.zip")
}

pub fn fast_polls() -> Vec<Duration> {
    vec![Duration::from_millis(10); 5]
}

pub fn who(learner: &str) -> Launcher {
    Launcher {
        learner: learner.into(),
        email: Some(format!("{learner}@example.com")),
        entry: EntryPoint::Catalog,
    }
}

/// Runs a check on a fresh, migrated store with the fake SCORM Cloud, once
/// on API V1 and once on API V2.
pub async fn on<F, Fut>(engine: Engine, check: F)
where
    F: Fn(Env) -> Fut,
    Fut: Future<Output = Env>,
{
    for api in [ApiVersion::V1, ApiVersion::V2] {
        let db = TestDatabase::create(engine, "scorm").await;
        let store = db.open().await;
        let fake = FakeScormCloud::start("APP1", SECRET).await.expect("fake");
        let dir = db.dir().to_path_buf();
        let env = check(Env {
            store,
            fake,
            dir,
            api,
        })
        .await;
        env.store.close().await;
        db.remove().await;
    }
}

pub async fn assigned(
    env: &Env,
    settings: &Settings,
    remote: &Remote,
    learner: &str,
) -> store::Registration {
    registrations::assign(
        &env.store,
        remote,
        settings,
        &Assignment {
            course_id: "course-1".into(),
            learner: learner.into(),
            first_name: "Test".into(),
            last_name: format!("Learner {learner}"),
            ..Assignment::default()
        },
    )
    .await
    .expect("assign")
    .registration
}
