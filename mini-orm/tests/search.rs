//! Full-text search: Chinese and English found the same way on every backend, ranking and
//! paging, and the index kept in step with each row's writes, in the same transaction.

use mini_orm::testing::{StatementLog, TestDb};
use mini_orm::{Db, Model, Result, backend_tests, raw};

mod post {
    #![allow(dead_code)] // the column constants

    use mini_orm::Model;

    /// Two searchable fields, one of them optional, and one that is not searched.
    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Post {
        #[field(primary_key)]
        pub id: i64,
        #[field(searchable, max_len = 200)]
        pub title: String,
        #[field(searchable)]
        pub body: Option<String>,
        pub views: i64,
    }
}
use post::Post;

fn post(title: &str) -> Post {
    Post {
        id: 0,
        title: title.to_owned(),
        body: None,
        views: 0,
    }
}

async fn setup(db: &Db, titles: &[&str]) -> Result<Vec<Post>> {
    db.create_table::<Post>().await?;
    let mut posts = Vec::new();
    for title in titles {
        let mut p = post(title);
        p.save(db).await?;
        posts.push(p);
    }
    Ok(posts)
}

fn titles(posts: &[Post]) -> Vec<&str> {
    posts.iter().map(|p| p.title.as_str()).collect()
}

/// The titles of the posts `query` finds, best first.
async fn found(exec: impl mini_orm::Executor, query: &str) -> Result<Vec<String>> {
    let posts = Post::search(query).all(exec).await?;
    Ok(posts.into_iter().map(|p| p.title).collect())
}

/// How many term rows the index holds (for every table).
async fn term_rows(exec: impl mini_orm::Executor) -> Result<i64> {
    let (n,): (i64,) = raw("SELECT COUNT(*) FROM mini_orm_terms")
        .fetch_one(exec)
        .await?;
    Ok(n)
}

async fn chinese_is_found_by_character_pairs(t: &TestDb) -> Result<()> {
    setup(&t.db, &["大家你好啊", "再见", "hello world", "你们好"]).await?;
    assert_eq!(found(&t.db, "你好").await?, ["大家你好啊"]);
    assert_eq!(found(&t.db, "大家").await?, ["大家你好啊"]);
    assert_eq!(found(&t.db, "再见").await?, ["再见"]);
    // A pair that is in no text finds nothing, even though its characters are.
    assert!(found(&t.db, "好你").await?.is_empty());
    Ok(())
}

async fn english_is_found_by_whole_words_in_any_case(t: &TestDb) -> Result<()> {
    setup(&t.db, &["Sunset over the lake", "Sunrise", "sunsets"]).await?;
    for query in ["sunset", "SUNSET", "  Sunset!  "] {
        assert_eq!(
            found(&t.db, query).await?,
            ["Sunset over the lake"],
            "{query:?}"
        );
    }
    assert!(found(&t.db, "sun").await?.is_empty());
    Ok(())
}

async fn optional_text_is_searched_too(t: &TestDb) -> Result<()> {
    t.db.create_table::<Post>().await?;
    let mut with_body = Post {
        body: Some("a Lighthouse at dawn".into()),
        ..post("untitled")
    };
    with_body.save(&t.db).await?;
    post("lighthouse keeper").save(&t.db).await?;
    let found = Post::search("lighthouse dawn").all(&t.db).await?;
    assert_eq!(titles(&found), ["untitled", "lighthouse keeper"]);
    assert_eq!(found[0], with_body);
    Ok(())
}

async fn rows_with_more_query_terms_rank_first(t: &TestDb) -> Result<()> {
    setup(
        &t.db,
        &["lake view", "Sunset over the lake", "sunset boulevard"],
    )
    .await?;
    // Both words first; then one word each, newest first.
    assert_eq!(
        found(&t.db, "lake sunset").await?,
        ["Sunset over the lake", "sunset boulevard", "lake view"]
    );
    Ok(())
}

async fn more_occurrences_rank_before_newer_rows(t: &TestDb) -> Result<()> {
    setup(&t.db, &["rain rain rain", "rain", "sun"]).await?;
    assert_eq!(found(&t.db, "rain").await?, ["rain rain rain", "rain"]);
    Ok(())
}

async fn results_are_paged(t: &TestDb) -> Result<()> {
    let posts = setup(&t.db, &["page 1", "page 2", "page 3", "page 4", "page 5"]).await?;
    let page = |limit, offset| Post::search("page").limit(limit).offset(offset);
    assert_eq!(titles(&page(2, 0).all(&t.db).await?), ["page 5", "page 4"]);
    assert_eq!(titles(&page(2, 2).all(&t.db).await?), ["page 3", "page 2"]);
    assert_eq!(titles(&page(2, 4).all(&t.db).await?), ["page 1"]);
    assert!(page(2, 6).all(&t.db).await?.is_empty());
    let skipped = Post::search("page").offset(3).all(&t.db).await?;
    assert_eq!(skipped, [posts[1].clone(), posts[0].clone()]);
    Ok(())
}

