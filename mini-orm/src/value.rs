//! Values crossing the boundary between Rust fields and database columns, and the
//! [`FieldType`] trait that says which Rust types a model field may have.

use std::borrow::Cow;

use crate::error::DecodeError;

/// A value bound to a statement parameter: borrowed from the field it came from while a
/// statement on that row runs (so saving a row copies none of its text), or owned
/// (`Value<'static>`) where it outlives the field, as in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// SQL `NULL`.
    Null,
    /// Any integer (booleans are stored as 0 and 1).
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// UTF-8 text.
    Text(Cow<'a, str>),
    /// Raw bytes.
    Blob(Cow<'a, [u8]>),
}

impl Value<'_> {
    /// The same value, owning its text or bytes.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Text(text) => Value::Text(Cow::Owned(text.into_owned())),
            Value::Blob(bytes) => Value::Blob(Cow::Owned(bytes.into_owned())),
        }
    }

    /// The same value, borrowing the text or bytes this one holds.
    pub fn as_borrowed(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::Text(text) => Value::Text(Cow::Borrowed(text)),
            Value::Blob(bytes) => Value::Blob(Cow::Borrowed(bytes)),
        }
    }
}

/// A value borrowed from a row that a driver returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text or bytes (MySQL does not tell them apart on the wire).
    Bytes(&'a [u8]),
    /// A value of a kind this crate does not map (a MySQL `DATE`, say), named for the message.
    Unsupported(&'static str),
}

impl ValueRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Float(_) => "a float",
            ValueRef::Bytes(_) => "text or bytes",
            ValueRef::Unsupported(kind) => kind,
        }
    }

    fn mismatch(&self, wanted: &str) -> DecodeError {
        DecodeError::new(format!("expected {wanted}, found {}", self.kind()))
    }
}

/// A value taken out of a result row to become a field: the same kinds as [`ValueRef`], with the
/// text or bytes owned where the driver hands them over (MySQL, whose rows own their values) and
/// borrowed where it cannot (SQLite, whose values live in the statement until the next row).
/// [`FieldType::from_row_value`] moves owned bytes into a `String` or `Vec<u8>` without copying.
#[derive(Debug, Clone, PartialEq)]
pub enum RowValue<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text or bytes (MySQL does not tell them apart on the wire).
    Bytes(Cow<'a, [u8]>),
    /// A value of a kind this crate does not map (a MySQL `DATE`, say), named for the message.
    Unsupported(&'static str),
}

impl RowValue<'_> {
    /// The same value, owning its text or bytes.
    pub fn into_owned(self) -> RowValue<'static> {
        match self {
            RowValue::Null => RowValue::Null,
            RowValue::Int(i) => RowValue::Int(i),
            RowValue::Float(f) => RowValue::Float(f),
            RowValue::Bytes(bytes) => RowValue::Bytes(Cow::Owned(bytes.into_owned())),
            RowValue::Unsupported(kind) => RowValue::Unsupported(kind),
        }
    }

    /// The same value, borrowed.
    #[inline]
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            RowValue::Null => ValueRef::Null,
            RowValue::Int(i) => ValueRef::Int(*i),
            RowValue::Float(f) => ValueRef::Float(*f),
            RowValue::Bytes(bytes) => ValueRef::Bytes(bytes),
            RowValue::Unsupported(kind) => ValueRef::Unsupported(kind),
        }
    }
}

impl<'a> From<ValueRef<'a>> for RowValue<'a> {
    #[inline]
    fn from(value: ValueRef<'a>) -> Self {
        match value {
            ValueRef::Null => RowValue::Null,
            ValueRef::Int(i) => RowValue::Int(i),
            ValueRef::Float(f) => RowValue::Float(f),
            ValueRef::Bytes(bytes) => RowValue::Bytes(Cow::Borrowed(bytes)),
            ValueRef::Unsupported(kind) => RowValue::Unsupported(kind),
        }
    }
}

