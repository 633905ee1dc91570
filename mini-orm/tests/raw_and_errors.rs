//! The raw-SQL escape hatch, decode errors that name their column, and connections that stay
//! usable after an error.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Db, Error, Model, Result, backend_tests, raw};
use support::User;

async fn raw_rows_map_to_models_by_name_and_tuples_by_position(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    for name in ["a", "b", "c"] {
        User::named(name).save(&t.db).await?;
    }
    // Columns in another order than the struct's: models are read by name.
    let users: Vec<User> = raw(
        "SELECT failed_logins, real_name, register_time, user_type, is_locked, is_vip, pwd, name, id \
         FROM user_info WHERE name <> ? ORDER BY name DESC",
    )
    .bind("b".to_owned())
    .fetch_all(&t.db)
    .await?;
    assert_eq!(
        users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["c", "a"]
    );
    assert_eq!(users[1], User::get(&t.db, users[1].id).await?);

    let counts: Vec<(String, i64)> =
        raw("SELECT user_type, COUNT(*) FROM user_info GROUP BY user_type")
            .fetch_all(&t.db)
            .await?;
    assert_eq!(counts, [("user".to_owned(), 3)]);
    let none: Option<(i64,)> = raw("SELECT id FROM user_info WHERE real_name = ?")
        .bind(Option::<String>::None)
        .fetch_optional(&t.db)
        .await?;
    assert_eq!(none, None, "a bound NULL compares as NULL");
    let matched = raw("UPDATE user_info SET is_vip = ? WHERE name IN (?, ?)")
        .bind(true)
        .bind("a".to_owned())
        .bind("c".to_owned())
        .execute(&t.db)
        .await?;
    assert_eq!(matched, 2);
    Ok(())
}

async fn raw_query_missing_a_model_column_names_it(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    User::named("a").save(&t.db).await?;
    let error = raw("SELECT id, name FROM user_info")
        .fetch_all::<User>(&t.db)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Decode { column, .. } if column == "pwd"),
        "{error:?}"
    );
    Ok(())
}

async fn decode_errors_name_the_column(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    User::named("a").save(&t.db).await?;
    let error = raw("SELECT name AS who FROM user_info")
        .fetch_one::<(i64,)>(&t.db)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Decode { column, .. } if column == "who"),
        "{error:?}"
    );
    let error = raw("SELECT real_name FROM user_info")
        .fetch_one::<(String,)>(&t.db)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Decode { column, message } if column == "real_name" && message.contains("NULL")),
        "{error:?}"
    );
    Ok(())
}

async fn bad_sql_is_an_error_and_the_pool_stays_usable(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    for _ in 0..3 {
        let error = raw("SELEKT nothing").execute(&t.db).await.unwrap_err();
        assert!(matches!(error, Error::Database(_)), "{error:?}");
        let error = raw("SELECT id FROM user_info WHERE id = ?")
            .fetch_all::<(i64,)>(&t.db)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidQuery(_)), "{error:?}");
    }
    let mut tx = t.db.begin().await?;
    assert!(raw("SELEKT nothing").execute(&mut tx).await.is_err());
    User::named("after-error").save(&mut tx).await?;
    tx.commit().await?;
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

async fn fetch_one_of_nothing_is_not_found(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let error = raw("SELECT id FROM user_info")
        .fetch_one::<(i64,)>(&t.db)
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    Ok(())
}

backend_tests!(
    raw_rows_map_to_models_by_name_and_tuples_by_position,
    raw_query_missing_a_model_column_names_it,
    decode_errors_name_the_column,
    bad_sql_is_an_error_and_the_pool_stays_usable,
    fetch_one_of_nothing_is_not_found,
);

#[tokio::test]
async fn unknown_urls_are_refused_clearly() {
    for url in [
        "postgres://x",
        "sqlite://",
        "sqlite://x.db?frobnicate=1",
        "mysql://root@127.0.0.1:notaport/x",
    ] {
        let error = Db::connect(url).await.unwrap_err();
        assert!(matches!(error, Error::InvalidUrl(_)), "{url}: {error:?}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let error = Db::connect("mysql://root@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
}
