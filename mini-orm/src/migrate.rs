//! Migrations: versioned, ordered changes to the schema, each applied once per database and
//! recorded in the table `mini_orm_migrations`, and the check that a table still matches its
//! model ([`Db::check_schema`]).
//!
//! The crate exports [`Migrations`] (whose documentation explains the guarantees),
//! [`Migration`], [`Step`], [`Report`] and [`HISTORY_TABLE`].

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::exec::{Db, Transaction};
use crate::raw::{RawQuery, raw};
use crate::sql::{Backend, schema};
use crate::table::row::FromRow;
use crate::table::{ColumnDef, IndexDef, Table, TableDef};
use crate::value::SqlType;

/// The table that records applied migrations: `version` (the primary key), `name`, and
/// `applied_at` (seconds since the Unix epoch).
pub const HISTORY_TABLE: &str = "mini_orm_migrations";

static HISTORY: TableDef = TableDef {
    name: HISTORY_TABLE,
    columns: &[
        ColumnDef::required("version", SqlType::BigInt),
        ColumnDef {
            max_len: Some(255),
            ..ColumnDef::required("name", SqlType::Text)
        },
        ColumnDef::required("applied_at", SqlType::BigInt),
    ],
    primary_key: 0,
    indexes: &[],
};

/// The MySQL named lock of this database's migrations (lock names are server-wide and at most
/// 64 characters long).
const MYSQL_LOCK: &str = "LEFT(CONCAT('mini_orm_migrations:', DATABASE()), 64)";

/// How long [`Migrations::run`] waits for another process's run by default.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(600);
/// How often a waiting run asks for the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// One version of the schema: the steps that lead to it from the version before.
#[derive(Debug)]
pub struct Migration {
    /// Its number: from 1, strictly increasing along the list, never reused once released.
    pub version: u32,
    /// What it does, recorded with the version.
    pub name: &'static str,
    /// The changes, in order.
    pub steps: Vec<Step>,
}

