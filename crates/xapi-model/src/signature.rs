//! Signed statements (xAPI 1.0.3, Data 2.6): the signature is a JWS attachment
//! whose payload is the statement as it was before the signature was added.
//! [`check`] does what an LRS MUST do to find it well formed — decode it, check
//! the algorithm, and compare its payload with the statement received — and
//! returns what verifying it against its `x5c` certificate takes ([`Jws`]);
//! the RSA arithmetic is left to the caller's cryptography library.

use base64::Engine;
use serde_json::Value;

use crate::model::Statement;

/// The `usageType` of a signature attachment.
pub const SIGNATURE_USAGE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// Why a signature is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The attachment's content type is not `application/octet-stream`.
    #[error("the signature attachment's contentType must be application/octet-stream")]
    ContentType,
    /// Not three dot-separated parts.
    #[error("the signature is not a JWS in compact serialization (header.payload.signature)")]
    NotCompact,
    /// The named part is not base64url.
    #[error("the JWS {0} is not base64url")]
    Base64(&'static str),
    /// The header is not a JSON object.
    #[error("the JWS header is not a JSON object")]
    Header,
    /// The algorithm (as given) is not RS256, RS384 or RS512.
    #[error("the JWS algorithm must be RS256, RS384 or RS512, not {0:?}")]
    Algorithm(String),
    /// The payload is not a valid statement (the errors, in words).
    #[error("the JWS payload is not a valid statement: {0}")]
    Payload(String),
    /// The payload is another statement than the one received.
    #[error("the JWS payload is not the statement received (without its signature)")]
    Mismatch,
    /// The header's `x5c` is not an array of base64 DER certificates.
    #[error("the JWS header's x5c must be an array of base64 DER certificates")]
    X5c,
}

/// The RSA + SHA-2 algorithm of a JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
}

/// A well-formed signature: what a verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jws {
    /// The header's `alg`.
    pub algorithm: Algorithm,
    /// The header's `x5c` chain (DER), signer's certificate first; empty when absent.
    pub x5c: Vec<Vec<u8>>,
    /// `BASE64URL(header) "." BASE64URL(payload)`, the bytes that were signed.
    pub signing_input: Vec<u8>,
    /// The signature bytes (not verified here).
    pub signature: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SignatureError::Base64(what))
}

