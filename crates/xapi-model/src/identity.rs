//! Learner identity keys and per-provider activity-id normalization.

use crate::model::{Account, Actor, Ifi};

/// A canonical, comparable key for a learner's identifier:
///
/// | identifier | key |
/// |---|---|
/// | mbox | `mbox:` + the address lower-cased (`mbox:ada@example.com`) |
/// | account | `account:` + homePage without trailing `/` + `|` + name (name kept as is) |
/// | mbox_sha1sum | `sha1:` + the digest lower-cased |
/// | openid | `openid:` + the IRI as given |
///
/// Email addresses are compared case-insensitively because providers and LMSs
/// disagree on case (seed 000: "the same email in both platforms").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LearnerKey(String);

impl LearnerKey {
    /// The key of an identifier (the table above).
    pub fn from_ifi(ifi: &Ifi) -> Self {
        Self(match ifi {
            Ifi::Mbox(m) => format!("mbox:{}", email_of_mbox(m)),
            Ifi::Account(Account { home_page, name }) => {
                format!("account:{}|{}", home_page.trim_end_matches('/'), name)
            }
            Ifi::MboxSha1Sum(s) => format!("sha1:{}", s.to_ascii_lowercase()),
            Ifi::OpenId(o) => format!("openid:{o}"),
        })
    }

    /// The key of an actor that has an identifier (Agents, identified Groups).
    pub fn from_actor(actor: &Actor) -> Option<Self> {
        actor.ifi().map(Self::from_ifi)
    }

    /// The key for a plain email address.
    pub fn from_email(email: &str) -> Self {
        Self(format!("mbox:{}", email.trim().to_lowercase()))
    }

    /// The key's text (what is stored and compared).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LearnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lower-cased email address of a `mailto:` IRI.
pub fn email_of_mbox(mbox: &str) -> String {
    mbox.strip_prefix("mailto:").unwrap_or(mbox).to_lowercase()
}

/// The email of an actor identified by mbox.
pub fn actor_email(actor: &Actor) -> Option<String> {
    match actor.ifi()? {
        Ifi::Mbox(m) => Some(email_of_mbox(m)),
        _ => None,
    }
}

/// The hook through which each provider says how its activity ids compare.
pub trait ActivityIdNormalizer {
    /// A form of `id` in which ids that denote the same activity are equal.
    fn normalize(&self, id: &str) -> String;
}

/// Configurable normalization: which differences between two spellings of one
/// activity id do not matter. The default keeps the id as sent except for the
/// case of scheme and host (which IRIs treat case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityIdRules {
    /// `http` and `https` denote the same activity.
    pub ignore_scheme: bool,
    /// `www.example.com` and `example.com` denote the same activity.
    pub ignore_www: bool,
    /// `…/course/42/` and `…/course/42` denote the same activity.
    pub ignore_trailing_slash: bool,
}

impl ActivityIdRules {
    /// Ignore scheme, `www.` and a trailing slash: what a lenient provider needs.
    pub const LENIENT: Self = Self {
        ignore_scheme: true,
        ignore_www: true,
        ignore_trailing_slash: true,
    };
}

