//! The I/O half of the sans-IO client: sends the requests `scorm-cloud-client`
//! builds, streams uploads from disk, and reads the clock that signs them.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scorm_cloud_client::v2::{ClientV2, Method, RequestV2};
use scorm_cloud_client::{Client, HttpMethod, Request};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;

use crate::ScormError;
use crate::settings::{ApiVersion, Settings};

/// The clock requests are signed with (injectable, to test clock skew).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// A SCORM Cloud application reached over HTTP.
#[derive(Clone)]
pub struct Remote {
    /// API V1's request builder (also the launch URLs of V1).
    pub client: Client,
    /// API V2's request builder.
    pub v2: ClientV2,
    /// Which of the two the flows speak ([`crate::ops`]).
    pub api: ApiVersion,
    http: reqwest::Client,
    clock: Clock,
    timeouts: Timeouts,
}

/// How long SCORM Cloud may take: a call that takes longer fails as `timed
/// out` (the flows then record nothing of it: docs/scorm.md "Time limits").
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
            v2: settings.client_v2(),
            api: settings.api_version,
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
    /// the request names; it is never held in memory. `sent` counts the
    /// file's bytes as they are handed to the connection.
    pub async fn upload(
        &self,
        op: &'static str,
        req: &Request,
        path: &Path,
        sent: Arc<AtomicU64>,
    ) -> Result<Vec<u8>, ScormError> {
        let part_name = req.file_part.clone().unwrap_or_else(|| "filedata".into());
        let part = package_part(op, path, sent).await?;
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

impl Remote {
    /// Sends an API V2 call; returns the status and body whatever the status
    /// (the caller's parser turns a 4xx/5xx into the service's error).
    pub async fn call_v2(
        &self,
        op: &'static str,
        req: &RequestV2,
    ) -> Result<(u16, Vec<u8>), ScormError> {
        let builder = match req.method {
            Method::Get => self.http.get(&req.url),
            Method::Post => self.http.post(&req.url),
            Method::Head => self.http.head(&req.url),
            Method::Delete => self.http.delete(&req.url),
        };
        let mut builder = builder
            .header(reqwest::header::AUTHORIZATION, &req.authorization)
            .timeout(self.timeouts.call);
        if let Some(json) = &req.json {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.clone());
        }
        let resp = builder.send().await.map_err(|e| http_error(op, &e))?;
        status_and_body(op, resp).await
    }

    /// Sends an API V2 upload: the package streamed from disk as the `file`
    /// part (`sent`: as [`Remote::upload`]).
    pub async fn upload_v2(
        &self,
        op: &'static str,
        req: &RequestV2,
        path: &Path,
        sent: Arc<AtomicU64>,
    ) -> Result<(u16, Vec<u8>), ScormError> {
        let part_name = req.file_part.clone().unwrap_or_else(|| "file".into());
        let part = package_part(op, path, sent).await?;
        let form = reqwest::multipart::Form::new().part(part_name, part);
        let resp = self
            .http
            .post(&req.url)
            .header(reqwest::header::AUTHORIZATION, &req.authorization)
            .timeout(self.timeouts.upload)
            .multipart(form)
            .send()
            .await
            .map_err(|e| http_error(op, &e))?;
        status_and_body(op, resp).await
    }
}

/// Bytes read from the package per chunk of the upload.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// A package file as a streamed multipart part; `sent` grows by each chunk
/// read for the connection.
async fn package_part(
    op: &'static str,
    path: &Path,
    sent: Arc<AtomicU64>,
) -> Result<reqwest::multipart::Part, ScormError> {
    let io = |e: std::io::Error| ScormError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    let file_name = path.file_name().map_or_else(
        || "package.zip".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let chunks = futures_util::stream::unfold(Some(file), move |file| {
        let sent = sent.clone();
        async move {
            let mut file = file?;
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    Some((Ok(buf), Some(file)))
                }
                // The error ends the body (and the request); nothing is read after it.
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(chunks), len)
        .file_name(file_name)
        .mime_str("application/zip")
        .map_err(|e| http_error(op, &e))
}

async fn status_and_body(
    op: &'static str,
    resp: reqwest::Response,
) -> Result<(u16, Vec<u8>), ScormError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| http_error(op, &e))?;
    Ok((status, bytes.to_vec()))
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
