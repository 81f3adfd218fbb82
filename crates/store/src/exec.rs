//! Queries that run on either kind of connection a [`Tx`] can hold: sqlx's
//! (both engines) or the SQLite group writer's own connection
//! ([`crate::NativeWriter`]), which calls SQLite directly on the writer's
//! thread instead of handing every query to sqlx's worker thread.
//!
//! The query text is the same for both (written once with `$N`, rewritten by
//! [`Tx::sql`]); parameters are typed values ([`Arg`]) so that a NULL keeps its
//! type on PostgreSQL; rows are read by column name through [`Cols`], whatever
//! connection they came from.

use std::sync::Arc;

use rusqlite::types::ValueRef;
use sqlx::any::AnyRow;

use crate::{Ctx, NativeCtx, Result, StoreError, Tx, TxConn};

/// A bound parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arg<'q> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<&'q str>),
    Blob(Option<&'q [u8]>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg<'_> {
    fn from(v: f64) -> Self {
        Arg::Real(Some(v))
    }
}
impl From<Option<f64>> for Arg<'_> {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl<'q> From<&'q str> for Arg<'q> {
    fn from(v: &'q str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'q> From<Option<&'q str>> for Arg<'q> {
    fn from(v: Option<&'q str>) -> Self {
        Arg::Text(v)
    }
}
impl<'q> From<&'q [u8]> for Arg<'q> {
    fn from(v: &'q [u8]) -> Self {
        Arg::Blob(Some(v))
    }
}
impl<'q> From<&'q String> for Arg<'q> {
    fn from(v: &'q String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'q> From<&'q Option<String>> for Arg<'q> {
    fn from(v: &'q Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

/// A column value read by the direct connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A result row from either connection.
pub(crate) enum Row {
    Any(AnyRow),
    Native {
        names: Arc<[String]>,
        vals: Vec<Val>,
    },
}

/// A type a column is read as (the types the schema uses).
pub(crate) trait Get: Sized {
    fn from_any(r: &AnyRow, name: &'static str) -> Result<Self>;
    fn from_val(v: &Val, name: &'static str) -> Result<Self>;
}

fn mismatch<T>(name: &'static str, v: &Val, wanted: &str) -> Result<T> {
    Err(StoreError::Corrupt {
        what: name,
        detail: format!("expected {wanted}, found {v:?}"),
    })
}

macro_rules! get_impl {
    ($t:ty, $wanted:literal, $($pat:pat => $val:expr),+) => {
        impl Get for $t {
            fn from_any(r: &AnyRow, name: &'static str) -> Result<Self> {
                use sqlx::Row as _;
                r.try_get::<$t, _>(name).ctx(name)
            }
            fn from_val(v: &Val, name: &'static str) -> Result<Self> {
                match v {
                    $($pat => Ok($val),)+
                    #[allow(unreachable_patterns)]
                    other => mismatch(name, other, $wanted),
                }
            }
        }
    };
}

get_impl!(i64, "an integer", Val::Int(i) => *i);
get_impl!(Option<i64>, "an integer or NULL", Val::Int(i) => Some(*i), Val::Null => None);
get_impl!(f64, "a number", Val::Real(f) => *f, Val::Int(i) => *i as f64);
get_impl!(Option<f64>, "a number or NULL", Val::Real(f) => Some(*f), Val::Int(i) => Some(*i as f64), Val::Null => None);
get_impl!(String, "text", Val::Text(s) => s.clone());
get_impl!(Option<String>, "text or NULL", Val::Text(s) => Some(s.clone()), Val::Null => None);
get_impl!(Vec<u8>, "bytes", Val::Blob(b) => b.clone(), Val::Text(s) => s.as_bytes().to_vec());

/// Reading columns by name, from any kind of row.
pub(crate) trait Cols {
    fn get<T: Get>(&self, name: &'static str) -> Result<T>;
}

impl Cols for AnyRow {
    fn get<T: Get>(&self, name: &'static str) -> Result<T> {
        T::from_any(self, name)
    }
}

impl Cols for Row {
    fn get<T: Get>(&self, name: &'static str) -> Result<T> {
        match self {
            Row::Any(r) => T::from_any(r, name),
            Row::Native { names, vals } => {
                let v = names
                    .iter()
                    .position(|n| n == name)
                    .and_then(|i| vals.get(i))
                    .ok_or(StoreError::Corrupt {
                        what: name,
                        detail: "no such column in the result".into(),
                    })?;
                T::from_val(v, name)
            }
        }
    }
}

fn bind(st: &mut rusqlite::Statement<'_>, args: &[Arg<'_>]) -> rusqlite::Result<()> {
    if st.parameter_count() != args.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            args.len(),
            st.parameter_count(),
        ));
    }
    for (i, a) in args.iter().enumerate() {
        match a {
            Arg::Int(v) => st.raw_bind_parameter(i + 1, v)?,
            Arg::Real(v) => st.raw_bind_parameter(i + 1, v)?,
            Arg::Text(v) => st.raw_bind_parameter(i + 1, v)?,
            Arg::Blob(v) => st.raw_bind_parameter(i + 1, v)?,
        }
    }
    Ok(())
}

fn native_fetch(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> rusqlite::Result<Vec<Row>> {
    let mut st = conn.prepare_cached(sql)?;
    bind(&mut st, args)?;
    let names: Arc<[String]> = st.column_names().into_iter().map(String::from).collect();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut vals = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            vals.push(match r.get_ref(i)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(n) => Val::Int(n),
                ValueRef::Real(f) => Val::Real(f),
                ValueRef::Text(t) => Val::Text(
                    std::str::from_utf8(t)
                        .map_err(rusqlite::Error::Utf8Error)?
                        .to_owned(),
                ),
                ValueRef::Blob(b) => Val::Blob(b.to_vec()),
            });
        }
        out.push(Row::Native {
            names: names.clone(),
            vals,
        });
    }
    Ok(out)
}

fn native_run(conn: &rusqlite::Connection, sql: &str, args: &[Arg<'_>]) -> rusqlite::Result<u64> {
    let mut st = conn.prepare_cached(sql)?;
    bind(&mut st, args)?;
    let n = st.raw_execute()?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// [`native_run`] once for every `width` arguments, the statement taken from
/// the cache once for all of them (taking it and putting it back cost more
/// than a small statement's step: the cache hashes the whole text both ways).
fn native_run_each(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
    width: usize,
) -> rusqlite::Result<Vec<u64>> {
    let mut st = conn.prepare_cached(sql)?;
    let mut changed = Vec::with_capacity(args.len() / width.max(1));
    for row in args.chunks(width.max(1)) {
        bind(&mut st, row)?;
        let n = st.raw_execute()?;
        changed.push(u64::try_from(n).unwrap_or(u64::MAX));
    }
    Ok(changed)
}

fn any_query<'q>(
    sql: &'q str,
    args: &'q [Arg<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match *a {
            Arg::Int(v) => q.bind(v),
            Arg::Real(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Blob(v) => q.bind(v),
        };
    }
    q
}

impl<C: crate::Conn> Tx<'_, C> {
    /// How many rows one multi-row write should carry, at most `max`. On the
    /// direct connection one: a query is a call, not a round trip, and the
    /// single-row text is prepared once and reused (a multi-row text differs
    /// with every row count, and SQLite may keep a statement journal for a
    /// multi-row write, in case a later row fails).
    pub(crate) fn rows_per_write(&self, max: usize) -> usize {
        match self.tx {
            TxConn::Native(_) => 1,
            _ => max,
        }
    }

    /// Runs a query (text already in this engine's dialect) and returns its rows.
    pub(crate) async fn fetch(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        context: &'static str,
    ) -> Result<Vec<Row>> {
        match &mut self.tx {
            TxConn::Native(n) => native_fetch(n.conn, sql, args).ctx(context),
            other => {
                let conn = other.any()?;
                Ok(any_query(sql, args)
                    .fetch_all(conn)
                    .await
                    .ctx(context)?
                    .into_iter()
                    .map(Row::Any)
                    .collect())
            }
        }
    }

    /// [`Tx::fetch`] for at most one row.
    pub(crate) async fn fetch_opt(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        context: &'static str,
    ) -> Result<Option<Row>> {
        Ok(self.fetch(sql, args, context).await?.into_iter().next())
    }

    /// Runs a one-row statement once for every `width` arguments (each
    /// call's parameters in order); returns the rows each call changed. For
    /// the direct connection's one-row writes ([`Tx::rows_per_write`]).
    pub(crate) async fn run_each(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        width: usize,
        context: &'static str,
    ) -> Result<Vec<u64>> {
        if args.is_empty() {
            return Ok(Vec::new());
        }
        if let TxConn::Native(n) = &mut self.tx {
            return native_run_each(n.conn, sql, args, width).ctx(context);
        }
        let mut changed = Vec::with_capacity(args.len() / width.max(1));
        for row in args.chunks(width.max(1)) {
            changed.push(self.run(sql, row, context).await?);
        }
        Ok(changed)
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) async fn run(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        context: &'static str,
    ) -> Result<u64> {
        match &mut self.tx {
            TxConn::Native(n) => native_run(n.conn, sql, args).ctx(context),
            other => {
                let conn = other.any()?;
                Ok(any_query(sql, args)
                    .execute(conn)
                    .await
                    .ctx(context)?
                    .rows_affected())
            }
        }
    }
}

/// Reads a column, naming it in the error.
pub(crate) fn col<T: Get>(row: &impl Cols, name: &'static str) -> Result<T> {
    row.get(name)
}
