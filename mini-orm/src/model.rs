//! What `#[derive(Model)]` implements: the table description ([`TableDef`]), the mapping of a
//! struct to and from rows ([`Model`], [`FromRow`]) and the row accessor ([`Row`]).

use std::future::Future;

use crate::error::{DecodeError, Error, Result};
use crate::exec::{self, Executor};
use crate::query::Select;
use crate::sql;
use crate::value::{FieldType, SqlType, Value, ValueRef};

/// A table: its name, its columns in declaration order, and its indexes.
#[derive(Debug)]
pub struct TableDef {
    /// The table name.
    pub name: &'static str,
    /// Every column, the primary key included, in the order of the struct's fields.
    pub columns: &'static [ColumnDef],
    /// Position of the primary key in `columns`.
    pub primary_key: usize,
    /// Unique and plain indexes, from field and model attributes.
    pub indexes: &'static [IndexDef],
}

impl TableDef {
    /// The primary key column.
    pub fn primary_key(&self) -> &ColumnDef {
        &self.columns[self.primary_key]
    }

    /// The columns an insert or an update writes: every column but the primary key.
    pub fn value_columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.columns
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.primary_key)
            .map(|(_, c)| c)
    }
}

/// One column of a [`TableDef`].
#[derive(Debug)]
pub struct ColumnDef {
    /// The column name.
    pub name: &'static str,
    /// The column type.
    pub sql_type: SqlType,
    /// Whether `NULL` is allowed (the field is an `Option`).
    pub nullable: bool,
    /// For text: the maximum length in characters (`VARCHAR(n)` on MySQL, checked before writing
    /// on both backends).
    pub max_len: Option<u32>,
    /// The column's `DEFAULT`, used by the schema for rows inserted without this column.
    pub default: Option<DefaultValue>,
}

/// A literal column default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(&'static str),
}

/// An index over one or more columns.
#[derive(Debug)]
pub struct IndexDef {
    /// The indexed columns, in order.
    pub columns: &'static [&'static str],
    /// Whether the index is a unique constraint.
    pub unique: bool,
}

impl IndexDef {
    /// The name the schema gives this index in `table`: `<table>_<columns>_key` for unique
    /// indexes and `<table>_<columns>_idx` for the others, shortened with a hash to fit the
    /// 64 characters MySQL allows.
    pub fn name(&self, table: &str) -> String {
        const MAX: usize = 64;
        let suffix = if self.unique { "key" } else { "idx" };
        let name = format!("{table}_{}_{suffix}", self.columns.join("_"));
        if name.len() <= MAX {
            return name;
        }
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut cut = MAX - 18;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{hash:016x}", &name[..cut])
    }
}

/// A type built from one result row.
///
/// Models implement it through the derive and are read by column name; tuples of up to six
/// [`FieldType`]s implement it positionally, for raw queries such as
/// `SELECT name, COUNT(*) FROM … GROUP BY name`.
pub trait FromRow: Sized + Send {
    /// The column names `from_row` reads, in the order of its indexes. When not empty, rows of
    /// raw queries are matched to these names, whatever order the query selected them in.
    const COLUMN_NAMES: &'static [&'static str] = &[];

    /// Builds the value from a row.
    fn from_row(row: &Row<'_>) -> Result<Self>;
}

