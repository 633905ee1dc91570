//! MySQL and MariaDB through mysql_async: its pool, its per-connection statement cache, and
//! `CLIENT_FOUND_ROWS` so that an update reports the rows it matched, as SQLite does.
//!
//! **Time limit.** Every operation (getting a connection and running one statement to the end of
//! its rows; `START TRANSACTION`; `COMMIT`; `ROLLBACK`) must finish within the URL's
//! `timeout_ms` (default [`DEFAULT_TIMEOUT`]), or it fails with [`Error::Unavailable`], so that a
//! server that stops answering without closing anything cannot hang its callers.
//!
//! **No stale answers.** A connection whose request was sent but whose answer was not read to
//! the end must never serve another statement: it would read the old answer as the new one's.
//! Such a connection is [`discard`]ed (closed, never back in the pool). mysql_async already
//! discards one whose future was dropped in the middle of a request (its `Conn::routine` marks
//! the connection disconnected for the duration), and drains one dropped in the middle of its
//! rows before reusing it; the timeouts here do not rely on that, and transactions, which run
//! several statements on one connection, track it themselves ([`MySqlTx`]).
//!
//! **Hot connections.** Taking a connection from mysql_async's pool and giving it back goes
//! through its recycler task, so the next statement usually gets *another* connection than the
//! one just returned; consecutive statements then alternate between server threads. A short
//! stack of connections that just finished a statement cleanly ([`Hot`]) is taken first, most
//! recent first, which makes back-to-back statements run like statements on one connection.
//! While an operation waits for the pool, finished connections go to the pool instead (which
//! hands them to the waiters), and a connection that was sent a request of [`BIG_REQUEST`] or
//! more is closed after it.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts};
use tokio::time::{Instant, timeout, timeout_at};

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

/// Connections a pool keeps idle and opens at most, when the URL sets neither `pool_min` nor
/// `pool_max` (mysql_async's own default, 10 and 100, lets two busy pools exhaust MariaDB's
/// default `max_connections` of 151, and a server runs only a few statements per core at once).
const DEFAULT_POOL: (usize, usize) = (2, 16);
/// The time limit of one operation when the URL sets no `timeout_ms`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The URL parameter that sets the time limit, in milliseconds.
const TIMEOUT_PARAM: &str = "timeout_ms";
/// The largest `timeout_ms` accepted: a day (a larger one would overflow deadlines).
const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
/// A request at least this large (SQL text and parameters) leaves its connection slower for
/// good: MariaDB keeps the connection's network buffer at the size of the largest packet it
/// received, and then sends result sets in chunks that large, so the client can no longer read
/// rows while the server produces the next ones (measured on MariaDB 10.11: a 10 000-row read
/// took 6% longer after a 68 kB request, 24% after 204 kB, 62% after 1.36 MB, even after
/// `COM_RESET_CONNECTION`). Such a connection is closed after its statement (see [`big`]).
const BIG_REQUEST: usize = 128 * 1024;
/// At most this many hot connections are kept out of the pool.
const HOT_MAX: usize = 8;
/// A hot connection unused for longer than this goes back to the pool, whose check of idle
/// connections (a closed socket is replaced) then applies again.
const HOT_FOR: Duration = Duration::from_secs(1);

pub(crate) struct MySqlDb {
    pool: Pool,
    limit: Duration,
    hot: Mutex<Hot>,
}

/// Connections that just finished an operation cleanly, most recent last.
#[derive(Default)]
struct Hot {
    conns: Vec<(Conn, Instant)>,
    /// Operations waiting for the pool (found no hot connection): while there are any, a
    /// connection that finishes goes back to the pool, which hands it to one of them.
    waiting: usize,
    /// Set by `close`: connections go back to the pool, which is waiting for them.
    closed: bool,
}

/// One operation counted in [`Hot::waiting`] while it waits for the pool.
struct Waiter<'a>(&'a Mutex<Hot>);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting -= 1;
    }
}

/// The operation that got no answer in time, for [`NoAnswer`]'s message.
#[derive(Debug, Clone, Copy)]
enum Waiting {
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
struct TxClosed;

impl std::fmt::Display for TxClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the transaction's connection was closed after a statement in it timed out or was \
             cancelled; the server rolled the transaction back",
        )
    }
}

impl std::error::Error for TxClosed {}

fn no_answer(limit: Duration, waiting: Waiting) -> Error {
    Error::Unavailable(Box::new(NoAnswer { limit, waiting }))
}

