//! `Db::check_schema` and foreign keys: a model whose `references` disagree with its table's
//! foreign keys (missing, unexpected, or acting otherwise on delete) is reported, one problem
//! per column; the table `create_table` makes passes.

// The derive makes a column constant per field; these models use none.
#![allow(dead_code)]

use mini_orm::testing::TestDb;
use mini_orm::{Backend, Error, Model, Result, backend_tests, raw};

#[derive(Model, Debug)]
struct Shelf {
    #[field(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model, Debug)]
struct Book {
    #[field(primary_key)]
    id: i64,
    /// The database's key deletes books with their shelf; the model's refuses.
    #[field(references = Shelf)]
    shelf_id: i64,
    /// The database has no key here.
    #[field(references = Shelf, on_delete = "set_null")]
    moved_from: Option<i64>,
    /// The database has a key here; the model has none.
    owner_id: i64,
    /// Both agree (`NO ACTION` in the database counts as the model's default, `RESTRICT`).
    #[field(references = Shelf)]
    first_shelf: i64,
}

/// A `book` table whose foreign keys disagree with [`Book`] on three columns of four.
async fn make_book_table(t: &TestDb) -> Result<()> {
    let sql = match t.db.backend() {
        Backend::Sqlite => {
            "CREATE TABLE book (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             shelf_id INTEGER NOT NULL REFERENCES shelf (id) ON DELETE CASCADE, \
             moved_from INTEGER, \
             owner_id INTEGER NOT NULL REFERENCES shelf (id), \
             first_shelf INTEGER NOT NULL REFERENCES shelf)"
        }
        Backend::MySql => {
            "CREATE TABLE book (id BIGINT AUTO_INCREMENT PRIMARY KEY, shelf_id BIGINT NOT NULL, \
             moved_from BIGINT NULL, owner_id BIGINT NOT NULL, first_shelf BIGINT NOT NULL, \
             FOREIGN KEY (shelf_id) REFERENCES shelf (id) ON DELETE CASCADE, \
             FOREIGN KEY (owner_id) REFERENCES shelf (id), \
             FOREIGN KEY (first_shelf) REFERENCES shelf (id) ON DELETE NO ACTION) ENGINE=InnoDB"
        }
    };
    raw(sql).execute(&t.db).await?;
    Ok(())
}

async fn foreign_keys_that_disagree_with_the_model_are_each_named(t: &TestDb) -> Result<()> {
    t.db.create_table::<Shelf>().await?;
    make_book_table(t).await?;
    let Err(Error::SchemaMismatch { table, problems }) = t.db.check_schema::<Book>().await else {
        panic!("expected a schema mismatch");
    };
    assert_eq!(table, "book");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(
        problems[0],
        "column `shelf_id` references `shelf`.`id` ON DELETE CASCADE in the database but \
         `shelf`.`id` ON DELETE RESTRICT in the model"
    );
    assert_eq!(
        problems[1],
        "column `moved_from` references nothing in the database but `shelf`.`id` ON DELETE \
         SET NULL in the model"
    );
    assert!(
        problems[2].starts_with("column `owner_id` references `shelf`.`id` ON DELETE "),
        "{problems:?}"
    );
    assert!(
        problems[2].ends_with(" in the database but nothing in the model"),
        "{problems:?}"
    );

    // The table the model's own schema makes agrees with it.
    raw("DROP TABLE book").execute(&t.db).await?;
    t.db.create_table::<Book>().await?;
    t.db.check_schema::<Book>().await?;
    t.db.check_schema::<Shelf>().await?;
    Ok(())
}

backend_tests!(foreign_keys_that_disagree_with_the_model_are_each_named);
