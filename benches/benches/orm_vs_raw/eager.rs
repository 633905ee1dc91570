//! `eager_parents` and `eager_children`: the rows on the other side of a foreign key for a
//! whole page at once, through mini-orm's `Relation` (`Post::USER_ID_REF`) and through the raw
//! driver with the same SQL, over the `associations` data.

use std::collections::HashMap;

use benches::{ASSOCIATIONS, EAGER_PAGE, ORM, Post, RAW, User};
use criterion::Criterion;
use mini_orm::Db;
use tokio::runtime::Runtime;

use super::{Backend, Raw, store};

/// The ORM side of `eager_parents`.
async fn orm_authors(db: &Db, posts: &[Post]) -> HashMap<i64, User> {
    Post::USER_ID_REF.load(posts, db).await.unwrap()
}

/// The ORM side of `eager_children`.
async fn orm_posts_of(db: &Db, user_ids: &[i64]) -> HashMap<i64, Vec<Post>> {
    Post::USER_ID_REF
        .children_of(user_ids.iter().copied(), db)
        .await
        .unwrap()
}

/// Both workloads on backend `B`, both sides, after checking they agree.
pub(super) fn eager<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let (users, posts_per_user, comments_per_post) = ASSOCIATIONS;
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    let fixture = rt.block_on(store(db, raw, users, posts_per_user, comments_per_post));

    // One post of each of EAGER_PAGE users.
    let page: Vec<Post> = fixture
        .posts
        .iter()
        .step_by(posts_per_user)
        .take(EAGER_PAGE)
        .cloned()
        .collect();
    let page = &page;
    let (orm_authors_found, raw_authors_found) =
        rt.block_on(async { (orm_authors(db, page).await, raw.authors_of(page).await) });
    assert_eq!(orm_authors_found.len(), EAGER_PAGE);
    assert_eq!(
        orm_authors_found, raw_authors_found,
        "both sides load the same authors"
    );
    let mut group = c.benchmark_group(format!("{}/eager_parents", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(|| orm_authors(db, page)));
    group.bench_function(RAW, |b| b.to_async(rt).iter(|| raw.authors_of(page)));
    group.finish();

    let user_ids: Vec<i64> = fixture.users[..EAGER_PAGE].iter().map(|u| u.id).collect();
    let user_ids = &user_ids;
    let (orm_posts, raw_posts) = rt.block_on(async {
        (
            orm_posts_of(db, user_ids).await,
            raw.posts_of(user_ids).await,
        )
    });
    assert_eq!(orm_posts.len(), EAGER_PAGE);
    assert!(
        orm_posts
            .values()
            .all(|posts| posts.len() == posts_per_user)
    );
    assert_eq!(orm_posts, raw_posts, "both sides load the same posts");
    let mut group = c.benchmark_group(format!("{}/eager_children", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(|| orm_posts_of(db, user_ids)));
    group.bench_function(RAW, |b| b.to_async(rt).iter(|| raw.posts_of(user_ids)));
    group.finish();
}
