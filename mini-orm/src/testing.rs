//! Helpers for running one test body against every backend, and [`StatementLog`], the SQL a
//! piece of code runs (feature `testing`).
//!
//! Each run gets a database of its own, so tests running in parallel never see each other's
//! rows: a fresh in-memory SQLite database, a fresh SQLite file in a temporary directory, and,
//! when the environment variable [`MYSQL_URL_VAR`] names a server, a fresh MySQL database
//! (`mini_orm_test_<time>_<pid>_<n>`) that is dropped afterwards. Databases left behind by a
//! crashed run are dropped by a later run once they are an hour old.
//!
//! ```no_run
//! # use mini_orm::Model;
//! # #[derive(Model)]
//! # struct User { #[field(primary_key)] id: i64 }
//! use mini_orm::testing::TestDb;
//!
//! async fn save_sets_the_primary_key(t: &TestDb) -> mini_orm::Result<()> {
//!     t.db.create_table::<User>().await?;
//!     // ...
//!     Ok(())
//! }
//! mini_orm::backend_tests!(save_sets_the_primary_key);
//! # fn main() {}
//! ```
//! expands to the tests `save_sets_the_primary_key::{sqlite_memory, sqlite_file, mysql}`.

mod statement_log;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Result;
use crate::exec::Db;
use crate::raw::raw;
pub use statement_log::StatementLog;

/// The variable naming the MySQL server for tests, e.g. `mysql://root@127.0.0.1:3306/test`.
/// The database in the URL is only used to connect; each test creates its own.
pub const MYSQL_URL_VAR: &str = "MINI_ORM_MYSQL_URL";

const PREFIX: &str = "mini_orm_test_";
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A backend to run a test against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// `sqlite::memory:`
    SqliteMemory,
    /// A SQLite file in a temporary directory (WAL, reader pool).
    SqliteFile,
    /// A fresh database on the server named by [`MYSQL_URL_VAR`].
    MySql,
}

/// A database of a test's own.
pub struct TestDb {
    /// The pool.
    pub db: Db,
    /// The URL of this database, to open a second pool on it (a second "process").
    pub url: String,
    /// The backend.
    pub backend: TestBackend,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    /// Deleted, with the SQLite file in it, when the `TestDb` is dropped.
    Directory {
        _dir: tempfile::TempDir,
    },
    MySql {
        admin: Db,
        database: String,
    },
}

impl TestDb {
    /// A fresh database on `backend`; `None` for MySQL when [`MYSQL_URL_VAR`] is unset.
    ///
    /// # Panics
    /// When it cannot be created, or when MySQL is asked for on CI (`CI` set) without
    /// [`MYSQL_URL_VAR`]: CI must exercise MySQL, not skip it.
    pub async fn open(backend: TestBackend) -> Option<TestDb> {
        let (url, cleanup) = match backend {
            TestBackend::SqliteMemory => ("sqlite::memory:".to_owned(), Cleanup::None),
            TestBackend::SqliteFile => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (url, Cleanup::Directory { _dir: dir })
            }
            TestBackend::MySql => {
                let Ok(server) = std::env::var(MYSQL_URL_VAR) else {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "CI is set but {MYSQL_URL_VAR} is not: CI must run the MySQL tests"
                    );
                    return None;
                };
                let (admin, database) = create_mysql_database(&server).await;
                (
                    with_database(&server, &database),
                    Cleanup::MySql { admin, database },
                )
            }
        };
        let db = Db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        Some(TestDb {
            db,
            url,
            backend,
            cleanup,
        })
    }

    /// Closes the pool and drops the test's database.
    pub async fn finish(self) {
        let _ = self.db.close().await;
        if let Cleanup::MySql { admin, database } = self.cleanup {
            let _ = raw(format!("DROP DATABASE IF EXISTS `{database}`"))
                .execute(&admin)
                .await;
            let _ = admin.close().await;
        }
    }
}

/// Runs `body` on a fresh database of `backend` (see [`backend_tests!`](crate::backend_tests)),
/// and panics with the error if it fails.
pub async fn run(backend: TestBackend, body: impl AsyncFnOnce(&TestDb) -> Result<()>) {
    let Some(test_db) = TestDb::open(backend).await else {
        eprintln!("skipped on MySQL: set {MYSQL_URL_VAR} to run it");
        return;
    };
    let outcome = body(&test_db).await;
    test_db.finish().await;
    if let Err(error) = outcome {
        panic!("test failed on {backend:?}: {error}\n{error:?}");
    }
}

/// `url` with its database part replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn create_mysql_database(server: &str) -> (Db, String) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static SWEPT: OnceLock<()> = OnceLock::new();
    let admin = Db::connect(server)
        .await
        .unwrap_or_else(|e| panic!("{MYSQL_URL_VAR}={server}: {e}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if SWEPT.set(()).is_ok() {
        drop_stale_databases(&admin, now).await;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let database = format!("{PREFIX}{now}_{}_{n}", std::process::id());
    raw(format!(
        "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
    .execute(&admin)
    .await
    .unwrap_or_else(|e| panic!("cannot create test database {database}: {e}"));
    (admin, database)
}

async fn drop_stale_databases(admin: &Db, now: u64) {
    let Ok(names) = raw("SHOW DATABASES").fetch_all::<(String,)>(admin).await else {
        return;
    };
    for (name,) in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            let _ = raw(format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(admin)
                .await;
        }
    }
}

/// Declares, for each named `async fn(&TestDb) -> mini_orm::Result<()>`, a module of tests that
/// run it on `sqlite_memory`, `sqlite_file` and `mysql` (the last skipped, outside CI, when no
/// server is configured). A body that only applies to some backends names them:
/// `backend_tests!(on [sqlite_file, mysql]: uncommitted_writes_are_invisible);`. Needs `tokio`
/// (with `macros` and `rt-multi-thread`) in the caller's dev-dependencies.
#[macro_export]
macro_rules! backend_tests {
    (on $backends:tt: $($name:ident),+ $(,)?) => {$(
        $crate::backend_tests!(@module $backends $name);
    )+};
    ($($name:ident),+ $(,)?) => {
        $crate::backend_tests!(on [sqlite_memory, sqlite_file, mysql]: $($name),+);
    };
    (@module [$($backend:ident),+] $name:ident) => {
        mod $name {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $backend() {
                    $crate::testing::run($crate::backend_tests!(@backend $backend), super::$name).await;
                }
            )+
        }
    };
    (@backend sqlite_memory) => { $crate::testing::TestBackend::SqliteMemory };
    (@backend sqlite_file) => { $crate::testing::TestBackend::SqliteFile };
    (@backend mysql) => { $crate::testing::TestBackend::MySql };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            with_database("mysql://root@h/test?pool_max=4", "x"),
            "mysql://root@h/x?pool_max=4"
        );
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
    }
}
