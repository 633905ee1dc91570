//! [`Model`]: the operations on one row (get, find, save, update, delete), and
//! [`Model::query`] for many.

use std::future::Future;

use crate::error::{Error, Result};
use crate::exec::{self, Executor};
use crate::query::Select;
use crate::sql::dml;
use crate::table::{Table, TableDef};

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

    /// Inserts this row (`INSERT`) and sets its primary key to the one the database generated.
    /// The primary key's current value is not written.
    fn save(&mut self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move {
            let stmt = dml::insert(exec.backend(), Self::TABLE, self.values())?;
            let done = exec::execute(exec, stmt).await?;
            let id = done.last_insert_id.ok_or_else(|| {
                Error::Database("the database reported no generated primary key".into())
            })?;
            self.set_primary_key(id);
            Ok(())
        }
    }

    /// Inserts this row unless that would break a unique constraint (an equal row is there
    /// already: "follow once, however often the button is pressed"), and says whether it was
    /// written; when it was, sets the primary key. Two callers racing with equal rows: exactly
    /// one gets `true`. `INSERT … ON CONFLICT DO NOTHING` on SQLite, `INSERT IGNORE …` on MySQL
    /// (which also skips, rather than fails, a row that breaks another constraint MySQL checks
    /// with `IGNORE`, such as a foreign key; values too long for their column are refused before
    /// anything is sent, as by [`Model::save`]).
    fn insert_if_absent(
        &mut self,
        exec: impl Executor,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let stmt = dml::insert_if_absent(exec.backend(), Self::TABLE, self.values())?;
            let done = exec::execute(exec, stmt).await?;
            if done.rows_matched == 0 {
                return Ok(false);
            }
            let id = done.last_insert_id.ok_or_else(|| {
                Error::Database("the database reported no generated primary key".into())
            })?;
            self.set_primary_key(id);
            Ok(true)
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
        async move {
            let statements = rows
                .chunks(dml::rows_per_insert(Self::TABLE))
                .map(|chunk| {
                    let mut params = Vec::with_capacity(chunk.len() * Self::TABLE.columns.len());
                    chunk.iter().for_each(|row| row.push_values(&mut params));
                    dml::insert(exec.backend(), Self::TABLE, params)
                })
                .collect::<Result<Vec<_>>>()?;
            exec::execute_all(exec, statements).await
        }
    }

    /// Writes every column of this row (`UPDATE … WHERE <primary key> = ?`); [`Error::NotFound`]
    /// when no row has this primary key.
    fn update(&self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move {
            let stmt = dml::update_by_primary_key(
                exec.backend(),
                Self::TABLE,
                self.values(),
                self.primary_key(),
            )?;
            expect_one_row::<Self>(exec::execute(exec, stmt).await?.rows_matched)
        }
    }

    /// Deletes this row; [`Error::NotFound`] when no row has this primary key.
    fn delete(&self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move {
            let stmt = dml::delete_by_primary_key(exec.backend(), Self::TABLE, self.primary_key());
            expect_one_row::<Self>(exec::execute(exec, stmt).await?.rows_matched)
        }
    }
}

fn expect_one_row<M: Model>(rows_matched: u64) -> Result<()> {
    if rows_matched == 0 {
        Err(Error::NotFound {
            table: M::TABLE.name,
        })
    } else {
        Ok(())
    }
}

impl<T: Table> Model for T {}