/// One change to the schema.
#[derive(Debug)]
pub enum Step {
    /// Creates the table and its indexes as the model declares them (the statements of
    /// [`Db::create_table`]); skipped, indexes included, when the table exists.
    CreateTable(&'static TableDef),
    /// Adds the model's column `column` to `table`, with the model's type and default (rows
    /// already there get the default); skipped when the table has it. The column must be
    /// nullable or have a default: the existing rows need a value. A foreign key
    /// (`#[field(references = ...)]`) comes with its constraint, and must be nullable (rows
    /// already there reference nothing); its index is an [`Step::AddIndex`] of its own (MySQL
    /// also makes one for the constraint).
    AddColumn {
        /// The model's table.
        table: &'static TableDef,
        /// The name of one of its columns (not the primary key).
        column: &'static str,
    },
    /// Creates the model's index over `columns` (one of `table.indexes`), named by
    /// [`IndexDef::name`]; skipped when the table has an index of that name.
    AddIndex {
        /// The model's table.
        table: &'static TableDef,
        /// The columns of one of its indexes, in order.
        columns: &'static [&'static str],
    },
    /// One hand-written statement, with its text for each backend.
    Raw {
        /// The statement on SQLite.
        sqlite: &'static str,
        /// The statement on MySQL and MariaDB.
        mysql: &'static str,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The versions this run applied, in order.
    pub applied: Vec<u32>,
    /// The versions of the list that were already recorded (by an earlier run, or by another
    /// process running at the same time).
    pub already_applied: Vec<u32>,
}

/// An ordered list of [`Migration`]s and the models to check after them.
///
/// ```
/// use mini_orm::{Db, Migration, Migrations, Model, Step};
///
/// #[derive(Model)]
/// struct Notice {
///     #[field(primary_key)]
///     id: i64,
///     #[field(index)]
///     user_id: i64,
///     #[field(default = false)]
///     read: bool,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// let db = Db::connect("sqlite::memory:").await?;
/// let migrations = Migrations::new(vec![
///     Migration { version: 1, name: "notices", steps: vec![Step::CreateTable(Notice::TABLE)] },
///     Migration {
///         version: 2,
///         name: "notices can be read",
///         steps: vec![
///             Step::AddColumn { table: Notice::TABLE, column: "read" },
///             Step::AddIndex { table: Notice::TABLE, columns: &["user_id"] },
///         ],
///     },
/// ])
/// .check::<Notice>();
/// let report = migrations.run(&db).await?; // at start, before serving
/// assert_eq!(report.applied, [1, 2]);
/// assert!(migrations.run(&db).await?.applied.is_empty()); // each version runs once
/// # Ok(())
/// # }
/// ```
///
/// **Steps take the model's own definitions.** [`Step::CreateTable`] creates the table as the
/// model describes it *today*, so on a fresh database a later [`Step::AddColumn`] or
/// [`Step::AddIndex`] finds its column or index already there: such a step is skipped (the
/// live table is read first), which makes the crate's steps safe to run on a new database and
/// on an old one alike. [`Step::Raw`] is for anything else, one statement per backend.
///
/// **Exactly once, even with two processes starting together.** On SQLite each migration runs
/// in a transaction of its own, which takes the file's write lock at its start
/// (`BEGIN IMMEDIATE`) and checks that the version is still unrecorded before applying it:
/// the migration's steps and its record commit together, or not at all. MySQL's DDL is not
/// transactional (each statement commits), so there a run takes a named lock for the database
/// first (`GET_LOCK`, on a connection held out of the pool until `RELEASE_LOCK`; the server
/// releases it if that connection dies), reads the recorded versions under it, and records
/// each version right after its steps complete. A MySQL migration that fails half-way keeps
/// the steps it did and is not recorded; the crate's own steps are skipped when already done,
/// so running again finishes it, but a [`Step::Raw`] must be written to be run again.
#[derive(Debug)]
pub struct Migrations {
    list: Vec<Migration>,
    checked: Vec<&'static TableDef>,
    lock_wait: Duration,
}

impl Migrations {
    /// The list, in the order it is applied. It is checked by [`Migrations::run`].
    pub fn new(list: Vec<Migration>) -> Self {
        Migrations {
            list,
            checked: Vec::new(),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }

    /// Also checks, once the migrations are applied, that `M`'s table matches `M` (as
    /// [`Db::check_schema`] does).
    pub fn check<M: Table>(mut self) -> Self {
        self.checked.push(M::DEF);
        self
    }

    /// How long a run waits for another process's run of the same database to finish before it
    /// fails with [`Error::Unavailable`] (default: 10 minutes).
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Applies every migration of the list that the database has not recorded, in order, and
    /// records each; then checks the models given to [`Migrations::check`]. Refuses, before
    /// running anything, a list whose versions are not strictly increasing from 1 or whose
    /// steps name columns or indexes their table does not declare
    /// ([`Error::InvalidMigration`]).
    pub async fn run(&self, db: &Db) -> Result<Report> {
        self.validate()?;
        let report = match db.backend() {
            Backend::Sqlite => self.run_sqlite(db).await?,
            Backend::MySql => self.run_mysql(db).await?,
        };
        for table in &self.checked {
            check_table(db, table).await?;
        }
        Ok(report)
    }

    fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidMigration(message));
        let mut previous = 0;
        for migration in &self.list {
            if migration.version <= previous {
                return invalid(format!(
                    "version {} (`{}`) comes after version {previous}: versions must start at 1 \
                     and increase strictly",
                    migration.version, migration.name
                ));
            }
            previous = migration.version;
            for step in &migration.steps {
                let problem = match step {
                    Step::AddColumn { table, column } => find_column(table, column).err(),
                    Step::AddIndex { table, columns } => find_index(table, columns).err(),
                    Step::CreateTable(_) | Step::Raw { .. } => None,
                };
                if let Some(problem) = problem {
                    return invalid(format!(
                        "version {} (`{}`): {problem}",
                        migration.version, migration.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Each pending migration in a transaction of its own, which holds the write lock.
    async fn run_sqlite(&self, db: &Db) -> Result<Report> {
        let deadline = Instant::now() + self.lock_wait;
        let mut report = Report::default();
        let recorded = prepare_history(db).await?;
        for migration in &self.list {
            if recorded.contains(&migration.version) {
                report.already_applied.push(migration.version);
                continue;
            }
            let mut tx = begin_within(db, deadline).await?;
            let mut on = On::Tx(&mut tx);
            // Another process may have applied it since `recorded` was read.
            if is_recorded(&mut on, migration.version).await? {
                tx.rollback().await?;
                report.already_applied.push(migration.version);
                continue;
            }
            apply(&mut on, Backend::Sqlite, migration).await?;
            tx.commit().await?;
            report.applied.push(migration.version);
        }
        Ok(report)
    }

    /// Every pending migration under the database's named lock, each statement committing
    /// on its own.
    async fn run_mysql(&self, db: &Db) -> Result<Report> {
        // A transaction is how a connection stays out of the pool: it holds the lock, and
        // reads and writes no table. Dropped on an error, its connection is closed, which
        // releases the lock.
        let mut holder = db.begin().await?;
        lock_within(&mut holder, Instant::now() + self.lock_wait).await?;
        let recorded = prepare_history(db).await?;
        let mut on = On::Db(db);
        let mut report = Report::default();
        for migration in &self.list {
            if recorded.contains(&migration.version) {
                report.already_applied.push(migration.version);
            } else {
                apply(&mut on, Backend::MySql, migration).await?;
                report.applied.push(migration.version);
            }
        }
        raw(format!("SELECT RELEASE_LOCK({MYSQL_LOCK})"))
            .execute(&mut holder)
            .await?;
        holder.commit().await?;
        Ok(report)
    }
}

impl Db {
    /// Checks that `M`'s table exists and has every column of `M`, each holding the same kind
    /// of value (integer, float, text, bytes), nullable exactly when the field is an `Option`,
    /// and with the foreign key of its `#[field(references = …, on_delete = …)]` (the same
    /// referenced table and action), or none when the field has none; [`Error::SchemaMismatch`]
    /// names the table and each problem. Columns the model does not know are allowed. Run it at start, so that a model and a database that
    /// disagree are told apart there rather than by a failing query later.
    pub async fn check_schema<M: Table>(&self) -> Result<()> {
        check_table(self, M::DEF).await
    }
}

async fn check_table(db: &Db, table: &TableDef) -> Result<()> {
    let live = live_columns(&mut On::Db(db), db.backend(), table.name).await?;
    let mut problems = schema::mismatches(table, &live);
    if !live.is_empty() {
        let keys = live_foreign_keys(&mut On::Db(db), db.backend(), table.name).await?;
        problems.extend(schema::foreign_key_mismatches(table, &keys));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::SchemaMismatch {
            table: table.name.to_owned(),
            problems,
        })
    }
}

/// The column `name` of `table`, if a migration may add it.
fn find_column(table: &'static TableDef, name: &str) -> Result<&'static ColumnDef, String> {
    let (i, column) = table
        .columns
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == name)
        .ok_or_else(|| format!("table `{}` declares no column `{name}`", table.name))?;
    if i == table.primary_key {
        return Err(format!(
            "`{name}` is the primary key of `{}`: create the table instead",
            table.name
        ));
    }
    if let Some(key) = &column.references
        && !column.nullable
    {
        return Err(format!(
            "column `{}`.`{name}` references `{}` and is NOT NULL: the rows already there \
             reference no row, so only an `Option<i64>` foreign key can be added",
            table.name,
            key.table().name
        ));
    }
    if !column.nullable && column.default.is_none() {
        return Err(format!(
            "column `{}`.`{name}` is NOT NULL without a default: the rows already there need a \
             value (make the field an Option or give it `#[field(default = ...)]`)",
            table.name
        ));
    }
    Ok(column)
}

/// The index of `table` over exactly `columns`.
fn find_index(table: &'static TableDef, columns: &[&str]) -> Result<&'static IndexDef, String> {
    table
        .indexes
        .iter()
        .find(|index| index.columns == columns)
        .ok_or_else(|| {
            format!(
                "table `{}` declares no index over ({})",
                table.name,
                columns.join(", ")
            )
        })
}

/// Where a migration's statements run: autocommitted on the pool (MySQL), or in the
/// migration's transaction (SQLite).
enum On<'a> {
    Db(&'a Db),
    Tx(&'a mut Transaction),
}

impl On<'_> {
    async fn execute(&mut self, query: RawQuery) -> Result<u64> {
        match self {
            On::Db(db) => query.execute(*db).await,
            On::Tx(tx) => query.execute(&mut **tx).await,
        }
    }

    async fn fetch<R: FromRow>(&mut self, query: RawQuery) -> Result<Vec<R>> {
        match self {
            On::Db(db) => query.fetch_all(*db).await,
            On::Tx(tx) => query.fetch_all(&mut **tx).await,
        }
    }
}

/// Creates the history table if it is missing; returns the recorded versions.
async fn prepare_history(db: &Db) -> Result<HashSet<u32>> {
    for sql in schema::create_table(db.backend(), &HISTORY) {
        raw(sql).execute(db).await?;
    }
    let versions: Vec<(i64,)> = raw(format!("SELECT version FROM {HISTORY_TABLE}"))
        .fetch_all(db)
        .await?;
    Ok(versions
        .into_iter()
        .filter_map(|(v,)| u32::try_from(v).ok())
        .collect())
}

async fn is_recorded(on: &mut On<'_>, version: u32) -> Result<bool> {
    let (count,): (i64,) = on
        .fetch(
            raw(format!(
                "SELECT COUNT(*) FROM {HISTORY_TABLE} WHERE version = ?"
            ))
            .bind(i64::from(version)),
        )
        .await?
        .pop()
        .unwrap_or((0,));
    Ok(count > 0)
}

/// Runs `migration`'s steps, then records its version.
async fn apply(on: &mut On<'_>, backend: Backend, migration: &Migration) -> Result<()> {
    for step in &migration.steps {
        match step {
            Step::CreateTable(table) => {
                // A table made by an earlier release is left as it is (on SQLite, the
                // model's indexes over columns it lacks could not be created anyway): the
                // steps that follow add what it lacks.
                if live_columns(on, backend, table.name).await?.is_empty() {
                    for sql in schema::create_table(backend, table) {
                        on.execute(raw(sql)).await?;
                    }
                }
            }
            Step::AddColumn { table, column } => {
                let column = find_column(table, column).map_err(Error::InvalidMigration)?;
                let live = live_columns(on, backend, table.name).await?;
                if !live
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(column.name))
                {
                    on.execute(raw(schema::add_column(backend, table, column)))
                        .await?;
                }
            }
            Step::AddIndex { table, columns } => {
                let index = find_index(table, columns).map_err(Error::InvalidMigration)?;
                let (count,): (i64,) = on
                    .fetch(
                        raw(schema::index_exists(backend))
                            .bind(index.name(table.name))
                            .bind(table.name.to_owned()),
                    )
                    .await?
                    .pop()
                    .unwrap_or((0,));
                if count == 0 {
                    on.execute(raw(schema::create_index(backend, table, index)))
                        .await?;
                }
            }
            Step::Raw { sqlite, mysql } => {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::MySql => mysql,
                };
                on.execute(raw(*sql)).await?;
            }
        }
    }
    let applied_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    on.execute(
        raw(format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, applied_at) VALUES (?, ?, ?)"
        ))
        .bind(i64::from(migration.version))
        .bind(migration.name.to_owned())
        .bind(applied_at),
    )
    .await?;
    Ok(())
}

async fn live_columns(
    on: &mut On<'_>,
    backend: Backend,
    table: &str,
) -> Result<Vec<schema::LiveColumn>> {
    let rows: Vec<(String, String, i64)> = on
        .fetch(raw(schema::live_columns(backend)).bind(table.to_owned()))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, declared_type, nullable)| schema::LiveColumn {
            name,
            declared_type,
            nullable: nullable != 0,
        })
        .collect())
}

