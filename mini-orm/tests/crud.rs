//! save, get, find, update and delete of single rows, and multi-row inserts, on every backend.

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

async fn insert_all_inserts_every_row_with_generated_keys(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    assert_eq!(User::insert_all(&t.db, &[]).await?, 0);
    let mut rows: Vec<User> = ["ann", "ben", "cy"].map(User::named).into();
    rows[1].id = 999; // not written: keys are generated
    rows[2].real_name = Some("Cy Young".into());
    assert_eq!(User::insert_all(&t.db, &rows).await?, 3);

    let stored = User::query().order_by(User::ID.asc()).all(&t.db).await?;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|user| user.id != 999));
    for (stored, given) in stored.iter().zip(&rows) {
        assert_eq!(
            User {
                id: 0,
                ..stored.clone()
            },
            User {
                id: 0,
                ..given.clone()
            }
        );
    }
    Ok(())
}

/// More rows than one statement carries (4 095 of `User`'s 8 values): a duplicate in the last
/// statement undoes the first ones.
async fn insert_all_over_several_statements_is_all_or_nothing(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut rows: Vec<User> = (0..9_000).map(|i| User::named(&format!("u{i}"))).collect();
    rows[8_999].name = "u0".into();
    let error = User::insert_all(&t.db, &rows).await.unwrap_err();
    assert!(matches!(error, Error::UniqueViolation { .. }), "{error:?}");
    assert_eq!(User::query().count(&t.db).await?, 0);

    rows[8_999].name = "u8999".into();
    assert_eq!(User::insert_all(&t.db, &rows).await?, 9_000);
    assert_eq!(User::query().count(&t.db).await?, 9_000);
    Ok(())
}

async fn insert_all_checks_every_row_before_writing(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let rows = [User::named("fine"), User::named(&"x".repeat(33))];
    let error = User::insert_all(&t.db, &rows).await.unwrap_err();
    assert!(
        matches!(error, Error::ValueTooLong { column: "name", .. }),
        "{error:?}"
    );
    assert_eq!(User::query().count(&t.db).await?, 0);
    Ok(())
}

async fn insert_all_joins_the_callers_transaction(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let rows: Vec<User> = (0..5_000).map(|i| User::named(&format!("u{i}"))).collect();
    let mut tx = t.db.begin().await?;
    assert_eq!(User::insert_all(&mut tx, &rows).await?, 5_000);
    assert_eq!(User::query().count(&mut tx).await?, 5_000);
    tx.rollback().await?;
    assert_eq!(User::query().count(&t.db).await?, 0);
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
    insert_all_inserts_every_row_with_generated_keys,
    insert_all_over_several_statements_is_all_or_nothing,
    insert_all_checks_every_row_before_writing,
    insert_all_joins_the_callers_transaction,
);
