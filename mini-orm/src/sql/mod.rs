//! SQL text, in the dialect of each backend: [`Backend`] and its quoting, and the [`Statement`]
//! that a driver runs. The statements themselves come from [`dml`] (selects, inserts, updates,
//! deletes), built on each table's cached fragments ([`cache`]), from [`schema`] (DDL), and from
//! [`search`] (the term table of full-text search and its queries).
//!
//! Every value travels as a bound parameter (`?` on both backends); only identifiers that the
//! derive checked at compile time are written into the text, and always quoted.

pub(crate) mod cache;
pub(crate) mod dml;
pub(crate) mod join;
pub mod schema;
pub(crate) mod search;

use std::borrow::Cow;

use crate::table::TableDef;
use crate::value::Value;

/// Which database a [`Db`](crate::Db) talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, embedded, through rusqlite.
    Sqlite,
    /// MySQL or MariaDB, through mysql_async.
    MySql,
}

impl Backend {
    /// Appends `ident` quoted for this backend.
    pub(crate) fn quote(self, ident: &str, out: &mut String) {
        let q = match self {
            Backend::Sqlite => '"',
            Backend::MySql => '`',
        };
        out.push(q);
        if ident.contains(q) {
            for c in ident.chars() {
                if c == q {
                    out.push(q);
                }
                out.push(c);
            }
        } else {
            out.push_str(ident);
        }
        out.push(q);
    }

    pub(crate) fn quoted(self, ident: &str) -> String {
        let mut out = String::with_capacity(ident.len() + 2);
        self.quote(ident, &mut out);
        out
    }

    /// The `ESCAPE` clause that makes `\` the `LIKE` escape character.
    fn like_escape(self) -> &'static str {
        match self {
            Backend::Sqlite => r" ESCAPE '\'",
            Backend::MySql => r" ESCAPE '\\'",
        }
    }
}

/// The error text when a raw query binds more or fewer values than it has placeholders.
pub(crate) const PARAMS_MISMATCH: &str =
    "the number of bound values differs from the number of `?` placeholders";

/// A statement ready to run: text, parameters, and the table it concerns (so that a unique
/// violation can be reported with the constraint's columns).
#[derive(Debug)]
pub(crate) struct Statement<'a> {
    /// The text: borrowed when a table's cached fragment is the whole statement.
    pub sql: Cow<'static, str>,
    /// The parameters, borrowed from the row or the filter the statement was built from.
    pub params: Vec<Value<'a>>,
    pub table: Option<&'static TableDef>,
    /// The statement selects a model's columns in its declared order (the ORM's own selects), so
    /// rows need no mapping by column name; raw SQL does.
    pub columns_in_model_order: bool,
}

impl<'a> Statement<'a> {
    /// Hand-written or schema SQL, on no particular table: its rows are read by column name.
    pub(crate) fn text(sql: String, params: Vec<Value<'a>>) -> Self {
        Statement {
            sql: sql.into(),
            params,
            table: None,
            columns_in_model_order: false,
        }
    }

    /// A statement on `table` whose text starts with `head`.
    fn new(table: &'static TableDef, head: &str) -> Self {
        let mut sql = String::with_capacity(head.len() + 64);
        sql.push_str(head);
        Self::fixed(table, sql.into())
    }

    /// A statement on `table` whose whole text is `sql`.
    fn fixed(table: &'static TableDef, sql: Cow<'static, str>) -> Self {
        Statement {
            sql,
            params: Vec::new(),
            table: Some(table),
            columns_in_model_order: false,
        }
    }
}

/// Appends `names`, each quoted and followed by `suffix`, separated by commas.
pub(crate) fn quoted_list<'n>(
    backend: Backend,
    names: impl IntoIterator<Item = &'n str>,
    suffix: &str,
    out: &mut String,
) {
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        backend.quote(name, out);
        out.push_str(suffix);
    }
}

/// Appends `n` comma-separated `?` placeholders.
pub(crate) fn placeholders(n: usize, out: &mut String) {
    for i in 0..n {
        out.push_str(if i == 0 { "?" } else { ", ?" });
    }
}
