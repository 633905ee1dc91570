//! The pool: mysql_async's, with its size and the time limit from the URL, and in front of it
//! a short stack of hot connections ([`Hot`]); [`MySqlDb`] runs each statement on a connection
//! taken from them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use tokio::time::{Instant, timeout, timeout_at};

use crate::backend::Done;
use crate::backend::mysql::error::{Waiting, map_error, no_answer};
use crate::backend::mysql::run::{big, discard, execute, fetch};
use crate::backend::mysql::tx::MySqlTx;
use crate::error::{Error, Result};
use crate::sql::Statement;
use crate::table::row::FromRow;

/// Connections a pool keeps idle and opens at most, when the URL sets neither `pool_min` nor
/// `pool_max` (mysql_async's own default, 10 and 100, lets two busy pools exhaust MariaDB's
/// default `max_connections` of 151, and a server runs only a few statements per core at once).
const DEFAULT_POOL: (usize, usize) = (2, 16);
/// The time limit of one operation when the URL sets no `timeout_ms`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The URL parameter that sets the time limit, in milliseconds.
const TIMEOUT_PARAM: &str = "timeout_ms";
/// The largest `timeout_ms` accepted: a day (a larger one would overflow deadlines).
const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
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
            Ok(Ok(())) => Ok(MySqlTx::new(conn, self.limit)),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mysql_async::Opts;

    use super::{DEFAULT_POOL, DEFAULT_TIMEOUT, pool_opts, split_url};
    use crate::error::Error;

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
}
