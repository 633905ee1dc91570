//! The portable [`Error`] for each MySQL failure: server and driver errors ([`map_error`]),
//! and the time limit's own ([`no_answer`], [`TxClosed`]).

use std::time::Duration;

use mysql_async::DriverError;

use crate::error::Error;
use crate::sql::PARAMS_MISMATCH;
use crate::table::TableDef;

/// MySQL error codes this crate classifies.
mod code {
    pub const DUP_ENTRY: u16 = 1062;
    /// A parent row still referenced (1451) or a child row without its parent (1452), and
    /// their older forms (1217, 1216).
    pub const FOREIGN_KEY: [u16; 4] = [1451, 1452, 1216, 1217];
    pub const LOCK_DEADLOCK: u16 = 1213;
    pub const CON_COUNT: u16 = 1040;
    pub const SERVER_SHUTDOWN: u16 = 1053;
    pub const CONNECTION_KILLED: u16 = 1927;
}

/// The operation that got no answer in time, for [`NoAnswer`]'s message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Waiting {
    Connection,
    Statement,
    Begin,
    Commit,
    Rollback,
    Close,
}

/// The error inside [`Error::Unavailable`] when MySQL did not answer within the time limit.
#[derive(Debug)]
struct NoAnswer {
    limit: Duration,
    waiting: Waiting,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.limit.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "no answer from MySQL within {} s", ms / 1000)?;
        } else {
            write!(f, "no answer from MySQL within {ms} ms")?;
        }
        f.write_str(match self.waiting {
            Waiting::Connection => " (connecting, or waiting for a free connection)",
            Waiting::Statement => " (running a statement)",
            Waiting::Begin => " (starting a transaction)",
            Waiting::Commit => " (committing)",
            Waiting::Rollback => " (rolling back)",
            Waiting::Close => " (closing the pool)",
        })
    }
}

impl std::error::Error for NoAnswer {}

/// The error inside [`Error::Unavailable`] for a transaction whose connection was closed.
#[derive(Debug)]
pub(super) struct TxClosed;

impl std::fmt::Display for TxClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the transaction's connection was closed after a statement in it timed out or was \
             cancelled; the server rolled the transaction back",
        )
    }
}

impl std::error::Error for TxClosed {}

pub(super) fn no_answer(limit: Duration, waiting: Waiting) -> Error {
    Error::Unavailable(Box::new(NoAnswer { limit, waiting }))
}

/// The portable error for a mysql_async error; `table` lets a duplicate-key error name the
/// columns of the index this crate created.
pub(super) fn map_error(error: mysql_async::Error, table: Option<&TableDef>) -> Error {
    match &error {
        mysql_async::Error::Server(server) if server.code == code::DUP_ENTRY => {
            let key = duplicate_key_name(&server.message).unwrap_or_default();
            let columns = table.map(|t| key_columns(t, key)).unwrap_or_default();
            Error::UniqueViolation {
                table: table.map(|t| t.name.to_owned()).unwrap_or_default(),
                columns,
                source: Box::new(error),
            }
        }
        mysql_async::Error::Server(server) if code::FOREIGN_KEY.contains(&server.code) => {
            Error::ForeignKeyViolation {
                table: table.map(|t| t.name.to_owned()).unwrap_or_default(),
                source: Box::new(error),
            }
        }
        mysql_async::Error::Server(server)
            if matches!(
                server.code,
                code::CON_COUNT | code::SERVER_SHUTDOWN | code::CONNECTION_KILLED
            ) =>
        {
            Error::Unavailable(Box::new(error))
        }
        mysql_async::Error::Server(server) if server.code == code::LOCK_DEADLOCK => {
            Error::Deadlock(Box::new(error))
        }
        mysql_async::Error::Io(_) => Error::Unavailable(Box::new(error)),
        mysql_async::Error::Driver(driver) => match driver {
            DriverError::StmtParamsMismatch { .. }
            | DriverError::StmtParamsNumberExceedsLimit { .. } => {
                Error::InvalidQuery(PARAMS_MISMATCH)
            }
            DriverError::ConnectionClosed
            | DriverError::PoolDisconnected
            | DriverError::PacketOutOfOrder
            | DriverError::UnexpectedPacket { .. } => Error::Unavailable(Box::new(error)),
            _ => Error::Database(Box::new(error)),
        },
        mysql_async::Error::Url(_) => Error::InvalidUrl(error.to_string()),
        _ => Error::Database(Box::new(error)),
    }
}

/// The columns of the unique key `key` of `table`, as the schema named it.
fn key_columns(table: &TableDef, key: &str) -> Vec<String> {
    if key == "PRIMARY" {
        return vec![table.primary_key().name.to_owned()];
    }
    let index = table
        .indexes
        .iter()
        .find(|i| i.unique && i.name(table.name) == key);
    index.map_or_else(Vec::new, |i| {
        i.columns.iter().map(|c| (*c).to_owned()).collect()
    })
}

/// The key in "Duplicate entry 'x' for key 'user_info_name_key'" (MariaDB) or
/// "... for key 'user_info.user_info_name_key'" (MySQL 8).
fn duplicate_key_name(message: &str) -> Option<&str> {
    let quoted = message.rsplit_once("for key '")?.1.strip_suffix('\'')?;
    Some(quoted.rsplit_once('.').map_or(quoted, |(_, name)| name))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{NoAnswer, Waiting, duplicate_key_name};

    #[test]
    fn duplicate_key_name_from_mariadb_and_mysql_messages() {
        assert_eq!(
            duplicate_key_name("Duplicate entry 'bob' for key 'user_info_name_key'"),
            Some("user_info_name_key")
        );
        assert_eq!(
            duplicate_key_name("Duplicate entry 'bob' for key 'user_info.user_info_name_key'"),
            Some("user_info_name_key")
        );
        assert_eq!(duplicate_key_name("something else"), None);
    }

    #[test]
    fn the_timeout_message_says_how_long_was_waited_for_what() {
        let message = |ms, waiting| {
            NoAnswer {
                limit: Duration::from_millis(ms),
                waiting,
            }
            .to_string()
        };
        assert_eq!(
            message(10_000, Waiting::Statement),
            "no answer from MySQL within 10 s (running a statement)"
        );
        assert_eq!(
            message(300, Waiting::Commit),
            "no answer from MySQL within 300 ms (committing)"
        );
    }
}
