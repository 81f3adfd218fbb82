//! The learner's first and last name a registration is created with. API V1's
//! `createRegistration` requires both, so a registration keeps them from its
//! assignment: the names given with it, else the learner record's name, else
//! names derived from the email — never empty (docs/scorm.md "Learner names").

use crate::ScormError;

/// The names to create a registration with: `first` / `last` as given; an
/// empty one is taken from the learner record's `name` (split at its last
/// space; a one-word name is both), else from `email` (first: the part
/// before `@`, last: the domain). With none of these the error names the
/// missing field.
pub fn resolve(
    first: &str,
    last: &str,
    record_name: Option<&str>,
    email: Option<&str>,
) -> Result<(String, String), ScormError> {
    let (first, last) = (first.trim(), last.trim());
    if !first.is_empty() && !last.is_empty() {
        return Ok((first.to_owned(), last.to_owned()));
    }
    let fallback = from_record(record_name).or_else(|| from_email(email));
    let pick = |given: &str, field: &str, derived: Option<&String>| {
        if !given.is_empty() {
            return Ok(given.to_owned());
        }
        derived.cloned().ok_or_else(|| {
            ScormError::Invalid(format!(
                "{field}: required — SCORM Cloud needs the learner's first and last name; \
                 give first_name and last_name, or an email to derive them from"
            ))
        })
    };
    Ok((
        pick(first, "first_name", fallback.as_ref().map(|f| &f.0))?,
        pick(last, "last_name", fallback.as_ref().map(|f| &f.1))?,
    ))
}

fn from_record(name: Option<&str>) -> Option<(String, String)> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    Some(match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) if !first.trim().is_empty() => {
            (first.trim().to_owned(), last.to_owned())
        }
        _ => (name.to_owned(), name.to_owned()),
    })
}

fn from_email(email: Option<&str>) -> Option<(String, String)> {
    let (local, domain) = email?.trim().split_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| (local.to_owned(), domain.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(first: &str, last: &str, record: Option<&str>, email: Option<&str>) -> (String, String) {
        resolve(first, last, record, email).expect("resolved")
    }

    #[test]
    fn given_then_record_then_email_never_empty() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            ok("Ada", "Lovelace", Some("X Y"), None),
            pair("Ada", "Lovelace")
        );
        assert_eq!(
            ok(" ", "", Some("Ada King Lovelace"), None),
            pair("Ada King", "Lovelace")
        );
        assert_eq!(ok("", "", Some("Ada"), Some("a@b.c")), pair("Ada", "Ada"));
        assert_eq!(
            ok("", "", None, Some("ada.l@example.com")),
            pair("ada.l", "example.com")
        );
        assert_eq!(
            ok("Ada", "", None, Some("ada@example.com")),
            pair("Ada", "example.com")
        );
        let err = resolve("", "", None, None).expect_err("nothing to go on");
        assert!(err.to_string().contains("first_name: required"), "{err}");
        let err = resolve("Ada", "", None, Some("not-an-email")).expect_err("no domain");
        assert!(err.to_string().contains("last_name: required"), "{err}");
    }
}
