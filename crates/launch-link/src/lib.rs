#![doc = include_str!("../README.md")]
//!
//! ## The signed message
//!
//! Launch links signed by the LMS (seed 000 "Course start behavior"; seed 003
//! "launch by redirect").
//!
//! The LMS and coursebridge share a secret. A link names the integration and
//! the course (or SCORM registration) in its path, and carries the learner's LMS
//! id, optionally their email, the entry point (`catalog` or `path:<id>`), an
//! expiry (Unix seconds) and `sig`: the hex HMAC-SHA256 of
//!
//! ```text
//! launch-v1\n{path}\n{learner}\n{email}\n{entry}\n{exp}
//! ```
//!
//! Any edit to any of them, or a link used after `exp`, fails verification.
//! Pure: no I/O; the current time is a parameter.

#![warn(missing_docs)]

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// What a launch link asserts.
///
/// Built by the LMS side before signing and returned by [`verify`]. Signing
/// checks only that no claim holds a line break; the caller minting a link
/// must give an `entry` of `catalog` or `path:<id>`, a non-empty `learner` and
/// an `exp` in the future, or [`verify`] will refuse the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchClaims {
    /// The path being launched, e.g. `/launch/os-acme/ext-42` or `/scorm/launch/reg-1`.
    pub path: String,
    /// The learner's LMS user id.
    pub learner: String,
    /// The learner's email, when the LMS shares it (maps the learner's mbox identity).
    pub email: Option<String>,
    /// `catalog` or `path:<path id>`.
    pub entry: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Why a link could not be signed, or why a request's link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The shared secret is shorter than 32 bytes.
    #[error("the launch secret must be at least 32 bytes")]
    WeakSecret,
    /// A required query parameter (named) is absent or empty.
    #[error("{0}: missing")]
    Missing(&'static str),
    /// A claim or parameter (named, with the reason in parentheses) is not in
    /// the expected form: a line break in a claim, a repeated parameter, an
    /// empty `email`, a non-numeric `exp`, a `sig` that is not hex, or an
    /// entry other than `catalog` or `path:<id>`.
    #[error("{0}: malformed")]
    Malformed(&'static str),
    /// The signature is valid but `now` is at or past `exp`.
    #[error("the link expired")]
    Expired,
    /// The signature does not match the claims: the link was edited, or
    /// signed with another secret.
    #[error("the signature does not match")]
    BadSignature,
}

fn mac(secret: &[u8], c: &LaunchClaims) -> Result<HmacSha256, LaunchError> {
    if secret.len() < 32 {
        return Err(LaunchError::WeakSecret);
    }
    let email = c.email.as_deref().unwrap_or("");
    // The fields are joined by line breaks: one inside a field could move
    // text from one claim to the next under the same signature.
    for (name, value) in [
        ("path (line break)", c.path.as_str()),
        ("learner (line break)", &c.learner),
        ("email (line break)", email),
        ("entry (line break)", &c.entry),
    ] {
        if value.contains(['\n', '\r']) {
            return Err(LaunchError::Malformed(name));
        }
    }
    let mut m = HmacSha256::new_from_slice(secret).map_err(|_| LaunchError::WeakSecret)?;
    m.update(
        format!(
            "launch-v1\n{}\n{}\n{}\n{}\n{}",
            c.path, c.learner, email, c.entry, c.exp
        )
        .as_bytes(),
    );
    Ok(m)
}

/// The query string (`learner=…&entry=…&exp=…&sig=…`) for these claims.
///
/// An empty email is left out, as is no email. Fails with
/// [`LaunchError::WeakSecret`] for a secret under 32 bytes and
/// [`LaunchError::Malformed`] for a claim containing a line break.
pub fn sign_query(secret: &[u8], c: &LaunchClaims) -> Result<String, LaunchError> {
    let sig = hex::encode(mac(secret, c)?.finalize().into_bytes());
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("learner", &c.learner);
    // An empty email is no email (the signature cannot tell them apart).
    if let Some(e) = c.email.as_deref().filter(|e| !e.is_empty()) {
        q.append_pair("email", e);
    }
    q.append_pair("entry", &c.entry);
    q.append_pair("exp", &c.exp.to_string());
    q.append_pair("sig", &sig);
    Ok(q.finish())
}

/// A full link: `base` (e.g. `https://coursebridge.example.com`) + path + signed query.
///
/// Trailing `/`s on `base` are dropped; `claims.path` should start with `/`.
/// Fails as [`sign_query`] does.
pub fn mint(base: &str, secret: &[u8], c: &LaunchClaims) -> Result<String, LaunchError> {
    Ok(format!(
        "{}{}?{}",
        base.trim_end_matches('/'),
        c.path,
        sign_query(secret, c)?
    ))
}

/// Verifies the query of a request to `path` at time `now` (Unix seconds).
///
/// `path` is the request's own path (not one taken from the query), so a link
/// signed for one course does not open another. Returns the signed claims,
/// or the first reason to refuse: a missing or malformed parameter, a
/// signature that does not match, an expired link, or an entry point other
/// than `catalog` or `path:<id>`. Signatures are compared in constant time.
pub fn verify(
    secret: &[u8],
    path: &str,
    query: &str,
    now: i64,
) -> Result<LaunchClaims, LaunchError> {
    let mut learner = None;
    let mut email = None;
    let mut entry = None;
    let mut exp = None;
    let mut sig = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "learner" => &mut learner,
            "email" => &mut email,
            "entry" => &mut entry,
            "exp" => &mut exp,
            "sig" => &mut sig,
            _ => continue,
        };
        if slot.is_some() {
            // a repeated parameter could smuggle a second value past the signature
            return Err(LaunchError::Malformed("query (repeated parameter)"));
        }
        *slot = Some(v.into_owned());
    }
    // The signature covers an absent email as an empty one: a link minted
    // without one must not take an added `email=` (an empty identity).
    if email.as_deref() == Some("") {
        return Err(LaunchError::Malformed("email (empty)"));
    }
    let claims = LaunchClaims {
        path: path.to_owned(),
        learner: learner
            .filter(|l| !l.is_empty())
            .ok_or(LaunchError::Missing("learner"))?,
        email,
        entry: entry.ok_or(LaunchError::Missing("entry"))?,
        exp: exp
            .ok_or(LaunchError::Missing("exp"))?
            .parse()
            .map_err(|_| LaunchError::Malformed("exp"))?,
    };
    let sig = hex::decode(sig.ok_or(LaunchError::Missing("sig"))?)
        .map_err(|_| LaunchError::Malformed("sig"))?;
    let expected = mac(secret, &claims)?.finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(&sig)) {
        return Err(LaunchError::BadSignature);
    }
    if now >= claims.exp {
        return Err(LaunchError::Expired);
    }
    let entry_ok = claims.entry == "catalog"
        || claims
            .entry
            .strip_prefix("path:")
            .is_some_and(|p| !p.is_empty());
    if !entry_ok {
        return Err(LaunchError::Malformed("entry (catalog or path:<id>)"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims() -> LaunchClaims {
        LaunchClaims {
            path: "/launch/os-acme/ext-42".into(),
            learner: "u-1".into(),
            email: Some("ada@example.com".into()),
            entry: "path:onboarding".into(),
            exp: 2_000,
        }
    }

    #[test]
    fn round_trip() {
        let q = sign_query(SECRET, &claims()).expect("sign");
        assert_eq!(
            verify(SECRET, "/launch/os-acme/ext-42", &q, 1_999),
            Ok(claims())
        );
        let link = mint("https://cb.example.com/", SECRET, &claims()).expect("mint");
        assert!(link.starts_with("https://cb.example.com/launch/os-acme/ext-42?learner=u-1&email=ada%40example.com&entry=path%3Aonboarding&exp=2000&sig="));
    }

    #[test]
    fn expired_edited_and_weak() {
        let q = sign_query(SECRET, &claims()).expect("sign");
        assert_eq!(
            verify(SECRET, "/launch/os-acme/ext-42", &q, 2_000),
            Err(LaunchError::Expired)
        );
        assert_eq!(
            verify(SECRET, "/launch/os-acme/ext-43", &q, 1_000),
            Err(LaunchError::BadSignature),
            "another course"
        );
        assert_eq!(
            verify(
                SECRET,
                "/launch/os-acme/ext-42",
                &q.replace("learner=u-1", "learner=u-2"),
                1_000
            ),
            Err(LaunchError::BadSignature)
        );
        assert_eq!(
            verify(
                SECRET,
                "/launch/os-acme/ext-42",
                &q.replace("exp=2000", "exp=9000"),
                1_000
            ),
            Err(LaunchError::BadSignature)
        );
        assert_eq!(
            verify(
                SECRET,
                "/launch/os-acme/ext-42",
                &format!("{q}&learner=u-2"),
                1_000
            ),
            Err(LaunchError::Malformed("query (repeated parameter)"))
        );
        assert_eq!(
            verify(
                b"0123456789abcdef0123456789abcdeX",
                "/launch/os-acme/ext-42",
                &q,
                1_000
            ),
            Err(LaunchError::BadSignature)
        );
        assert_eq!(
            sign_query(b"short", &claims()),
            Err(LaunchError::WeakSecret)
        );
        assert_eq!(
            verify(SECRET, "/launch/x/y", "learner=u&entry=catalog&exp=5", 1),
            Err(LaunchError::Missing("sig"))
        );
    }

    /// A link minted without an email takes no added one: not an empty one
    /// (which the signature cannot tell from none), not another.
    #[test]
    fn an_email_cannot_be_added() {
        let without = LaunchClaims {
            email: None,
            ..claims()
        };
        let q = sign_query(SECRET, &without).expect("sign");
        assert!(!q.contains("email"), "{q}");
        let path = "/launch/os-acme/ext-42";
        assert_eq!(verify(SECRET, path, &q, 1_000), Ok(without.clone()));
        assert_eq!(
            verify(SECRET, path, &format!("{q}&email="), 1_000),
            Err(LaunchError::Malformed("email (empty)"))
        );
        assert_eq!(
            verify(SECRET, path, &format!("{q}&email=eve%40example.com"), 1_000),
            Err(LaunchError::BadSignature)
        );
        // An empty email given to mint is none.
        let empty = LaunchClaims {
            email: Some(String::new()),
            ..claims()
        };
        let q = sign_query(SECRET, &empty).expect("sign");
        assert!(!q.contains("email"), "{q}");
        assert_eq!(verify(SECRET, path, &q, 1_000), Ok(without));
    }

    /// The signed fields are joined by line breaks, so a line break inside
    /// one would let a holder move text between claims under the same
    /// signature (learner `a\nb` without email == learner `a`, email `b\n`).
    /// Neither minting nor verifying takes one.
    #[test]
    fn a_line_break_cannot_move_text_between_claims() {
        let shifted = LaunchClaims {
            learner: "a\nb".into(),
            email: None,
            ..claims()
        };
        assert_eq!(
            sign_query(SECRET, &shifted),
            Err(LaunchError::Malformed("learner (line break)"))
        );
        // The signature an older signer would have made for `shifted`.
        let mut m = HmacSha256::new_from_slice(SECRET).expect("key");
        m.update(
            format!(
                "launch-v1\n{}\n{}\n\n{}\n{}",
                shifted.path, shifted.learner, shifted.entry, shifted.exp
            )
            .as_bytes(),
        );
        let sig = hex::encode(m.finalize().into_bytes());
        let q = format!(
            "learner=a&email=b%0A&entry={}&exp={}&sig={sig}",
            shifted.entry, shifted.exp
        );
        assert_eq!(
            verify(SECRET, &shifted.path, &q, 1_000),
            Err(LaunchError::Malformed("email (line break)"))
        );
    }
}
