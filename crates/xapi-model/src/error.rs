//! Validation errors: a JSON path and the rule that was broken.

use std::fmt;

/// One broken rule of the xAPI data model, located by a JSON path such as
/// `context.contextActivities.parent[0].id` (`statement` for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where: a JSON path (`actor.mbox`, `context.contextActivities.parent[0].id`).
    pub path: String,
    /// What: the rule broken, in words (`must be a mailto: IRI`).
    pub rule: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// Why a statement could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not JSON at all.
    #[error("statement: invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not a valid statement; every broken rule is listed.
    #[error("{}", display_all(.0))]
    Invalid(Vec<ValidationError>),
}

impl ParseError {
    /// The broken rules; a JSON syntax error is reported as one rule at `statement`.
    pub fn errors(&self) -> Vec<ValidationError> {
        match self {
            ParseError::Json(e) => vec![ValidationError {
                path: "statement".into(),
                rule: format!("invalid JSON: {e}"),
            }],
            ParseError::Invalid(errors) => errors.clone(),
        }
    }
}

fn display_all(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A segment of a JSON path.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(&'static str),
    /// A property name chosen by the sender (an unknown property).
    Prop(String),
    /// A key chosen by the sender (extension IRI, language tag): rendered in brackets.
    Dyn(String),
    Index(usize),
}

/// Collects errors while walking a statement.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    path: Vec<Seg>,
    pub(crate) errors: Vec<ValidationError>,
}

impl Ctx {
    pub(crate) fn push(&mut self, seg: Seg) {
        self.path.push(seg);
    }

    pub(crate) fn pop(&mut self) {
        self.path.pop();
    }

    /// Runs `f` with `seg` appended to the current path.
    pub(crate) fn at<T>(&mut self, seg: Seg, f: impl FnOnce(&mut Self) -> T) -> T {
        self.push(seg);
        let out = f(self);
        self.pop();
        out
    }

    pub(crate) fn error(&mut self, rule: impl Into<String>) {
        let path = self.render();
        self.errors.push(ValidationError {
            path,
            rule: rule.into(),
        });
    }

    /// An error at a child key of the current path, without pushing it.
    pub(crate) fn error_at(&mut self, key: &'static str, rule: impl Into<String>) {
        self.push(Seg::Key(key));
        self.error(rule);
        self.pop();
    }

    pub(crate) fn render(&self) -> String {
        if self.path.is_empty() {
            return "statement".to_owned();
        }
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Prop(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Dyn(k) => {
                    out.push('[');
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(']');
                }
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}
