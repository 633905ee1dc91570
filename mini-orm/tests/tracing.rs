//! Every statement is a debug event with its SQL and duration; bound values never appear.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use mini_orm::testing::StatementLog;
use mini_orm::{Db, Model, raw};
use support::User;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn statements_are_traced_with_duration_but_without_values() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<User>().await.unwrap();
    let mut user = User::named("traced");
    user.pwd = "hunter2-secret".into();
    user.save(&db).await.unwrap();
    let _ = User::query()
        .filter(User::PWD.eq("hunter2-secret"))
        .count(&db)
        .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let insert = logs
        .lines()
        .find(|l| l.contains(r#"INSERT INTO "user_info""#))
        .unwrap_or_else(|| panic!("no INSERT event in:\n{logs}"));
    assert!(
        insert.contains("DEBUG") && insert.contains("mini_orm::sql"),
        "{insert}"
    );
    assert!(
        insert.contains("micros=") && insert.contains("rows=1"),
        "{insert}"
    );
    assert!(logs.contains("SELECT COUNT(*)"), "{logs}");
    assert!(
        !logs.contains("hunter2-secret"),
        "a bound value was logged:\n{logs}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_statement_log_lists_this_threads_statements_in_order() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.create_table::<User>().await.unwrap();
    let log = StatementLog::start();
    User::named("logged").save(&db).await.unwrap();
    User::query().count(&db).await.unwrap();
    let elsewhere = db.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(raw("DELETE FROM user_info").execute(&elsewhere))
            .unwrap();
    })
    .join()
    .unwrap();

    let statements = log.statements();
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert!(
        statements[0].starts_with(r#"INSERT INTO "user_info""#),
        "{statements:?}"
    );
    assert!(
        statements[1].starts_with("SELECT COUNT(*)"),
        "{statements:?}"
    );
    assert!(!statements.iter().any(|sql| sql.contains("logged")));
}
