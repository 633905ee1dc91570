//! `feed_in_subquery` and `join`: a page of a feed in one statement, through mini-orm's
//! `in_query` and `join` and through the raw driver with the same SQL, over the `associations`
//! data.

use benches::{ASSOCIATIONS, COUNTED_HAIR_COLOR, FEED_PAGE, ORM, Post, RAW, User};
use criterion::Criterion;
use mini_orm::{Db, Model};
use tokio::runtime::Runtime;

use super::{Backend, Raw, store};

/// The ORM side of `feed_in_subquery`.
async fn orm_feed(db: &Db) -> Vec<Post> {
    let black_haired = User::query()
        .filter(User::HAIR_COLOR.eq(COUNTED_HAIR_COLOR))
        .values(User::ID);
    Post::query()
        .filter(Post::USER_ID.in_query(black_haired))
        .order_by(Post::ID.desc())
        .limit(FEED_PAGE as u64)
        .all(db)
        .await
        .unwrap()
}

/// The ORM side of `join`.
async fn orm_posts_with_users(db: &Db) -> Vec<(Post, User)> {
    Post::query()
        .order_by(Post::ID.desc())
        .limit(FEED_PAGE as u64)
        .join(User::ID.eq_column(Post::USER_ID))
        .all(db)
        .await
        .unwrap()
}

/// Both workloads on backend `B`, both sides, after checking they agree.
pub(super) fn feeds<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let (users, posts_per_user, comments_per_post) = ASSOCIATIONS;
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    rt.block_on(store(db, raw, users, posts_per_user, comments_per_post));

    let (orm_feed_rows, raw_feed_rows) = rt.block_on(async {
        (
            orm_feed(db).await,
            raw.feed(COUNTED_HAIR_COLOR, FEED_PAGE).await,
        )
    });
    assert_eq!(orm_feed_rows.len(), FEED_PAGE as usize);
    assert_eq!(
        orm_feed_rows, raw_feed_rows,
        "both sides read the same feed"
    );
    let mut group = c.benchmark_group(format!("{}/feed_in_subquery", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(|| orm_feed(db)));
    group.bench_function(RAW, |b| {
        b.to_async(rt)
            .iter(|| raw.feed(COUNTED_HAIR_COLOR, FEED_PAGE))
    });
    group.finish();

    let (orm_pairs, raw_pairs) = rt.block_on(async {
        (
            orm_posts_with_users(db).await,
            raw.posts_with_users(FEED_PAGE).await,
        )
    });
    assert_eq!(orm_pairs.len(), FEED_PAGE as usize);
    assert!(orm_pairs.iter().all(|(post, user)| post.user_id == user.id));
    assert_eq!(orm_pairs, raw_pairs, "both sides join the same pairs");
    let mut group = c.benchmark_group(format!("{}/join", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(|| orm_posts_with_users(db)));
    group.bench_function(RAW, |b| {
        b.to_async(rt).iter(|| raw.posts_with_users(FEED_PAGE))
    });
    group.finish();
}