/// Checks a signature attachment's content (`jws`, its raw octets, of
/// attachment content type `content_type`) against the statement received
/// in a request of version `api` (whose comparison rules apply).
pub fn check(
    jws: &[u8],
    content_type: &str,
    statement: &Statement,
    api: crate::ApiVersion,
) -> Result<Jws, SignatureError> {
    if crate::multipart::essence(content_type) != "application/octet-stream" {
        return Err(SignatureError::ContentType);
    }
    let text = std::str::from_utf8(jws).map_err(|_| SignatureError::NotCompact)?;
    let pieces: Vec<&str> = text.trim().split('.').collect();
    let [header, payload, signature] = pieces[..] else {
        return Err(SignatureError::NotCompact);
    };
    let signing_input = format!("{header}.{payload}").into_bytes();
    let header: Value =
        serde_json::from_slice(&b64(header, "header")?).map_err(|_| SignatureError::Header)?;
    let header = header.as_object().ok_or(SignatureError::Header)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let algorithm = match alg {
        "RS256" => Algorithm::Rs256,
        "RS384" => Algorithm::Rs384,
        "RS512" => Algorithm::Rs512,
        _ => return Err(SignatureError::Algorithm(alg.to_owned())),
    };
    // RFC 7515 4.1.6: base64 (not base64url) DER certificates.
    let x5c = match header.get("x5c") {
        None => Vec::new(),
        Some(Value::Array(certs)) if !certs.is_empty() => certs
            .iter()
            .map(|c| {
                c.as_str()
                    .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                    .ok_or(SignatureError::X5c)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(SignatureError::X5c),
    };
    let signature = b64(signature, "signature")?;
    if signature.is_empty() {
        return Err(SignatureError::Base64("signature"));
    }
    let signed = crate::parse_statement(&b64(payload, "payload")?).map_err(|e| {
        SignatureError::Payload(
            e.errors()
                .first()
                .map_or_else(|| e.to_string(), ToString::to_string),
        )
    })?;
    // "Logically equivalent" (Data 2.6) by the Statement Comparison
    // Requirements (Data 2.3.1): what an LRS may assign (a timestamp the
    // payload lacks among it), how a timestamp is written, Activity
    // definitions, Verb displays and attachments — the signature itself — do
    // not count. An id is assigned only where there was none: two ids differ.
    let ids_differ = matches!((signed.id, statement.id), (Some(a), Some(b)) if a != b);
    if ids_differ || !crate::compare::same_statement(&signed, statement, api) {
        return Err(SignatureError::Mismatch);
    }
    Ok(Jws {
        algorithm,
        x5c,
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiVersion::{V1_0 as V1, V2_0 as V2};

    fn jws(header: &str, payload: &str) -> Vec<u8> {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{}", e(header), e(payload), e("not verified here")).into_bytes()
    }

    const UNSIGNED: &str = r#"{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/answered"},"object":{"id":"https://example.com/q/1"}}"#;

    fn signed() -> Statement {
        let mut v: Value = serde_json::from_str(UNSIGNED).expect("json");
        v["attachments"] = serde_json::json!([{
            "usageType": SIGNATURE_USAGE, "display": {"en-US": "Signature"},
            "contentType": "application/octet-stream", "length": 100,
            "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"}]);
        crate::parse_statement(v.to_string().as_bytes()).expect("valid")
    }

    #[test]
    fn a_well_formed_signature_is_accepted() {
        let jws_bytes = jws(r#"{"alg":"RS256"}"#, UNSIGNED);
        let ok = check(&jws_bytes, "application/octet-stream", &signed(), V1).expect("well formed");
        assert_eq!(ok.algorithm, Algorithm::Rs256);
        assert!(ok.x5c.is_empty());
        assert_eq!(ok.signature, b"not verified here");
        let text = String::from_utf8(jws_bytes).expect("ascii");
        assert_eq!(
            ok.signing_input,
            text.rsplit_once('.').expect("three parts").0.as_bytes()
        );
    }

    /// `signed()` with `edit` applied to its JSON.
    fn received(edit: impl FnOnce(&mut Value)) -> Statement {
        let mut v = serde_json::to_value(signed()).expect("json");
        edit(&mut v);
        crate::parse_statement(v.to_string().as_bytes()).expect("valid")
    }

    #[test]
    fn the_payload_is_compared_by_the_statement_comparison_rules() {
        let oct = "application/octet-stream";
        let payload = |edit: fn(&mut Value)| {
            let mut v: Value = serde_json::from_str(UNSIGNED).expect("json");
            edit(&mut v);
            jws(r#"{"alg":"RS256"}"#, &v.to_string())
        };
        // What an LRS on the way may have assigned: id, timestamp, stored,
        // authority, version (Data 2.3.1, first exception).
        let assigned = received(|v| {
            v["id"] = "3e0ec1b6-0f5e-4b3c-9d0a-3b8d2c6f7a11".into();
            v["timestamp"] = "2026-01-02T03:04:05.000Z".into();
            v["stored"] = "2026-01-02T03:04:06.000Z".into();
            v["authority"] = serde_json::json!({"mbox": "mailto:lrs@example.com"});
            v["version"] = "1.0.3".into();
        });
        assert!(check(&payload(|_| {}), oct, &assigned, V1).is_ok());
        // A timestamp written in another offset is the same instant.
        let later = payload(|v| v["timestamp"] = "2026-01-02T05:04:05+02:00".into());
        assert!(check(&later, oct, &assigned, V1).is_ok());
        // Verb displays and Activity definitions are not part of the statement.
        let display = payload(|v| {
            v["verb"]["display"] = serde_json::json!({"en-US": "answered"});
            v["object"]["definition"] = serde_json::json!({"name": {"en-US": "Q1"}});
        });
        assert!(check(&display, oct, &assigned, V1).is_ok());
        // Everything else counts: another instant, another id, another object.
        let earlier = payload(|v| v["timestamp"] = "2026-01-01T03:04:05.000Z".into());
        assert_eq!(
            check(&earlier, oct, &assigned, V1),
            Err(SignatureError::Mismatch)
        );
        let other_id = payload(|v| v["id"] = "9b1f0a4e-2c3d-4e5f-8a6b-7c8d9e0f1a2b".into());
        assert_eq!(
            check(&other_id, oct, &assigned, V1),
            Err(SignatureError::Mismatch)
        );
        let scored = payload(|v| v["result"] = serde_json::json!({"success": true}));
        assert_eq!(
            check(&scored, oct, &assigned, V1),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_signatures_are_refused_with_the_reason() {
        let s = signed();
        let oct = "application/octet-stream";
        assert_eq!(
            check(&jws(r#"{"alg":"RS256"}"#, UNSIGNED), "text/plain", &s, V1),
            Err(SignatureError::ContentType)
        );
        assert_eq!(
            check(b"only.two", oct, &s, V1),
            Err(SignatureError::NotCompact)
        );
        assert_eq!(
            check(b"*.*.*", oct, &s, V1),
            Err(SignatureError::Base64("header"))
        );
        assert_eq!(
            check(&jws(r#"{"alg":"HS256"}"#, UNSIGNED), oct, &s, V1),
            Err(SignatureError::Algorithm("HS256".into()))
        );
        assert_eq!(
            check(&jws("[1]", UNSIGNED), oct, &s, V1),
            Err(SignatureError::Header)
        );
        assert_eq!(
            check(
                &jws(r#"{"alg":"RS256","x5c":["not base64!"]}"#, UNSIGNED),
                oct,
                &s,
                V1
            ),
            Err(SignatureError::X5c)
        );
        let other = UNSIGNED.replace("q/1", "q/2");
        assert_eq!(
            check(&jws(r#"{"alg":"RS384"}"#, &other), oct, &s, V1),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(&jws(r#"{"alg":"RS512"}"#, r#"{"actor":{}}"#), oct, &s, V1),
            Err(SignatureError::Payload(_))
        ));
    }

    /// A payload whose duration is the received one truncated to
    /// hundredths is logically equivalent under 2.0 (IEEE 9274.1.1 4.2.7),
    /// not under 1.0.x, where durations are compared as written.
    #[test]
    fn under_2_0_a_duration_is_compared_to_hundredths() {
        let oct = "application/octet-stream";
        let mut v: Value = serde_json::from_str(UNSIGNED).expect("json");
        v["result"] = serde_json::json!({"duration": "P1DT12H36M0.12S"});
        let short = jws(r#"{"alg":"RS256"}"#, &v.to_string());
        let full = received(|v| v["result"] = serde_json::json!({"duration": "P1DT12H36M0.1237S"}));
        assert!(check(&short, oct, &full, V2).is_ok());
        assert_eq!(check(&short, oct, &full, V1), Err(SignatureError::Mismatch));
        let other = received(|v| v["result"] = serde_json::json!({"duration": "P1DT12H36M0.13S"}));
        assert_eq!(
            check(&short, oct, &other, V2),
            Err(SignatureError::Mismatch)
        );
    }
}
