//! Catalog sources: the OpenSesame and Udemy Business APIs, or a local file
//! (the sample catalog). Each yields pages of raw course objects.

use base64::Engine;
use serde_json::Value;
use url::Url;

use crate::retry::{FetchError, RetryPolicy, send};

/// Which mapping applies to a source's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenSesame,
    Udemy,
}

pub struct Page {
    pub number: u32,
    pub items: Vec<Value>,
}

pub enum Source {
    OpenSesame(OpenSesame),
    Udemy(Udemy),
    File {
        kind: Kind,
        path: String,
        done: bool,
    },
}

pub struct OpenSesame {
    pub client: reqwest::Client,
    pub policy: RetryPolicy,
    pub base_url: Url,
    pub token_url: Url,
    pub customer_integration_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub token: Option<String>,
    pub next: Option<Url>,
    pub page: u32,
}

pub struct Udemy {
    pub client: reqwest::Client,
    pub policy: RetryPolicy,
    pub base_url: Url,
    pub org_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub page_size: u32,
    pub next: Option<Url>,
    pub page: u32,
}

/// A `next` link is followed only on the provider's own origin: our
/// credentials never go to another host.
fn same_origin(base: &Url, next: &str) -> Result<Url, FetchError> {
    let u = base
        .join(next)
        .map_err(|e| FetchError::Protocol(format!("paging.next {next:?}: {e}")))?;
    if u.origin() != base.origin() {
        return Err(FetchError::Protocol(format!(
            "paging.next {next:?} leaves {} : refused",
            base.origin().ascii_serialization()
        )));
    }
    Ok(u)
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn json(r: reqwest::Response, url: &str) -> Result<Value, FetchError> {
    let bytes = r.bytes().await.map_err(|e| FetchError::Transport {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| FetchError::Protocol(format!("{url}: not JSON: {e}")))
}

impl Source {
    pub fn kind(&self) -> Kind {
        match self {
            Source::OpenSesame(_) => Kind::OpenSesame,
            Source::Udemy(_) => Kind::Udemy,
            Source::File { kind, .. } => *kind,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        match self {
            Source::File { kind, path, done } => {
                if *done {
                    return Ok(None);
                }
                *done = true;
                let bytes = std::fs::read(&*path)
                    .map_err(|e| FetchError::Protocol(format!("{path}: {e}")))?;
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| FetchError::Protocol(format!("{path}: {e}")))?;
                let key = if *kind == Kind::OpenSesame {
                    "data"
                } else {
                    "results"
                };
                let items = v
                    .get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(|| FetchError::Protocol(format!("{path}: no {key} array")))?;
                Ok(Some(Page { number: 1, items }))
            }
            Source::OpenSesame(os) => os.next_page().await,
            Source::Udemy(u) => u.next_page().await,
        }
    }
}

impl OpenSesame {
    async fn fetch_token(&mut self) -> Result<String, FetchError> {
        let url = self.token_url.to_string();
        let (client, auth) = (
            self.client.clone(),
            basic(&self.client_id, &self.client_secret),
        );
        let r = send(&self.policy, &url, || {
            client
                .post(self.token_url.clone())
                .header(reqwest::header::AUTHORIZATION, &auth)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body("grant_type=client_credentials&scope=content")
        })
        .await?;
        let v = json(r, &url).await?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| FetchError::Protocol(format!("{url}: no access_token")))?;
        self.token = Some(token.to_owned());
        Ok(token.to_owned())
    }

    async fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        let url = match (self.page, &self.next) {
            (0, _) => {
                let mut u = self
                    .base_url
                    .join("v1/content")
                    .map_err(|e| FetchError::Protocol(e.to_string()))?;
                u.query_pairs_mut()
                    .append_pair("customerIntegrationId", &self.customer_integration_id)
                    .append_pair("limit", "50")
                    .append_pair("page", "1");
                u
            }
            (_, Some(n)) => n.clone(),
            (_, None) => return Ok(None),
        };
        let token = match &self.token {
            Some(t) => t.clone(),
            None => self.fetch_token().await?,
        };
        let client = self.client.clone();
        let get = |token: String| {
            let (client, url) = (client.clone(), url.clone());
            move || client.get(url.clone()).bearer_auth(&token)
        };
        let r = match send(&self.policy, url.as_str(), get(token)).await {
            Err(FetchError::Status { status: 401, .. }) => {
                // The token expired: fetch a new one, once.
                self.token = None;
                let token = self.fetch_token().await?;
                send(&self.policy, url.as_str(), get(token)).await?
            }
            other => other?,
        };
        let v = json(r, url.as_str()).await?;
        let items = v
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| FetchError::Protocol(format!("{url}: no data array")))?;
        self.page += 1;
        self.next = match v
            .get("paging")
            .and_then(|p| p.get("next"))
            .and_then(Value::as_str)
        {
            Some(n) if !n.is_empty() => Some(same_origin(&self.base_url, n)?),
            _ => None,
        };
        Ok(Some(Page {
            number: self.page,
            items,
        }))
    }
}

impl Udemy {
    async fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        let url = match (self.page, &self.next) {
            (0, _) => {
                let mut u = self
                    .base_url
                    .join(&format!(
                        "api-2.0/organizations/{}/courses/list/",
                        self.org_id
                    ))
                    .map_err(|e| FetchError::Protocol(e.to_string()))?;
                u.query_pairs_mut()
                    .append_pair("page", "1")
                    .append_pair("page_size", &self.page_size.to_string());
                u
            }
            (_, Some(n)) => n.clone(),
            (_, None) => return Ok(None),
        };
        let (client, auth) = (
            self.client.clone(),
            basic(&self.client_id, &self.client_secret),
        );
        let r = send(&self.policy, url.as_str(), || {
            client
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, &auth)
        })
        .await?;
        let v = json(r, url.as_str()).await?;
        let items = v
            .get("results")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| FetchError::Protocol(format!("{url}: no results array")))?;
        self.page += 1;
        self.next = match v.get("next").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => Some(same_origin(&self.base_url, n)?),
            _ => None,
        };
        Ok(Some(Page {
            number: self.page,
            items,
        }))
    }
}
