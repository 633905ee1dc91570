//! [`Select`]: the builder behind `Model::query()`, for reading, counting, updating and deleting
//! the rows that match a filter.

use std::marker::PhantomData;

use crate::column::{Assignment, Column, CompareOp, Expr, Filter, Order, Subquery, SubqueryExpr};
use crate::error::{Error, Result};
use crate::exec::{self, Executor, Transaction, WriteTx};
use crate::model::Model;
use crate::sql::dml::{self, Clauses};
use crate::sql::search as sql_search;
use crate::sql::{Backend, Statement, join};
use crate::table::row::{FromRow, Row};
use crate::value::FieldType;

/// The rows of model `M` that match a filter, with an order and a window.
///
/// ```
/// # use mini_orm::{Db, Model};
/// # #[derive(Model)]
/// # struct Movie { #[field(primary_key)] id: i64, name: String, is_deleted: bool }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// # let db = Db::connect("sqlite::memory:").await?;
/// # db.create_table::<Movie>().await?;
/// let page = Movie::query()
///     .filter(Movie::IS_DELETED.eq(false) & Movie::NAME.contains("cat"))
///     .order_by(Movie::ID.desc())
///     .limit(20)
///     .offset(40)
///     .all(&db)
///     .await?;
/// # assert!(page.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until it is run with `all`, `first`, `count`, `update` or `delete`"]
pub struct Select<M> {
    filter: Option<Expr>,
    order: Vec<(&'static str, bool)>,
    limit: Option<u64>,
    offset: Option<u64>,
    for_update: bool,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Default for Select<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Select<M> {
    /// Every row of the table.
    pub fn new() -> Self {
        Select {
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            for_update: false,
            _model: PhantomData,
        }
    }

    /// Keeps only the rows that match `filter` as well as every filter given before.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            None => filter.expr,
            Some(Expr::And(mut parts)) => {
                parts.push(filter.expr);
                Expr::And(parts)
            }
            Some(previous) => Expr::And(vec![previous, filter.expr]),
        });
        self
    }

    /// Sorts by `order`, after any order given before.
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.order.push((&order).into());
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Keyset pagination: sorts by `key` (in the direction an earlier `order_by` on `key` gave,
    /// ascending if none) and keeps only the rows past `cursor` in that order: the next page of
    /// a feed starts after the last row of the page before, so rows added meanwhile neither
    /// shift it nor appear twice (as they do with `offset`). `key` should be unique (the
    /// primary key, say).
    pub fn after<T: FieldType>(mut self, key: Column<M, T>, cursor: impl Into<T::Inner>) -> Self {
        let descending = match self.order.iter().find(|(name, _)| *name == key.name()) {
            Some(&(_, descending)) => descending,
            None => {
                self.order.push((key.name(), false));
                false
            }
        };
        let past = if descending {
            key.lt(cursor)
        } else {
            key.gt(cursor)
        };
        self.filter(past)
    }

    /// Each matching row with the row of `N` that `on` pairs it with (an inner join: rows
    /// without a partner are left out), in one statement: `Photo::query().join(User::ID
    /// .eq_column(Photo::AUTHOR_ID))` gives each photo with its author. The order, limit and
    /// offset are this query's; [`Join::filter`] narrows the joined rows.
    pub fn join<N: Model>(self, on: Filter<N>) -> Join<M, N> {
        Join {
            left: self,
            on: on.expr,
            right_filter: None,
            _right: PhantomData,
        }
    }

    /// The values of `column` in the rows this query matches, for another query's
    /// [`Column::in_query`]; only the filter counts (an order, limit or offset is not part of
    /// a subquery).
    pub fn values<T>(self, column: Column<M, T>) -> Subquery<T> {
        Subquery::new(SubqueryExpr {
            table: M::TABLE.name,
            column: column.name(),
            filter: self.filter,
        })
    }

    /// Locks the rows read until the transaction ends, for a read-modify-write that no other
    /// transaction may interleave with (`SELECT … FOR UPDATE` on MySQL; on SQLite a transaction
    /// holds the write lock from its start, so nothing more is needed).
    pub fn for_update(mut self) -> Self {
        self.for_update = true;
        self
    }

    fn clauses(&self) -> Clauses<'_> {
        Clauses {
            filter: self.filter.as_ref(),
            order: &self.order,
            limit: self.limit,
            offset: self.offset,
            for_update: self.for_update,
        }
    }

    /// Every matching row, in order.
    pub async fn all(self, exec: impl Executor) -> Result<Vec<M>> {
        let stmt = self.statement(exec.backend());
        exec::fetch(exec, stmt).await
    }

    /// The `SELECT` that [`Select::all`] runs.
    pub(crate) fn statement(&self, backend: Backend) -> Statement<'_> {
        dml::select(backend, M::TABLE, &self.clauses())
    }

    /// The first matching row, if any.
    pub async fn first(mut self, exec: impl Executor) -> Result<Option<M>> {
        self.limit = Some(1);
        Ok(self.all(exec).await?.pop())
    }

    /// How many rows match (order, limit and offset do not change the count, so it serves as the
    /// total of a paged list).
    pub async fn count(self, exec: impl Executor) -> Result<u64> {
        let stmt = dml::count(exec.backend(), M::TABLE, self.filter.as_ref());
        let rows: Vec<(i64,)> = exec::fetch(exec, stmt).await?;
        let count = rows.first().map_or(0, |row| row.0);
        u64::try_from(count).map_err(|_| Error::Database("COUNT(*) was negative".into()))
    }

    /// Whether any row matches.
    pub async fn exists(self, exec: impl Executor) -> Result<bool> {
        Ok(self.first(exec).await?.is_some())
    }

    /// How many matching rows have each value of `column`, in the order of the values
    /// (`SELECT column, COUNT(*) … GROUP BY column`); order, limit and offset do not apply.
    pub async fn count_by<T: FieldType + Send>(
        self,
        column: Column<M, T>,
        exec: impl Executor,
    ) -> Result<Vec<(T, u64)>> {
        let stmt = dml::count_by(
            exec.backend(),
            M::TABLE,
            column.name(),
            self.filter.as_ref(),
        );
        let rows: Vec<(T, i64)> = exec::fetch(exec, stmt).await?;
        rows.into_iter()
            .map(|(value, count)| {
                let count = u64::try_from(count)
                    .map_err(|_| Error::Database("COUNT(*) was negative".into()))?;
                Ok((value, count))
            })
            .collect()
    }

    /// Applies `assignments` to every matching row in one atomic `UPDATE` and returns how many
    /// rows matched (whether or not their values changed, on both backends).
    ///
    /// With a filter, this is a conditional update: `Account::query().filter(Account::BALANCE
    /// .ge(10)).update(&db, [Account::BALANCE.increment(-10)])` spends only if the balance allows.
    pub async fn update(
        self,
        exec: impl Executor,
        assignments: impl IntoIterator<Item = Assignment<M>>,
    ) -> Result<u64> {
        self.refuse_window()?;
        let assignments: Vec<_> = assignments.into_iter().collect();
        let stmt = dml::update(exec.backend(), M::TABLE, &assignments, self.filter.as_ref())?;
        Ok(exec::execute(exec, stmt).await?.rows_matched)
    }

    /// Deletes every matching row and returns how many there were. A searchable model's rows
    /// lose their search terms in the same transaction (`exec`'s, or one of its own when `exec`
    /// is a `Db`), as with [`Model::delete`].
    pub async fn delete(self, mut exec: impl Executor) -> Result<u64> {
        self.refuse_window()?;
        if M::SEARCHABLE.is_empty() {
            return self.delete_rows(exec).await;
        }
        let mut tx = WriteTx::of(&mut exec).await?;
        let deleted = self.delete_with_terms(tx.tx()).await?;
        tx.finish().await?;
        Ok(deleted)
    }

    async fn delete_with_terms(self, tx: &mut Transaction) -> Result<u64> {
        let terms = sql_search::delete_matching_terms(tx.backend(), M::TABLE, self.filter.as_ref());
        exec::execute(&mut *tx, terms).await?;
        self.delete_rows(tx).await
    }

    async fn delete_rows(self, exec: impl Executor) -> Result<u64> {
        let stmt = dml::delete(exec.backend(), M::TABLE, self.filter.as_ref());
        Ok(exec::execute(exec, stmt).await?.rows_matched)
    }

    /// An order, limit or offset on an update or delete would be ignored by one backend or the
    /// other: better refuse it than touch more rows than meant.
    fn refuse_window(&self) -> Result<()> {
        if self.order.is_empty()
            && self.limit.is_none()
            && self.offset.is_none()
            && !self.for_update
        {
            return Ok(());
        }
        Err(Error::InvalidQuery(
            "an update or a delete cannot have an order, a limit, an offset or `for_update`",
        ))
    }
}

