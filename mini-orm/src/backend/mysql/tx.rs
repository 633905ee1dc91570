//! [`MySqlTx`]: a transaction on a connection of its own, which never goes back to the pool
//! with the transaction still open.

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tokio::time::timeout;

use crate::backend::Done;
use crate::backend::mysql::error::{TxClosed, Waiting, map_error, no_answer};
use crate::backend::mysql::run::{big, discard, execute, fetch};
use crate::error::{Error, Result};
use crate::sql::Statement;
use crate::table::row::FromRow;

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
    /// The transaction just started on `conn` (`START TRANSACTION` succeeded).
    pub(super) fn new(conn: Conn, limit: Duration) -> Self {
        MySqlTx {
            conn: Some(conn),
            limit,
            busy: false,
            big: false,
        }
    }

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
