//! xAPI's attachment transport: `multipart/mixed` (RFC 2046) as xAPI 1.0.3
//! uses it (Communication 1.5.2) — the statements in the first part, each
//! attachment's raw octets in a part of its own, named by its SHA-2 in
//! `X-Experience-API-Hash`.
//!
//! Pure: bytes in, slices out ([`parse`]); parts in, bytes out ([`build`]).

use std::fmt;

/// One part: its headers (names lower-cased, values trimmed) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's headers, in order (names lower-cased, values trimmed).
    pub headers: Vec<(String, String)>,
    /// The part's body, borrowed from the request.
    pub body: &'a [u8],
}

impl Part<'_> {
    /// The value of a header (name in lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a body is not a multipart document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// `Content-Type` has no usable `boundary` parameter.
    NoBoundary,
    /// The opening boundary line is missing.
    NoOpening,
    /// The closing boundary (`--boundary--`) is missing.
    NotClosed,
    /// A part's header block is malformed (the part's index).
    BadHeader(usize),
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBoundary => {
                f.write_str("Content-Type: multipart/mixed needs a boundary parameter (RFC 2046)")
            }
            Self::NoOpening => f.write_str("body: the first boundary line is missing"),
            Self::NotClosed => f.write_str("body: the closing boundary (--boundary--) is missing"),
            Self::BadHeader(i) => write!(f, "part {i}: malformed header lines"),
        }
    }
}

impl std::error::Error for MultipartError {}

/// The `boundary` parameter of a `multipart/…` content type (quoted or not).
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let essence = params.next().unwrap_or_default().trim();
    if !essence.to_ascii_lowercase().starts_with("multipart/") {
        return Err(MultipartError::NoBoundary);
    }
    for p in params {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("boundary") {
            let v = value.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            // RFC 2046: 1 to 70 characters, not ending in a space.
            if !v.is_empty() && v.len() <= 70 && !v.ends_with(' ') {
                return Ok(v.to_owned());
            }
        }
    }
    Err(MultipartError::NoBoundary)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// The parts of a multipart body. Lines end with CRLF (a bare LF is read as
/// one too); a preamble before the first boundary and an epilogue after the
/// last are ignored, as RFC 2046 says.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();
    // The opening delimiter: at the very start, or after a line break.
    let mut at = if body.starts_with(dash) {
        0
    } else {
        find(body, &[b"\n", dash].concat(), 0).ok_or(MultipartError::NoOpening)? + 1
    };
    let mut parts = Vec::new();
    loop {
        let after = at + dash.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        // The rest of the delimiter line (transport padding) and its line break.
        let line_end = find(body, b"\n", after).ok_or(MultipartError::NotClosed)?;
        let start = line_end + 1;
        // The next delimiter: a line break, then --boundary.
        let next = find(body, &[b"\n", dash].concat(), start).ok_or(MultipartError::NotClosed)?;
        let mut end = next;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
        parts.push(part(&body[start..end.max(start)], parts.len())?);
        at = next + 1;
    }
}

fn part(raw: &[u8], index: usize) -> Result<Part<'_>, MultipartError> {
    // Headers end at the first empty line; a part may have none at all.
    let (head, body) = if raw.starts_with(b"\r\n") {
        (&raw[..0], &raw[2..])
    } else if raw.starts_with(b"\n") {
        (&raw[..0], &raw[1..])
    } else {
        match find(raw, b"\r\n\r\n", 0)
            .map(|i| (i, 4))
            .into_iter()
            .chain(find(raw, b"\n\n", 0).map(|i| (i, 2)))
            .min_by_key(|(i, _)| *i)
        {
            Some((i, n)) => (&raw[..i], &raw[i + n..]),
            None => return Err(MultipartError::BadHeader(index)),
        }
    };
    let head = std::str::from_utf8(head).map_err(|_| MultipartError::BadHeader(index))?;
    let mut headers = Vec::new();
    for line in head.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(MultipartError::BadHeader(index))?;
        let name = name.trim();
        if name.is_empty() || name.contains(' ') {
            return Err(MultipartError::BadHeader(index));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Part { headers, body })
}

/// A multipart body of these parts (headers as given), CRLF line ends.
pub fn build(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for Part { headers, body } in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    out
}

/// The media type of a `Content-Type` value without its parameters, lower case.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of xAPI 1.0.3, Communication 1.5.2, byte for byte.
    #[test]
    fn the_spec_example_parses() {
        let ct = r#"multipart/mixed; boundary="abcABC0123'()+_,-./:=?""#;
        let b = boundary(ct).expect("boundary");
        assert_eq!(b, "abcABC0123'()+_,-./:=?");
        let body = "--abcABC0123'()+_,-./:=?\r\nContent-Type:application/json\r\n\r\n{\"a\":1}\r\n--abcABC0123'()+_,-./:=?\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\nX-Experience-API-Hash:495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a\r\n\r\nhere is a simple attachment\r\n--abcABC0123'()+_,-./:=?--";
        let parts = parse(body.as_bytes(), &b).expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].header("content-type"), Some("application/json"));
        assert_eq!(parts[0].body, b"{\"a\":1}");
        assert_eq!(parts[1].header("content-transfer-encoding"), Some("binary"));
        assert_eq!(parts[1].body, b"here is a simple attachment");
    }

    #[test]
    fn preamble_epilogue_and_bare_line_feeds() {
        let body = b"preamble\n--b\nContent-Type: a/b\n\nx\n--b\n\n\n--b--\nepilogue";
        let parts = parse(body, "b").expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"x");
        assert!(parts[1].headers.is_empty());
        assert_eq!(parts[1].body, b"" as &[u8], "no headers, an empty body");
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        assert_eq!(boundary("multipart/mixed"), Err(MultipartError::NoBoundary));
        assert_eq!(
            boundary("application/json; boundary=x"),
            Err(MultipartError::NoBoundary)
        );
        assert_eq!(
            parse(b"no boundary here", "b"),
            Err(MultipartError::NoOpening)
        );
        assert_eq!(
            parse(b"--b\r\n\r\nx\r\n", "b"),
            Err(MultipartError::NotClosed)
        );
        assert_eq!(
            parse(b"--b\r\nno colon\r\n\r\nx\r\n--b--", "b"),
            Err(MultipartError::BadHeader(0))
        );
    }
}