/// The column type a field maps to; each backend spells it in its own DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// 64-bit integer (`BIGINT` / `INTEGER`).
    BigInt,
    /// 32-bit integer (`INT` / `INTEGER`).
    Int,
    /// Boolean (`BOOLEAN` / `INTEGER` holding 0 or 1).
    Bool,
    /// Double-precision float (`DOUBLE` / `REAL`).
    Double,
    /// Text (`VARCHAR(max_len)` or `TEXT` / `TEXT`).
    Text,
    /// Bytes (`LONGBLOB` / `BLOB`).
    Blob,
}

/// A Rust type that can be stored in one column.
///
/// Implemented for `i64`, `i32`, `bool`, `f64`, `String`, `Vec<u8>` and `Option` of any of them
/// (a nullable column). Implement it for your own type (an enum stored as text, say) to use it as
/// a field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a model field",
    label = "unsupported field type",
    note = "supported field types: i64, i32, bool, f64, String, Vec<u8>, and Option<T> of these for a nullable column",
    note = "to store your own type, implement `mini_orm::FieldType` for it"
)]
pub trait FieldType: Sized {
    /// The non-null type behind this one: `T` for both `T` and `Option<T>`. Filters take values
    /// of this type.
    type Inner: FieldType;
    /// The column type.
    const SQL_TYPE: SqlType;
    /// Whether the column accepts `NULL`.
    const NULLABLE: bool = false;
    /// The value to bind for this field, borrowing its text or bytes.
    fn to_value(&self) -> Value<'_>;
    /// The value to bind for this field, taking its text or bytes. The default copies them
    /// out of [`FieldType::to_value`]; implement it to move them instead.
    fn into_value(self) -> Value<'static> {
        self.to_value().into_owned()
    }
    /// The field from a value read back.
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError>;
    /// The field from a value taken out of a result row (what models read their fields with
    /// where the driver hands values over): implement it to move owned text or bytes into the
    /// field instead of copying them. The default decodes a borrow of the value with
    /// [`FieldType::from_value`].
    #[inline]
    fn from_row_value(value: RowValue<'_>) -> Result<Self, DecodeError> {
        Self::from_value(value.as_value_ref())
    }
    /// Both decoders, for the derive: one path to the trait, so that an unsupported field type
    /// is reported once.
    #[doc(hidden)]
    const DECODERS: Decoders<Self> = Decoders {
        borrowed: Self::from_value,
        taken: Self::from_row_value,
    };
}

/// A field type's two decoders ([`FieldType::DECODERS`]): [`Row::take_with`](crate::Row)
/// reads a borrowed value where the driver lends its values (SQLite), and takes it where the
/// driver hands them over (MySQL).
#[doc(hidden)]
pub struct Decoders<T> {
    /// [`FieldType::from_value`].
    pub borrowed: fn(ValueRef<'_>) -> Result<T, DecodeError>,
    /// [`FieldType::from_row_value`].
    pub taken: fn(RowValue<'_>) -> Result<T, DecodeError>,
}

impl<T> Clone for Decoders<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Decoders<T> {}

/// Field types that support arithmetic in an atomic update (`Column::increment`).
pub trait Numeric: FieldType {}
impl Numeric for i64 {}
impl Numeric for i32 {}
impl Numeric for f64 {}

/// Field types that hold text, and so support `LIKE`-style filters.
pub trait Textual: FieldType {}
impl Textual for String {}
impl Textual for Option<String> {}

fn int_from(value: ValueRef<'_>, wanted: &str) -> Result<i64, DecodeError> {
    match value {
        ValueRef::Int(i) => Ok(i),
        // MySQL answers some integer expressions (SUM, DECIMAL columns) as text.
        ValueRef::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| value.mismatch(wanted)),
        other => Err(other.mismatch(wanted)),
    }
}

impl FieldType for i64 {
    type Inner = i64;
    const SQL_TYPE: SqlType = SqlType::BigInt;
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
    fn into_value(self) -> Value<'static> {
        Value::Int(self)
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        int_from(value, "an integer")
    }
}

impl FieldType for i32 {
    type Inner = i32;
    const SQL_TYPE: SqlType = SqlType::Int;
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
    fn into_value(self) -> Value<'static> {
        Value::Int(i64::from(self))
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        let wide = int_from(value, "a 32-bit integer")?;
        i32::try_from(wide).map_err(|_| DecodeError::new(format!("{wide} does not fit in an i32")))
    }
}

