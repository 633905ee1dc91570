//! Many tasks insert the same unique name at once: exactly one wins, every other one gets the
//! portable unique-violation error, on every backend.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Error, Model, Result, backend_tests};
use support::{Sample, User};

async fn exactly_one_of_many_concurrent_inserts_wins(t: &TestDb) -> Result<()> {
    const CONTENDERS: usize = 32;
    t.db.create_table::<User>().await?;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONTENDERS));
    let tasks: Vec<_> = (0..CONTENDERS)
        .map(|i| {
            let db = t.db.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut user = User::named("same-name");
                user.pwd = format!("contender {i}");
                barrier.wait().await;
                user.save(&db).await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok(()) => winners += 1,
            Err(Error::UniqueViolation { table, columns, .. }) => {
                assert_eq!(
                    (table.as_str(), columns.as_slice()),
                    ("user_info", &["name".to_owned()][..])
                );
            }
            Err(other) => panic!("expected a unique violation, got {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

async fn composite_unique_key_is_reported_with_its_columns(t: &TestDb) -> Result<()> {
    t.db.create_table::<Sample>().await?;
    Sample::new(1, "x").save(&t.db).await?;
    Sample::new(2, "x").save(&t.db).await?;
    let error = Sample::new(1, "x").save(&t.db).await.unwrap_err();
    match &error {
        Error::UniqueViolation { table, columns, .. } => {
            assert_eq!(table, "sample");
            assert_eq!(columns, &["owner", "label"]);
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    assert!(error.is_unique_violation());
    // The update path reports it the same way.
    let mut second = Sample::query()
        .filter(Sample::OWNER.eq(2))
        .first(&t.db)
        .await?
        .unwrap();
    second.owner = 1;
    assert!(
        second
            .update(&t.db)
            .await
            .unwrap_err()
            .is_unique_violation()
    );
    Ok(())
}

backend_tests!(
    exactly_one_of_many_concurrent_inserts_wins,
    composite_unique_key_is_reported_with_its_columns
);
