//! `coursebridge-ingest validate`: check statements the way ingest will.
//!
//! Input per file (or `-` for stdin): one statement, an array of statements, or
//! JSON lines (one statement per line; blank lines skipped). Output: one line
//! per valid statement, `ok <id or index>`, and one line per broken rule,
//! `error <index> <path>: <rule>`. The index is the statement's 0-based position
//! in its input; with several inputs it is prefixed by the input's name
//! (`file.json:3`).

use std::io::Write;

use serde_json::Value;

/// What one input produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub valid: usize,
    pub invalid: usize,
}

/// Splits an input into statements: a JSON value (object or array), or JSON lines.
/// Each item is the JSON value or the syntax error of that line.
pub fn split_input(bytes: &[u8]) -> Vec<Result<Value, String>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items.into_iter().map(Ok).collect(),
        Ok(single) => vec![Ok(single)],
        Err(whole) => {
            let lines: Vec<&[u8]> = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .collect();
            if lines.len() <= 1 {
                return vec![Err(format!("invalid JSON: {whole}"))];
            }
            lines
                .into_iter()
                .map(|l| {
                    serde_json::from_slice::<Value>(l).map_err(|e| format!("invalid JSON: {e}"))
                })
                .collect()
        }
    }
}

/// Validates every statement of one input and writes the report lines.
pub fn validate_input(
    bytes: &[u8],
    label: Option<&str>,
    out: &mut impl Write,
) -> std::io::Result<Outcome> {
    let mut outcome = Outcome::default();
    for (i, item) in split_input(bytes).into_iter().enumerate() {
        let index = match label {
            Some(l) => format!("{l}:{i}"),
            None => i.to_string(),
        };
        let result = item
            .map_err(|rule| {
                vec![xapi_model::ValidationError {
                    path: "statement".into(),
                    rule,
                }]
            })
            .and_then(xapi_model::statement_from_value);
        match result {
            Ok(statement) => {
                outcome.valid += 1;
                match statement.id {
                    Some(id) => writeln!(out, "ok {id}")?,
                    None => writeln!(out, "ok {index}")?,
                }
            }
            Err(errors) => {
                outcome.invalid += 1;
                for e in errors {
                    writeln!(out, "error {index} {e}")?;
                }
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/c"}}"#;
    const BAD: &str = r#"{"actor":{"mbox":"a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/c"}}"#;

    fn run(input: &str) -> (String, Outcome) {
        let mut out = Vec::new();
        let o = validate_input(input.as_bytes(), None, &mut out).expect("write to a Vec");
        (String::from_utf8(out).expect("utf8"), o)
    }

    #[test]
    fn single_array_and_lines() {
        assert_eq!(run(OK).0, "ok 0\n");
        let (text, o) = run(&format!("[{OK},{BAD}]"));
        assert_eq!(text, "ok 0\nerror 1 actor.mbox: must be a mailto: IRI\n");
        assert_eq!(
            o,
            Outcome {
                valid: 1,
                invalid: 1
            }
        );
        let (text, o) = run(&format!("{OK}\n\n{BAD}\n{{broken\n"));
        assert_eq!(
            o,
            Outcome {
                valid: 1,
                invalid: 2
            }
        );
        assert!(
            text.starts_with(
                "ok 0\nerror 1 actor.mbox: must be a mailto: IRI\nerror 2 statement: invalid JSON"
            ),
            "{text}"
        );
    }

    #[test]
    fn garbage_is_one_error() {
        let (text, o) = run("not json");
        assert_eq!(
            o,
            Outcome {
                valid: 0,
                invalid: 1
            }
        );
        assert!(text.starts_with("error 0 statement: invalid JSON"));
    }
}