impl FieldType for bool {
    type Inner = bool;
    const SQL_TYPE: SqlType = SqlType::Bool;
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
    fn into_value(self) -> Value<'static> {
        Value::Int(i64::from(self))
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        match int_from(value, "a boolean (0 or 1)")? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::new(format!(
                "expected a boolean (0 or 1), found {other}"
            ))),
        }
    }
}

impl FieldType for f64 {
    type Inner = f64;
    const SQL_TYPE: SqlType = SqlType::Double;
    fn to_value(&self) -> Value<'_> {
        Value::Float(*self)
    }
    fn into_value(self) -> Value<'static> {
        Value::Float(self)
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        match value {
            ValueRef::Float(f) => Ok(f),
            // An integral REAL may come back as an integer from SQLite.
            ValueRef::Int(i) => Ok(i as f64),
            other => Err(other.mismatch("a float")),
        }
    }
}

impl FieldType for String {
    type Inner = String;
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
    fn into_value(self) -> Value<'static> {
        Value::Text(Cow::Owned(self))
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        match value {
            ValueRef::Bytes(b) => std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| not_utf8()),
            other => Err(other.mismatch("text")),
        }
    }
    fn from_row_value(value: RowValue<'_>) -> Result<Self, DecodeError> {
        match value {
            RowValue::Bytes(b) => String::from_utf8(b.into_owned()).map_err(|_| not_utf8()),
            other => Err(other.as_value_ref().mismatch("text")),
        }
    }
}

fn not_utf8() -> DecodeError {
    DecodeError::new("text is not valid UTF-8")
}

impl FieldType for Vec<u8> {
    type Inner = Vec<u8>;
    const SQL_TYPE: SqlType = SqlType::Blob;
    fn to_value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
    fn into_value(self) -> Value<'static> {
        Value::Blob(Cow::Owned(self))
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        match value {
            ValueRef::Bytes(b) => Ok(b.to_vec()),
            other => Err(other.mismatch("bytes")),
        }
    }
    fn from_row_value(value: RowValue<'_>) -> Result<Self, DecodeError> {
        match value {
            RowValue::Bytes(b) => Ok(b.into_owned()),
            other => Err(other.as_value_ref().mismatch("bytes")),
        }
    }
}

/// Marker for the types that `Option` may wrap: nested options have no column type.
pub trait NotNull: FieldType {}
impl NotNull for i64 {}
impl NotNull for i32 {}
impl NotNull for bool {}
impl NotNull for f64 {}
impl NotNull for String {}
impl NotNull for Vec<u8> {}

impl<T: NotNull> FieldType for Option<T> {
    type Inner = T;
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(inner) => inner.to_value(),
            None => Value::Null,
        }
    }
    fn into_value(self) -> Value<'static> {
        match self {
            Some(inner) => inner.into_value(),
            None => Value::Null,
        }
    }
    fn from_value(value: ValueRef<'_>) -> Result<Self, DecodeError> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
    fn from_row_value(value: RowValue<'_>) -> Result<Self, DecodeError> {
        match value {
            RowValue::Null => Ok(None),
            other => T::from_row_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_decodes_only_into_option() {
        assert_eq!(Option::<i64>::from_value(ValueRef::Null), Ok(None));
        assert!(i64::from_value(ValueRef::Null).is_err());
    }

    #[test]
    fn bool_refuses_other_integers() {
        assert_eq!(bool::from_value(ValueRef::Int(1)), Ok(true));
        assert!(bool::from_value(ValueRef::Int(2)).is_err());
    }

    #[test]
    fn integers_accept_decimal_text_from_mysql() {
        assert_eq!(i64::from_value(ValueRef::Bytes(b"42")), Ok(42));
        assert!(i64::from_value(ValueRef::Bytes(b"4x")).is_err());
        assert!(i32::from_value(ValueRef::Int(i64::MAX)).is_err());
    }

    #[test]
    fn invalid_utf8_is_a_decode_error() {
        assert!(String::from_value(ValueRef::Bytes(&[0xff, 0xfe])).is_err());
    }
}
