//! The I/O half of the sans-IO client: sends the requests `scorm-cloud-client`
//! builds, streams uploads from disk, and reads the clock that signs them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use scorm_cloud_client::{Client, HttpMethod, Request};
use time::OffsetDateTime;

use crate::ScormError;
use crate::settings::Settings;

/// The clock requests are signed with (injectable, to test clock skew).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// A SCORM Cloud application reached over HTTP.
#[derive(Clone)]
pub struct Remote {
    pub client: Client,
    http: reqwest::Client,
    clock: Clock,
    timeouts: Timeouts,
}

/// How long SCORM Cloud may take: a call that takes longer fails as `timed
/// out` (nothing of it is recorded; the caller's transaction rolls back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Every call but uploads, from sending to the whole answer read.
    pub call: Duration,
    /// An upload of a package, from the first byte sent to the answer read.
    pub upload: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            call: CALL_TIMEOUT,
            upload: UPLOAD_TIMEOUT,
        }
    }
}

/// An HTTP client for SCORM Cloud: rustls, no redirects followed (an answer
/// is always the body of the call itself), bounded connect time, and no
/// read that waits more than [`READ_TIMEOUT`] for a byte.
pub fn http_client() -> Result<reqwest::Client, ScormError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("coursebridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ScormError::Http {
            op: "client",
            detail: e.to_string(),
        })
}

/// Calls other than uploads must answer within this time.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An upload must be sent and answered within this time (a 1 GiB package
/// at 2 MB/s takes some 9 minutes).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A server that sends nothing for this long is given up on, even within
/// an upload's time.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

impl Remote {
    pub fn new(settings: &Settings, http: reqwest::Client) -> Self {
        Self {
            client: settings.client(),
            http,
            clock: Arc::new(OffsetDateTime::now_utc),
            timeouts: Timeouts::default(),
        }
    }

    /// Other time limits than the defaults (tests; an operator's choice).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Sends a call and returns the response body (SCORM Cloud answers 200
    /// with a failure envelope too: the caller parses it).
    pub async fn call(&self, op: &'static str, req: &Request) -> Result<Vec<u8>, ScormError> {
        let builder = match req.method {
            HttpMethod::Get => self.http.get(&req.url),
            HttpMethod::Post => self.http.post(&req.url),
        };
        let resp = builder
            .timeout(self.timeouts.call)
            .send()
            .await
            .map_err(|e| http_error(op, &e))?;
        body(op, resp).await
    }

    /// Sends an upload: the file is streamed from disk as the multipart part
    /// the request names; it is never held in memory.
    pub async fn upload(
        &self,
        op: &'static str,
        req: &Request,
        path: &Path,
    ) -> Result<Vec<u8>, ScormError> {
        let part_name = req.file_part.clone().unwrap_or_else(|| "filedata".into());
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| ScormError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
        let len = file
            .metadata()
            .await
            .map_err(|e| ScormError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?
            .len();
        let file_name = path.file_name().map_or_else(
            || "package.zip".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), len)
            .file_name(file_name)
            .mime_str("application/zip")
            .map_err(|e| http_error(op, &e))?;
        let form = reqwest::multipart::Form::new().part(part_name, part);
        let resp = self
            .http
            .post(&req.url)
            .timeout(self.timeouts.upload)
            .multipart(form)
            .send()
            .await
            .map_err(|e| http_error(op, &e))?;
        body(op, resp).await
    }
}

fn http_error(op: &'static str, e: &reqwest::Error) -> ScormError {
    // reqwest's message can include the URL, whose query carries the
    // signature and sometimes postback credentials: keep only the kind.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "could not read the answer"
    } else {
        "request failed"
    };
    ScormError::Http {
        op,
        detail: kind.to_owned(),
    }
}

async fn body(op: &'static str, resp: reqwest::Response) -> Result<Vec<u8>, ScormError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| http_error(op, &e))?;
    if status.is_success() {
        return Ok(bytes.to_vec());
    }
    Err(ScormError::Http {
        op,
        detail: format!("HTTP {}", status.as_u16()),
    })
}
