//! Statement attachments over HTTP (xAPI 1.0.3, Communication 1.5.2): a
//! `multipart/mixed` request carries the statements in its first part and
//! each attachment's raw data in a part named by its SHA-2; `attachments=true`
//! on GET answers in the same format. The rules we apply and why are in
//! docs/xapi-attachments.md.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use records::AttachmentData;
use sha2::Digest;
use xapi_model::multipart::{self, Part};
use xapi_model::signature::{self, SIGNATURE_USAGE};
use xapi_model::{Attachment, Statement, StatementObject};

use crate::error::ApiError;

/// One attachment part of a request.
struct Data {
    /// Its index among the parts (0 is the statements).
    part: usize,
    content_type: Option<String>,
    content: Arc<[u8]>,
    named: bool,
}

/// A statements request: the statements' JSON and the attachment data sent
/// with it, by SHA-2 (lower case).
pub struct Incoming<'a> {
    /// The statements' JSON (the body, or a multipart request's first part).
    pub json: &'a [u8],
    data: BTreeMap<String, Data>,
}

/// Whether the request is `multipart/mixed` (or another `multipart/…`).
fn is_multipart(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|c| multipart::essence(c).starts_with("multipart/"))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// The SHA-2 of some data in lower-case hex, with the length of `like` (a
/// SHA-256, -384 or -512 digest); `None` for any other length.
fn sha2_like(like: &str, data: &[u8]) -> Option<String> {
    Some(match like.len() {
        64 => hex::encode(sha2::Sha256::digest(data)),
        96 => hex::encode(sha2::Sha384::digest(data)),
        128 => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

/// Splits a request body: JSON as it is, or a multipart body into the
/// statements part and checked attachment parts.
pub fn split<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<Incoming<'a>, ApiError> {
    if !is_multipart(headers) {
        return match content_type(headers).map(multipart::essence).as_deref() {
            Some("application/json") => Ok(Incoming {
                json: body,
                data: BTreeMap::new(),
            }),
            None => Err(ApiError::bad_request(
                "Content-Type: required; statements come as application/json (or multipart/mixed with attachments)",
            )),
            Some(other) => Err(ApiError::bad_request(format!(
                "Content-Type: {other} is not accepted; statements come as application/json or multipart/mixed"
            ))),
        };
    }
    let ct = content_type(headers).unwrap_or_default();
    if multipart::essence(ct) != "multipart/mixed" {
        return Err(ApiError::bad_request(format!(
            "Content-Type: {} is not accepted; statements come as application/json or multipart/mixed",
            multipart::essence(ct)
        )));
    }
    let boundary = multipart::boundary(ct).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let parts =
        multipart::parse(body, &boundary).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some((first, rest)) = parts.split_first() else {
        return Err(ApiError::bad_request(
            "body: the multipart body has no part; the first must hold the statements",
        ));
    };
    if first
        .header("content-type")
        .map(multipart::essence)
        .as_deref()
        != Some("application/json")
    {
        return Err(ApiError::bad_request(
            "part 0: Content-Type must be application/json (the statements)",
        ));
    }
    let mut data = BTreeMap::new();
    for (i, p) in rest.iter().enumerate() {
        let i = i + 1;
        let (sha2, d) = attachment_part(i, p)?;
        if data.insert(sha2.clone(), d).is_some() {
            return Err(ApiError::bad_request(format!(
                "part {i}: X-Experience-API-Hash {sha2} was sent in an earlier part already"
            )));
        }
    }
    Ok(Incoming {
        json: first.body,
        data,
    })
}

fn attachment_part(i: usize, p: &Part<'_>) -> Result<(String, Data), ApiError> {
    let hash = p.header("x-experience-api-hash").ok_or_else(|| {
        ApiError::bad_request(format!(
            "part {i}: X-Experience-API-Hash is required in every attachment part"
        ))
    })?;
    let hash = hash.to_ascii_lowercase();
    if let Some(cte) = p.header("content-transfer-encoding") {
        if !cte.eq_ignore_ascii_case("binary") {
            return Err(ApiError::bad_request(format!(
                "part {i}: Content-Transfer-Encoding must be binary, not {cte:?}"
            )));
        }
    }
    if let Some(len) = p.header("content-length") {
        if len.parse::<usize>().ok() != Some(p.body.len()) {
            return Err(ApiError::bad_request(format!(
                "part {i}: Content-Length {len} is not the part's length ({})",
                p.body.len()
            )));
        }
    }
    let actual = sha2_like(&hash, p.body).ok_or_else(|| {
        ApiError::bad_request(format!(
            "part {i}: X-Experience-API-Hash must be a SHA-256, SHA-384 or SHA-512 digest in hex"
        ))
    })?;
    if actual != hash {
        return Err(ApiError::bad_request(format!(
            "part {i}: X-Experience-API-Hash {hash} is not the SHA-2 of the part's content ({actual})"
        )));
    }
    Ok((
        hash,
        Data {
            part: i,
            content_type: p.header("content-type").map(str::to_owned),
            content: Arc::from(p.body),
            named: false,
        },
    ))
}

/// Every attachment of a statement, its own and its SubStatement's, with the
/// path to name it by.
fn attachments_of(s: &Statement) -> Vec<(String, &Attachment)> {
    let own = s
        .attachments
        .iter()
        .flatten()
        .enumerate()
        .map(|(j, a)| (format!("attachments[{j}]"), a));
    let sub = match &s.object {
        StatementObject::SubStatement(sub) => sub.attachments.as_deref().unwrap_or_default(),
        _ => &[],
    }
    .iter()
    .enumerate()
    .map(|(j, a)| (format!("object.attachments[{j}]"), a));
    own.chain(sub).collect()
}

/// Matches every attachment of the statements with its data: each needs a
/// part with its SHA-2 or a `fileUrl`; a signature needs its part and must be
/// well formed; every part must be named by an attachment. The data of each
/// statement, in order.
pub fn attach(
    incoming: &mut Incoming<'_>,
    statements: &[(Statement, String)],
    api: xapi_model::ApiVersion,
) -> Result<Vec<Vec<AttachmentData>>, ApiError> {
    let mut out = Vec::with_capacity(statements.len());
    for (i, (s, _)) in statements.iter().enumerate() {
        let mut mine: Vec<AttachmentData> = Vec::new();
        for (path, a) in attachments_of(s) {
            let sha2 = a.sha2.to_ascii_lowercase();
            let Some(d) = incoming.data.get_mut(&sha2) else {
                if a.usage_type == SIGNATURE_USAGE {
                    return Err(ApiError::bad_request(format!(
                        "statement {i}: {path}: a signature must come as an attachment part (multipart/mixed) with X-Experience-API-Hash {sha2}"
                    )));
                }
                if a.file_url.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "statement {i}: {path}: no fileUrl and no attachment part with X-Experience-API-Hash {sha2} (xAPI 1.0.3, 1.5.2)"
                    )));
                }
                continue;
            };
            d.named = true;
            if let Some(ct) = &d.content_type {
                if multipart::essence(ct) != multipart::essence(&a.content_type) {
                    return Err(ApiError::bad_request(format!(
                        "statement {i}: {path}.contentType: {:?} differs from the Content-Type of part {} ({ct:?})",
                        a.content_type, d.part
                    )));
                }
            }
            if a.usage_type == SIGNATURE_USAGE {
                let jws = signature::check(&d.content, &a.content_type, s, api)
                    .map_err(|e| ApiError::bad_request(format!("statement {i}: {path}: {e}")))?;
                verify_x5c(&jws)
                    .map_err(|e| ApiError::bad_request(format!("statement {i}: {path}: {e}")))?;
            }
            if !mine.iter().any(|m| m.sha2 == sha2) {
                mine.push(AttachmentData {
                    sha2,
                    content_type: d
                        .content_type
                        .clone()
                        .unwrap_or_else(|| a.content_type.clone()),
                    content: d.content.clone(),
                });
            }
        }
        out.push(mine);
    }
    if let Some((sha2, d)) = incoming.data.iter().find(|(_, d)| !d.named) {
        return Err(ApiError::bad_request(format!(
            "part {}: X-Experience-API-Hash {sha2} names no attachment of the statements; nothing from this request was stored",
            d.part
        )));
    }
    Ok(out)
}

