//! [`Model`]: the operations on one row (get, find, save, update, delete), and
//! [`Model::query`] and [`Model::search`] for many.
//!
//! A model with `#[field(searchable)]` fields keeps its rows' terms in the search index: each
//! write of a row runs with the write of its terms in one transaction ([`RowWrite`]).

use std::future::Future;

use crate::column::{Assignment, Filter};
use crate::error::{Error, Result};
use crate::exec::{self, Executor, Target, Transaction, WriteTx};
use crate::query::Select;
use crate::search::{self, Search};
use crate::sql::dml;
use crate::table::{Table, TableDef};

/// How many times [`Model::upsert`] runs its own transaction when MySQL rolls it back to break a
/// deadlock (racing upserts of one new row can lock each other's gaps).
const UPSERT_ATTEMPTS: u32 = 8;

/// A struct mapped to a table, with the operations on its rows. Implement it with
/// `#[derive(Model)]`, which implements [`Table`] (the description of the table); every
/// [`Table`] is a `Model`.
///
/// The provided methods are the per-row operations; [`Model::query`] starts a filtered select,
/// update or delete over many rows.
pub trait Model: Table {
    /// The table this model maps to ([`Table::DEF`] under the name that needs only `Model` in
    /// scope).
    const TABLE: &'static TableDef = Self::DEF;

    /// A query over this model's table, to be narrowed with filters.
    fn query() -> Select<Self> {
        Select::new()
    }

    /// The row with this primary key, or [`Error::NotFound`].
    fn get(exec: impl Executor, id: i64) -> impl Future<Output = Result<Self>> + Send {
        async move {
            Self::find(exec, id).await?.ok_or(Error::NotFound {
                table: Self::TABLE.name,
            })
        }
    }

    /// The row with this primary key, if there is one.
    fn find(exec: impl Executor, id: i64) -> impl Future<Output = Result<Option<Self>>> + Send {
        async move {
            let stmt = dml::select_by_primary_key(exec.backend(), Self::TABLE, id);
            Ok(exec::fetch(exec, stmt).await?.pop())
        }
    }

    /// The rows whose searchable fields have the words of `query`, best first (see [`Search`]):
    /// `Post::search("lake sunset").limit(10).offset(20).all(&db)`. The words and CJK character
    /// pairs of `query` are matched whole and without regard to case.
    ///
    /// A model without `#[field(searchable)]` fields has nothing to search: calling this for one
    /// fails to build.
    fn search(query: &str) -> Search<Self> {
        search::search(query)
    }

    /// Inserts this row (`INSERT`) and sets its primary key to the one the database generated.
    /// The primary key's current value is not written. A model with searchable fields adds the
    /// row's terms to the search index in the same transaction.
    fn save(&mut self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move { RowWrite::Insert(self).run(exec).await.map(drop) }
    }

