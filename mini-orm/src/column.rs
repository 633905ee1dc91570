//! Typed column handles and what they build: filters, orderings and assignments.
//!
//! `#[derive(Model)]` gives each field a constant such as `User::NAME: Column<User, String>`.
//! A misspelt column is therefore an unknown constant, and a filter value of the wrong type does
//! not convert to the column's type: both are compile errors.

use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not};

use crate::value::{FieldType, NotNull, Numeric, Textual, Value};

/// A column of model `M` holding values of Rust type `T`.
pub struct Column<M, T> {
    name: &'static str,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

/// A boolean condition over the rows of model `M`, combined with `&`, `|` and `!`.
#[derive(Debug)]
pub struct Filter<M> {
    pub(crate) expr: Expr,
    _marker: PhantomData<fn() -> M>,
}

// By hand: a derived `Clone` would ask `M: Clone`, which a model need not be.
impl<M> Clone for Filter<M> {
    fn clone(&self) -> Self {
        Filter::new(self.expr.clone())
    }
}

/// The untyped tree behind a [`Filter`].
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Compare {
        column: &'static str,
        op: CompareOp,
        value: Value<'static>,
    },
    In {
        column: &'static str,
        values: Vec<Value<'static>>,
        negated: bool,
    },
    /// `column LIKE pattern`, or `LOWER(column) LIKE pattern` with `ignore_case` (the pattern
    /// lowercased already).
    Like {
        column: &'static str,
        pattern: String,
        ignore_case: bool,
    },
    IsNull {
        column: &'static str,
        negated: bool,
    },
    /// `column [NOT] IN (SELECT ...)`.
    InSubquery {
        column: &'static str,
        subquery: Box<SubqueryExpr>,
        negated: bool,
    },
    /// `[NOT] EXISTS (SELECT 1 FROM ... WHERE ...)`.
    Exists {
        table: &'static str,
        filter: Option<Box<Expr>>,
        negated: bool,
    },
    /// A column of one table compared with a column of another, both qualified by their table
    /// (a subquery's condition on the row of the query around it).
    CompareColumns {
        left: (&'static str, &'static str),
        op: CompareOp,
        right: (&'static str, &'static str),
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// The untyped `SELECT column FROM table WHERE filter` behind a [`Subquery`].
#[derive(Debug, Clone)]
pub(crate) struct SubqueryExpr {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    pub(crate) filter: Option<Expr>,
}

/// The values of one column of the rows a query matches, of Rust type `T`, to be used in
/// another query's filter: `Photo::AUTHOR_ID.in_query(Follow::query().filter(..).values(
/// Follow::FOLLOWED_ID))`. Made by `Select::values`.
#[derive(Debug, Clone)]
pub struct Subquery<T> {
    pub(crate) expr: SubqueryExpr,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Subquery<T> {
    pub(crate) fn new(expr: SubqueryExpr) -> Self {
        Subquery {
            expr,
            _marker: PhantomData,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A sort key: a column and a direction.
#[derive(Debug, Clone, Copy)]
pub struct Order<M> {
    pub(crate) column: &'static str,
    pub(crate) descending: bool,
    _marker: PhantomData<fn() -> M>,
}

/// One `SET` clause of a conditional update.
#[derive(Debug)]
pub struct Assignment<M> {
    pub(crate) column: &'static str,
    pub(crate) change: Change,
    _marker: PhantomData<fn() -> M>,
}

// By hand, as for `Filter`.
impl<M> Clone for Assignment<M> {
    fn clone(&self) -> Self {
        Assignment {
            column: self.column,
            change: self.change.clone(),
            _marker: PhantomData,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// `column = ?`
    Set(Value<'static>),
    /// `column = column + ?`
    Add(Value<'static>),
}

impl<M> Filter<M> {
    pub(crate) fn new(expr: Expr) -> Self {
        Filter {
            expr,
            _marker: PhantomData,
        }
    }

    /// Both conditions (SQL `AND`); the same as `self & other`.
    pub fn and(self, other: Filter<M>) -> Filter<M> {
        Filter::new(match (self.expr, other.expr) {
            (Expr::And(mut left), Expr::And(right)) => {
                left.extend(right);
                Expr::And(left)
            }
            (Expr::And(mut left), right) => {
                left.push(right);
                Expr::And(left)
            }
            (left, right) => Expr::And(vec![left, right]),
        })
    }

    /// Either condition (SQL `OR`); the same as `self | other`.
    pub fn or(self, other: Filter<M>) -> Filter<M> {
        Filter::new(match (self.expr, other.expr) {
            (Expr::Or(mut left), right) => {
                left.push(right);
                Expr::Or(left)
            }
            (left, right) => Expr::Or(vec![left, right]),
        })
    }
}

impl<M> BitAnd for Filter<M> {
    type Output = Filter<M>;
    fn bitand(self, other: Filter<M>) -> Filter<M> {
        self.and(other)
    }
}

impl<M> BitOr for Filter<M> {
    type Output = Filter<M>;
    fn bitor(self, other: Filter<M>) -> Filter<M> {
        self.or(other)
    }
}

impl<M> Not for Filter<M> {
    type Output = Filter<M>;
    fn not(self) -> Filter<M> {
        Filter::new(Expr::Not(Box::new(self.expr)))
    }
}

impl<M, T> Column<M, T> {
    /// The handle for column `name`; the derive creates these, one per field.
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _marker: PhantomData,
        }
    }

    /// The column name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<M, T: FieldType> Column<M, T> {
    fn compare(self, op: CompareOp, value: impl Into<T::Inner>) -> Filter<M> {
        Filter::new(Expr::Compare {
            column: self.name,
            op,
            value: value.into().into_value(),
        })
    }

    /// `column = value`
    pub fn eq(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Eq, value)
    }

    /// `column <> value`
    pub fn ne(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Ne, value)
    }

    /// `column < value`
    pub fn lt(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Lt, value)
    }

    /// `column <= value`
    pub fn le(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Le, value)
    }

    /// `column > value`
    pub fn gt(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Gt, value)
    }

    /// `column >= value`
    pub fn ge(self, value: impl Into<T::Inner>) -> Filter<M> {
        self.compare(CompareOp::Ge, value)
    }

    /// The rows whose value is among those `values` selects (SQL `IN (SELECT ...)`): one
    /// statement, however many values there are.
    pub fn in_query(self, values: Subquery<T>) -> Filter<M> {
        self.in_subquery(values, false)
    }

    /// The rows whose value is none of `values` (SQL `NOT IN (SELECT ...)`; the subquery's
    /// column must not hold NULLs, or SQL matches nothing).
    pub fn not_in_query(self, values: Subquery<T>) -> Filter<M> {
        self.in_subquery(values, true)
    }

    fn in_subquery(self, values: Subquery<T>, negated: bool) -> Filter<M> {
        Filter::new(Expr::InSubquery {
            column: self.name,
            subquery: Box::new(values.expr),
            negated,
        })
    }

    /// `column IN (values…)`; an empty list matches no row.
    pub fn is_in<V: Into<T::Inner>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        self.in_list(values, false)
    }

    /// `column NOT IN (values…)`; an empty list matches every row.
    pub fn not_in<V: Into<T::Inner>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        self.in_list(values, true)
    }

    fn in_list<V: Into<T::Inner>>(
        self,
        values: impl IntoIterator<Item = V>,
        negated: bool,
    ) -> Filter<M> {
        Filter::new(Expr::In {
            column: self.name,
            values: values.into_iter().map(|v| v.into().into_value()).collect(),
            negated,
        })
    }

    /// Sort by this column, smallest first.
    pub fn asc(self) -> Order<M> {
        Order {
            column: self.name,
            descending: false,
            _marker: PhantomData,
        }
    }

    /// Sort by this column, largest first.
    pub fn desc(self) -> Order<M> {
        Order {
            column: self.name,
            descending: true,
            _marker: PhantomData,
        }
    }

    /// `SET column = value`, for [`Select::update`](crate::Select::update).
    pub fn set(self, value: impl Into<T>) -> Assignment<M> {
        Assignment {
            column: self.name,
            change: Change::Set(value.into().into_value()),
            _marker: PhantomData,
        }
    }
}

impl<M, T: Numeric> Column<M, T> {
    /// `SET column = column + amount`: an atomic increment (or decrement, with a negative
    /// amount) that needs no read first.
    pub fn increment(self, amount: impl Into<T::Inner>) -> Assignment<M> {
        Assignment {
            column: self.name,
            change: Change::Add(amount.into().into_value()),
            _marker: PhantomData,
        }
    }
}

impl<M, T: Textual> Column<M, T> {
    /// `column LIKE pattern`: `%` matches any run of characters, `_` any one character, and `\`
    /// makes the next character literal. Case-sensitive on both backends.
    pub fn like(self, pattern: impl Into<String>) -> Filter<M> {
        Filter::new(Expr::Like {
            column: self.name,
            pattern: pattern.into(),
            ignore_case: false,
        })
    }

