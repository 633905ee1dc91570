//! Running one statement on a connection and reading its answer to the end, and closing a
//! connection whose answer is in doubt ([`discard`]).

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};
use tokio::time::timeout;

use crate::backend::Done;
use crate::backend::mysql::error::map_error;
use crate::error::Result;
use crate::sql::Statement;
use crate::table::row::{FromRow, Row, RowSource, positions_by_name};
use crate::value::Value;

/// A request at least this large (SQL text and parameters) leaves its connection slower for
/// good: MariaDB keeps the connection's network buffer at the size of the largest packet it
/// received, and then sends result sets in chunks that large, so the client can no longer read
/// rows while the server produces the next ones (measured on MariaDB 10.11: a 10 000-row read
/// took 6% longer after a 68 kB request, 24% after 204 kB, 62% after 1.36 MB, even after
/// `COM_RESET_CONNECTION`). Such a connection is closed after its statement (see [`big`]).
pub(super) const BIG_REQUEST: usize = 128 * 1024;

/// Closes `conn` for good: the pool's recycler discards a connection marked disconnected
/// instead of reusing it. The first poll of `Conn::disconnect` sets that mark before it awaits
/// anything (it then sends `COM_QUIT`), so the mark is set here and now, with or without a
/// runtime; the rest (reading what is left of an answer, the goodbye) runs in a task bounded by
/// `limit`, and when that task gives up it drops the connection, which closes its socket.
pub(super) fn discard(conn: Conn, limit: Duration) {
    let mut closing = Box::pin(conn.disconnect());
    let mut cx = Context::from_waker(Waker::noop());
    if closing.as_mut().poll(&mut cx).is_ready() {
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = timeout(limit, closing).await;
        });
    }
}

/// Whether `stmt`'s request is at least [`BIG_REQUEST`] bytes (about: the binary protocol's
/// overhead per parameter is counted as 10 bytes).
pub(super) fn big(stmt: &Statement<'_>) -> bool {
    let params: usize = stmt
        .params
        .iter()
        .map(|value| match value {
            Value::Text(s) => s.len() + 10,
            Value::Blob(b) => b.len() + 10,
            _ => 10,
        })
        .sum();
    stmt.sql.len() + params >= BIG_REQUEST
}

fn params(values: &[Value<'_>]) -> Params {
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
                Value::Blob(b) => mysql_async::Value::Bytes(b.to_vec()),
            })
            .collect(),
    )
}

/// Runs a statement that returns no rows and reads its answer to the end.
pub(super) async fn execute(conn: &mut Conn, stmt: &Statement<'_>) -> Result<Done> {
    let map = |e| map_error(e, stmt.table);
    let result = conn
        .exec_iter(&*stmt.sql, params(&stmt.params))
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

/// Runs a query and reads its answer to the end (every result set, so that the connection is
/// clean for the next statement). Each row's values are moved into the decoded rows, not copied.
pub(super) async fn fetch<R: FromRow>(conn: &mut Conn, stmt: &Statement<'_>) -> Result<Vec<R>> {
    let map = |e| map_error(e, stmt.table);
    let mut result = conn
        .exec_iter(&*stmt.sql, params(&stmt.params))
        .await
        .map_err(map)?;
    let columns = result.columns().unwrap_or_else(|| Arc::from([]));
    let positions = if stmt.columns_in_model_order {
        None
    } else {
        let names: Vec<_> = columns.iter().map(|c| c.name_str()).collect();
        positions_by_name::<R>(&names)?
    };
    let mut rows = Vec::new();
    let mut failed = None;
    result
        .for_each(|row| {
            if failed.is_none() {
                let mut values = row.unwrap_raw();
                let source = RowSource::MySql {
                    values: Cell::from_mut(values.as_mut_slice()).as_slice_of_cells(),
                    columns: &columns,
                };
                match R::from_row(&Row::new(source, positions.as_deref())) {
                    Ok(value) => rows.push(value),
                    Err(error) => failed = Some(error),
                }
            }
        })
        .await
        .map_err(map)?;
    result.drop_result().await.map_err(map)?;
    match failed {
        Some(error) => Err(error),
        None => Ok(rows),
    }
}