    /// Inserts this row unless that would break a unique constraint (an equal row is there
    /// already: "follow once, however often the button is pressed"), and says whether it was
    /// written; when it was, sets the primary key. Two callers racing with equal rows: exactly
    /// one gets `true`. `INSERT … ON CONFLICT DO NOTHING` on SQLite, `INSERT IGNORE …` on MySQL
    /// (which also skips, rather than fails, a row that breaks another constraint MySQL checks
    /// with `IGNORE`, such as a foreign key; values too long for their column are refused before
    /// anything is sent, as by [`Model::save`]). A model with searchable fields indexes the row
    /// in the same transaction when it was written. A refused insert may use up a primary key
    /// value on both backends (keys are never reused, but may skip).
    fn insert_if_absent(
        &mut self,
        exec: impl Executor,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let written = RowWrite::InsertIfAbsent(self).run(exec).await?;
            Ok(written == 1)
        }
    }

    /// Inserts this row, or, when an equal row is there already (the insert would break a unique
    /// constraint), applies `assignments` to the row that `existing` matches, in one
    /// transaction (`exec`'s, or one of its own): "count a view, creating the counter the first
    /// time". Says which it did; an insert sets the primary key. Portable by construction:
    /// [`Model::insert_if_absent`] (whose `INSERT` locks the equal row on MySQL), then
    /// `UPDATE … WHERE existing` in the same transaction, so racing callers each either insert
    /// or update, never lose one another's update. `existing` must match the row the insert
    /// collided with: when it matches none, the error is [`Error::InvalidQuery`] and nothing is
    /// written. The update does not re-index searchable fields (as [`Select::update`]).
    ///
    /// Racing upserts of one new row can deadlock on MySQL (each `INSERT` waits on the other's
    /// lock); InnoDB rolls one back. In a transaction of its own, the upsert then runs again (up
    /// to a few times, after a short pause); in the caller's transaction, the
    /// [`Error::Deadlock`] is the caller's, whose whole transaction was rolled back.
    fn upsert(
        &mut self,
        mut exec: impl Executor,
        existing: Filter<Self>,
        assignments: impl IntoIterator<Item = Assignment<Self>> + Send,
    ) -> impl Future<Output = Result<Upserted>> + Send {
        async move {
            match exec.target() {
                Target::Tx(tx) => upsert_in(self, tx, existing, assignments).await,
                Target::Db(db) => {
                    let assignments: Vec<Assignment<Self>> = assignments.into_iter().collect();
                    let mut attempt = 1;
                    loop {
                        let mut tx = db.begin().await?;
                        let done =
                            upsert_in(self, &mut tx, existing.clone(), assignments.clone()).await;
                        let outcome = match done {
                            Ok(done) => tx.commit().await.map(|()| done),
                            Err(error) => Err(error),
                        };
                        match outcome {
                            Err(error) if error.is_deadlock() && attempt < UPSERT_ATTEMPTS => {
                                attempt += 1;
                                let pause = 2 * u64::from(attempt);
                                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                            }
                            outcome => return outcome,
                        }
                    }
                }
            }
        }
    }

    /// Inserts every row of `rows` with one multi-row `INSERT` (`VALUES (…), (…), …`), each
    /// with a primary key the database generates: the rows' own primary keys are neither written
    /// nor updated. Returns how many rows were inserted.
    ///
    /// All or nothing: every value is checked before anything is sent, and when the rows need
    /// more than one statement (over 32 766 values in all) they run in one transaction, the
    /// caller's if `exec` is one.
    ///
    /// A model with searchable fields needs each row's generated key for its terms: its rows are
    /// inserted one `INSERT` at a time, with their terms, in one transaction.
    ///
    /// ```
    /// # use mini_orm::{Db, Model};
    /// # #[derive(Model)]
    /// # struct Comment { #[field(primary_key)] id: i64, text: String }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> mini_orm::Result<()> {
    /// # let db = Db::connect("sqlite::memory:").await?;
    /// # db.create_table::<Comment>().await?;
    /// let comments: Vec<Comment> = ["first", "second"]
    ///     .into_iter()
    ///     .map(|text| Comment { id: 0, text: text.into() })
    ///     .collect();
    /// assert_eq!(Comment::insert_all(&db, &comments).await?, 2);
    /// # assert_eq!(Comment::query().count(&db).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    fn insert_all(exec: impl Executor, rows: &[Self]) -> impl Future<Output = Result<u64>> + Send {
        RowWrite::InsertAll(rows).run(exec)
    }

    /// Writes every column of this row (`UPDATE … WHERE <primary key> = ?`); [`Error::NotFound`]
    /// when no row has this primary key. A model with searchable fields replaces the row's terms
    /// in the search index in the same transaction.
    fn update(&self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move { RowWrite::Update(self).run(exec).await.map(drop) }
    }

    /// Deletes this row; [`Error::NotFound`] when no row has this primary key. A model with
    /// searchable fields removes the row's terms from the search index in the same transaction.
    fn delete(&self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move { RowWrite::Delete(self).run(exec).await.map(drop) }
    }
}

/// What [`Model::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// The row was inserted, with this primary key.
    Inserted(i64),
    /// An equal row was there: the assignments were applied to it.
    Updated,
}

async fn upsert_in<M: Model>(
    row: &mut M,
    tx: &mut Transaction,
    existing: Filter<M>,
    assignments: impl IntoIterator<Item = Assignment<M>>,
) -> Result<Upserted> {
    if row.insert_if_absent(&mut *tx).await? {
        return Ok(Upserted::Inserted(row.primary_key()));
    }
    let matched = M::query()
        .filter(existing)
        .update(&mut *tx, assignments)
        .await?;
    if matched == 0 {
        return Err(Error::InvalidQuery(
            "upsert: the row conflicts with one that `existing` does not match",
        ));
    }
    Ok(Upserted::Updated)
}