async fn live_foreign_keys(
    on: &mut On<'_>,
    backend: Backend,
    table: &str,
) -> Result<Vec<schema::LiveForeignKey>> {
    let rows: Vec<(String, String, Option<String>, String)> = on
        .fetch(raw(schema::live_foreign_keys(backend)).bind(table.to_owned()))
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(column, parent_table, parent_column, on_delete)| schema::LiveForeignKey {
                column,
                parent_table,
                parent_column,
                on_delete,
            },
        )
        .collect())
}

/// A SQLite transaction (which holds the file's write lock), waiting for another process's
/// until `deadline`.
async fn begin_within(db: &Db, deadline: Instant) -> Result<Transaction> {
    loop {
        match db.begin().await {
            Err(error) if error.is_unavailable() && Instant::now() < deadline => {
                tokio::time::sleep(LOCK_POLL).await;
            }
            outcome => return outcome,
        }
    }
}

/// Takes the database's MySQL named lock on `holder`'s connection, asking again without
/// waiting on the server (whose wait would count against the statement time limit) until
/// `deadline`.
async fn lock_within(holder: &mut Transaction, deadline: Instant) -> Result<()> {
    loop {
        let got: Option<(Option<i64>,)> = raw(format!("SELECT GET_LOCK({MYSQL_LOCK}, 0)"))
            .fetch_optional(&mut *holder)
            .await?;
        if let Some((Some(1),)) = got {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Unavailable(
                "another process held the migration lock for longer than the lock wait".into(),
            ));
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}
