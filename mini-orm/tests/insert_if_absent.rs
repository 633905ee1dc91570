//! `Model::insert_if_absent`: a row that would break a unique constraint is not written, and
//! the caller is told; racing callers with equal rows get exactly one `true`. On every backend.

use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Model, Result, backend_tests};

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
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        // Each racer on a pool of its own where the backend allows (SQLite memory is one
        // private connection).
        let db = match t.backend {
            TestBackend::SqliteMemory => t.db.clone(),
            _ => mini_orm::Db::connect(&t.url).await?,
        };
        racers.spawn(async move { follow(5, 6).insert_if_absent(&db).await });
    }
    let mut winners = 0;
    while let Some(outcome) = racers.join_next().await {
        if outcome.expect("no racer panics")? {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let equal = Follow::FOLLOWER_ID.eq(5) & Follow::FOLLOWED_ID.eq(6);
    assert_eq!(Follow::query().filter(equal).count(&t.db).await?, 1);
    Ok(())
}

backend_tests!(
    an_equal_row_is_not_written_twice,
    racing_equal_rows_have_one_winner,
);