/// A [`Select`] joined with the rows of `N` it pairs with (made by [`Select::join`]).
#[derive(Debug, Clone)]
#[must_use = "a join does nothing until it is run with `all`"]
pub struct Join<M, N> {
    left: Select<M>,
    on: Expr,
    right_filter: Option<Expr>,
    _right: PhantomData<fn() -> N>,
}

impl<M: Model, N: Model> Join<M, N> {
    /// Keeps only the pairs whose `N` row matches `filter` as well.
    pub fn filter(mut self, filter: Filter<N>) -> Self {
        self.right_filter = Some(match self.right_filter.take() {
            None => filter.expr,
            Some(previous) => Expr::And(vec![previous, filter.expr]),
        });
        self
    }

    /// Every pair, in the left query's order.
    pub async fn all(self, exec: impl Executor) -> Result<Vec<(M, N)>> {
        let stmt = join::select_join(
            exec.backend(),
            (M::TABLE, &self.left.clauses()),
            (N::TABLE, self.right_filter.as_ref()),
            &self.on,
        );
        let pairs: Vec<Pair<M, N>> = exec::fetch(exec, stmt).await?;
        Ok(pairs.into_iter().map(|pair| (pair.0, pair.1)).collect())
    }
}

/// One row of a join, decoded as its two models (the right one's columns follow the left's).
struct Pair<M, N>(M, N);