/// Closes `conn` for good: the pool's recycler discards a connection marked disconnected
/// instead of reusing it. The first poll of `Conn::disconnect` sets that mark before it awaits
/// anything (it then sends `COM_QUIT`), so the mark is set here and now, with or without a
/// runtime; the rest (reading what is left of an answer, the goodbye) runs in a task bounded by
/// `limit`, and when that task gives up it drops the connection, which closes its socket.
fn discard(conn: Conn, limit: Duration) {
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

/// The pool's options: the URL's, with [`DEFAULT_POOL`] as its size unless the URL sets one.
fn pool_opts(opts: &Opts, url: &str) -> PoolOpts {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let sized_by_url = query
        .split('&')
        .any(|pair| pair.starts_with("pool_min=") || pair.starts_with("pool_max="));
    let mut pool_opts = opts.pool_opts().clone();
    if !sized_by_url {
        let (min, max) = DEFAULT_POOL;
        let constraints = PoolConstraints::new(min, max).expect("DEFAULT_POOL has min <= max");
        pool_opts = pool_opts.with_constraints(constraints);
    }
    // Resetting a connection on its return to the pool would also drop its prepared
    // statements; the only session state this crate leaves is a transaction, whose connection
    // is closed rather than returned when it did not end (see `MySqlTx`).
    pool_opts.with_reset_connection(false)
}

/// The URL mysql_async is given (without this crate's own parameters, which it would refuse)
/// and the time limit (`timeout_ms`).
fn split_url(url: &str) -> Result<(String, Duration)> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url, DEFAULT_TIMEOUT));
    };
    let mut limit = DEFAULT_TIMEOUT;
    let mut theirs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != TIMEOUT_PARAM {
            theirs.push(pair);
            continue;
        }
        let ms = value
            .parse::<u64>()
            .ok()
            .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
            .ok_or_else(|| {
                Error::InvalidUrl(format!(
                    "mysql URL: `{TIMEOUT_PARAM}` needs a number of milliseconds from 1 to \
                     {MAX_TIMEOUT_MS}, got `{value}`"
                ))
            })?;
        limit = Duration::from_millis(ms);
    }
    let url = if theirs.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", theirs.join("&"))
    };
    Ok((url, limit))
}

impl MySqlDb {
    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let (url, limit) = split_url(url)?;
        let opts = Opts::from_url(&url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let pool_opts = pool_opts(&opts, &url);
        let opts = OptsBuilder::from_opts(opts)
            .client_found_rows(true)
            .pool_opts(pool_opts)
            .init(vec!["SET NAMES utf8mb4 COLLATE utf8mb4_bin"]);
        let db = MySqlDb {
            pool: Pool::new(opts),
            limit,
            hot: Mutex::new(Hot::default()),
        };
        // Fail now, with a clear error, rather than at the first query.
        let conn = db.conn(Instant::now() + limit).await?;
        db.put_back(conn);
        Ok(db)
    }

    /// A connection for one operation that must be done by `deadline`: the most recent hot one,
    /// else one from the pool.
    async fn conn(&self, deadline: Instant) -> Result<Conn> {
        let _waiter = match self.take_hot() {
            Ok(conn) => return Ok(conn),
            Err(waiter) => waiter,
        };
        match timeout_at(deadline, self.pool.get_conn()).await {
            Ok(conn) => conn.map_err(|e| map_error(e, None)),
            Err(_) => Err(no_answer(self.limit, Waiting::Connection)),
        }
    }

