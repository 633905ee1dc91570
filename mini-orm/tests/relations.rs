//! Relations: `#[field(references = Model)]` makes a foreign key on both backends (a missing
//! parent, a restricted delete: `Error::ForeignKeyViolation`; `cascade` and `set_null` do what
//! they say), and `Relation` loads the parents of a page of rows, or the children of a page of
//! parents, in one statement each (counted with `StatementLog`).
// The derive makes a column constant per field; these tests use some of them only.
#![allow(dead_code)]

use mini_orm::testing::{StatementLog, TestDb};
use mini_orm::{
    Backend, Error, Migration, Migrations, Model, OnDelete, Result, Step, TableDef, backend_tests,
    raw, schema,
};

#[derive(Model, Debug, Clone, PartialEq)]
struct Author {
    #[field(primary_key)]
    id: i64,
    #[field(max_len = 32)]
    name: String,
}

/// Deleted with its author.
#[derive(Model, Debug, Clone, PartialEq)]
struct Photo {
    #[field(primary_key)]
    id: i64,
    #[field(references = Author, on_delete = "cascade")]
    author_id: i64,
    #[field(max_len = 64)]
    title: String,
}

/// Keeps its photo from being deleted (the default, `restrict`); its author may go, leaving
/// the comment anonymous.
#[derive(Model, Debug, Clone, PartialEq)]
struct Comment {
    #[field(primary_key)]
    id: i64,
    #[field(references = Photo)]
    photo_id: i64,
    #[field(references = Author, on_delete = "set_null")]
    author_id: Option<i64>,
    text: String,
}

/// A tree: a model may reference itself.
#[derive(Model, Debug, Clone, PartialEq)]
struct Category {
    #[field(primary_key)]
    id: i64,
    #[field(references = Self, on_delete = "set_null")]
    parent_id: Option<i64>,
}

/// The `post` table as the last release made it.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "post")]
struct OldPost {
    #[field(primary_key)]
    id: i64,
    text: String,
}

/// The `post` table as this release wants it: a new foreign key.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "post")]
struct Post {
    #[field(primary_key)]
    id: i64,
    text: String,
    #[field(references = Author, on_delete = "set_null")]
    editor_id: Option<i64>,
}

async fn tables(t: &TestDb) -> Result<()> {
    // Referenced tables first.
    t.db.create_table::<Author>().await?;
    t.db.create_table::<Photo>().await?;
    t.db.create_table::<Comment>().await
}

async fn author(t: &TestDb, name: &str) -> Result<Author> {
    let mut author = Author {
        id: 0,
        name: name.to_owned(),
    };
    author.save(&t.db).await?;
    Ok(author)
}

async fn photo(t: &TestDb, author_id: i64, title: &str) -> Result<Photo> {
    let mut photo = Photo {
        id: 0,
        author_id,
        title: title.to_owned(),
    };
    photo.save(&t.db).await?;
    Ok(photo)
}

async fn comment(t: &TestDb, photo_id: i64, author_id: Option<i64>) -> Result<Comment> {
    let mut comment = Comment {
        id: 0,
        photo_id,
        author_id,
        text: "nice".to_owned(),
    };
    comment.save(&t.db).await?;
    Ok(comment)
}

fn expect_foreign_key_violation<T: std::fmt::Debug>(result: Result<T>, table: &str) {
    match result {
        Err(Error::ForeignKeyViolation { table: t, .. }) => assert_eq!(t, table),
        other => panic!("expected a foreign key violation on `{table}`, got {other:?}"),
    }
}

