//! Where statements run: the [`Db`] handle, [`Transaction`]s, and the [`Executor`] trait that lets
//! every operation take either.

use std::sync::Arc;
#[cfg(feature = "testing")]
use std::sync::OnceLock;
use std::time::Instant;

use crate::backend::Done;
use crate::backend::mysql::{MySqlDb, MySqlTx};
use crate::backend::sqlite::{SqliteDb, SqliteTx};
use crate::error::{Error, Result};
use crate::sql::{Backend, Statement, schema, search};
use crate::table::Table;
use crate::table::row::FromRow;

/// A connection pool to one database, chosen by URL. Cheap to clone; clones share the pool.
///
/// | URL | backend |
/// |---|---|
/// | `sqlite::memory:` | a private in-memory SQLite database |
/// | `sqlite://data/app.db`, `sqlite:///abs/app.db` | a SQLite file (created if missing), in WAL mode |
/// | `mysql://user:password@host:3306/database` | MySQL or MariaDB |
///
/// SQLite statements run on the calling task, without a hop to another thread: reads use a
/// small pool of read-only connections, writes and transactions one writer connection that tasks
/// take in turn, so concurrent writers in one process never see `SQLITE_BUSY`. Other processes
/// writing the same file are waited for up to the busy timeout (5 s; `?busy_timeout_ms=N`).
///
/// MySQL operations have a time limit: getting a connection and running one statement to the
/// end of its rows, `begin`, `commit` and `rollback` each fail with
/// [`Error::Unavailable`](crate::Error::Unavailable) ("no answer from MySQL within 10 s") when
/// the server does not answer in time (10 s; `?timeout_ms=N`, from 1 to 86 400 000). A
/// connection that ran out of time is closed, never reused, and a transaction whose statement
/// ran out of time is over (the server rolls it back). The URL's other parameters are
/// mysql_async's (`pool_min`, `pool_max`, `stmt_cache_size`, ...).
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

enum DbInner {
    Sqlite(SqliteDb),
    MySql(MySqlDb),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Db {
    /// Opens a pool for `url` (see the table above) and checks that the database answers.
    pub async fn connect(url: &str) -> Result<Db> {
        let inner = if let Some(rest) = url.strip_prefix("sqlite:") {
            DbInner::Sqlite(SqliteDb::open(rest)?)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            DbInner::MySql(MySqlDb::connect(url).await?)
        } else {
            return Err(Error::InvalidUrl(format!(
                "`{url}`: expected sqlite::memory:, sqlite://PATH or mysql://USER@HOST/DATABASE"
            )));
        };
        Ok(Db {
            inner: Arc::new(inner),
        })
    }

    /// The backend this pool talks to.
    pub fn backend(&self) -> Backend {
        match &*self.inner {
            DbInner::Sqlite(_) => Backend::Sqlite,
            DbInner::MySql(_) => Backend::MySql,
        }
    }

    /// Starts a transaction. It ends with [`Transaction::commit`]; dropped without one, it rolls
    /// back. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so it cannot fail
    /// half-way with `SQLITE_BUSY`.
    pub async fn begin(&self) -> Result<Transaction> {
        let inner = match &*self.inner {
            DbInner::Sqlite(db) => TxInner::Sqlite(db.begin().await?),
            DbInner::MySql(db) => TxInner::MySql(db.begin().await?),
        };
        Ok(Transaction { inner })
    }

    /// Creates `M`'s table and its indexes if they do not exist yet (idempotent), and, when `M`
    /// has searchable fields, the term table of full-text search that all models share
    /// (`mini_orm_terms`).
    pub async fn create_table<M: Table>(&self) -> Result<()> {
        let mut statements = schema::create_table(self.backend(), M::DEF);
        if !M::SEARCHABLE.is_empty() {
            self.upgrade_terms_table().await?;
            statements.extend(search::create_terms_table(self.backend()));
        }
        self.run_ddl(statements).await
    }

    /// Rebuilds a SQLite term table of the first form in the current one, rows kept, in one
    /// transaction (once: afterwards the table is of the current form).
    async fn upgrade_terms_table(&self) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Ok(());
        }
        let first_form = async |exec: &mut Transaction| -> Result<bool> {
            let sql = Statement::text(search::SQLITE_TERMS_TABLE_SQL.to_owned(), Vec::new());
            let existing: Vec<(String,)> = fetch(exec, sql).await?;
            Ok(existing
                .first()
                .is_some_and(|(sql,)| search::is_first_sqlite_form(sql)))
        };
        let mut tx = self.begin().await?;
        // Asked inside the transaction: another process may have rebuilt it meanwhile.
        if !first_form(&mut tx).await? {
            return Ok(());
        }
        tracing::info!("rebuilding the full-text term table in its current form");
        for statement in search::upgrade_sqlite_terms_table() {
            execute(&mut tx, Statement::text(statement, Vec::new())).await?;
        }
        tx.commit().await
    }

    /// Drops `M`'s table if it exists, and, when `M` has searchable fields, removes its rows'
    /// terms from the term table (first, so that a row of a table created again under the same
    /// name never shows up for an old row's words).
    pub async fn drop_table<M: Table>(&self) -> Result<()> {
        if !M::SEARCHABLE.is_empty() {
            self.run_ddl(search::create_terms_table(self.backend()))
                .await?;
            execute(self, search::delete_table_terms(self.backend(), M::DEF)).await?;
        }
        let sql = schema::drop_table(self.backend(), M::DEF);
        execute(self, Statement::text(sql, Vec::new())).await?;
        Ok(())
    }

    async fn run_ddl(&self, statements: Vec<String>) -> Result<()> {
        for sql in statements {
            execute(self, Statement::text(sql, Vec::new())).await?;
        }
        Ok(())
    }

    /// Closes the pool's connections, waiting for MySQL connections to say goodbye. Other clones
    /// of this `Db` fail with [`Error::Unavailable`](crate::Error::Unavailable) afterwards.
    pub async fn close(&self) -> Result<()> {
        match &*self.inner {
            DbInner::Sqlite(_) => Ok(()),
            DbInner::MySql(db) => db.close().await,
        }
    }
}