    /// The most recent hot connection, else a place among those waiting for the pool.
    fn take_hot(&self) -> std::result::Result<Conn, Waiter<'_>> {
        let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, since)) = hot.conns.last()
            && since.elapsed() <= HOT_FOR
            && let Some((conn, _)) = hot.conns.pop()
        {
            return Ok(conn);
        }
        // None, or the most recent is too old, and so are all: back to the pool (outside the
        // lock), which checks idle connections before it hands them out.
        let stale = std::mem::take(&mut hot.conns);
        hot.waiting += 1;
        drop(hot);
        drop(stale);
        Err(Waiter(&self.hot))
    }

    /// Keeps `conn`, whose last operation ended cleanly, for the next one.
    fn put_back(&self, conn: Conn) {
        if conn.is_disconnected() {
            return; // the pool's recycler discards it
        }
        let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        if hot.closed || hot.waiting > 0 || hot.conns.len() >= HOT_MAX {
            drop(hot);
            drop(conn); // back to the pool
            return;
        }
        // The oldest goes back to the pool once it is stale, so that a steady stream of
        // statements, served by the most recent one, does not keep the others out of it.
        let stale = match hot.conns.first() {
            Some((_, since)) if since.elapsed() > HOT_FOR => Some(hot.conns.remove(0)),
            _ => None,
        };
        hot.conns.push((conn, Instant::now()));
        drop(hot);
        drop(stale);
    }

    /// The outcome of running `stmt` on `conn` within the time limit: a connection that ran
    /// out of time is discarded, and so is one that was sent a [`big`] request; otherwise one
    /// that succeeded stays hot, one that failed goes back to the pool (whose recycler checks
    /// it).
    fn settle<T>(
        &self,
        conn: Conn,
        stmt: &Statement<'_>,
        outcome: Result<Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        match outcome {
            Ok(result) if big(stmt) => {
                discard(conn, self.limit);
                result
            }
            Ok(Ok(value)) => {
                self.put_back(conn);
                Ok(value)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => {
                discard(conn, self.limit);
                Err(no_answer(self.limit, Waiting::Statement))
            }
        }
    }

    pub(crate) async fn execute(&self, stmt: &Statement<'_>) -> Result<Done> {
        let deadline = Instant::now() + self.limit;
        let mut conn = self.conn(deadline).await?;
        let outcome = timeout_at(deadline, execute(&mut conn, stmt)).await;
        self.settle(conn, stmt, outcome)
    }

    pub(crate) async fn fetch<R: FromRow>(&self, stmt: &Statement<'_>) -> Result<Vec<R>> {
        let deadline = Instant::now() + self.limit;
        let mut conn = self.conn(deadline).await?;
        let outcome = timeout_at(deadline, fetch(&mut conn, stmt)).await;
        self.settle(conn, stmt, outcome)
    }

    pub(crate) async fn begin(&self) -> Result<MySqlTx> {
        let deadline = Instant::now() + self.limit;
        let mut conn = self.conn(deadline).await?;
        match timeout_at(deadline, conn.query_drop("START TRANSACTION")).await {
            Ok(Ok(())) => Ok(MySqlTx {
                conn: Some(conn),
                limit: self.limit,
                busy: false,
                big: false,
            }),
            // Nothing was started; the pool's recycler checks the connection.
            Ok(Err(e)) => Err(map_error(e, None)),
            Err(_) => {
                discard(conn, self.limit);
                Err(no_answer(self.limit, Waiting::Begin))
            }
        }
    }

    pub(crate) async fn close(&self) -> Result<()> {
        let hot = {
            let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
            hot.closed = true;
            std::mem::take(&mut hot.conns)
        };
        drop(hot); // back to the pool, which closes them
        match timeout(self.limit, self.pool.clone().disconnect()).await {
            Ok(closed) => closed.map_err(|e| map_error(e, None)),
            Err(_) => Err(no_answer(self.limit, Waiting::Close)),
        }
    }
}

/// A MySQL transaction on a connection of its own. A connection is never returned to the pool
/// with the transaction still open: after `COMMIT` or `ROLLBACK` it is, otherwise (dropped
/// unfinished, a statement that timed out or whose future was dropped half-way) it is
/// [`discard`]ed, and the server rolls the transaction back when the connection closes.
pub(crate) struct MySqlTx {
    /// `None` once the connection was discarded.
    conn: Option<Conn>,
    limit: Duration,
    /// A statement started and did not finish: its future was dropped half-way, so its answer
    /// may still be on the way.
    busy: bool,
    /// A statement was [`big`]: the connection is closed, not pooled, after `COMMIT`.
    big: bool,
}

impl MySqlTx {
    /// The connection, if it can take another statement, marked busy until [`MySqlTx::settle`]:
    /// one whose last statement did not finish is discarded first.
    fn start(&mut self) -> Result<&mut Conn> {
        if self.busy
            && let Some(conn) = self.conn.take()
        {
            discard(conn, self.limit);
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::Unavailable(Box::new(TxClosed)))?;
        self.busy = true;
        Ok(conn)
    }

    /// What a timed operation on the connection came to; on timeout the connection is
    /// discarded, which ends the transaction.
    fn settle<T>(
        &mut self,
        outcome: Result<Result<T>, tokio::time::error::Elapsed>,
        waiting: Waiting,
    ) -> Result<T> {
        match outcome {
            Ok(result) => {
                self.busy = false;
                result
            }
            Err(_) => {
                if let Some(conn) = self.conn.take() {
                    discard(conn, self.limit);
                }
                Err(no_answer(self.limit, waiting))
            }
        }
    }

    pub(crate) async fn execute(&mut self, stmt: &Statement<'_>) -> Result<Done> {
        self.big |= big(stmt);
        let limit = self.limit;
        let outcome = timeout(limit, execute(self.start()?, stmt)).await;
        self.settle(outcome, Waiting::Statement)
    }

    pub(crate) async fn fetch<R: FromRow>(&mut self, stmt: &Statement<'_>) -> Result<Vec<R>> {
        self.big |= big(stmt);
        let limit = self.limit;
        let outcome = timeout(limit, fetch(self.start()?, stmt)).await;
        self.settle(outcome, Waiting::Statement)
    }

