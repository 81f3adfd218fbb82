//! Credentials: random secrets, stored as SHA-256 hashes (the secrets are 256
//! random bits, so a fast hash is enough; nothing stored can be replayed),
//! compared in constant time; HTTP Basic; OAuth2 access tokens (stateless,
//! HMAC-signed, expiring).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS random source failing is not recoverable for a security component.
    if getrandom::fill(&mut b).is_err() {
        panic!("the operating system's random number generator is unavailable");
    }
    b
}

/// A new client id with a prefix (`os_…`, `lms_…`).
pub fn new_client_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(random_bytes::<8>()))
}

/// A new secret: 256 random bits, URL-safe base64.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// What is stored for a secret.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// Whether `secret` matches `stored` (a [`hash_secret`] value), in constant time.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let presented = hash_secret(secret);
    presented.len() == stored.len() && bool::from(presented.as_bytes().ct_eq(stored.as_bytes()))
}

/// `Authorization: Basic …` → (user, password).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

type HmacSha256 = Hmac<Sha256>;

fn token_mac(secret: &[u8], client_id: &str, exp: i64) -> HmacSha256 {
    // HMAC accepts keys of any length.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    m.update(format!("cbt1\n{client_id}\n{exp}").as_bytes());
    m
}

#[cold]
fn unreachable_hmac() -> ! {
    panic!("HMAC-SHA256 accepts keys of any length")
}

/// An access token for `client_id`, valid until `exp` (Unix seconds).
pub fn mint_token(secret: &[u8], client_id: &str, exp: i64) -> String {
    let sig = hex::encode(token_mac(secret, client_id, exp).finalize().into_bytes());
    format!("cbt1.{client_id}.{exp}.{sig}")
}

/// The client id of a valid, unexpired token.
pub fn verify_token(secret: &[u8], token: &str, now: i64) -> Option<String> {
    let rest = token.strip_prefix("cbt1.")?;
    let mut parts = rest.split('.');
    let (client_id, exp, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let exp: i64 = exp.parse().ok()?;
    let sig = hex::decode(sig).ok()?;
    let expected = token_mac(secret, client_id, exp).finalize().into_bytes();
    (bool::from(expected.as_slice().ct_eq(&sig)) && now < exp).then(|| client_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        let h = hash_secret(&s);
        assert!(verify_secret(&s, &h));
        assert!(!verify_secret("nope", &h));
        assert!(!h.contains(&s), "the secret is not stored");
        assert_ne!(new_secret(), s);
    }

    #[test]
    fn basic() {
        assert_eq!(
            parse_basic("Basic dXNlcjpwYXNzOndvcmQ="),
            Some(("user".into(), "pass:word".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn tokens() {
        let t = mint_token(b"k", "os_1", 100);
        assert_eq!(verify_token(b"k", &t, 99), Some("os_1".into()));
        assert_eq!(verify_token(b"k", &t, 100), None, "expired");
        assert_eq!(verify_token(b"other", &t, 1), None);
        assert_eq!(verify_token(b"k", &t.replace("os_1", "os_2"), 1), None);
        assert_eq!(verify_token(b"k", &t.replace(".100.", ".999."), 1), None);
    }
}
