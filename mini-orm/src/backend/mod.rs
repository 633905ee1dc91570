//! The two drivers behind [`Db`](crate::Db): each turns a [`Statement`](crate::sql::Statement)
//! into driver calls and driver errors into the crate's portable [`Error`](crate::Error).

pub(crate) mod mysql;
pub(crate) mod sqlite;