#[test]
fn the_column_def_says_what_it_references() {
    let key = Photo::TABLE.columns[1]
        .references
        .expect("author_id references");
    assert_eq!(key.table().name, "author");
    assert_eq!(key.column(), "id");
    assert_eq!(key.on_delete, OnDelete::Cascade);
    let comment = Comment::TABLE.columns;
    assert_eq!(comment[1].references.unwrap().on_delete, OnDelete::Restrict);
    assert_eq!(comment[2].references.unwrap().on_delete, OnDelete::SetNull);
    assert!(comment[3].references.is_none());
    // Each foreign key is indexed, for `children_of` and `ON DELETE`.
    let indexed: Vec<_> = Comment::TABLE.indexes.iter().map(|i| i.columns).collect();
    assert_eq!(indexed, [&["photo_id"], &["author_id"]]);
}

#[test]
fn each_backend_declares_the_foreign_keys_in_create_table_and_add_column() {
    let sqlite = schema::create_table(Backend::Sqlite, Comment::TABLE);
    assert!(
        sqlite[0].contains(
            "FOREIGN KEY (\"photo_id\") REFERENCES \"photo\" (\"id\") ON DELETE RESTRICT,\n  \
             FOREIGN KEY (\"author_id\") REFERENCES \"author\" (\"id\") ON DELETE SET NULL\n)"
        ),
        "{sqlite:?}"
    );
    let mysql = schema::create_table(Backend::MySql, Photo::TABLE);
    assert!(
        mysql[0].contains("FOREIGN KEY (`author_id`) REFERENCES `author` (`id`) ON DELETE CASCADE"),
        "{mysql:?}"
    );
    let editor = &Post::TABLE.columns[2];
    assert_eq!(
        schema::add_column(Backend::Sqlite, Post::TABLE, editor),
        "ALTER TABLE \"post\" ADD COLUMN \"editor_id\" INTEGER \
         REFERENCES \"author\" (\"id\") ON DELETE SET NULL"
    );
    assert_eq!(
        schema::add_column(Backend::MySql, Post::TABLE, editor),
        "ALTER TABLE `post` ADD COLUMN `editor_id` BIGINT, \
         ADD FOREIGN KEY (`editor_id`) REFERENCES `author` (`id`) ON DELETE SET NULL"
    );
}

async fn a_child_without_its_parent_is_refused(t: &TestDb) -> Result<()> {
    tables(t).await?;
    expect_foreign_key_violation(photo(t, 12345, "orphan").await, "photo");
    let ann = author(t, "ann").await?;
    let mut kept = photo(t, ann.id, "kept").await?;
    // An update to a missing parent too.
    kept.author_id = 999;
    expect_foreign_key_violation(kept.save(&t.db).await, "photo");
    assert_eq!(Photo::query().count(&t.db).await?, 1);
    Ok(())
}

async fn cascade_deletes_the_children(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let (ann, bob) = (author(t, "ann").await?, author(t, "bob").await?);
    photo(t, ann.id, "a1").await?;
    photo(t, ann.id, "a2").await?;
    let b1 = photo(t, bob.id, "b1").await?;
    ann.delete(&t.db).await?;
    assert_eq!(Photo::query().all(&t.db).await?, [b1]);
    Ok(())
}

async fn restrict_refuses_to_delete_a_referenced_parent(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let ann = author(t, "ann").await?;
    let p = photo(t, ann.id, "p").await?;
    let c = comment(t, p.id, None).await?;
    expect_foreign_key_violation(p.delete(&t.db).await, "photo");
    // A bulk delete is refused the same way, and cascading into a restricted row too.
    expect_foreign_key_violation(
        Photo::query()
            .filter(Photo::ID.eq(p.id))
            .delete(&t.db)
            .await,
        "photo",
    );
    expect_foreign_key_violation(ann.delete(&t.db).await, "author");
    assert_eq!(Photo::query().count(&t.db).await?, 1);
    c.delete(&t.db).await?;
    p.delete(&t.db).await?;
    ann.delete(&t.db).await?;
    Ok(())
}