/// When the JWS header carries an X.509 chain (`x5c`), the signature must
/// verify against the first certificate's public key (xAPI 1.0.3, Data
/// 2.6: "to catch mistakes in the signature, not as a security measure" —
/// the certificate is not checked against any trust anchor).
fn verify_x5c(jws: &signature::Jws) -> Result<(), String> {
    let Some(der) = jws.x5c.first() else {
        return Ok(());
    };
    let der = rustls_pki_types::CertificateDer::from(der.as_slice());
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| {
        format!("the JWS header's x5c certificate is not a valid X.509 certificate ({e})")
    })?;
    let alg = match jws.algorithm {
        signature::Algorithm::Rs256 => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        signature::Algorithm::Rs384 => webpki::ring::RSA_PKCS1_2048_8192_SHA384,
        signature::Algorithm::Rs512 => webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    };
    cert.verify_signature(alg, &jws.signing_input, &jws.signature)
        .map_err(|_| "the JWS signature does not verify against its x5c certificate".to_owned())
}

/// The SHA-2s (lower case) of every attachment the statements name, once each.
pub fn named_sha2s<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for s in statements {
        for (_, a) in attachments_of(s) {
            let h = a.sha2.to_ascii_lowercase();
            if !seen.contains(&h) {
                seen.push(h);
            }
        }
    }
    seen
}

/// A `multipart/mixed` response: the JSON first, then each attachment's data.
pub fn response(json: String, data: &[store::StoredAttachment]) -> Response {
    let mut boundary = format!("xapi-{}", uuid::Uuid::new_v4().simple());
    while data.iter().any(|d| {
        d.content
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
    }) {
        boundary = format!("xapi-{}", uuid::Uuid::new_v4().simple());
    }
    let mut parts = vec![Part {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: json.as_bytes(),
    }];
    for d in data {
        parts.push(Part {
            headers: vec![
                ("Content-Type".into(), d.content_type.clone()),
                ("Content-Transfer-Encoding".into(), "binary".into()),
                ("X-Experience-API-Hash".into(), d.sha2.clone()),
            ],
            body: &d.content,
        });
    }
    let body = multipart::build(&boundary, &parts);
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}