/// A write of [`Model`]'s rows, with the upkeep of their search terms.
enum RowWrite<'r, M> {
    Insert(&'r mut M),
    InsertIfAbsent(&'r mut M),
    InsertAll(&'r [M]),
    Update(&'r M),
    Delete(&'r M),
}

impl<M: Model> RowWrite<'_, M> {
    /// Runs the write; returns the rows it wrote. A model with searchable fields writes the rows
    /// and their terms in `exec`'s transaction, or in one of its own when `exec` is a `Db`.
    async fn run(self, mut exec: impl Executor) -> Result<u64> {
        if M::SEARCHABLE.is_empty() {
            return self.rows_only(exec).await;
        }
        let mut tx = WriteTx::of(&mut exec).await?;
        let rows = self.with_terms(tx.tx()).await?;
        tx.finish().await?;
        Ok(rows)
    }

    async fn with_terms(self, tx: &mut Transaction) -> Result<u64> {
        match self {
            RowWrite::Insert(row) => {
                let id = insert_one(&*row, &mut *tx).await?;
                row.set_primary_key(id);
                search::index_row(tx, &*row, id).await?;
            }
            RowWrite::InsertIfAbsent(row) => {
                let written = RowWrite::InsertIfAbsent(&mut *row)
                    .rows_only(&mut *tx)
                    .await?;
                if written == 1 {
                    search::index_row(tx, &*row, row.primary_key()).await?;
                }
                return Ok(written);
            }
            RowWrite::InsertAll(rows) => {
                for row in rows {
                    let id = insert_one(row, &mut *tx).await?;
                    search::index_row(tx, row, id).await?;
                }
                return Ok(rows.len() as u64);
            }
            RowWrite::Update(row) => {
                RowWrite::Update(row).rows_only(&mut *tx).await?;
                search::index_row(tx, row, row.primary_key()).await?;
            }
            RowWrite::Delete(row) => {
                RowWrite::Delete(row).rows_only(&mut *tx).await?;
                search::unindex_row::<M>(tx, row.primary_key()).await?;
            }
        }
        Ok(1)
    }

    /// The write of the rows alone.
    async fn rows_only(self, exec: impl Executor) -> Result<u64> {
        match self {
            RowWrite::Insert(row) => {
                let id = insert_one(&*row, exec).await?;
                row.set_primary_key(id);
                Ok(1)
            }
            RowWrite::InsertIfAbsent(row) => {
                let stmt = dml::insert_if_absent(exec.backend(), M::TABLE, row.values())?;
                let done = exec::execute(exec, stmt).await?;
                if done.rows_matched == 0 {
                    return Ok(0);
                }
                let id = done.last_insert_id.ok_or_else(no_generated_key)?;
                row.set_primary_key(id);
                Ok(1)
            }
            RowWrite::InsertAll(rows) => {
                let statements = rows
                    .chunks(dml::rows_per_insert(M::TABLE))
                    .map(|chunk| {
                        let mut params = Vec::with_capacity(chunk.len() * M::TABLE.columns.len());
                        chunk.iter().for_each(|row| row.push_values(&mut params));
                        dml::insert(exec.backend(), M::TABLE, params)
                    })
                    .collect::<Result<Vec<_>>>()?;
                exec::execute_all(exec, statements).await
            }
            RowWrite::Update(row) => {
                let stmt = dml::update_by_primary_key(
                    exec.backend(),
                    M::TABLE,
                    row.values(),
                    row.primary_key(),
                )?;
                expect_one_row::<M>(exec::execute(exec, stmt).await?.rows_matched)
            }
            RowWrite::Delete(row) => {
                let stmt = dml::delete_by_primary_key(exec.backend(), M::TABLE, row.primary_key());
                expect_one_row::<M>(exec::execute(exec, stmt).await?.rows_matched)
            }
        }
    }
}

/// Inserts `row` (`INSERT`); returns the primary key the database generated.
async fn insert_one<M: Model>(row: &M, exec: impl Executor) -> Result<i64> {
    let stmt = dml::insert(exec.backend(), M::TABLE, row.values())?;
    let done = exec::execute(exec, stmt).await?;
    done.last_insert_id.ok_or_else(no_generated_key)
}

fn no_generated_key() -> Error {
    Error::Database("the database reported no generated primary key".into())
}

fn expect_one_row<M: Model>(rows_matched: u64) -> Result<u64> {
    if rows_matched == 0 {
        Err(Error::NotFound {
            table: M::TABLE.name,
        })
    } else {
        Ok(rows_matched)
    }
}

impl<T: Table> Model for T {}
