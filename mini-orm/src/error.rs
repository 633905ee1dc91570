//! The one error type of the crate, with variants that mean the same thing on every backend.

use std::fmt;

/// A boxed driver error, kept as the `source` of the portable variants.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a model and its database.
///
/// The variants are portable: a unique violation is [`Error::UniqueViolation`] whether it came
/// from SQLite or from MySQL, so a service can answer "name taken" without knowing the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The row asked for does not exist (`get`, or `update`/`delete` of a row that is gone).
    #[error("no row of `{table}` matches")]
    NotFound {
        /// The table that was searched.
        table: &'static str,
    },

    /// An insert or update would have put a second row with the same value into a unique column
    /// or set of columns.
    #[error("unique constraint violated on `{table}` ({})", columns.join(", "))]
    UniqueViolation {
        /// The table, when the driver or the model said which.
        table: String,
        /// The columns of the violated constraint, when known (empty when the driver's message
        /// names a constraint this crate did not create).
        columns: Vec<String>,
        /// The driver's own error.
        #[source]
        source: BoxError,
    },

    /// A write broke a foreign key (`#[field(references = Model)]`): an insert or update of a
    /// row whose key names no row of the referenced table, or the delete of a row that rows
    /// still reference with `on_delete = "restrict"`. The same variant on both backends (SQLite
    /// error `SQLITE_CONSTRAINT_FOREIGNKEY`, MySQL errors 1451, 1452, 1216, 1217).
    #[error("foreign key constraint violated by a write to `{table}`")]
    ForeignKeyViolation {
        /// The table the refused statement wrote (the referencing table for an insert, the
        /// referenced one for a delete); empty for hand-written SQL.
        table: String,
        /// The driver's own error.
        #[source]
        source: BoxError,
    },

    /// A text value is longer than the column's declared `max_len` (checked before the statement
    /// is sent, so both backends refuse it the same way).
    #[error("value of column `{column}` has {len} characters, more than its limit of {max_len}")]
    ValueTooLong {
        /// The column.
        column: &'static str,
        /// The declared limit, in characters.
        max_len: u32,
        /// The length of the refused value, in characters.
        len: usize,
    },

    /// A value read from the database cannot become the Rust type of its field.
    #[error("cannot decode column `{column}`: {message}")]
    Decode {
        /// The column (or, for positional rows, its position).
        column: String,
        /// What did not fit.
        message: String,
    },

    /// A query that cannot be expressed the same way on every backend, such as an update with
    /// nothing to set or a delete with a limit.
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),

    /// A table disagrees with the model that maps to it (found by
    /// [`Db::check_schema`](crate::Db::check_schema) or [`Migrations::run`](crate::Migrations::run)
    /// before any query could fail on it).
    #[error("table `{table}` does not match its model: {}", problems.join("; "))]
    SchemaMismatch {
        /// The table.
        table: String,
        /// One sentence per problem, each naming its column: missing, of another kind of value
        /// (integer, float, text, bytes), or nullable where the model is not (or the reverse).
        problems: Vec<String>,
    },

    /// A list of migrations that cannot be run as given (versions not strictly increasing, a
    /// step naming a column or an index its table does not declare, ...); nothing was run.
    #[error("invalid migrations: {0}")]
    InvalidMigration(String),

    /// The connection string is not one this crate understands.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The database cannot be reached or the connection broke (I/O error, server gone, database
    /// locked by another process for longer than the busy timeout). Retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] BoxError),

    /// The database rolled the whole transaction back to break a deadlock with another one
    /// (MySQL's error 1213): nothing of it remains, and running it again from the start usually
    /// succeeds. Two MySQL transactions inserting the same unique value, then updating the row
    /// they found, end this way. SQLite transactions take the write lock at `BEGIN` and never do.
    #[error("transaction rolled back to break a deadlock: {0}")]
    Deadlock(#[source] BoxError),

    /// Any other error reported by the driver (a syntax error in raw SQL, a type the server
    /// refused, a constraint other than uniqueness).
    #[error("database error: {0}")]
    Database(#[source] BoxError),
}

impl Error {
    /// True when this is a [`Error::UniqueViolation`].
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::UniqueViolation { .. })
    }

    /// True when this is a [`Error::ForeignKeyViolation`].
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Error::ForeignKeyViolation { .. })
    }

    /// True when this is a [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True when the database could not be reached ([`Error::Unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    /// True when the transaction was rolled back to break a deadlock ([`Error::Deadlock`]), so
    /// that running it again is the remedy.
    pub fn is_deadlock(&self) -> bool {
        matches!(self, Error::Deadlock(_))
    }
}

/// Why a database value could not be turned into a field's Rust type; becomes
/// [`Error::Decode`] once the column is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl DecodeError {
    /// A decode error with the given explanation.
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError(message.into())
    }

    /// Attaches the column name, making the crate's [`Error::Decode`].
    pub fn in_column(self, column: impl Into<String>) -> Error {
        Error::Decode {
            column: column.into(),
            message: self.0,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}
