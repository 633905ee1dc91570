//! MySQL and MariaDB through mysql_async: its pool, its per-connection statement cache, and
//! `CLIENT_FOUND_ROWS` so that an update reports the rows it matched, as SQLite does.
//!
//! **Time limit.** Every operation (getting a connection and running one statement to the end of
//! its rows; `START TRANSACTION`; `COMMIT`; `ROLLBACK`) must finish within the URL's
//! `timeout_ms` (default 10 s), or it fails with [`Error::Unavailable`], so that a
//! server that stops answering without closing anything cannot hang its callers.
//!
//! **No stale answers.** A connection whose request was sent but whose answer was not read to
//! the end must never serve another statement: it would read the old answer as the new one's.
//! Such a connection is [`discard`](run::discard)ed (closed, never back in the pool). mysql_async already
//! discards one whose future was dropped in the middle of a request (its `Conn::routine` marks
//! the connection disconnected for the duration), and drains one dropped in the middle of its
//! rows before reusing it; the timeouts here do not rely on that, and transactions, which run
//! several statements on one connection, track it themselves ([`MySqlTx`]).
//!
//! **Hot connections.** Taking a connection from mysql_async's pool and giving it back goes
//! through its recycler task, so the next statement usually gets *another* connection than the
//! one just returned; consecutive statements then alternate between server threads. A short
//! stack of connections that just finished a statement cleanly ([`Hot`](pool::Hot)) is taken first, most
//! recent first, which makes back-to-back statements run like statements on one connection.
//! While an operation waits for the pool, finished connections go to the pool instead (which
//! hands them to the waiters), and a connection that was sent a request of [`BIG_REQUEST`](run::BIG_REQUEST) or
//! more is closed after it.
//!
//! The files: [`pool`] (the pool, its hot connections and the URL's options), [`tx`]
//! (transactions), [`run`] (running one statement on a connection, and closing one whose answer
//! is in doubt), [`error`] (the portable errors for MySQL's).

mod error;
mod pool;
mod run;
mod tx;

pub(crate) use pool::MySqlDb;
pub(crate) use tx::MySqlTx;