async fn set_null_empties_the_reference(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let (ann, bob) = (author(t, "ann").await?, author(t, "bob").await?);
    let p = photo(t, ann.id, "p").await?;
    let by_bob = comment(t, p.id, Some(bob.id)).await?;
    let by_ann = comment(t, p.id, Some(ann.id)).await?;
    bob.delete(&t.db).await?;
    assert_eq!(Comment::get(&t.db, by_bob.id).await?.author_id, None);
    assert_eq!(
        Comment::get(&t.db, by_ann.id).await?.author_id,
        Some(ann.id)
    );
    Ok(())
}

async fn a_pages_parents_load_in_one_statement(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let mut authors = Vec::new();
    for i in 0..5 {
        authors.push(author(t, &format!("author{i}")).await?);
    }
    let extra = author(t, "no photos in the page").await?;
    for i in 0..25 {
        photo(t, authors[i % 5].id, &format!("photo{i}")).await?;
    }
    photo(t, extra.id, "outside the page").await?;
    let page = Photo::query()
        .order_by(Photo::ID.asc())
        .limit(20)
        .all(&t.db)
        .await?;
    assert_eq!(page.len(), 20);

    let log = StatementLog::start();
    let loaded = Photo::AUTHOR_ID_REF.load(&page, &t.db).await?;
    let statements = log.statements();
    assert_eq!(statements.len(), 1, "{statements:?}");
    assert!(statements[0].contains(" IN ("), "{statements:?}");

    assert_eq!(loaded.len(), 5);
    assert!(!loaded.contains_key(&extra.id));
    for photo in &page {
        let author = &loaded[&photo.author_id];
        assert_eq!(author.id, photo.author_id);
        assert_eq!(authors.iter().find(|a| a.id == author.id), Some(author));
    }

    // Nothing to load: no statement at all; a NULL key loads nothing.
    let log = StatementLog::start();
    assert!(Photo::AUTHOR_ID_REF.load(&[], &t.db).await?.is_empty());
    let anonymous = comment(t, page[0].id, None).await?;
    let log_after = log.statements().len();
    assert_eq!(log_after, 1, "only the comment's insert");
    assert!(
        Comment::AUTHOR_ID_REF
            .load(&[anonymous], &t.db)
            .await?
            .is_empty()
    );
    assert_eq!(log.statements().len(), 1);
    Ok(())
}

async fn a_pages_children_load_in_one_statement(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let ann = author(t, "ann").await?;
    let mut photos = Vec::new();
    for i in 0..20 {
        photos.push(photo(t, ann.id, &format!("photo{i}")).await?);
    }
    // Photo i gets i % 3 comments; photo 0 also gets none from the page's neighbours.
    let mut expected = std::collections::HashMap::new();
    for (i, p) in photos.iter().enumerate() {
        for _ in 0..i % 3 {
            let c = comment(t, p.id, Some(ann.id)).await?;
            expected.entry(p.id).or_insert_with(Vec::new).push(c);
        }
    }
    let outside = photo(t, ann.id, "outside the page").await?;
    comment(t, outside.id, None).await?;

    let ids: Vec<i64> = photos.iter().map(|p| p.id).collect();
    let log = StatementLog::start();
    let children = Comment::PHOTO_ID_REF.children_of(ids, &t.db).await?;
    let statements = log.statements();
    assert_eq!(statements.len(), 1, "{statements:?}");
    assert!(statements[0].contains(" IN ("), "{statements:?}");
    assert_eq!(children, expected);
    assert!(!children.contains_key(&outside.id));

    // In a transaction too.
    let mut tx = t.db.begin().await?;
    let in_tx = Comment::PHOTO_ID_REF
        .children_of([photos[2].id, photos[2].id], &mut tx)
        .await?;
    tx.commit().await?;
    assert_eq!(in_tx[&photos[2].id].len(), 2);
    Ok(())
}

