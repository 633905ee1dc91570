//! `testing::StatementLog`: the statements run on this thread, in order, without their values.
//! Not in `tracing.rs`, which must be the only test of its binary (see there).

mod support;

use mini_orm::testing::StatementLog;
use mini_orm::{Db, Model, raw};
use support::User;

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
