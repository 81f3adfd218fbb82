//! The checks on what a webhook subscription is created with. Each error
//! names the field and the rule.

use url::Url;

use crate::events::TypeFilter;

/// A subscription as asked for, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub url: Url,
    pub types: TypeFilter,
    /// Only this integration's events, when set.
    pub integration: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSubscription {
    #[error("url: {0}")]
    Url(String),
    #[error(
        "event_types: {0:?} is not an event type (course.created, course.updated, course.archived, course.reactivated, statistic.updated, course.*, statistic.* or *)"
    )]
    EventType(String),
    #[error("event_types: at least one event type or pattern is required")]
    NoEventTypes,
    #[error("integration: {0}")]
    Integration(String),
    #[error("description: at most 500 characters")]
    Description,
}

/// Checks a receiver URL: absolute `http` or `https` with a host, no user
/// name or password (secrets in URLs end up in logs), no fragment, at most
/// 2,000 characters. `allow_http` is the operator's choice (plain `http` is
/// for receivers on a private network).
pub fn check_url(text: &str, allow_http: bool) -> Result<Url, InvalidSubscription> {
    let bad = |why: &str| InvalidSubscription::Url(why.to_owned());
    if text.len() > 2000 {
        return Err(bad("at most 2,000 characters"));
    }
    let url = Url::parse(text.trim()).map_err(|e| bad(&format!("not an absolute URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(bad(
                "must be https (plain http is refused unless the server allows it: [delivery] allow_http)",
            ));
        }
        _ => return Err(bad("must be an http or https URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry a user name or password (the signature authenticates us)",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    Ok(url)
}

impl NewSubscription {
    /// Checks every field of a new subscription.
    pub fn check(
        url: &str,
        event_types: &[String],
        integration: Option<&str>,
        description: Option<&str>,
        allow_http: bool,
    ) -> Result<NewSubscription, InvalidSubscription> {
        let url = check_url(url, allow_http)?;
        if event_types.is_empty() {
            return Err(InvalidSubscription::NoEventTypes);
        }
        let types = TypeFilter::new(event_types).map_err(InvalidSubscription::EventType)?;
        let integration = match integration.map(str::trim) {
            None | Some("") => None,
            Some(i)
                if i.len() <= 200
                    && i.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Some(i.to_owned())
            }
            Some(_) => {
                return Err(InvalidSubscription::Integration(
                    "an integration id: letters, digits, '-', '_' and '.', at most 200".into(),
                ));
            }
        };
        let description = match description {
            Some(d) if d.chars().count() > 500 => return Err(InvalidSubscription::Description),
            d => d.map(str::to_owned),
        };
        Ok(NewSubscription {
            url,
            types,
            integration,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_valid_subscription_is_accepted() {
        let s = NewSubscription::check(
            "https://lms.example.com/hooks/coursebridge?x=1",
            &types(&["course.*"]),
            Some("os-acme"),
            None,
            false,
        )
        .expect("valid");
        assert_eq!(s.url.host_str(), Some("lms.example.com"));
        assert_eq!(s.integration.as_deref(), Some("os-acme"));
    }

    #[test]
    fn each_rule_names_its_field() {
        let check = |url: &str, t: &[&str], i: Option<&str>| {
            NewSubscription::check(url, &types(t), i, None, false)
                .expect_err("refused")
                .to_string()
        };
        assert!(
            check("lms.example.com/hook", &["*"], None).starts_with("url: not an absolute URL")
        );
        assert!(check("ftp://lms.example.com/", &["*"], None).starts_with("url: must be an http"));
        assert!(check("http://lms.example.com/", &["*"], None).starts_with("url: must be https"));
        assert!(check("https://u:p@lms.example.com/", &["*"], None).contains("user name"));
        assert!(check("https://lms.example.com/#x", &["*"], None).contains("fragment"));
        assert!(check("https://lms.example.com/", &[], None).starts_with("event_types: at least"));
        assert!(
            check("https://lms.example.com/", &["course.deleted"], None)
                .starts_with("event_types: \"course.deleted\"")
        );
        assert!(check("https://lms.example.com/", &["*"], Some("a b")).starts_with("integration:"));
        assert!(
            NewSubscription::check("http://127.0.0.1:9/", &types(&["*"]), None, None, true).is_ok()
        );
    }
}