async fn a_common_word_is_ranked_among_its_newest_rows(t: &TestDb) -> Result<()> {
    t.db.create_table::<Post>().await?;
    // The oldest post says "tide" three times; 4 096 newer ones say it once.
    let mut rows = vec![post("tide tide tide moon")];
    rows.extend((0..4096).map(|i| post(&format!("tide {i}"))));
    Post::insert_all(&t.db, &rows).await?;
    let best = Post::search("tide").limit(2).all(&t.db).await?;
    assert_eq!(
        titles(&best),
        ["tide 4095", "tide 4094"],
        "the oldest is past the word's window of 4 096 rows"
    );
    assert_eq!(Post::search("tide").all(&t.db).await?.len(), 4096);
    assert_eq!(found(&t.db, "moon").await?, ["tide tide tide moon"]);
    Ok(())
}

async fn a_term_table_of_the_first_form_is_rebuilt_with_its_rows(t: &TestDb) -> Result<()> {
    if t.db.backend() != mini_orm::Backend::Sqlite {
        return Ok(()); // MySQL's term table was clustered on its key from the start
    }
    // The first form: a rowid table with a unique index, holding a row's terms.
    for sql in [
        "CREATE TABLE mini_orm_terms (tbl TEXT NOT NULL, row_id INTEGER NOT NULL, \
         term TEXT NOT NULL, weight INTEGER NOT NULL) STRICT",
        "CREATE UNIQUE INDEX mini_orm_terms_term_key ON mini_orm_terms (tbl, term, row_id)",
        "CREATE INDEX mini_orm_terms_row_idx ON mini_orm_terms (row_id, tbl)",
        "INSERT INTO mini_orm_terms VALUES ('post', 1, 'lake', 1)",
    ] {
        raw(sql).execute(&t.db).await?;
    }
    t.db.create_table::<Post>().await?;
    t.db.create_table::<Post>().await?; // once rebuilt, left alone
    raw("INSERT INTO post (id, title, views) VALUES (1, 'Lake', 0)")
        .execute(&t.db)
        .await?;
    assert_eq!(
        found(&t.db, "lake").await?,
        ["Lake"],
        "the old term row kept"
    );
    let (sql,): (String,) =
        raw("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'mini_orm_terms'")
            .fetch_one(&t.db)
            .await?;
    assert!(sql.contains("WITHOUT ROWID"), "{sql}");
    let mut p = post("lake again");
    p.save(&t.db).await?;
    p.delete(&t.db).await?;
    assert_eq!(term_rows(&t.db).await?, 1, "rows' terms kept in step");
    Ok(())
}

async fn an_update_replaces_the_old_terms(t: &TestDb) -> Result<()> {
    let mut posts = setup(&t.db, &["old words", "other"]).await?;
    let before = term_rows(&t.db).await?;
    posts[0].title = "new words".into();
    posts[0].update(&t.db).await?;
    assert!(found(&t.db, "old").await?.is_empty());
    assert_eq!(found(&t.db, "new").await?, ["new words"]);
    assert_eq!(found(&t.db, "words new").await?, ["new words"]);
    assert_eq!(
        term_rows(&t.db).await?,
        before,
        "old terms replaced, not kept"
    );
    Ok(())
}

async fn a_delete_removes_the_terms(t: &TestDb) -> Result<()> {
    let posts = setup(&t.db, &["doomed post", "kept post"]).await?;
    posts[0].delete(&t.db).await?;
    assert!(found(&t.db, "doomed").await?.is_empty());
    assert_eq!(term_rows(&t.db).await?, 2, "only `kept` and `post` remain");
    Ok(())
}

async fn a_bulk_delete_removes_the_rows_terms(t: &TestDb) -> Result<()> {
    setup(&t.db, &["old tide", "old moon", "new tide"]).await?;
    let old = Post::query().filter(Post::TITLE.starts_with("old"));
    assert_eq!(old.delete(&t.db).await?, 2);
    assert_eq!(term_rows(&t.db).await?, 2, "only `new` and `tide` remain");
    assert_eq!(found(&t.db, "tide").await?, ["new tide"]);
    // In the caller's transaction: rolled back, rows and terms stay.
    let before = term_rows(&t.db).await?;
    let mut tx = t.db.begin().await?;
    Post::query().delete(&mut tx).await?;
    drop(tx);
    assert_eq!(term_rows(&t.db).await?, before);
    assert_eq!(found(&t.db, "tide").await?, ["new tide"]);
    Ok(())
}