    /// The column contains `text` literally (its `%`, `_` and `\` have no special meaning).
    pub fn contains(self, text: &str) -> Filter<M> {
        self.like(format!("%{}%", escape_like(text)))
    }

    /// The column contains `text` literally, whatever the case of either: `LOWER(column) LIKE`
    /// the lowercased text. Which letters have a case: every letter on MySQL; on SQLite, whose
    /// `LOWER` folds only ASCII, `A` to `Z` (`É` in the column is not found by `é`). The column's
    /// index is not used (the lowered value is not indexed); neither is it by `contains`.
    pub fn contains_ignoring_case(self, text: &str) -> Filter<M> {
        Filter::new(Expr::Like {
            column: self.name,
            pattern: format!("%{}%", escape_like(&text.to_lowercase())),
            ignore_case: true,
        })
    }

    /// The column starts with `text` literally.
    pub fn starts_with(self, text: &str) -> Filter<M> {
        self.like(format!("{}%", escape_like(text)))
    }
}

impl<M, T: NotNull> Column<M, Option<T>> {
    /// `column IS NULL`
    pub fn is_null(self) -> Filter<M> {
        Filter::new(Expr::IsNull {
            column: self.name,
            negated: false,
        })
    }

    /// `column IS NOT NULL`
    pub fn is_not_null(self) -> Filter<M> {
        Filter::new(Expr::IsNull {
            column: self.name,
            negated: true,
        })
    }
}

/// `text` with the `LIKE` wildcards and the escape character escaped.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_like_escapes_wildcards_and_itself() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
