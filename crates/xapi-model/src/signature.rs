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
    #[error("the signature attachment's contentType must be application/octet-stream")]
    ContentType,
    #[error("the signature is not a JWS in compact serialization (header.payload.signature)")]
    NotCompact,
    #[error("the JWS {0} is not base64url")]
    Base64(&'static str),
    #[error("the JWS header is not a JSON object")]
    Header,
    #[error("the JWS algorithm must be RS256, RS384 or RS512, not {0:?}")]
    Algorithm(String),
    #[error("the JWS payload is not a valid statement: {0}")]
    Payload(String),
    #[error("the JWS payload is not the statement received (without its signature)")]
    Mismatch,
    #[error("the JWS header's x5c must be an array of base64 DER certificates")]
    X5c,
}

/// The RSA + SHA-2 algorithm of a JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
}

/// A well-formed signature: what a verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jws {
    pub algorithm: Algorithm,
    /// The header's `x5c` chain (DER), signer's certificate first; empty when absent.
    pub x5c: Vec<Vec<u8>>,
    /// `BASE64URL(header) "." BASE64URL(payload)`, the bytes that were signed.
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SignatureError::Base64(what))
}

/// The statement without what the LRS sets, for comparison.
fn comparable(s: &Statement, drop_id: bool) -> Option<Value> {
    let mut v = serde_json::to_value(s).ok()?;
    let m = v.as_object_mut()?;
    for k in ["authority", "stored", "version"] {
        m.remove(k);
    }
    if drop_id {
        m.remove("id");
    }
    Some(v)
}

/// Checks a signature attachment's content (`jws`, its raw octets, of
/// attachment content type `content_type`) against the statement received.
pub fn check(jws: &[u8], content_type: &str, statement: &Statement) -> Result<Jws, SignatureError> {
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
    let mut received = statement.clone();
    received.attachments = received.attachments.and_then(|list| {
        let rest: Vec<_> = list
            .into_iter()
            .filter(|a| a.usage_type != SIGNATURE_USAGE)
            .collect();
        (!rest.is_empty()).then_some(rest)
    });
    let drop_id = signed.id.is_none();
    match (comparable(&signed, drop_id), comparable(&received, drop_id)) {
        (Some(a), Some(b)) if a == b => Ok(Jws {
            algorithm,
            x5c,
            signing_input,
            signature,
        }),
        _ => Err(SignatureError::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ok = check(&jws_bytes, "application/octet-stream", &signed()).expect("well formed");
        assert_eq!(ok.algorithm, Algorithm::Rs256);
        assert!(ok.x5c.is_empty());
        assert_eq!(ok.signature, b"not verified here");
        let text = String::from_utf8(jws_bytes).expect("ascii");
        assert_eq!(
            ok.signing_input,
            text.rsplit_once('.').expect("three parts").0.as_bytes()
        );
    }

    #[test]
    fn malformed_signatures_are_refused_with_the_reason() {
        let s = signed();
        let oct = "application/octet-stream";
        assert_eq!(
            check(&jws(r#"{"alg":"RS256"}"#, UNSIGNED), "text/plain", &s),
            Err(SignatureError::ContentType)
        );
        assert_eq!(check(b"only.two", oct, &s), Err(SignatureError::NotCompact));
        assert_eq!(
            check(b"*.*.*", oct, &s),
            Err(SignatureError::Base64("header"))
        );
        assert_eq!(
            check(&jws(r#"{"alg":"HS256"}"#, UNSIGNED), oct, &s),
            Err(SignatureError::Algorithm("HS256".into()))
        );
        assert_eq!(
            check(&jws("[1]", UNSIGNED), oct, &s),
            Err(SignatureError::Header)
        );
        assert_eq!(
            check(
                &jws(r#"{"alg":"RS256","x5c":["not base64!"]}"#, UNSIGNED),
                oct,
                &s
            ),
            Err(SignatureError::X5c)
        );
        let other = UNSIGNED.replace("q/1", "q/2");
        assert_eq!(
            check(&jws(r#"{"alg":"RS384"}"#, &other), oct, &s),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(&jws(r#"{"alg":"RS512"}"#, r#"{"actor":{}}"#), oct, &s),
            Err(SignatureError::Payload(_))
        ));
    }
}
