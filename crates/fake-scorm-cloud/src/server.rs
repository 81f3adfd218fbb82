//! The running fake: its router and the handle tests drive it with.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;

use crate::api::{api_get, player};
use crate::import::api_post;
use crate::postback::{
    control_progress, deliver, posted_body, posted_report, send_postback, set_state,
};
use crate::state::{FakeCourse, FakeRegistration, Inner, Postback, lock};
use crate::v2;

/// A running fake. Dropping it stops the server.
pub struct FakeScormCloud {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for FakeScormCloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeScormCloud {
    /// Starts on `127.0.0.1`, on a free port, for this application id and secret.
    pub async fn start(app_id: &str, secret: &str) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), app_id, secret).await
    }

    pub async fn start_on(addr: SocketAddr, app_id: &str, secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            clock_offset_secs: 0,
            polls_before_done: 1,
            courses: BTreeMap::new(),
            jobs: HashMap::new(),
            registrations: BTreeMap::new(),
            calls: Vec::new(),
            fail_next: HashMap::new(),
            next_token: 1,
            base: format!("http://{addr}"),
        }));
        // imports from a URL follow redirects, as a download would;
        // postbacks (`http` below) do not
        let fetch = reqwest::Client::builder()
            .build()
            .map_err(std::io::Error::other)?;
        let app = Router::new()
            .route("/api", get(api_get).post(api_post))
            .nest(
                "/api/v2",
                v2::router(v2::V2 {
                    inner: inner.clone(),
                    fetch,
                }),
            )
            .route("/player/{regid}", get(player))
            .route("/_fake/progress", axum::routing::post(control_progress))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            inner,
            addr,
            task,
            http,
        })
    }

    /// The API endpoint, e.g. `http://127.0.0.1:4321/api`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The API V2 base, e.g. `http://127.0.0.1:4321/api/v2/`.
    pub fn api_v2_url(&self) -> String {
        format!("http://{}/api/v2/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Moves the fake's clock (seconds; positive = the fake is ahead of us).
    pub fn set_clock_offset(&self, secs: i64) {
        lock(&self.inner).clock_offset_secs = secs;
    }

    /// How many polls of an import job (V1 `getAsyncImportResult`, V2
    /// `GET courses/importJobs/{jobId}`) answer running before the job ends.
    pub fn set_polls_before_done(&self, n: u32) {
        lock(&self.inner).polls_before_done = n;
    }

    /// The next call of `method` fails with this code and message.
    ///
    /// V1: `method` is the API method (e.g.
    /// `rustici.registration.createRegistration`), answered with a failure
    /// envelope carrying `code`. V2: `method` is the operation's name in the
    /// calls log, `v2 METHOD /path/{param}` (e.g. `v2 POST /registrations`,
    /// `v2 GET /courses/importJobs/{jobId}`: the list is
    /// [`crate::v2_ops`]), answered with the HTTP status `code` (a 4xx or
    /// 5xx; any other code answers 500) and `{"message": message}`.
    pub fn fail_next(&self, method: &str, code: u32, message: &str) {
        lock(&self.inner)
            .fail_next
            .entry(method.to_owned())
            .or_default()
            .push_back((code, message.to_owned()));
    }

    /// The methods called so far, in order (only calls that passed
    /// authentication): V1 method names, V2 operation names
    /// ([`crate::v2_ops`]); `… (failed)` when an injected failure answered.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.inner).calls.clone()
    }

    /// The token of the latest import job.
    pub fn last_token(&self) -> Option<String> {
        let g = lock(&self.inner);
        g.next_token
            .checked_sub(1)
            .filter(|n| *n > 0)
            .map(|n| format!("job-{n:04}"))
    }

    pub fn registration(&self, regid: &str) -> Option<FakeRegistration> {
        lock(&self.inner).registrations.get(regid).cloned()
    }

    pub fn registration_ids(&self) -> Vec<String> {
        lock(&self.inner).registrations.keys().cloned().collect()
    }

    pub fn course(&self, course_id: &str) -> Option<FakeCourse> {
        lock(&self.inner).courses.get(course_id).cloned()
    }

    /// Adds a course as if it had been imported.
    pub fn add_course(&self, course_id: &str, title: &str) {
        lock(&self.inner).courses.insert(
            course_id.to_owned(),
            FakeCourse {
                title: title.to_owned(),
                versions: 1,
                bytes: 0,
            },
        );
    }

    /// The learner makes progress: the registration's state changes, and the
    /// postback (when the registration has one) is sent, in the format of the
    /// API the registration was created with (V1: the XML report; V2: the
    /// registration-progress JSON). Returns the status the postback got, or
    /// `None` without a postback URL.
    pub async fn progress(
        &self,
        regid: &str,
        complete: &str,
        success: &str,
        score: Option<f64>,
        total_time_secs: f64,
    ) -> Result<Option<u16>, String> {
        let (api, body, pb) = {
            let mut g = lock(&self.inner);
            set_state(&mut g, regid, complete, success, score, total_time_secs)?;
            posted_body(&g, regid).ok_or_else(|| format!("no registration {regid}"))?
        };
        match pb {
            None => Ok(None),
            Some(pb) => deliver(&self.http, api, &pb, &body).await.map(Some),
        }
    }

    /// Changes a registration's state without sending a postback (a postback
    /// lost or delayed: what a manual refresh is for).
    pub fn update(
        &self,
        regid: &str,
        complete: &str,
        success: &str,
        score: Option<f64>,
        total_time_secs: f64,
    ) -> Result<(), String> {
        set_state(
            &mut lock(&self.inner),
            regid,
            complete,
            success,
            score,
            total_time_secs,
        )
    }

    /// Sends a V1 postback with this XML report body (e.g. an old one again,
    /// to test duplicates and out-of-order deliveries). Returns the HTTP status.
    pub async fn send_postback(&self, pb: &Postback, report_xml: &str) -> Result<u16, String> {
        send_postback(&self.http, pb, report_xml).await
    }

    /// Sends a V2 postback with this registration-progress JSON body (e.g.
    /// an old [`Self::report_v2`] again): `form` as the field `data` with
    /// `userName` and `password`, `httpbasic` as `application/json` with a
    /// Basic header. Returns the HTTP status.
    pub async fn send_postback_v2(&self, pb: &Postback, json: &str) -> Result<u16, String> {
        v2::postback::send(&self.http, pb, json).await
    }

    /// The V1 XML report a registration would post now, in its postback's
    /// results format.
    pub fn report(&self, regid: &str) -> Option<String> {
        posted_report(&lock(&self.inner), regid).map(|(report, _)| report)
    }

    /// The registration-progress JSON a V2 postback of this registration
    /// would carry now, in its postback's results format.
    pub fn report_v2(&self, regid: &str) -> Option<String> {
        let g = lock(&self.inner);
        let format = g
            .registrations
            .get(regid)?
            .postback
            .as_ref()
            .map_or("course", |p| p.format.as_str())
            .to_owned();
        v2::postback::progress_of(&g, regid, &format).map(|v| v.to_string())
    }
}
