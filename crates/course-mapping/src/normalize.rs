//! Field normalizations shared by the providers.

/// `hh:mm:ss`, `mm:ss`, ISO 8601 (`PT1H30M`), or a number of minutes → minutes
/// (rounded to the nearest, at least 1 for a non-zero duration).
pub fn duration_minutes(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let secs: u64 = if raw.starts_with('P') {
        xapi_model::Duration::parse(raw).ok()?.millis() / 1000
    } else if raw.contains(':') {
        let parts: Vec<&str> = raw.split(':').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.trim().parse::<u64>().ok()).collect();
        let nums = nums?;
        match nums.as_slice() {
            [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
            [m, s] if *s < 60 => m * 60 + s,
            _ => return None,
        }
    } else {
        let minutes: f64 = raw.parse().ok()?;
        if !minutes.is_finite() || minutes < 0.0 {
            return None;
        }
        (minutes * 60.0).round() as u64
    };
    let minutes = (secs as f64 / 60.0).round() as i64;
    Some(if secs > 0 { minutes.max(1) } else { 0 })
}

/// Pipe-delimited category paths (`"|Business Skills|Leadership"`) → subjects:
/// every segment, trimmed, in order, without repeats.
pub fn subjects_from_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        for seg in p
            .split(['|', '>', '/'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(seg)) {
                out.push(seg.to_owned());
            }
        }
    }
    out
}

/// A provider's language code or name → a valid language tag (`en`, `pt-BR`,
/// `zh-Hant`), or `None` when it cannot be understood.
pub fn language_tag(raw: &str) -> Option<String> {
    let r = raw.trim();
    let names: &[(&str, &str)] = &[
        ("english", "en"),
        ("french", "fr"),
        ("français", "fr"),
        ("german", "de"),
        ("deutsch", "de"),
        ("spanish", "es"),
        ("español", "es"),
        ("italian", "it"),
        ("portuguese", "pt"),
        ("dutch", "nl"),
        ("japanese", "ja"),
        ("chinese", "zh"),
        ("korean", "ko"),
        ("russian", "ru"),
        ("polish", "pl"),
        ("turkish", "tr"),
        ("arabic", "ar"),
        ("swedish", "sv"),
    ];
    if let Some((_, tag)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(r)) {
        return Some((*tag).to_owned());
    }
    let candidate = r.replace('_', "-");
    if !xapi_model::syntax::is_language_tag(&candidate) {
        return None;
    }
    // Canonical case: language lower, script title, region upper.
    let mut out = Vec::new();
    for (i, sub) in candidate.split('-').enumerate() {
        out.push(match (i, sub.len()) {
            (0, _) => sub.to_ascii_lowercase(),
            (_, 4) => {
                let mut s = sub.to_ascii_lowercase();
                if let Some(f) = s.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                s
            }
            (_, 2) => sub.to_ascii_uppercase(),
            _ => sub.to_ascii_lowercase(),
        });
    }
    Some(out.join("-"))
}

/// Provider HTML through an allow-list: formatting, lists, links and images
/// only; no scripts, styles, event handlers or `javascript:` URLs; links get
/// `rel="noopener noreferrer"`.
pub fn sanitize_html(html: &str) -> String {
    // The allow-list is built once: building it costs more than cleaning a
    // typical description.
    static CLEANER: std::sync::OnceLock<ammonia::Builder<'static>> = std::sync::OnceLock::new();
    CLEANER
        .get_or_init(|| {
            let mut b = ammonia::Builder::default();
            b.url_schemes(["http", "https", "mailto"].into_iter().collect())
                .link_rel(Some("noopener noreferrer"));
            b
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_minutes("01:30:00"), Some(90));
        assert_eq!(
            duration_minutes("00:00:20"),
            Some(1),
            "a short course is at least a minute"
        );
        assert_eq!(duration_minutes("00:00:00"), Some(0));
        assert_eq!(duration_minutes("12:30"), Some(13));
        assert_eq!(duration_minutes("PT1H15M"), Some(75));
        assert_eq!(duration_minutes("45"), Some(45));
        assert_eq!(duration_minutes("1:75:00"), None);
        assert_eq!(duration_minutes("about an hour"), None);
        assert_eq!(duration_minutes(""), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subjects_from_paths([
                "|Business Skills|Leadership",
                "|Business Skills|Communication",
                "Compliance"
            ]),
            [
                "Business Skills",
                "Leadership",
                "Communication",
                "Compliance"
            ]
        );
    }

    #[test]
    fn languages() {
        assert_eq!(language_tag("en"), Some("en".into()));
        assert_eq!(language_tag("pt_br"), Some("pt-BR".into()));
        assert_eq!(language_tag("zh-hant-tw"), Some("zh-Hant-TW".into()));
        assert_eq!(language_tag("English"), Some("en".into()));
        assert_eq!(language_tag("Klingon!"), None);
    }

    #[test]
    fn html() {
        let dirty = r#"<p onclick="x()">Hi <b>there</b><script>alert(1)</script><a href="javascript:alert(1)">x</a><a href="https://example.com">ok</a><img src=x onerror=alert(1)></p>"#;
        let clean = sanitize_html(dirty);
        assert!(
            !clean.contains("script")
                && !clean.contains("onclick")
                && !clean.contains("javascript:")
                && !clean.contains("onerror"),
            "{clean}"
        );
        assert!(
            clean.contains("<b>there</b>") && clean.contains(r#"href="https://example.com""#),
            "{clean}"
        );
    }
}
