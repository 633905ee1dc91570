//! SQLite through rusqlite: one writer connection taken in turn, a pool of read-only
//! connections for file databases, statements run on the calling task.
//!
//! Reads, and everything on an in-memory database, run inline: a thread hop would cost more
//! than the statement. A write to a file database can wait on the disk (each commit syncs
//! the WAL) or on another process's lock (for up to the busy timeout); it runs under
//! [`tokio::task::block_in_place`] on a multi-thread runtime, so that the worker's other tasks
//! move to another thread meanwhile instead of waiting with it. (Tokio forbids that inside a
//! `LocalSet` driven by a multi-thread runtime's `block_on`, and panics: drive a `LocalSet`
//! that writes to a SQLite file from a current-thread runtime, where writes run inline.)

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef as SqliteValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard, Semaphore};

use crate::backend::Done;
use crate::error::{Error, Result};
use crate::sql::{PARAMS_MISMATCH, Statement};
use crate::table::row::{FromRow, Row, RowSource, positions_by_name};
use crate::value::Value;

const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_READERS: usize = 4;
const STATEMENT_CACHE: usize = 128;

pub(crate) struct SqliteDb {
    writer: Arc<Mutex<Connection>>,
    /// How long a task waits for the writer (held by another task's transaction) before giving
    /// up with `Unavailable`, as SQLite itself gives up on another process's lock.
    busy_timeout: Duration,
    /// Read-only connections; `None` for an in-memory database, which only the writer can see.
    readers: Option<Readers>,
}

struct Readers {
    available: Semaphore,
    idle: StdMutex<Vec<Connection>>,
}

/// Where and how to open, from the part of the URL after `sqlite:`.
struct Target {
    path: Option<String>,
    busy_timeout: Duration,
    readers: usize,
}

fn parse_target(rest: &str) -> Result<Target> {
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut target = Target {
        path: None,
        busy_timeout: DEFAULT_BUSY_TIMEOUT,
        readers: DEFAULT_READERS,
    };
    let path = location.strip_prefix("//").unwrap_or(location);
    if path != ":memory:" {
        if path.is_empty() {
            return Err(Error::InvalidUrl(
                "sqlite URL without a path (use sqlite::memory: or sqlite://PATH)".into(),
            ));
        }
        target.path = Some(path.to_owned());
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value.parse::<u64>().map_err(|_| {
                Error::InvalidUrl(format!(
                    "sqlite URL: `{what}` needs a number, got `{value}`"
                ))
            })
        };
        match key {
            "busy_timeout_ms" => target.busy_timeout = Duration::from_millis(number(key)?),
            "readers" => target.readers = number(key)?.clamp(1, 64) as usize,
            other => {
                return Err(Error::InvalidUrl(format!(
                    "sqlite URL: unknown parameter `{other}`"
                )));
            }
        }
    }
    Ok(target)
}

/// The most of a database file that each connection maps into memory for reading (256 MiB).
const MMAP_SIZE: u64 = 256 << 20;

fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // A bound `LIMIT ?` would otherwise make SQLite re-prepare the cached statement on every
    // new binding (a third of a small request's CPU in the server's profile): keep one plan.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // LIKE is case-sensitive on both backends (MySQL tables use a binary collation). Reads go
    // through a memory map of up to MMAP_SIZE bytes: pages the OS has cached are read in place,
    // not copied by a system call each (a fifth of the CPU of a read-heavy server otherwise).
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON; PRAGMA mmap_size = {MMAP_SIZE};"
    ))
}

