//! SQL text helpers: one query text for both engines (`$N` rewritten for
//! SQLite), `IN` lists padded to a few lengths, multi-row statements, typed
//! column reads.

use std::borrow::Cow;

use crate::Backend;

/// Rewrites `$N` placeholders for SQLite (outside string literals): when they
/// appear exactly as `$1, $2, …, $n`, in that order and once each, as anonymous
/// `?` — SQLite binds those by position, while looking up a numbered `?N` costs
/// a scan of all parameter names, quadratic in a multi-row insert —, otherwise
/// as `?N`.
pub(crate) fn dialect(backend: Backend, q: &str) -> Cow<'_, str> {
    if backend == Backend::Postgres || !q.contains('$') {
        return Cow::Borrowed(q);
    }
    // Placeholders outside string literals, in order of appearance: where the
    // `$` is, where its digits end, its number. (Only ASCII bytes are looked
    // at, so every position found is a character boundary.)
    let bytes = q.as_bytes();
    let mut marks: Vec<(usize, usize, usize)> = Vec::new();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_str = !in_str,
            b'$' if !in_str && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut end = i + 1;
                while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                marks.push((i, end, q[i + 1..end].parse::<usize>().unwrap_or(0)));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let sequential = marks.iter().enumerate().all(|(k, m)| m.2 == k + 1);
    // The text between placeholders is copied as it is.
    let mut out = String::with_capacity(q.len());
    let mut copied = 0;
    for (start, end, _) in marks {
        out.push_str(&q[copied..start]);
        out.push('?');
        if !sequential {
            out.push_str(&q[start + 1..end]);
        }
        copied = end;
    }
    out.push_str(&q[copied..]);
    Cow::Owned(out)
}

/// `rows` copies of a row template joined by `sep`, each `?` numbered in order
/// from `$first`: `repeat_row("(?, 0, ?)", 2, 3, ", ")` is `($3, 0, $4), ($5, 0, $6)`.
/// (Engine rewriting to SQLite's `?N` happens afterwards, in [`Tx::sql`].)
pub(crate) fn repeat_row(template: &str, rows: usize, first: usize, sep: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows * (template.len() + sep.len() + 8));
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(sep);
        }
        for (k, part) in template.split('?').enumerate() {
            if k > 0 {
                // Writing to a String cannot fail.
                let _ = write!(out, "${n}");
                n += 1;
            }
            out.push_str(part);
        }
    }
    out
}

/// The keys of one `IN (…)` list, padded with the last key (a key twice in
/// an `IN` list changes nothing) to a length of a short series — up to 8 as
/// they are, then four lengths between each two powers of two (10, 12, 14,
/// 16, 20, …, 448, 512): so a connection's statement cache sees a few dozen
/// texts per query instead of one per length, each of which SQLite would
/// compile anew, for at most a quarter more keys. The list's length, and its
/// keys.
pub(crate) fn in_list<T>(keys: &[T]) -> (usize, impl Iterator<Item = &T>) {
    let n = match keys.len() {
        len @ 0..=8 => len,
        len => {
            let step = len.next_power_of_two() / 8;
            len.div_ceil(step) * step
        }
    };
    let fill = keys.last().into_iter().cycle().take(n - keys.len());
    (n, keys.iter().chain(fill))
}

/// The text of a multi-row query in the engine's dialect, for a query site
/// (a `static`): the one-row text, which the direct connection sends for
/// every row, is built once per process; longer ones for each chunk.
pub(crate) struct RowsSql {
    one_row: [std::sync::OnceLock<String>; 2],
}

impl RowsSql {
    pub(crate) const fn new() -> Self {
        Self {
            one_row: [std::sync::OnceLock::new(), std::sync::OnceLock::new()],
        }
    }

    /// The text for `rows` rows; `build` writes it with `$N` placeholders.
    pub(crate) fn get(
        &self,
        backend: Backend,
        rows: usize,
        build: impl FnOnce(usize) -> String,
    ) -> Cow<'_, str> {
        let slot = match backend {
            Backend::Sqlite => &self.one_row[0],
            Backend::Postgres => &self.one_row[1],
        };
        if rows == 1 {
            Cow::Borrowed(slot.get_or_init(|| dialect(backend, &build(1)).into_owned()))
        } else {
            Cow::Owned(dialect(backend, &build(rows)).into_owned())
        }
    }
}

/// Booleans are stored as 0/1 integers on both engines.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend_of;

    #[test]
    fn placeholders() {
        assert_eq!(
            dialect(
                Backend::Sqlite,
                "SELECT * FROM t WHERE a = $1 AND b = '$2' AND c = $10"
            ),
            "SELECT * FROM t WHERE a = ?1 AND b = '$2' AND c = ?10"
        );
        // In order and once each: anonymous, bound by position.
        assert_eq!(
            dialect(Backend::Sqlite, "VALUES ($1, 'é$', $2), ($3, $4)"),
            "VALUES (?, 'é$', ?), (?, ?)"
        );
        // A repeated or out-of-order number keeps its number.
        assert_eq!(
            dialect(Backend::Sqlite, "a = $1 OR b = $1 AND c = $2"),
            "a = ?1 OR b = ?1 AND c = ?2"
        );
        assert_eq!(dialect(Backend::Sqlite, "a = $2, b = $1"), "a = ?2, b = ?1");
        assert_eq!(dialect(Backend::Postgres, "a = $1"), "a = $1");
    }

    #[test]
    fn row_templates() {
        assert_eq!(
            repeat_row("(?, 0, ?)", 2, 3, ", "),
            "($3, 0, $4), ($5, 0, $6)"
        );
        assert_eq!(repeat_row("?", 3, 1, ", "), "$1, $2, $3");
        assert_eq!(repeat_row("(?)", 0, 1, ", "), "");
    }

    #[test]
    fn in_lists() {
        let list = |keys: &[i64]| {
            let (n, keys) = in_list(keys);
            (n, keys.copied().collect::<Vec<_>>())
        };
        assert_eq!(list(&[]), (0, vec![]));
        assert_eq!(list(&[7]), (1, vec![7]));
        assert_eq!(list(&[7, 8, 9]), (3, vec![7, 8, 9]));
        let keys: Vec<i64> = (0..9).collect();
        assert_eq!(list(&keys), (10, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 8]));
        let long: Vec<i64> = (0..300).collect();
        let (n, keys) = list(&long);
        assert_eq!((n, keys.len()), (320, 320));
        assert_eq!(&keys[..300], &long[..]);
        assert!(keys[300..].iter().all(|k| *k == 299));
        // Every length up to a chunk's 500: a few dozen texts, none more than
        // a quarter longer than its keys.
        let lengths: std::collections::BTreeSet<usize> =
            (1..=500).map(|len| in_list(&vec![0; len]).0).collect();
        assert_eq!(lengths.len(), 32);
        for len in 1..=500usize {
            let n = in_list(&vec![0; len]).0;
            assert!(n >= len && n * 4 <= len * 5 + 4, "{len} → {n}");
        }
    }

    #[test]
    fn backends() {
        assert_eq!(backend_of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("data/coursebridge.db"), Backend::Sqlite);
        assert_eq!(backend_of("sqlite:data/x.db"), Backend::Sqlite);
    }
}
