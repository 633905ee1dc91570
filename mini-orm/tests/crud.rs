//! save, get, find, update and delete of single rows, on every backend.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Error, Model, Result, backend_tests};
use support::{Sample, User};

async fn save_sets_generated_primary_keys(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut alice = User::named("alice");
    let mut bob = User::named("bob");
    alice.save(&t.db).await?;
    bob.save(&t.db).await?;
    assert!(alice.id > 0);
    assert_eq!(bob.id, alice.id + 1);
    assert_eq!(User::get(&t.db, bob.id).await?, bob);
    Ok(())
}

async fn every_field_type_round_trips(t: &TestDb) -> Result<()> {
    t.db.create_table::<Sample>().await?;
    let mut sample = Sample::new(1, "ünïcødé ✓ 名前");
    sample.maybe_text = Some(String::new());
    sample.score = -1.0e-300;
    sample.save(&t.db).await?;
    assert_eq!(Sample::get(&t.db, sample.id).await?, sample);

    let mut nulls = Sample::new(2, "nulls");
    nulls.maybe_int = None;
    nulls.flag = false;
    nulls.bytes = Vec::new();
    nulls.save(&t.db).await?;
    assert_eq!(Sample::get(&t.db, nulls.id).await?, nulls);
    Ok(())
}

async fn get_of_a_missing_row_is_not_found(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let error = User::get(&t.db, 42).await.unwrap_err();
    assert!(
        matches!(error, Error::NotFound { table: "user_info" }),
        "{error:?}"
    );
    assert_eq!(User::find(&t.db, 42).await?, None);
    Ok(())
}

async fn update_writes_every_column_by_primary_key(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut alice = User::named("alice");
    let mut bob = User::named("bob");
    alice.save(&t.db).await?;
    bob.save(&t.db).await?;
    alice.is_vip = true;
    alice.real_name = Some("Alice Liddell".into());
    alice.update(&t.db).await?;
    assert_eq!(User::get(&t.db, alice.id).await?, alice);
    assert_eq!(
        User::get(&t.db, bob.id).await?,
        bob,
        "other rows are untouched"
    );
    // Writing the same values again still matches the row (rows matched, not rows changed).
    alice.update(&t.db).await?;
    Ok(())
}

async fn update_and_delete_of_a_missing_row_are_not_found(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut ghost = User::named("ghost");
    ghost.id = 999;
    assert!(ghost.update(&t.db).await.unwrap_err().is_not_found());
    assert!(ghost.delete(&t.db).await.unwrap_err().is_not_found());
    Ok(())
}

async fn delete_removes_only_that_row(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut alice = User::named("alice");
    let mut bob = User::named("bob");
    alice.save(&t.db).await?;
    bob.save(&t.db).await?;
    alice.delete(&t.db).await?;
    assert_eq!(User::find(&t.db, alice.id).await?, None);
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

async fn primary_keys_are_not_reused_after_delete(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut first = User::named("first");
    first.save(&t.db).await?;
    first.delete(&t.db).await?;
    let mut second = User::named("second");
    second.save(&t.db).await?;
    assert!(second.id > first.id);
    Ok(())
}

async fn text_longer_than_max_len_is_refused_before_writing(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut long = User::named(&"é".repeat(33));
    let error = long.save(&t.db).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ValueTooLong {
                column: "name",
                max_len: 32,
                len: 33
            }
        ),
        "{error:?}"
    );
    let mut exact = User::named(&"é".repeat(32));
    exact.save(&t.db).await?;
    exact.name.push('x');
    assert!(matches!(
        exact.update(&t.db).await,
        Err(Error::ValueTooLong { .. })
    ));
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

backend_tests!(
    save_sets_generated_primary_keys,
    every_field_type_round_trips,
    get_of_a_missing_row_is_not_found,
    update_writes_every_column_by_primary_key,
    update_and_delete_of_a_missing_row_are_not_found,
    delete_removes_only_that_row,
    primary_keys_are_not_reused_after_delete,
    text_longer_than_max_len_is_refused_before_writing,
);