/// A database transaction: every operation given `&mut tx` runs inside it.
///
/// ```
/// # use mini_orm::{Db, Model};
/// # #[derive(Model)]
/// # struct Notice { #[field(primary_key)] id: i64, user_id: i64 }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// # let db = Db::connect("sqlite::memory:").await?;
/// # db.create_table::<Notice>().await?;
/// let mut tx = db.begin().await?;
/// let mut notice = Notice { id: 0, user_id: 7 };
/// notice.save(&mut tx).await?;
/// Notice::query().filter(Notice::USER_ID.eq(8)).delete(&mut tx).await?;
/// tx.commit().await?; // without this, dropping `tx` rolls everything back
/// # assert_eq!(Notice::query().count(&db).await?, 1);
/// # Ok(())
/// # }
/// ```
pub struct Transaction {
    inner: TxInner,
}

enum TxInner {
    Sqlite(SqliteTx),
    MySql(MySqlTx),
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Transaction {
    pub(crate) fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::MySql(_) => Backend::MySql,
        }
    }

    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit(),
            TxInner::MySql(tx) => tx.commit().await,
        }
    }

    /// Discards the transaction's changes (as dropping it does, but reporting errors).
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback(),
            TxInner::MySql(tx) => tx.rollback().await,
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &super::Db {}
    impl Sealed for &mut super::Transaction {}
}

/// Where an operation runs: `&Db` (each statement on its own, autocommitted) or
/// `&mut Transaction` (inside the transaction).
pub trait Executor: Send + sealed::Sealed {
    /// The backend, which decides the SQL dialect.
    fn backend(&self) -> Backend;
    #[doc(hidden)]
    fn target(&mut self) -> Target<'_>;
}

/// The transaction a write of several statements runs in: the caller's, when `exec` is one, or
/// one begun for the write, committed by [`WriteTx::finish`] (dropped unfinished, it rolls back).
pub(crate) enum WriteTx<'a> {
    Callers(&'a mut Transaction),
    Own(Transaction),
}

impl<'a> WriteTx<'a> {
    /// `exec`'s transaction, or a new one on its `Db`.
    pub(crate) async fn of(exec: &'a mut impl Executor) -> Result<WriteTx<'a>> {
        Ok(match exec.target() {
            Target::Tx(tx) => WriteTx::Callers(tx),
            Target::Db(db) => WriteTx::Own(db.begin().await?),
        })
    }

    /// The transaction to write in.
    pub(crate) fn tx(&mut self) -> &mut Transaction {
        match self {
            WriteTx::Callers(tx) => tx,
            WriteTx::Own(tx) => tx,
        }
    }

    /// Commits a transaction begun for the write; the caller's is left to the caller.
    pub(crate) async fn finish(self) -> Result<()> {
        match self {
            WriteTx::Callers(_) => Ok(()),
            WriteTx::Own(tx) => tx.commit().await,
        }
    }
}

#[doc(hidden)]
pub enum Target<'a> {
    Db(&'a Db),
    Tx(&'a mut Transaction),
}

impl Executor for &Db {
    fn backend(&self) -> Backend {
        Db::backend(self)
    }
    fn target(&mut self) -> Target<'_> {
        Target::Db(self)
    }
}

impl Executor for &mut Transaction {
    fn backend(&self) -> Backend {
        Transaction::backend(self)
    }
    fn target(&mut self) -> Target<'_> {
        Target::Tx(self)
    }
}