impl ActivityIdNormalizer for ActivityIdRules {
    /// Written into one `String` (every statement's activity id goes through
    /// it in the request); `tests::same_as_the_plain_form` holds it to the
    /// plain, allocating form of the same rules.
    fn normalize(&self, id: &str) -> String {
        let Some((scheme, rest)) = id.split_once(':') else {
            return id.to_owned();
        };
        let mut out = String::with_capacity(id.len());
        let Some(after) = rest.strip_prefix("//") else {
            // urn:, tag: and the like: only the scheme is case-insensitive.
            push_lowercase(&mut out, scheme);
            out.push(':');
            out.push_str(rest);
            return out;
        };
        let (authority, path) = match after.find(['/', '?', '#']) {
            Some(i) => after.split_at(i),
            None => (after, ""),
        };
        if self.ignore_scheme
            && (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        {
            out.push_str("http");
        } else {
            push_lowercase(&mut out, scheme);
        }
        out.push_str("://");
        let host = out.len();
        push_lowercase(&mut out, authority);
        if self.ignore_www && out[host..].starts_with("www.") {
            out.replace_range(host..host + 4, "");
        }
        if self.ignore_trailing_slash {
            // only the path's own trailing slash, before any query or fragment
            let cut = path.find(['?', '#']).unwrap_or(path.len());
            let (p, q) = path.split_at(cut);
            out.push_str(p.trim_end_matches('/'));
            out.push_str(q);
        } else {
            out.push_str(path);
        }
        out
    }
}

/// `s` with ASCII letters in lower case, appended to `out`.
fn push_lowercase(out: &mut String, s: &str) {
    let start = out.len();
    out.push_str(s);
    out[start..].make_ascii_lowercase();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            LearnerKey::from_ifi(&Ifi::Mbox("mailto:Ada@Example.COM".into())).as_str(),
            "mbox:ada@example.com"
        );
        assert_eq!(
            LearnerKey::from_email(" ADA@example.com "),
            LearnerKey::from_ifi(&Ifi::Mbox("mailto:ada@example.com".into()))
        );
        assert_eq!(
            LearnerKey::from_ifi(&Ifi::Account(Account {
                home_page: "https://lms.example.com/".into(),
                name: "U-42".into()
            }))
            .as_str(),
            "account:https://lms.example.com|U-42"
        );
    }

    #[test]
    fn normalization() {
        let strict = ActivityIdRules::default();
        assert_eq!(
            strict.normalize("HTTPS://WWW.Udemy.com/course/42/"),
            "https://www.udemy.com/course/42/"
        );
        let lenient = ActivityIdRules::LENIENT;
        assert_eq!(
            lenient.normalize("https://www.udemy.com/course/42/"),
            lenient.normalize("http://udemy.com/course/42")
        );
        assert_eq!(
            lenient.normalize("https://x.com/a/?q=1"),
            "http://x.com/a?q=1"
        );
        assert_eq!(lenient.normalize("urn:OS:abc"), "urn:OS:abc");
    }

    /// The rules written plainly, allocating as they go: the oracle.
    fn plain(rules: ActivityIdRules, id: &str) -> String {
        let this = &rules;
        let Some((scheme, rest)) = id.split_once(':') else {
            return id.to_owned();
        };
        let scheme = scheme.to_ascii_lowercase();
        let Some(after) = rest.strip_prefix("//") else {
            // urn:, tag: and the like: only the scheme is case-insensitive.
            return format!("{scheme}:{rest}");
        };
        let (authority, path) = match after.find(['/', '?', '#']) {
            Some(i) => after.split_at(i),
            None => (after, ""),
        };
        let mut host = authority.to_ascii_lowercase();
        if this.ignore_www {
            if let Some(h) = host.strip_prefix("www.") {
                host = h.to_owned();
            }
        }
        let mut path = path.to_owned();
        if this.ignore_trailing_slash {
            // only the path's own trailing slash, before any query or fragment
            let cut = path.find(['?', '#']).unwrap_or(path.len());
            let (p, q) = path.split_at(cut);
            path = format!("{}{}", p.trim_end_matches('/'), q);
        }
        let scheme = if this.ignore_scheme && (scheme == "http" || scheme == "https") {
            "http"
        } else {
            scheme.as_str()
        };
        format!("{scheme}://{host}{path}")
    }

    proptest::proptest! {
        #[test]
        fn same_as_the_plain_form(
            id in "(?:(?:[hH][tT][tT][pP][sS]?|urn|TAG|x)(?::(?://)?)?)?(?:[wW]{3}\\.)?[a-zA-Z0-9.:@-]{0,8}(?:/[a-zA-Z/]{0,6})?(?:\\?[a-z/=]{0,4})?(?:#[a-z/]{0,4})?|\\PC{0,16}",
            scheme in proptest::bool::ANY,
            www in proptest::bool::ANY,
            slash in proptest::bool::ANY,
        ) {
            let rules = ActivityIdRules { ignore_scheme: scheme, ignore_www: www, ignore_trailing_slash: slash };
            proptest::prop_assert_eq!(rules.normalize(&id), plain(rules, &id));
        }
    }
}