impl SqliteDb {
    pub(crate) fn open(rest: &str) -> Result<Self> {
        let target = parse_target(rest)?;

        let Some(path) = target.path else {
            let conn = Connection::open_in_memory().map_err(map_error)?;
            configure(&conn, target.busy_timeout).map_err(map_error)?;
            return Ok(SqliteDb {
                writer: Arc::new(Mutex::new(conn)),
                busy_timeout: target.busy_timeout,
                readers: None,
            });
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let writer = Connection::open_with_flags(&path, flags).map_err(map_error)?;
        configure(&writer, target.busy_timeout).map_err(map_error)?;
        // WAL lets readers go on while a writer writes; the mode is stored in the file.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(map_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Database(
                format!("SQLite refused WAL mode (journal_mode is {mode})").into(),
            ));
        }
        let read_flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let idle = (0..target.readers)
            .map(|_| {
                let conn = Connection::open_with_flags(&path, read_flags)?;
                configure(&conn, target.busy_timeout)?;
                Ok(conn)
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map_error)?;
        Ok(SqliteDb {
            writer: Arc::new(Mutex::new(writer)),
            busy_timeout: target.busy_timeout,
            readers: Some(Readers {
                available: Semaphore::new(idle.len()),
                idle: StdMutex::new(idle),
            }),
        })
    }

    /// The writer connection for one statement, once no transaction holds it; `Unavailable`
    /// after the busy timeout (a task that writes through `&Db` while it holds a transaction
    /// would otherwise wait for itself forever). Uncontended (the usual case) it is taken at
    /// once, without setting up the busy-timeout timer.
    async fn writer(&self) -> Result<MutexGuard<'_, Connection>> {
        if let Ok(conn) = self.writer.try_lock() {
            return Ok(conn);
        }
        tokio::time::timeout(self.busy_timeout, self.writer.lock())
            .await
            .map_err(|_| busy())
    }

    /// The writer connection, for a transaction that keeps it until it ends.
    async fn writer_for_transaction(&self) -> Result<OwnedMutexGuard<Connection>> {
        tokio::time::timeout(self.busy_timeout, self.writer.clone().lock_owned())
            .await
            .map_err(|_| busy())
    }

    /// Whether the database is a file (whose writes may wait on the disk or on other
    /// processes), rather than in memory.
    fn on_disk(&self) -> bool {
        self.readers.is_some()
    }

    pub(crate) async fn execute(&self, stmt: &Statement<'_>) -> Result<Done> {
        let conn = self.writer().await?;
        may_wait(self.on_disk(), || run_execute(&conn, stmt))
    }

    pub(crate) async fn fetch<R: FromRow>(&self, stmt: &Statement<'_>) -> Result<Vec<R>> {
        if let Some(readers) = &self.readers {
            let _permit = readers.available.acquire().await.map_err(|_| closed())?;
            let conn = readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .ok_or_else(closed)?;
            let result = run_fetch(&conn, stmt, true);
            readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            if let Some(rows) = result? {
                return Ok(rows);
            }
        }
        // A statement that writes (`INSERT … RETURNING`, say), or an in-memory database.
        let conn = self.writer().await?;
        may_wait(self.on_disk(), || run_fetch(&conn, stmt, false)).map(Option::unwrap_or_default)
    }

    pub(crate) async fn begin(&self) -> Result<SqliteTx> {
        let conn = self.writer_for_transaction().await?;
        // Takes the file's write lock, which another process may hold.
        may_wait(self.on_disk(), || run_batch(&conn, "BEGIN IMMEDIATE"))?;
        Ok(SqliteTx {
            conn,
            on_disk: self.on_disk(),
            open: true,
        })
    }
}

/// Runs `statement`, which may block on the disk or on another process's lock when `on_disk`,
/// without holding up the runtime worker's other tasks: under `block_in_place` on a
/// multi-thread runtime (the worker's queue goes to another thread meanwhile), inline
/// elsewhere (a current-thread runtime has no other thread to give it to).
fn may_wait<T>(on_disk: bool, statement: impl FnOnce() -> T) -> T {
    let multi_thread =
        || Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if on_disk && multi_thread() {
        tokio::task::block_in_place(statement)
    } else {
        statement()
    }
}

/// Runs one parameterless statement through the statement cache.
fn run_batch(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(map_error)
}

fn busy() -> Error {
    Error::Unavailable(
        "database is locked: a transaction held the SQLite writer for longer than the busy timeout"
            .into(),
    )
}

fn closed() -> Error {
    Error::Unavailable("the SQLite reader pool is closed".into())
}

/// A transaction holding the writer connection until it ends.
pub(crate) struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    /// The database is a file: COMMIT syncs it (see [`may_wait`]).
    on_disk: bool,
    open: bool,
}

impl SqliteTx {
    pub(crate) fn execute(&mut self, stmt: &Statement<'_>) -> Result<Done> {
        run_execute(&self.conn, stmt)
    }

    pub(crate) fn fetch<R: FromRow>(&mut self, stmt: &Statement<'_>) -> Result<Vec<R>> {
        run_fetch(&self.conn, stmt, false).map(Option::unwrap_or_default)
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        may_wait(self.on_disk, || run_batch(&self.conn, "COMMIT"))?;
        self.open = false;
        Ok(())
    }

