//! Every statement is a debug event with its SQL and duration; bound values never appear.
//! The only test of its binary: tracing caches, per event site, whether any subscriber wants its
//! events, and a test running statements on another thread while this one installs its
//! subscriber can get them cached as unwanted (seen once in CI).

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use mini_orm::{Db, Model};
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