async fn a_model_may_reference_itself(t: &TestDb) -> Result<()> {
    t.db.create_table::<Category>().await?;
    let mut root = Category {
        id: 0,
        parent_id: None,
    };
    root.save(&t.db).await?;
    let mut leaf = Category {
        id: 0,
        parent_id: Some(root.id),
    };
    leaf.save(&t.db).await?;
    let children = Category::PARENT_ID_REF
        .children_of([root.id], &t.db)
        .await?;
    assert_eq!(children[&root.id], [leaf.clone()]);
    let parents = Category::PARENT_ID_REF.load(&[leaf.clone()], &t.db).await?;
    assert_eq!(parents[&root.id], root);
    root.delete(&t.db).await?;
    assert_eq!(Category::get(&t.db, leaf.id).await?.parent_id, None);
    Ok(())
}

fn add_column(version: u32, table: &'static TableDef, column: &'static str) -> Migration {
    Migration {
        version,
        name: column,
        steps: vec![Step::AddColumn { table, column }],
    }
}

async fn migrations_create_referencing_tables_and_add_foreign_keys(t: &TestDb) -> Result<()> {
    let first = Migration {
        version: 1,
        name: "authors, photos, posts",
        steps: vec![
            Step::CreateTable(Author::TABLE),
            Step::CreateTable(Photo::TABLE),
            Step::CreateTable(OldPost::TABLE),
        ],
    };
    Migrations::new(vec![first]).run(&t.db).await?;
    expect_foreign_key_violation(photo(t, 404, "orphan").await, "photo");
    let mut old = OldPost {
        id: 0,
        text: "before".to_owned(),
    };
    old.save(&t.db).await?;

    let second = add_column(2, Post::TABLE, "editor_id");
    let first_again = Migration {
        version: 1,
        name: "authors, photos, posts",
        steps: vec![],
    };
    Migrations::new(vec![first_again, second])
        .check::<Post>()
        .run(&t.db)
        .await?;
    assert_eq!(Post::get(&t.db, old.id).await?.editor_id, None);
    let mut orphan = Post {
        id: 0,
        text: "x".to_owned(),
        editor_id: Some(404),
    };
    expect_foreign_key_violation(orphan.save(&t.db).await, "post");
    let ann = author(t, "ann").await?;
    let mut edited = Post {
        id: 0,
        text: "y".to_owned(),
        editor_id: Some(ann.id),
    };
    edited.save(&t.db).await?;
    ann.delete(&t.db).await?;
    assert_eq!(Post::get(&t.db, edited.id).await?.editor_id, None);

    // A NOT NULL foreign key cannot be added: the rows already there reference nothing.
    let not_null = add_column(3, Photo::TABLE, "author_id");
    match Migrations::new(vec![not_null]).run(&t.db).await {
        Err(Error::InvalidMigration(message)) => assert!(message.contains("references `author`")),
        other => panic!("expected an invalid migration, got {other:?}"),
    }
    Ok(())
}

/// The schema's foreign keys are real ones: the database lists them.
async fn the_database_lists_the_foreign_keys(t: &TestDb) -> Result<()> {
    tables(t).await?;
    let sql = match t.db.backend() {
        mini_orm::Backend::Sqlite => {
            "SELECT COUNT(*) FROM pragma_foreign_key_list('comment')".to_owned()
        }
        mini_orm::Backend::MySql => {
            "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'comment'"
                .to_owned()
        }
    };
    let rows: Vec<(i64,)> = raw(sql).fetch_all(&t.db).await?;
    assert_eq!(rows[0].0, 2);
    Ok(())
}

backend_tests!(
    a_child_without_its_parent_is_refused,
    cascade_deletes_the_children,
    restrict_refuses_to_delete_a_referenced_parent,
    set_null_empties_the_reference,
    a_pages_parents_load_in_one_statement,
    a_pages_children_load_in_one_statement,
    the_database_lists_the_foreign_keys,
    a_model_may_reference_itself,
    migrations_create_referencing_tables_and_add_foreign_keys,
);