    pub(crate) fn rollback(mut self) -> Result<()> {
        run_batch(&self.conn, "ROLLBACK")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the connection stays usable either way, as SQLite ends the
            // transaction even when ROLLBACK reports an error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => SqliteValueRef::Null,
            Value::Int(i) => SqliteValueRef::Integer(*i),
            Value::Float(f) => SqliteValueRef::Real(*f),
            Value::Text(text) => SqliteValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => SqliteValueRef::Blob(bytes),
        }))
    }
}

fn prepare<'c>(
    conn: &'c Connection,
    stmt: &Statement<'_>,
) -> Result<rusqlite::CachedStatement<'c>> {
    let mut prepared = conn.prepare_cached(&stmt.sql).map_err(map_error)?;
    if prepared.parameter_count() != stmt.params.len() {
        return Err(Error::InvalidQuery(PARAMS_MISMATCH));
    }
    for (i, value) in stmt.params.iter().enumerate() {
        prepared
            .raw_bind_parameter(i + 1, value)
            .map_err(map_error)?;
    }
    Ok(prepared)
}

fn run_execute(conn: &Connection, stmt: &Statement<'_>) -> Result<Done> {
    let mut prepared = prepare(conn, stmt)?;
    let rows_matched = prepared
        .raw_execute()
        .map_err(|e| in_table(map_error(e), stmt))? as u64;
    Ok(Done {
        rows_matched,
        last_insert_id: Some(conn.last_insert_rowid()),
    })
}

/// Runs a query; `None` when `read_only` was asked for and the statement writes.
fn run_fetch<R: FromRow>(
    conn: &Connection,
    stmt: &Statement<'_>,
    read_only: bool,
) -> Result<Option<Vec<R>>> {
    let mut prepared = prepare(conn, stmt)?;
    if read_only && !prepared.readonly() {
        return Ok(None);
    }
    let positions = if stmt.columns_in_model_order {
        None
    } else {
        positions_by_name::<R>(&prepared.column_names().collect::<Vec<_>>())?
    };
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| in_table(map_error(e), stmt))? {
        out.push(R::from_row(&Row::new(
            RowSource::Sqlite(row),
            positions.as_deref(),
        ))?);
    }
    Ok(Some(out))
}

/// Names the statement's table in a foreign-key violation (SQLite's message names none).
fn in_table(error: Error, stmt: &Statement<'_>) -> Error {
    match error {
        Error::ForeignKeyViolation { table, source } if table.is_empty() => {
            Error::ForeignKeyViolation {
                table: stmt.table.map_or(table, |t| t.name.to_owned()),
                source,
            }
        }
        other => other,
    }
}

/// The portable error for a rusqlite error (SQLite's own message names a unique constraint's
/// table and columns).
fn map_error(error: rusqlite::Error) -> Error {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                // "UNIQUE constraint failed: user_info.name, user_info.other"
                let list = message
                    .as_deref()
                    .and_then(|m| m.split_once(": "))
                    .map_or("", |(_, l)| l);
                let mut table = String::new();
                let columns = list
                    .split(", ")
                    .filter_map(|qualified| qualified.split_once('.'))
                    .map(|(t, c)| {
                        table = t.to_owned();
                        c.to_owned()
                    })
                    .collect();
                return Error::UniqueViolation {
                    table,
                    columns,
                    source: Box::new(error),
                };
            }
            // "FOREIGN KEY constraint failed"; a RESTRICT action reports it with the trigger
            // code.
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY | ffi::SQLITE_CONSTRAINT_TRIGGER
                if message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("FOREIGN KEY constraint failed")) =>
            {
                return Error::ForeignKeyViolation {
                    table: String::new(),
                    source: Box::new(error),
                };
            }
            _ => {}
        }
        if matches!(
            failure.code,
            rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::CannotOpen
        ) {
            return Error::Unavailable(Box::new(error));
        }
    }
    Error::Database(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        assert_eq!(parse_target(":memory:").unwrap().path, None);
        assert_eq!(
            parse_target("//data/app.db").unwrap().path.as_deref(),
            Some("data/app.db")
        );
        assert_eq!(
            parse_target("///tmp/app.db").unwrap().path.as_deref(),
            Some("/tmp/app.db")
        );
        let t = parse_target("//x.db?busy_timeout_ms=250&readers=2").unwrap();
        assert_eq!((t.busy_timeout, t.readers), (Duration::from_millis(250), 2));
        assert!(parse_target("//x.db?nonsense=1").is_err());
        assert!(parse_target("//").is_err());
    }
}
