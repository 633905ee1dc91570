//! Schema from the model: idempotent creation, indexes, defaults, and each backend's types.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Backend, Model, Result, backend_tests, raw, schema};
use support::{Sample, User};

async fn create_table_is_idempotent_and_keeps_rows(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    User::named("a").save(&t.db).await?;
    t.db.create_table::<User>().await?;
    assert_eq!(User::query().count(&t.db).await?, 1);
    t.db.drop_table::<User>().await?;
    t.db.drop_table::<User>().await?;
    t.db.create_table::<User>().await?;
    assert_eq!(User::query().count(&t.db).await?, 0);
    Ok(())
}

async fn declared_indexes_exist(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    t.db.create_table::<Sample>().await?;
    let sql = match t.db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::MySql => {
            "SELECT DISTINCT index_name FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name <> 'PRIMARY' ORDER BY index_name"
        }
    };
    let names: Vec<(String,)> = raw(sql).fetch_all(&t.db).await?;
    let names: Vec<&str> = names.iter().map(|(n,)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "sample_owner_label_key",
            "sample_owner_score_idx",
            "user_info_name_key",
            "user_info_user_type_idx"
        ]
    );
    Ok(())
}

async fn defaults_apply_to_rows_inserted_without_the_column(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    raw("INSERT INTO user_info (name, pwd, is_vip, is_locked, user_type, register_time) VALUES (?, ?, ?, ?, ?, ?)")
        .bind("raw".to_owned())
        .bind("x".to_owned())
        .bind(false)
        .bind(false)
        .bind("user".to_owned())
        .bind("now".to_owned())
        .execute(&t.db)
        .await?;
    let user = User::query().first(&t.db).await?.unwrap();
    assert_eq!((user.failed_logins, user.real_name), (0, None));
    Ok(())
}

async fn mysql_tables_use_innodb_utf8mb4_and_exact_types(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let (engine, collation): (String, String) = raw(
        "SELECT engine, table_collation FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'user_info'",
    )
    .fetch_one(&t.db)
    .await?;
    assert_eq!(
        (engine.as_str(), collation.as_str()),
        ("InnoDB", "utf8mb4_bin")
    );
    let columns: Vec<(String, String, String)> = raw(
        "SELECT column_name, column_type, extra FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = 'user_info' ORDER BY ordinal_position",
    )
    .fetch_all(&t.db)
    .await?;
    let find = |name: &str| {
        columns
            .iter()
            .find(|c| c.0 == name)
            .map(|c| (c.1.as_str(), c.2.as_str()))
            .unwrap()
    };
    assert_eq!(find("id"), ("bigint(20)", "auto_increment"));
    assert_eq!(find("name").0, "varchar(32)");
    assert_eq!(find("is_vip").0, "tinyint(1)");
    assert_eq!(find("pwd").0, "longtext");
    Ok(())
}

backend_tests!(
    create_table_is_idempotent_and_keeps_rows,
    declared_indexes_exist,
    defaults_apply_to_rows_inserted_without_the_column,
);
backend_tests!(on [mysql]: mysql_tables_use_innodb_utf8mb4_and_exact_types);

#[test]
fn sqlite_ddl_uses_integer_primary_key_and_strict_tables() {
    let statements = schema::create_table(Backend::Sqlite, User::TABLE);
    assert!(
        statements[0].contains(r#""id" INTEGER PRIMARY KEY AUTOINCREMENT"#),
        "{}",
        statements[0]
    );
    assert!(statements[0].ends_with("STRICT"));
    assert!(statements[0].contains(r#""failed_logins" INTEGER NOT NULL DEFAULT 0"#));
    assert!(
        statements[0].contains(r#""real_name" TEXT,"#)
            || statements[0].contains(r#""real_name" TEXT"#)
    );
    assert!(
        statements
            .iter()
            .any(|s| s.starts_with(r#"CREATE UNIQUE INDEX IF NOT EXISTS "user_info_name_key""#))
    );
}

#[test]
fn mysql_ddl_quotes_reserved_words_and_bounds_indexed_text() {
    let statements = schema::create_table(Backend::MySql, Sample::TABLE);
    assert_eq!(
        statements.len(),
        1,
        "indexes are declared inside CREATE TABLE"
    );
    let ddl = &statements[0];
    assert!(ddl.contains("`order` LONGTEXT NOT NULL"), "{ddl}");
    assert!(ddl.contains("`label` VARCHAR(64) NOT NULL"), "{ddl}");
    assert!(
        ddl.contains("UNIQUE KEY `sample_owner_label_key` (`owner`, `label`)"),
        "{ddl}"
    );
    assert!(ddl.contains("`id` BIGINT NOT NULL AUTO_INCREMENT"), "{ddl}");
}
