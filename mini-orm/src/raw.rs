//! The escape hatch: hand-written SQL with bound parameters, whose rows can still be read into a
//! model (by column name) or a tuple (by position).

use crate::error::{Error, Result};
use crate::exec::{self, Executor};
use crate::sql::Statement;
use crate::table::row::FromRow;
use crate::value::{FieldType, Value};

/// Hand-written SQL with `?` placeholders, started by [`raw`].
#[derive(Debug, Clone)]
#[must_use = "a raw query does nothing until it is run"]
pub struct RawQuery {
    sql: String,
    params: Vec<Value<'static>>,
}

/// Starts a raw query. The text goes to the database as written (mind the dialect); values go
/// through [`RawQuery::bind`], never into the text.
///
/// ```
/// # use mini_orm::Db;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// # let db = Db::connect("sqlite::memory:").await?;
/// # mini_orm::raw("CREATE TABLE download_record (user_id INTEGER, price INTEGER)").execute(&db).await?;
/// let busy: Vec<(i64, i64)> = mini_orm::raw(
///     "SELECT user_id, COUNT(*) FROM download_record WHERE price > ? GROUP BY user_id",
/// )
/// .bind(0_i64)
/// .fetch_all(&db)
/// .await?;
/// # assert!(busy.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn raw(sql: impl Into<String>) -> RawQuery {
    RawQuery {
        sql: sql.into(),
        params: Vec::new(),
    }
}

impl RawQuery {
    /// Binds the next `?` to `value` (`None` binds `NULL`).
    pub fn bind<T: FieldType>(mut self, value: T) -> Self {
        self.params.push(value.into_value());
        self
    }

    fn statement(self) -> Statement<'static> {
        Statement::text(self.sql, self.params)
    }

    /// Runs a statement that returns no rows; returns how many rows it matched.
    pub async fn execute(self, exec: impl Executor) -> Result<u64> {
        Ok(exec::execute(exec, self.statement()).await?.rows_matched)
    }

    /// Every row, each read into `R`. A model is read by column name, so the query may select
    /// its columns in any order (and must select them all).
    pub async fn fetch_all<R: FromRow>(self, exec: impl Executor) -> Result<Vec<R>> {
        exec::fetch(exec, self.statement()).await
    }

    /// The first row, if any.
    pub async fn fetch_optional<R: FromRow>(self, exec: impl Executor) -> Result<Option<R>> {
        Ok(self.fetch_all(exec).await?.into_iter().next())
    }

    /// The first row; [`Error::NotFound`] when there is none.
    pub async fn fetch_one<R: FromRow>(self, exec: impl Executor) -> Result<R> {
        self.fetch_optional(exec)
            .await?
            .ok_or(Error::NotFound { table: "raw query" })
    }
}
