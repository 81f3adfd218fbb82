//! IRI equivalence as xAPI allows an LRS to see it: RFC 3987 5.3.1 (simple
//! string comparison) and 5.3.2 (syntax-based normalization) only — never
//! 5.3.3 (scheme-based: default ports, an empty path as `/`) or 5.3.4
//! (protocol-based), nor anything else (xAPI 1.0.3 Data 3.1, a SHOULD*;
//! IEEE 9274.1.1 4.2.7, a "shall").
//!
//! [`syntax_normalized`] applies, of 5.3.2:
//! - 5.3.2.1 case normalization: the scheme, and a host that is US-ASCII
//!   only, in lower case; the hex digits of percent-encodings in upper case;
//! - 5.3.2.3 percent-encoding normalization: a percent-encoded unreserved
//!   US-ASCII character (`A-Z a-z 0-9 - . _ ~`) decoded;
//! - 5.3.2.4 path segment normalization: `.` and `..` segments removed
//!   (RFC 3986 5.2.4) from a hierarchical path (after an authority, or
//!   starting with `/`).
//!
//! Not applied: 5.3.2.2 character normalization (Unicode NFC), which would
//! need Unicode tables; IRIs differing only there stay different, which the
//! rule allows ("one or more of the approaches").

use std::borrow::Cow;

/// The syntax-based normal form of `iri` (RFC 3987 5.3.2, as above). Two
/// IRIs with one normal form are the same IRI. Text that is not an absolute
/// IRI comes back as it is.
pub fn syntax_normalized(iri: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = iri.split_once(':') else {
        return Cow::Borrowed(iri);
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Cow::Borrowed(iri);
    }
    let mut out = scheme.to_ascii_lowercase();
    out.push(':');
    // hier-part, then `?query` and `#fragment`.
    let split = rest.find(['?', '#']).unwrap_or(rest.len());
    let (hier, tail) = rest.split_at(split);
    let (authority, path) = match hier.strip_prefix("//") {
        Some(h) => {
            let end = h.find('/').unwrap_or(h.len());
            (Some(&h[..end]), &h[end..])
        }
        None => (None, hier),
    };
    if let Some(authority) = authority {
        out.push_str("//");
        // userinfo@host:port — only the host changes case.
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, hp)) => (Some(u), hp),
            None => (None, authority),
        };
        if let Some(u) = userinfo {
            out.push_str(&percent_normalized(u));
            out.push('@');
        }
        let port_at = if host_port.starts_with('[') {
            host_port.find(']').map(|i| i + 1)
        } else {
            host_port.rfind(':')
        };
        let (host, port) = host_port.split_at(port_at.unwrap_or(host_port.len()));
        let host = percent_normalized(host);
        if host.is_ascii() {
            out.push_str(&host.to_ascii_lowercase());
        } else {
            out.push_str(&host);
        }
        out.push_str(port);
    }
    let path = percent_normalized(path);
    if authority.is_some() || path.starts_with('/') {
        out.push_str(&remove_dot_segments(&path));
    } else {
        out.push_str(&path);
    }
    out.push_str(&percent_normalized(tail));
    if out == iri {
        Cow::Borrowed(iri)
    } else {
        Cow::Owned(out)
    }
}

/// Percent-encodings with upper-case hex digits, and those of unreserved
/// US-ASCII characters decoded.
fn percent_normalized(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let c = char::from(u8::try_from(h * 16 + l).unwrap_or(0));
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') {
                    out.push(c);
                } else {
                    out.push('%');
                    out.push(bytes[i + 1].to_ascii_uppercase() as char);
                    out.push(bytes[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        // Copy one whole character (IRIs hold non-ASCII ones).
        let len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + len]);
        i += len;
    }
    Cow::Owned(out)
}

/// RFC 3986 5.2.4, on a path.
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(|seg| seg == "." || seg == "..") {
        return Cow::Borrowed(path);
    }
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(r) = input.strip_prefix("../") {
            input = r;
        } else if let Some(r) = input.strip_prefix("./") {
            input = r;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            match out.rfind('/') {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::syntax_normalized as n;

    #[test]
    fn syntax_based_normalization_only() {
        for (a, b) in [
            ("HTTP://Example.COM/a", "http://example.com/a"),
            ("http://example.com/%7euser", "http://example.com/~user"),
            ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
            ("http://example.com/a/./b/../c", "http://example.com/a/c"),
            ("http://example.com/path/../x", "http://example.com/x"),
            (
                "http://User@Example.com:8080/P",
                "http://User@example.com:8080/P",
            ),
            ("urn:ISBN:0451450523", "urn:ISBN:0451450523"),
            (
                "http://example.com/a?Q=%3a#F",
                "http://example.com/a?Q=%3A#F",
            ),
            ("http://[FE80::1]:80/", "http://[fe80::1]:80/"),
        ] {
            assert_eq!(n(a), b, "{a}");
        }
    }

    #[test]
    fn what_only_scheme_or_protocol_rules_would_merge_stays_apart() {
        for (a, b) in [
            ("http://example.com:80/a", "http://example.com/a"),
            ("http://example.com", "http://example.com/"),
            ("http://example.com/A", "http://example.com/a"),
            ("http://www.example.com/a", "http://example.com/a"),
            ("http://example.com/a/", "http://example.com/a"),
            ("http://user@example.com/", "http://USER@example.com/"),
            ("https://example.com/a", "http://example.com/a"),
        ] {
            assert_ne!(n(a), n(b), "{a} vs {b}");
        }
    }

    #[test]
    fn broken_escapes_and_non_ascii_survive() {
        for s in [
            "http://example.com/%",
            "http://example.com/%4",
            "http://example.com/%zz",
            "http://例え.テスト/パス",
            "not an iri",
        ] {
            assert_eq!(n(s), s);
        }
    }
}
