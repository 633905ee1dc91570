//! The rows a driver returns ([`Row`]), and [`FromRow`], the types built from one: models by
//! column name, tuples by position.

use std::borrow::Cow;
use std::cell::Cell;

use crate::error::{DecodeError, Result};
use crate::value::{Decoders, FieldType, RowValue, ValueRef};

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

/// One row of a result, lent by the driver while it is decoded.
///
/// [`Row::get`] copies a column's value out; [`Row::take`] moves it out where the driver hands
/// its values over (MySQL), after which the column reads as taken (an error). The derive takes
/// each field's column once.
pub struct Row<'a> {
    source: RowSource<'a>,
    /// For rows read by name: the result position of each wanted column.
    positions: Option<&'a [usize]>,
    /// Where this row's columns start in the result (past another model's, in a join).
    offset: usize,
}

#[derive(Clone, Copy)]
pub(crate) enum RowSource<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    /// A MySQL row's values, owned by the caller, to be moved out one by one (`None` once
    /// taken), and the result's columns.
    MySql {
        values: &'a [Cell<Option<mysql_async::Value>>],
        columns: &'a [mysql_async::Column],
    },
}

impl<'a> Row<'a> {
    pub(crate) fn new(source: RowSource<'a>, positions: Option<&'a [usize]>) -> Self {
        Row {
            source,
            positions,
            offset: 0,
        }
    }

    /// The same result row, read from `offset` on (the second model of a join, whose columns
    /// follow the first's).
    pub(crate) fn shifted(&self, offset: usize) -> Row<'a> {
        Row {
            source: self.source,
            positions: self.positions,
            offset: self.offset + offset,
        }
    }

    /// The value at `index` (in [`FromRow::COLUMN_NAMES`] order for models, in select order for
    /// tuples), decoded as `T` from a borrow of it; a decode error names the column.
    pub fn get<T: FieldType>(&self, index: usize) -> Result<T> {
        self.decode_with(index, T::from_value)
    }

    /// [`Row::get`], moving the value's text or bytes into `T` where the driver allows (MySQL)
    /// instead of copying them ([`FieldType::from_row_value`]). The column's value is gone from
    /// the row afterwards: reading it again is an error.
    pub fn take<T: FieldType>(&self, index: usize) -> Result<T> {
        self.take_with(index, T::DECODERS)
    }

    /// [`Row::get`] with the decoder given explicitly.
    #[doc(hidden)]
    pub fn decode_with<T>(
        &self,
        index: usize,
        decode: fn(ValueRef<'_>) -> Result<T, DecodeError>,
    ) -> Result<T> {
        let position = self.position(index);
        let decoded = match self.source {
            RowSource::Sqlite(row) => sqlite_value(row, position).and_then(decode),
            // Borrowed in place: out of its cell for the decoder, and back.
            RowSource::MySql { values, .. } => cell(values, position).and_then(|cell| {
                let value = cell.take();
                let decoded = value
                    .as_ref()
                    .ok_or_else(taken)
                    .and_then(mysql_value)
                    .and_then(decode);
                cell.set(value);
                decoded
            }),
        };
        decoded.map_err(|e| e.in_column(self.column_name(position)))
    }

    /// [`Row::take`] with the decoders given explicitly: SQLite's values are decoded borrowed
    /// (`decoders.borrowed`, as [`Row::get`]), MySQL's taken (`decoders.taken`). The derive calls
    /// this with `<T as FieldType>::DECODERS` so that an unsupported field type is reported once.
    #[doc(hidden)]
    pub fn take_with<T>(&self, index: usize, decoders: Decoders<T>) -> Result<T> {
        let position = self.position(index);
        let decoded = match self.source {
            RowSource::Sqlite(row) => sqlite_value(row, position).and_then(decoders.borrowed),
            RowSource::MySql { values, .. } => cell(values, position)
                .and_then(|cell| cell.take().ok_or_else(taken))
                .and_then(mysql_row_value)
                .and_then(decoders.taken),
        };
        decoded.map_err(|e| e.in_column(self.column_name(position)))
    }

    #[inline]
    fn position(&self, index: usize) -> usize {
        self.offset
            + match self.positions {
                Some(positions) => positions[index],
                None => index,
            }
    }

    fn column_name(&self, position: usize) -> String {
        let name = match self.source {
            RowSource::Sqlite(row) => row.as_ref().column_name(position).ok().map(str::to_owned),
            RowSource::MySql { columns, .. } => {
                columns.get(position).map(|c| c.name_str().into_owned())
            }
        };
        name.unwrap_or_else(|| format!("#{position}"))
    }
}

/// The cell of the value at `position` of a MySQL row.
#[inline]
fn cell<T>(values: &[Cell<T>], position: usize) -> Result<&Cell<T>, DecodeError> {
    values.get(position).ok_or_else(no_such_column)
}

fn no_such_column() -> DecodeError {
    DecodeError::new("the result has no such column")
}

fn taken() -> DecodeError {
    DecodeError::new("the value was taken out of the row already")
}

#[inline]
fn sqlite_value<'r>(
    row: &'r rusqlite::Row<'_>,
    position: usize,
) -> Result<ValueRef<'r>, DecodeError> {
    use rusqlite::types::ValueRef as Sq;
    let value = row.get_ref(position).map_err(|_| no_such_column())?;
    Ok(match value {
        Sq::Null => ValueRef::Null,
        Sq::Integer(i) => ValueRef::Int(i),
        Sq::Real(f) => ValueRef::Float(f),
        Sq::Text(b) | Sq::Blob(b) => ValueRef::Bytes(b),
    })
}

#[inline]
fn mysql_value(value: &mysql_async::Value) -> Result<ValueRef<'_>, DecodeError> {
    use mysql_async::Value as My;
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

/// The value, its bytes moved rather than copied.
#[inline]
fn mysql_row_value(value: mysql_async::Value) -> Result<RowValue<'static>, DecodeError> {
    match value {
        mysql_async::Value::Bytes(b) => Ok(RowValue::Bytes(Cow::Owned(b))),
        // Nothing to copy: a scalar.
        other => mysql_value(&other).map(|v| RowValue::from(v).into_owned()),
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
                Ok(($(row.take::<$t>($i)?,)+))
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