    pub(crate) async fn commit(self) -> Result<()> {
        self.end("COMMIT", Waiting::Commit).await
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        self.end("ROLLBACK", Waiting::Rollback).await
    }

    /// Runs `COMMIT` or `ROLLBACK`; the connection goes back to the pool only when it succeeded
    /// (after an error, whether the transaction is still open is not known, and dropping `self`
    /// discards it) and no statement of the transaction was [`big`].
    async fn end(mut self, sql: &'static str, waiting: Waiting) -> Result<()> {
        let limit = self.limit;
        let outcome = timeout(limit, self.start()?.query_drop(sql)).await;
        self.settle(outcome.map(|r| r.map_err(|e| map_error(e, None))), waiting)?;
        match self.conn.take() {
            Some(conn) if self.big => discard(conn, limit),
            conn => drop(conn), // back to the pool
        }
        Ok(())
    }
}

impl Drop for MySqlTx {
    /// Unfinished, or its `COMMIT`/`ROLLBACK` failed: the connection still has the transaction
    /// open, so it is closed, not pooled.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            discard(conn, self.limit);
        }
    }
}

/// Whether `stmt`'s request is at least [`BIG_REQUEST`] bytes (about: the binary protocol's
/// overhead per parameter is counted as 10 bytes).
fn big(stmt: &Statement<'_>) -> bool {
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
async fn execute(conn: &mut Conn, stmt: &Statement<'_>) -> Result<Done> {
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
/// clean for the next statement).
async fn fetch<R: FromRow>(conn: &mut Conn, stmt: &Statement<'_>) -> Result<Vec<R>> {
    let map = |e| map_error(e, stmt.table);
    let mut result = conn
        .exec_iter(&*stmt.sql, params(&stmt.params))
        .await
        .map_err(map)?;
    let positions = if stmt.columns_in_model_order {
        None
    } else {
        let names: Vec<_> = result.columns_ref().iter().map(|c| c.name_str()).collect();
        positions_by_name::<R>(&names)?
    };
    let mut rows = Vec::new();
    let mut failed = None;
    result
        .for_each(|row| {
            if failed.is_none() {
                match R::from_row(&Row::new(RowSource::MySql(&row), positions.as_deref())) {
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
    use std::time::Duration;

    use mysql_async::Opts;

    use super::{
        DEFAULT_POOL, DEFAULT_TIMEOUT, NoAnswer, Waiting, duplicate_key_name, pool_opts, split_url,
    };
    use crate::Error;

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
    fn the_pool_is_sized_by_the_url_or_else_by_the_crate_default() {
        let size = |url: &str| {
            let opts = pool_opts(&Opts::from_url(url).unwrap(), url);
            (opts.constraints().min(), opts.constraints().max())
        };
        assert_eq!(size("mysql://u@h/db"), DEFAULT_POOL);
        assert_eq!(size("mysql://u@h/db?stmt_cache_size=8"), DEFAULT_POOL);
        assert_eq!(size("mysql://u@h/db?pool_min=1&pool_max=4"), (1, 4));
        assert_eq!(size("mysql://u@h/db?pool_max=200").1, 200);
    }

    #[test]
    fn timeout_ms_is_taken_out_of_the_url_and_the_rest_is_kept() {
        let cases = [
            ("mysql://u@h/db", "mysql://u@h/db", DEFAULT_TIMEOUT),
            ("mariadb://u@h/db", "mysql://u@h/db", DEFAULT_TIMEOUT),
            (
                "mysql://u@h/db?timeout_ms=250",
                "mysql://u@h/db",
                Duration::from_millis(250),
            ),
            (
                "mysql://u@h/db?pool_max=4&timeout_ms=2000&stmt_cache_size=8",
                "mysql://u@h/db?pool_max=4&stmt_cache_size=8",
                Duration::from_secs(2),
            ),
            (
                "mysql://u@h/db?pool_max=4",
                "mysql://u@h/db?pool_max=4",
                DEFAULT_TIMEOUT,
            ),
        ];
        for (url, theirs, limit) in cases {
            assert_eq!(split_url(url).unwrap(), (theirs.to_owned(), limit), "{url}");
        }
    }

    #[test]
    fn a_timeout_ms_that_is_not_a_sensible_number_is_an_invalid_url() {
        for value in [
            "",
            "abc",
            "0",
            "-5",
            "1.5",
            "86400001",
            "99999999999999999999",
        ] {
            let url = format!("mysql://u@h/db?timeout_ms={value}");
            match split_url(&url) {
                Err(Error::InvalidUrl(message)) => {
                    assert!(message.contains("timeout_ms"), "{url}: {message}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(split_url("mysql://u@h/db?timeout_ms").is_err());
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
