//! Registration postbacks (the webhook): `form` (fields `data`, `username` or
//! `userName`, `password`) or `httpbasic` (credentials in the header, the
//! report as the body). The report is API V1's XML or API V2's
//! registration-progress JSON, told apart by its first character.
//! Credentials are checked in constant time.

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::parse::{Error, RegistrationReport, registration_report};

/// Why a postback is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostbackError {
    /// No credentials, or credentials that cannot be read (not Basic, not
    /// base64, not UTF-8, no `:`).
    #[error("postback credentials missing")]
    NoCredentials,
    /// The user or password is not the expected one.
    #[error("postback credentials do not match")]
    BadCredentials,
    /// The body lacks what the delivery needs (the form's `data` field).
    #[error("postback body: {0}")]
    Body(String),
    /// The report could not be parsed.
    #[error(transparent)]
    Report(#[from] Error),
}

/// Constant-time equality of two strings (lengths may leak; contents do not).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The credentials and XML a postback carries.
///
/// Not yet authenticated: check it with [`authenticate`] before trusting it.
pub struct Delivery {
    /// The user name sent.
    pub user: String,
    /// The password sent.
    pub password: String,
    /// The report: V1's XML or V2's JSON ([`report`] tells them apart).
    pub xml: Vec<u8>,
}

/// Reads a postback: `form` when the body is form-encoded, otherwise `httpbasic`
/// with the `Authorization` header.
pub fn read(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Delivery, PostbackError> {
    if content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        let mut user = None;
        let mut password = None;
        let mut data = None;
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "username" | "userName" => user = Some(v.into_owned()),
                "password" => password = Some(v.into_owned()),
                "data" => data = Some(v.into_owned()),
                _ => {}
            }
        }
        let xml = data.ok_or_else(|| PostbackError::Body("form field data is missing".into()))?;
        return Ok(Delivery {
            user: user.ok_or(PostbackError::NoCredentials)?,
            password: password.ok_or(PostbackError::NoCredentials)?,
            xml: xml.into_bytes(),
        });
    }
    let header = authorization.ok_or(PostbackError::NoCredentials)?;
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or(PostbackError::NoCredentials)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| PostbackError::NoCredentials)?;
    let text = String::from_utf8(decoded).map_err(|_| PostbackError::NoCredentials)?;
    let (user, password) = text.split_once(':').ok_or(PostbackError::NoCredentials)?;
    Ok(Delivery {
        user: user.to_owned(),
        password: password.to_owned(),
        xml: body.to_vec(),
    })
}

/// Checks a delivery against the expected user and a password check (which
/// compares in constant time, e.g. against a stored hash), then parses the report.
pub fn authenticate(
    d: &Delivery,
    expected_user: &str,
    password_ok: impl Fn(&str) -> bool,
) -> Result<RegistrationReport, PostbackError> {
    let user_ok = same(&d.user, expected_user);
    let pass_ok = password_ok(&d.password);
    if !(user_ok && pass_ok) {
        return Err(PostbackError::BadCredentials);
    }
    Ok(report(&d.xml)?)
}

/// A postback's report: V2's JSON (it starts with `{`) or V1's XML.
pub fn report(body: &[u8]) -> Result<RegistrationReport, Error> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => crate::v2::parse_registration(200, body),
        _ => registration_report(body),
    }
}
