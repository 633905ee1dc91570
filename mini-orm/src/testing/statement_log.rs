//! [`StatementLog`]: which SQL statements a piece of code runs, for tests that pin it down (one
//! UPDATE for a batch, no query per row, ...).

use std::cell::RefCell;
use std::rc::Rc;

use crate::exec;

thread_local! {
    /// The logs started on this thread and not yet dropped, innermost last.
    static ACTIVE: RefCell<Vec<Rc<RefCell<Vec<String>>>>> = const { RefCell::new(Vec::new()) };
}

/// The SQL text of each statement run on the current thread while the log is alive, in order
/// (bound values are never in it).
///
/// It sees what runs on this thread: every task of a current-thread runtime (`#[tokio::test]`'s),
/// not other threads'. While two logs are alive on a thread, the one started last records.
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
    statements: Rc<RefCell<Vec<String>>>,
}

impl StatementLog {
    /// Starts recording this thread's statements.
    pub fn start() -> StatementLog {
        exec::observe_statements(record);
        let statements = Rc::default();
        ACTIVE.with_borrow_mut(|active| active.push(Rc::clone(&statements)));
        StatementLog { statements }
    }

    /// The statements recorded so far.
    pub fn statements(&self) -> Vec<String> {
        self.statements.borrow().clone()
    }
}

impl Drop for StatementLog {
    fn drop(&mut self) {
        ACTIVE.with_borrow_mut(|active| active.retain(|log| !Rc::ptr_eq(log, &self.statements)));
    }
}

/// Adds `sql` to this thread's innermost log, if one is alive: the observer of every
/// statement run, set by the first [`StatementLog::start`].
fn record(sql: &str) {
    ACTIVE.with_borrow(|active| {
        if let Some(log) = active.last() {
            log.borrow_mut().push(sql.to_owned());
        }
    });
}