impl<M: Model, N: Model> FromRow for Pair<M, N> {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        let left = M::from_row(row)?;
        let right = N::from_row(&row.shifted(M::TABLE.columns.len()))?;
        Ok(Pair(left, right))
    }
}

/// The rows of the query around it for which `query` matches a row (SQL `EXISTS`): tie the two
/// together with [`Column::eq_column`].
///
/// ```
/// # use mini_orm::{Db, Model};
/// # #[derive(Model)]
/// # struct Photo { #[field(primary_key)] id: i64, author_id: i64 }
/// # #[derive(Model)]
/// # struct Like { #[field(primary_key)] id: i64, photo_id: i64, user_id: i64 }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// # let db = Db::connect("sqlite::memory:").await?;
/// # db.create_table::<Photo>().await?;
/// # db.create_table::<Like>().await?;
/// let liked_by_me = Like::query().filter(Like::PHOTO_ID.eq_column(Photo::ID) & Like::USER_ID.eq(7));
/// let photos = Photo::query().filter(mini_orm::exists(liked_by_me)).all(&db).await?;
/// # assert!(photos.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn exists<N: Model, M>(query: Select<N>) -> Filter<M> {
    exists_expr(query, false)
}

/// The rows of the query around it for which `query` matches no row (SQL `NOT EXISTS`).
pub fn not_exists<N: Model, M>(query: Select<N>) -> Filter<M> {
    exists_expr(query, true)
}

fn exists_expr<N: Model, M>(query: Select<N>, negated: bool) -> Filter<M> {
    Filter::new(Expr::Exists {
        table: N::TABLE.name,
        filter: query.filter.map(Box::new),
        negated,
    })
}

impl<N: Model, T> Column<N, T> {
    /// The rows (of a subquery's table, `N`) whose value equals `outer`'s in the row of the
    /// query around it: `"n"."column" = "o"."outer"` (the tables must differ).
    pub fn eq_column<O: Model>(self, outer: Column<O, T>) -> Filter<N> {
        Filter::new(Expr::CompareColumns {
            left: (N::TABLE.name, self.name()),
            op: CompareOp::Eq,
            right: (O::TABLE.name, outer.name()),
        })
    }
}
