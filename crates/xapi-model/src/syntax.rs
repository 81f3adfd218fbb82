//! Syntax checks for the string formats the xAPI data model uses:
//! IRIs, IRLs, `mailto:` IRIs, SHA-1 sums, UUIDs, language tags and versions.

/// An absolute IRI (RFC 3987): a scheme, a colon, and a non-empty rest with no
/// white space, control characters or the characters RFC 3987 excludes.
pub fn is_absolute_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    is_scheme(scheme) && !rest.is_empty() && all_iri_chars(rest)
}

fn all_iri_chars(s: &str) -> bool {
    if s.is_ascii() {
        // ASCII fast path: the same rule byte by byte.
        s.bytes().all(|b| {
            b > b' '
                && b != 0x7f
                && !matches!(
                    b,
                    b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
                )
        })
    } else {
        s.chars().all(is_iri_char)
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_iri_char(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`'))
}

/// An IRL: an absolute IRI that is also a resolvable URL (it has a host or a path
/// a URL parser accepts).
pub fn is_irl(s: &str) -> bool {
    is_absolute_iri(s) && url::Url::parse(s).is_ok()
}

/// `mailto:` followed by an address with a local part and a domain.
pub fn is_mailto_iri(s: &str) -> bool {
    let Some(address) = s.strip_prefix("mailto:") else {
        return false;
    };
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && all_iri_chars(address)
        }
        None => false,
    }
}

/// 40 hexadecimal digits.
pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A SHA-2 digest in hex (SHA-224 to SHA-512: 56, 64, 96 or 128 digits).
pub fn is_sha2_hex(s: &str) -> bool {
    matches!(s.len(), 56 | 64 | 96 | 128) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A UUID in the standard hyphenated form (RFC 4122), any case.
pub fn parse_uuid(s: &str) -> Option<uuid::Uuid> {
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok()
}

/// `1.0`, `1.0.N`, `2.0` or `2.0.N` (the versions this model reads).
pub fn is_supported_version(s: &str) -> bool {
    let rest = s.strip_prefix("1.0").or_else(|| s.strip_prefix("2.0"));
    match rest {
        Some("") => true,
        Some(r) => r
            .strip_prefix('.')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// A well-formed language tag per RFC 5646 (BCP 47) syntax: language, extlang,
/// script, region, variants, extensions, private use, and the irregular
/// grandfathered tags. Registry membership is not checked.
pub fn is_language_tag(tag: &str) -> bool {
    const IRREGULAR: &[&str] = &[
        "en-gb-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-be-fr",
        "sgn-be-nl",
        "sgn-ch-de",
    ];
    if tag.is_empty() || tag.len() > 255 {
        return false;
    }
    if IRREGULAR.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
        return true;
    }
    let alpha = |s: &str| s.bytes().all(|b| b.is_ascii_alphabetic());
    let digit = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let is_x = |s: &str| s.eq_ignore_ascii_case("x");
    let mut subtags = tag.split('-').peekable();
    if tag
        .split('-')
        .any(|s| s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return false;
    }
    // Private use only: x-...
    let Some(lang) = subtags.next() else {
        return false;
    };
    if is_x(lang) {
        return private_use(subtags);
    }
    if !alpha(lang) || !(2..=8).contains(&lang.len()) {
        return false;
    }
    if (2..=3).contains(&lang.len()) {
        // up to three extlang subtags
        for _ in 0..3 {
            if subtags.next_if(|s| s.len() == 3 && alpha(s)).is_none() {
                break;
            }
        }
    }
    // script, region
    subtags.next_if(|s| s.len() == 4 && alpha(s));
    subtags.next_if(|s| (s.len() == 2 && alpha(s)) || (s.len() == 3 && digit(s)));
    // variants (no repeats)
    let mut variants: Vec<&str> = Vec::new();
    while let Some(v) = subtags.next_if(|s| {
        (5..=8).contains(&s.len()) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit())
    }) {
        if variants.iter().any(|seen| seen.eq_ignore_ascii_case(v)) {
            return false;
        }
        variants.push(v);
    }
    // extensions: a singleton (not x) and one or more 2–8 character subtags; no repeated singleton
    let mut singletons: Vec<u8> = Vec::new();
    while let Some(single) = subtags.next_if(|s| s.len() == 1 && !is_x(s)) {
        let c = single.as_bytes()[0].to_ascii_lowercase();
        if singletons.contains(&c) {
            return false;
        }
        singletons.push(c);
        let mut any = false;
        while subtags.next_if(|s| (2..=8).contains(&s.len())).is_some() {
            any = true;
        }
        if !any {
            return false;
        }
    }
    match subtags.next() {
        None => true,
        Some(s) if is_x(s) => private_use(subtags),
        Some(_) => false,
    }
}

fn private_use<'a>(mut rest: impl Iterator<Item = &'a str>) -> bool {
    // each subtag was already checked to be 1–8 alphanumerics
    rest.next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris() {
        assert!(is_absolute_iri("http://adlnet.gov/expapi/verbs/completed"));
        assert!(is_absolute_iri(
            "urn:uuid:6d6e6f2a-0000-4000-8000-000000000000"
        ));
        assert!(is_absolute_iri("https://例え.jp/課程"));
        assert!(!is_absolute_iri("completed"));
        assert!(!is_absolute_iri("/relative/path"));
        assert!(!is_absolute_iri("http://a b"));
        assert!(!is_absolute_iri("1http://x"));
        assert!(!is_absolute_iri("http:"));
    }

    #[test]
    fn mailto() {
        assert!(is_mailto_iri("mailto:ada@example.com"));
        assert!(!is_mailto_iri("ada@example.com"));
        assert!(!is_mailto_iri("mailto:ada"));
        assert!(!is_mailto_iri("mailto:@example.com"));
    }

    #[test]
    fn language_tags() {
        for ok in [
            "en",
            "en-US",
            "zh-Hant-TW",
            "sl-rozaj-biske",
            "de-CH-1901",
            "x-private",
            "i-klingon",
            "es-419",
            "en-US-u-islamcal",
            "zh-yue-HK",
            "und",
            "pt_BR".replace('_', "-").as_str(),
        ] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "en_US",
            "en--US",
            "123",
            "en-US-a",
            "de-1901-1901",
            "toolonglang",
            "en-a-bbb-a-ccc",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert!(is_supported_version("1.0.3"));
        assert!(is_supported_version("1.0"));
        assert!(is_supported_version("2.0.0"));
        assert!(!is_supported_version("0.95"));
        assert!(!is_supported_version("1.0."));
        assert!(!is_supported_version("1.1.0"));
    }

    #[test]
    fn uuids() {
        assert!(parse_uuid("fd41c918-b88b-4b20-a0a5-a4c32391aaa0").is_some());
        assert!(parse_uuid("FD41C918-B88B-4B20-A0A5-A4C32391AAA0").is_some());
        assert!(parse_uuid("fd41c918b88b4b20a0a5a4c32391aaa0").is_none());
        assert!(parse_uuid("MA97B177-9383-4934-8543-0F91A7A02836").is_none());
    }
}
