//! MySQL and MariaDB through mysql_async: its pool, its per-connection statement cache, and
//! `CLIENT_FOUND_ROWS` so that an update reports the rows it matched, as SQLite does.

use mysql_async::prelude::Queryable;
use mysql_async::{DriverError, Opts, OptsBuilder, Params, Pool, TxOpts};

use crate::error::{Error, Result};
use crate::exec::Done;
use crate::model::{FromRow, Row, RowSource, TableDef, positions_by_name};
use crate::sql::{PARAMS_MISMATCH, Statement};
use crate::value::Value;

/// MySQL error codes this crate classifies.
mod code {
    pub const DUP_ENTRY: u16 = 1062;
    pub const LOCK_DEADLOCK: u16 = 1213;
    pub const CON_COUNT: u16 = 1040;
    pub const SERVER_SHUTDOWN: u16 = 1053;
    pub const CONNECTION_KILLED: u16 = 1927;
}

pub(crate) struct MySqlDb {
    pool: Pool,
}

impl MySqlDb {
    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let url = url.replacen("mariadb://", "mysql://", 1);
        let opts = Opts::from_url(&url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let pool_opts = opts
            .pool_opts()
            .clone()
            // Resetting a connection on its return to the pool would also drop its prepared
            // statements; the only session state this crate leaves is a transaction, which
            // mysql_async rolls back itself.
            .with_reset_connection(false);
        let opts = OptsBuilder::from_opts(opts)
            .client_found_rows(true)
            .pool_opts(pool_opts)
            .init(vec!["SET NAMES utf8mb4 COLLATE utf8mb4_bin"]);
        let db = MySqlDb {
            pool: Pool::new(opts),
        };
        // Fail now, with a clear error, rather than at the first query.
        let conn = db.pool.get_conn().await.map_err(|e| map_error(e, None))?;
        drop(conn);
        Ok(db)
    }

    pub(crate) async fn execute(&self, stmt: &Statement) -> Result<Done> {
        let mut conn = self.pool.get_conn().await.map_err(|e| map_error(e, None))?;
        execute(&mut conn, stmt).await
    }

    pub(crate) async fn fetch<R: FromRow>(&self, stmt: &Statement) -> Result<Vec<R>> {
        let mut conn = self.pool.get_conn().await.map_err(|e| map_error(e, None))?;
        fetch(&mut conn, stmt).await
    }

    pub(crate) async fn begin(&self) -> Result<mysql_async::Transaction<'static>> {
        self.pool
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| map_error(e, None))
    }

    pub(crate) async fn close(&self) -> Result<()> {
        self.pool
            .clone()
            .disconnect()
            .await
            .map_err(|e| map_error(e, None))
    }
}

pub(crate) async fn commit(tx: mysql_async::Transaction<'static>) -> Result<()> {
    tx.commit().await.map_err(|e| map_error(e, None))
}

pub(crate) async fn rollback(tx: mysql_async::Transaction<'static>) -> Result<()> {
    tx.rollback().await.map_err(|e| map_error(e, None))
}

fn params(values: &[Value]) -> Params {
    if values.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        values
            .iter()
            .map(|value| match value {
                Value::Null => mysql_async::Value::NULL,
                Value::Int(i) => mysql_async::Value::Int(*i),
                Value::Float(f) => mysql_async::Value::Double(*f),
                Value::Text(s) => mysql_async::Value::Bytes(s.as_bytes().to_vec()),
                Value::Blob(b) => mysql_async::Value::Bytes(b.clone()),
            })
            .collect(),
    )
}

/// Runs a statement that returns no rows, on a connection or inside a transaction.
pub(crate) async fn execute(conn: &mut impl Queryable, stmt: &Statement) -> Result<Done> {
    let map = |e| map_error(e, stmt.table);
    let result = conn
        .exec_iter(stmt.sql.as_str(), params(&stmt.params))
        .await
        .map_err(map)?;
    let done = Done {
        rows_matched: result.affected_rows(),
        last_insert_id: result
            .last_insert_id()
            .and_then(|id| i64::try_from(id).ok()),
    };
    result.drop_result().await.map_err(map)?;
    Ok(done)
}

/// Runs a query, on a connection or inside a transaction.
pub(crate) async fn fetch<R: FromRow>(
    conn: &mut impl Queryable,
    stmt: &Statement,
) -> Result<Vec<R>> {
    let map = |e| map_error(e, stmt.table);
    let mut result = conn
        .exec_iter(stmt.sql.as_str(), params(&stmt.params))
        .await
        .map_err(map)?;
    let positions = if stmt.columns_in_model_order {
        None
    } else {
        let names: Vec<_> = result.columns_ref().iter().map(|c| c.name_str()).collect();
        positions_by_name::<R>(&names)?
    };
    let rows = result
        .map(|row| R::from_row(&Row::new(RowSource::MySql(&row), positions.as_deref())))
        .await
        .map_err(map)?;
    rows.into_iter().collect()
}

/// The portable error for a mysql_async error; `table` lets a duplicate-key error name the
/// columns of the index this crate created.
fn map_error(error: mysql_async::Error, table: Option<&TableDef>) -> Error {
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
    use super::duplicate_key_name;

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
}
