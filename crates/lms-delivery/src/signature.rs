//! Standard Webhooks 1.0 signatures: `webhook-signature: v1,<base64>` where
//! the base64 (standard alphabet, padded) is the HMAC-SHA256 of
//! `<webhook-id>.<webhook-timestamp>.<body>` under the secret's decoded bytes.
//! Secrets are shown as `whsec_<base64 of the key>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing key. Its `Debug` form hides the key, so that it is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("secret: must be whsec_ followed by the base64 of 24 to 64 bytes")]
    MalformedSecret,
    #[error("webhook-timestamp: not an integer number of seconds")]
    MalformedTimestamp,
    #[error("webhook-timestamp: more than {tolerance_s} s from now")]
    Stale { tolerance_s: i64 },
    #[error("webhook-signature: no v1 signature matches")]
    NoMatch,
}

impl Secret {
    /// A secret of the given key bytes (24 to 64; callers draw 32 from the
    /// OS's random source).
    pub fn from_bytes(key: &[u8]) -> Result<Secret, SignatureError> {
        if !(24..=64).contains(&key.len()) {
            return Err(SignatureError::MalformedSecret);
        }
        Ok(Secret(key.to_vec()))
    }

    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Secret, SignatureError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::MalformedSecret)?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| SignatureError::MalformedSecret)?;
        Secret::from_bytes(&key)
    }

    /// The `whsec_…` text: shown once, when the subscription is created.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts every key length"),
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The `webhook-signature` value for one attempt: `v1,<base64>`.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(secret.mac(msg_id, timestamp, body))
    )
}

/// Checks a delivery as a receiver does: the timestamp within `tolerance_s`
/// of `now_s`, and one of the space-separated `v1,` signatures matching (in
/// constant time).
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    if (now_s - timestamp).abs() > tolerance_s {
        return Err(SignatureError::Stale { tolerance_s });
    }
    let expected = secret.mac(msg_id, timestamp, body);
    let matched = signature_header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .any(|given| bool::from(given.as_slice().ct_eq(&expected)));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries (`standardwebhooks`' own test vector).
    #[test]
    fn signs_the_reference_example() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verifies_what_it_signs_and_nothing_else() {
        let secret = Secret::from_bytes(&[7u8; 32]).expect("secret");
        let body = br#"{"type":"course.created"}"#;
        let sig = sign(&secret, "evt_1", 1_000, body);
        assert_eq!(
            verify(&secret, "evt_1", "1000", &sig, body, 1_100, 300),
            Ok(())
        );
        // Several signatures (a rotation): one match is enough.
        let both = format!("v1,AAAA {sig}");
        assert_eq!(
            verify(&secret, "evt_1", "1000", &both, body, 1_000, 300),
            Ok(())
        );
        assert_eq!(
            verify(&secret, "evt_2", "1000", &sig, body, 1_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "evt_1", "1000", &sig, b"{}", 1_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "evt_1", "1000", &sig, body, 1_301, 300),
            Err(SignatureError::Stale { tolerance_s: 300 })
        );
        assert_eq!(
            verify(&secret, "evt_1", "soon", &sig, body, 1_000, 300),
            Err(SignatureError::MalformedTimestamp)
        );
        let other = Secret::from_bytes(&[8u8; 32]).expect("secret");
        assert_eq!(
            verify(&other, "evt_1", "1000", &sig, body, 1_000, 300),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn secrets_round_trip_and_hide_themselves() {
        let secret = Secret::from_bytes(&[42u8; 32]).expect("secret");
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text), Ok(secret.clone()));
        assert!(!format!("{secret:?}").contains(&text[6..]));
        assert_eq!(
            Secret::parse("whsec_!!"),
            Err(SignatureError::MalformedSecret)
        );
        assert_eq!(Secret::parse("abc"), Err(SignatureError::MalformedSecret));
        assert_eq!(
            Secret::from_bytes(&[1; 8]),
            Err(SignatureError::MalformedSecret)
        );
    }
}