async fn a_rolled_back_transaction_leaves_no_terms(t: &TestDb) -> Result<()> {
    let mut posts = setup(&t.db, &["stays"]).await?;
    let before = term_rows(&t.db).await?;
    let mut tx = t.db.begin().await?;
    post("transient words").save(&mut tx).await?;
    posts[0].title = "changed".into();
    posts[0].update(&mut tx).await?;
    assert_eq!(
        found(&mut tx, "transient").await?,
        ["transient words"],
        "the transaction sees its terms"
    );
    tx.rollback().await?;
    assert_eq!(term_rows(&t.db).await?, before);
    assert!(
        Post::search("transient changed")
            .all(&t.db)
            .await?
            .is_empty()
    );
    assert_eq!(found(&t.db, "stays").await?, ["stays"]);
    Ok(())
}

/// Given a `Db`, the row and its terms are written in one transaction: when the terms cannot
/// be written, the row is not either.
async fn a_failed_term_write_undoes_the_row_write(t: &TestDb) -> Result<()> {
    let mut posts = setup(&t.db, &["original"]).await?;
    raw("DROP TABLE mini_orm_terms").execute(&t.db).await?;
    assert!(post("lost").save(&t.db).await.is_err());
    posts[0].title = "edited".into();
    assert!(posts[0].update(&t.db).await.is_err());
    assert!(posts[0].delete(&t.db).await.is_err());
    assert!(
        Post::insert_all(&t.db, &[post("a"), post("b")])
            .await
            .is_err()
    );
    let rows = Post::query().all(&t.db).await?;
    assert_eq!(titles(&rows), ["original"]);
    Ok(())
}

async fn insert_all_indexes_every_row(t: &TestDb) -> Result<()> {
    t.db.create_table::<Post>().await?;
    let rows = [post("first light"), post("second light"), post("dark")];
    assert_eq!(Post::insert_all(&t.db, &rows).await?, 3);
    assert_eq!(
        found(&t.db, "light").await?,
        ["second light", "first light"]
    );
    Ok(())
}

async fn insert_if_absent_indexes_the_row_it_writes(t: &TestDb) -> Result<()> {
    setup(&t.db, &[]).await?;
    let mut p = post("Sunset over the lake");
    assert!(p.insert_if_absent(&t.db).await?);
    assert_eq!(found(&t.db, "sunset").await?, ["Sunset over the lake"]);
    let mut second = post("Lake at dawn");
    assert!(second.insert_if_absent(&t.db).await?);
    assert_eq!(
        found(&t.db, "lake sunset").await?,
        ["Sunset over the lake", "Lake at dawn"]
    );
    Ok(())
}

async fn a_blank_query_finds_nothing_without_asking_the_database(t: &TestDb) -> Result<()> {
    // No table at all: a query that reached the database would fail.
    let log = StatementLog::start();
    for query in ["", "   ", "\t\n", "!!! ,,, —— 。"] {
        assert!(found(&t.db, query).await?.is_empty(), "{query:?}");
    }
    assert!(log.statements().is_empty());
    Ok(())
}

async fn a_hostile_query_uses_only_its_first_terms(t: &TestDb) -> Result<()> {
    setup(&t.db, &["w0", "w31", "w32"]).await?;
    let long: String = (0..10_000).map(|i| format!("w{i} ")).collect();
    let search = Post::search(&long);
    assert_eq!(search.terms().len(), 32);
    // `w32` is the 33rd term: not looked for.
    assert_eq!(titles(&search.all(&t.db).await?), ["w31", "w0"]);
    let huge_word = "x".repeat(100_000);
    assert!(found(&t.db, &huge_word).await?.is_empty());
    Ok(())
}

async fn create_and_drop_keep_the_term_table_in_step(t: &TestDb) -> Result<()> {
    setup(&t.db, &["before the drop"]).await?;
    t.db.create_table::<Post>().await?; // idempotent, terms kept
    assert_eq!(Post::search("drop").all(&t.db).await?.len(), 1);
    t.db.drop_table::<Post>().await?;
    assert_eq!(term_rows(&t.db).await?, 0);
    setup(&t.db, &["after"]).await?;
    assert!(found(&t.db, "drop").await?.is_empty());
    Ok(())
}

backend_tests!(
    insert_if_absent_indexes_the_row_it_writes,
    chinese_is_found_by_character_pairs,
    english_is_found_by_whole_words_in_any_case,
    optional_text_is_searched_too,
    rows_with_more_query_terms_rank_first,
    more_occurrences_rank_before_newer_rows,
    results_are_paged,
    a_common_word_is_ranked_among_its_newest_rows,
    a_term_table_of_the_first_form_is_rebuilt_with_its_rows,
    an_update_replaces_the_old_terms,
    a_delete_removes_the_terms,
    a_bulk_delete_removes_the_rows_terms,
    a_rolled_back_transaction_leaves_no_terms,
    a_failed_term_write_undoes_the_row_write,
    insert_all_indexes_every_row,
    a_blank_query_finds_nothing_without_asking_the_database,
    a_hostile_query_uses_only_its_first_terms,
    create_and_drop_keep_the_term_table_in_step,
);
