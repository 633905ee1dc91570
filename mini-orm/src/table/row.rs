//! The rows a driver returns ([`Row`]), and [`FromRow`], the types built from one: models by
//! column name, tuples by position.

use crate::error::{DecodeError, Result};
use crate::value::{FieldType, ValueRef};

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

/// One row of a result, borrowed from the driver while it is decoded.
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
    MySql(&'a mysql_async::Row),
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
        let position = self.offset
            + match self.positions {
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