// The MySQL futures are boxed: they are large, and unboxed they would make every SQLite
// statement's future (moved on each poll set-up) several times larger too. One allocation is
// nothing next to a network round trip.
pub(crate) async fn execute(mut exec: impl Executor, stmt: Statement<'_>) -> Result<Done> {
    let started = Instant::now();
    let done = match exec.target() {
        Target::Db(db) => match &*db.inner {
            DbInner::Sqlite(db) => db.execute(&stmt).await,
            DbInner::MySql(db) => Box::pin(db.execute(&stmt)).await,
        },
        Target::Tx(tx) => match &mut tx.inner {
            TxInner::Sqlite(tx) => tx.execute(&stmt),
            TxInner::MySql(tx) => Box::pin(tx.execute(&stmt)).await,
        },
    };
    trace(&stmt, started, done.as_ref().map(|d| d.rows_matched));
    done
}

/// Runs `statements` atomically (in a transaction of its own when there is more than one and
/// `exec` is not already one); returns the rows they matched in all.
pub(crate) async fn execute_all(
    mut exec: impl Executor,
    statements: Vec<Statement<'_>>,
) -> Result<u64> {
    let mut own_tx = match exec.target() {
        Target::Db(db) if statements.len() > 1 => Some(db.begin().await?),
        _ => None,
    };
    let mut rows = 0;
    for stmt in statements {
        let done = match (own_tx.as_mut(), exec.target()) {
            (Some(tx), _) | (None, Target::Tx(tx)) => execute(tx, stmt).await?,
            (None, Target::Db(db)) => execute(db, stmt).await?,
        };
        rows += done.rows_matched;
    }
    if let Some(tx) = own_tx {
        tx.commit().await?;
    }
    Ok(rows)
}

pub(crate) async fn fetch<R: FromRow>(
    mut exec: impl Executor,
    stmt: Statement<'_>,
) -> Result<Vec<R>> {
    let started = Instant::now();
    let rows = match exec.target() {
        Target::Db(db) => match &*db.inner {
            DbInner::Sqlite(db) => db.fetch(&stmt).await,
            DbInner::MySql(db) => Box::pin(db.fetch(&stmt)).await,
        },
        Target::Tx(tx) => match &mut tx.inner {
            TxInner::Sqlite(tx) => tx.fetch(&stmt),
            TxInner::MySql(tx) => Box::pin(tx.fetch(&stmt)).await,
        },
    };
    trace(&stmt, started, rows.as_ref().map(|r| r.len() as u64));
    rows
}

/// Runs queries one after the other on the same executor and returns all their rows.
pub(crate) async fn fetch_each<R: FromRow>(
    mut exec: impl Executor,
    statements: Vec<Statement<'_>>,
) -> Result<Vec<R>> {
    let mut rows = Vec::new();
    match exec.target() {
        Target::Db(db) => {
            for stmt in statements {
                rows.extend(fetch(db, stmt).await?);
            }
        }
        Target::Tx(tx) => {
            for stmt in statements {
                rows.extend(fetch(&mut *tx, stmt).await?);
            }
        }
    }
    Ok(rows)
}

/// The function that sees the text of every statement run, once set (with feature `testing`,
/// by the test helpers, which keep a log of them).
#[cfg(feature = "testing")]
static OBSERVER: OnceLock<fn(&str)> = OnceLock::new();

/// Makes `observer` see the text of every statement from now on, after it ran (bound values
/// are never shown to it). The first observer set stays: later calls change nothing.
#[cfg(feature = "testing")]
pub(crate) fn observe_statements(observer: fn(&str)) {
    let _ = OBSERVER.set(observer);
}

/// One debug event per statement: its text, how long it took, and its row count or error
/// (and, with feature `testing`, the text for the observer, if one is set). Parameters are
/// not logged: they may be passwords or tokens.
fn trace(stmt: &Statement<'_>, started: Instant, outcome: Result<u64, &Error>) {
    #[cfg(feature = "testing")]
    if let Some(observer) = OBSERVER.get() {
        observer(&stmt.sql);
    }
    if tracing::enabled!(target: "mini_orm::sql", tracing::Level::DEBUG) {
        let micros = started.elapsed().as_micros() as u64;
        match outcome {
            Ok(rows) => tracing::debug!(target: "mini_orm::sql", sql = %stmt.sql, micros, rows),
            Err(error) => tracing::debug!(target: "mini_orm::sql", sql = %stmt.sql, micros, %error),
        }
    }
}