/// A struct mapped to a table. Implement it with `#[derive(Model)]`.
///
/// The provided methods are the per-row operations; [`Model::query`] starts a filtered select,
/// update or delete over many rows.
pub trait Model: FromRow + Sync + 'static {
    /// The table this model maps to.
    const TABLE: &'static TableDef;

    /// The primary key's value.
    fn primary_key(&self) -> i64;

    /// Sets the primary key (done by [`Model::save`] with the generated key).
    fn set_primary_key(&mut self, id: i64);

    /// Appends the values of every column but the primary key, in [`TableDef::value_columns`]
    /// order, borrowing this row's text and bytes.
    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>);

    /// The values of every column but the primary key, in [`TableDef::value_columns`] order.
    fn values(&self) -> Vec<Value<'_>> {
        let mut values = Vec::with_capacity(Self::TABLE.columns.len());
        self.push_values(&mut values);
        values
    }

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
            let stmt = sql::select_by_primary_key(exec.backend(), Self::TABLE, id);
            Ok(exec::fetch(exec, stmt).await?.pop())
        }
    }

    /// Inserts this row (`INSERT`) and sets its primary key to the one the database generated.
    /// The primary key's current value is not written.
    fn save(&mut self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move {
            let stmt = sql::insert(exec.backend(), Self::TABLE, self.values())?;
            let done = exec::execute(exec, stmt).await?;
            let id = done.last_insert_id.ok_or_else(|| {
                Error::Database("the database reported no generated primary key".into())
            })?;
            self.set_primary_key(id);
            Ok(())
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
                .chunks(sql::rows_per_insert(Self::TABLE))
                .map(|chunk| {
                    let mut params = Vec::with_capacity(chunk.len() * Self::TABLE.columns.len());
                    chunk.iter().for_each(|row| row.push_values(&mut params));
                    sql::insert(exec.backend(), Self::TABLE, params)
                })
                .collect::<Result<Vec<_>>>()?;
            exec::execute_all(exec, statements).await
        }
    }

    /// Writes every column of this row (`UPDATE … WHERE <primary key> = ?`); [`Error::NotFound`]
    /// when no row has this primary key.
    fn update(&self, exec: impl Executor) -> impl Future<Output = Result<()>> + Send {
        async move {
            let stmt = sql::update_by_primary_key(
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
            let stmt = sql::delete_by_primary_key(exec.backend(), Self::TABLE, self.primary_key());
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

/// One row of a result, borrowed from the driver while it is decoded.
pub struct Row<'a> {
    source: RowSource<'a>,
    /// For rows read by name: the result position of each wanted column.
    positions: Option<&'a [usize]>,
}

pub(crate) enum RowSource<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    MySql(&'a mysql_async::Row),
}

impl<'a> Row<'a> {
    pub(crate) fn new(source: RowSource<'a>, positions: Option<&'a [usize]>) -> Self {
        Row { source, positions }
    }

    /// The value at `index` (in [`FromRow::COLUMN_NAMES`] order for models, in select order for
    /// tuples), decoded as `T`; a decode error names the column.
    pub fn get<T: FieldType>(&self, index: usize) -> Result<T> {
        self.decode_with(index, T::from_value)
    }

    /// [`Row::get`] with the decoder given explicitly. The derive calls this with
    /// `<T as FieldType>::from_value` so that an unsupported field type is reported once.
    #[doc(hidden)]
    pub fn decode_with<T>(
        &self,
        index: usize,
        decode: fn(ValueRef<'_>) -> Result<T, DecodeError>,
    ) -> Result<T> {
        let position = match self.positions {
            Some(positions) => positions[index],
            None => index,
        };
        self.value(position)
            .and_then(decode)
            .map_err(|e| e.in_column(self.column_name(position)))
    }

    fn value(&self, position: usize) -> Result<ValueRef<'_>, DecodeError> {
        match self.source {
            RowSource::Sqlite(row) => {
                use rusqlite::types::ValueRef as Sq;
                let value = row
                    .get_ref(position)
                    .map_err(|_| DecodeError::new("the result has no such column"))?;
                Ok(match value {
                    Sq::Null => ValueRef::Null,
                    Sq::Integer(i) => ValueRef::Int(i),
                    Sq::Real(f) => ValueRef::Float(f),
                    Sq::Text(b) | Sq::Blob(b) => ValueRef::Bytes(b),
                })
            }
            RowSource::MySql(row) => {
                use mysql_async::Value as My;
                let value = row
                    .as_ref(position)
                    .ok_or_else(|| DecodeError::new("the result has no such column"))?;
                Ok(match value {
                    My::NULL => ValueRef::Null,
                    My::Int(i) => ValueRef::Int(*i),
                    My::UInt(u) => ValueRef::Int(
                        i64::try_from(*u)
                            .map_err(|_| DecodeError::new(format!("{u} does not fit in an i64")))?,
                    ),
                    My::Float(f) => ValueRef::Float(f64::from(*f)),
                    My::Double(f) => ValueRef::Float(*f),
                    My::Bytes(b) => ValueRef::Bytes(b),
                    My::Date(..) => ValueRef::Unsupported("a date"),
                    My::Time(..) => ValueRef::Unsupported("a time"),
                })
            }
        }
    }

    fn column_name(&self, position: usize) -> String {
        let name = match self.source {
            RowSource::Sqlite(row) => row.as_ref().column_name(position).ok().map(str::to_owned),
            RowSource::MySql(row) => row
                .columns_ref()
                .get(position)
                .map(|c| c.name_str().into_owned()),
        };
        name.unwrap_or_else(|| format!("#{position}"))
    }
}

/// For a type read by name, where each of its columns stands in a result with these column
/// names; an error names the first one missing.
pub(crate) fn positions_by_name<R: FromRow>(
    result_columns: &[impl AsRef<str>],
) -> Result<Option<Vec<usize>>> {
    if R::COLUMN_NAMES.is_empty() {
        return Ok(None);
    }
    R::COLUMN_NAMES
        .iter()
        .map(|wanted| {
            result_columns
                .iter()
                .position(|have| have.as_ref() == *wanted)
                .ok_or_else(|| {
                    DecodeError::new("the query did not select this column").in_column(*wanted)
                })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: FieldType + Send),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row<'_>) -> Result<Self> {
                Ok(($(row.get::<$t>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_fit_mysql_limit_and_stay_distinct() {
        let short = IndexDef {
            columns: &["name"],
            unique: true,
        };
        assert_eq!(short.name("user_info"), "user_info_name_key");
        let long_a = IndexDef {
            columns: &["a_very_long_column_name_number_one", "x"],
            unique: false,
        };
        let long_b = IndexDef {
            columns: &["a_very_long_column_name_number_one", "y"],
            unique: false,
        };
        let table = "a_table_with_a_rather_long_name";
        assert!(long_a.name(table).len() <= 64);
        assert_ne!(long_a.name(table), long_b.name(table));
    }
}
