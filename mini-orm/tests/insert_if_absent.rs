//! `Model::insert_if_absent`: a row that would break a unique constraint is not written, and
//! the caller is told; racing callers with equal rows get exactly one `true`. `Model::upsert`:
//! insert, or update the equal row, atomically; racing upserts lose no update. On every backend.

use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Db, Error, Model, Result, Upserted, backend_tests};

#[derive(Model, Debug, Clone, PartialEq)]
struct Counter {
    #[field(primary_key)]
    id: i64,
    #[field(unique, max_len = 32)]
    name: String,
    views: i64,
}

fn first_view(name: &str) -> Counter {
    Counter {
        id: 0,
        name: name.to_owned(),
        views: 1,
    }
}

/// Counts a view of `name`: creates its counter at 1, or adds 1.
async fn count_view(db: &Db, name: &str) -> Result<Upserted> {
    first_view(name)
        .upsert(db, Counter::NAME.eq(name), [Counter::VIEWS.increment(1)])
        .await
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(unique(follower_id, followed_id))]
struct Follow {
    #[field(primary_key)]
    id: i64,
    follower_id: i64,
    followed_id: i64,
}

fn follow(follower_id: i64, followed_id: i64) -> Follow {
    Follow {
        id: 0,
        follower_id,
        followed_id,
    }
}

/// Runs `act` 8 times at once, each on a pool of its own where the backend allows (SQLite
/// memory is one private connection); returns the outcomes.
async fn race<T, F>(t: &TestDb, act: impl Fn(Db) -> F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let db = match t.backend {
            TestBackend::SqliteMemory => t.db.clone(),
            _ => Db::connect(&t.url).await?,
        };
        racers.spawn(act(db));
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = racers.join_next().await {
        outcomes.push(outcome.expect("no racer panics")?);
    }
    Ok(outcomes)
}

async fn an_equal_row_is_not_written_twice(t: &TestDb) -> Result<()> {
    t.db.create_table::<Follow>().await?;
    let mut first = follow(1, 2);
    assert!(first.insert_if_absent(&t.db).await?, "written");
    assert!(first.id > 0, "the primary key is set");
    let mut again = follow(1, 2);
    assert!(!again.insert_if_absent(&t.db).await?, "not written");
    assert_eq!(again.id, 0, "nothing was generated for it");
    let mut other = follow(2, 1);
    assert!(other.insert_if_absent(&t.db).await?);
    assert_ne!(other.id, first.id);
    let rows = Follow::query()
        .order_by(Follow::ID.asc())
        .all(&t.db)
        .await?;
    assert_eq!(
        rows,
        [first.clone(), other.clone()],
        "the first row is untouched"
    );
    // In a transaction too.
    let mut tx = t.db.begin().await?;
    assert!(!follow(1, 2).insert_if_absent(&mut tx).await?);
    assert!(follow(3, 2).insert_if_absent(&mut tx).await?);
    tx.commit().await?;
    assert_eq!(Follow::query().count(&t.db).await?, 3);
    Ok(())
}

async fn racing_equal_rows_have_one_winner(t: &TestDb) -> Result<()> {
    t.db.create_table::<Follow>().await?;
    let outcomes = race(
        t,
        |db| async move { follow(5, 6).insert_if_absent(&db).await },
    )
    .await?;
    let winners = outcomes.into_iter().filter(|&won| won).count();
    assert_eq!(winners, 1);
    let equal = Follow::FOLLOWER_ID.eq(5) & Follow::FOLLOWED_ID.eq(6);
    assert_eq!(Follow::query().filter(equal).count(&t.db).await?, 1);
    Ok(())
}

async fn an_upsert_inserts_then_updates(t: &TestDb) -> Result<()> {
    t.db.create_table::<Counter>().await?;
    let inserted = count_view(&t.db, "a").await?;
    let Upserted::Inserted(id) = inserted else {
        panic!("the first view inserts: {inserted:?}");
    };
    assert_eq!(count_view(&t.db, "a").await?, Upserted::Updated);
    // (A refused insert may use up a key value on both backends: no `id + 1` here.)
    let other = count_view(&t.db, "b").await?;
    assert!(
        matches!(other, Upserted::Inserted(b) if b != id),
        "{other:?}"
    );
    let a = Counter::get(&t.db, id).await?;
    assert_eq!(a.views, 2);
    // The equal row is not the one `existing` names: an error, and nothing written.
    let wrong = first_view("a")
        .upsert(
            &t.db,
            Counter::NAME.eq("zzz"),
            [Counter::VIEWS.increment(1)],
        )
        .await;
    assert!(matches!(wrong, Err(Error::InvalidQuery(_))), "{wrong:?}");
    assert_eq!(Counter::get(&t.db, id).await?.views, 2);
    let others = Counter::query()
        .filter(Counter::ID.ne(id))
        .count(&t.db)
        .await?;
    assert_eq!(others, 1, "only `b` besides `a`");
    Ok(())
}

async fn racing_upserts_lose_no_update(t: &TestDb) -> Result<()> {
    t.db.create_table::<Counter>().await?;
    let outcomes = race(t, |db| async move { count_view(&db, "hot").await }).await?;
    let inserted = outcomes
        .into_iter()
        .filter(|done| matches!(done, Upserted::Inserted(_)))
        .count();
    assert_eq!(inserted, 1);
    let hot = Counter::query()
        .filter(Counter::NAME.eq("hot"))
        .first(&t.db)
        .await?;
    assert_eq!(hot.map(|c| c.views), Some(8), "every view counted once");
    Ok(())
}

backend_tests!(
    an_upsert_inserts_then_updates,
    racing_upserts_lose_no_update,
    an_equal_row_is_not_written_twice,
    racing_equal_rows_have_one_winner,
);
