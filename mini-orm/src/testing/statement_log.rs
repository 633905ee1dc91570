//! [`StatementLog`]: which SQL statements a piece of code runs, for tests that pin it down (one
//! UPDATE for a batch, no query per row, ...).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

use crate::exec::SQL_TARGET;

/// The SQL text of each statement run on the current thread while the log is alive, in order
/// (from this crate's `debug` events; bound values are never in them).
///
/// The log is the thread's default `tracing` subscriber until it is dropped, so it sees what runs
/// on this thread: every task of a current-thread runtime (`#[tokio::test]`'s), not other
/// threads'.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mini_orm::Result<()> {
/// use mini_orm::testing::StatementLog;
///
/// let db = mini_orm::Db::connect("sqlite::memory:").await?;
/// let log = StatementLog::start();
/// mini_orm::raw("CREATE TABLE note (id INTEGER PRIMARY KEY)").execute(&db).await?;
/// assert_eq!(log.statements(), ["CREATE TABLE note (id INTEGER PRIMARY KEY)"]);
/// # Ok(())
/// # }
/// ```
pub struct StatementLog {
    statements: Arc<Mutex<Vec<String>>>,
    _installed: DefaultGuard,
}

impl StatementLog {
    /// Starts recording this thread's statements.
    pub fn start() -> StatementLog {
        let statements = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder(statements.clone());
        StatementLog {
            statements,
            _installed: tracing::subscriber::set_default(Registry::default().with(recorder)),
        }
    }

    /// The statements recorded so far.
    pub fn statements(&self) -> Vec<String> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Keeps the `sql` field of each statement event.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != SQL_TARGET {
            return;
        }
        let mut sql = SqlField(None);
        event.record(&mut sql);
        if let Some(sql) = sql.0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sql);
        }
    }
}

struct SqlField(Option<String>);

impl Visit for SqlField {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "sql" {
            // `sql = %text` arrives as a value whose Debug is the text's Display.
            self.0 = Some(format!("{value:?}"));
        }
    }
}
