//! mini-orm against the raw drivers (rusqlite, mysql_async) on diesel_bench's workloads; the
//! `benches` crate documents the workloads, the ids and the `ratios` table.
//!
//! ```text
//! cargo bench -p benches                                  # SQLite (MySQL skipped: no URL)
//! MINI_ORM_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo bench -p benches
//! cargo run -p benches --bin ratios                       # medians and ratios, as markdown
//! ```
//!
//! The defaults keep a run short on a small machine (40 samples, 1 s of warm-up, 2 s of
//! measurement per benchmark); criterion's own flags override them, e.g.
//! `cargo bench -p benches -- --sample-size 100 --measurement-time 5 sqlite/`.
//!
//! This file holds what both backends share: the ORM side of every workload (the same code for
//! both, as mini-orm is backend-agnostic), the [`Raw`] trait that each backend's raw side
//! implements (`sqlite.rs`, `mysql.rs`), and the criterion groups, which time both sides and
//! first check that they return the same result.

mod eager;
mod feeds;
mod mysql;
mod sqlite;
mod upserts;

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::{
    ASSOCIATIONS, COUNTED_HAIR_COLOR, Comment, Counter, INSERT_SIZES, ORM, Post, RAW,
    SINGLE_ROW_TABLE_SIZE, TRIVIAL_QUERY_SIZES, User, UserWithPosts, group_associations,
    new_comments, new_posts, new_users,
};
use criterion::{BenchmarkId, Criterion};
use mini_orm::{Db, Model};
use tokio::runtime::Runtime;

/// The variable that names the MySQL server (the one mini-orm's test harness reads).
const MYSQL_URL_VAR: &str = "MINI_ORM_MYSQL_URL";

/// The raw driver's side of every workload, doing what mini-orm does the best way the driver
/// allows. Failures panic: a benchmark has no error path to time.
trait Raw {
    /// Inserts `users` with one multi-row `INSERT`; returns the rows inserted.
    async fn insert_users(&self, users: &[User]) -> u64;
    /// Deletes every user.
    async fn delete_users(&self);
    /// Every user.
    async fn load_users(&self) -> Vec<User>;
    /// Every user with its posts with their comments, in three queries.
    async fn associations(&self) -> Vec<UserWithPosts>;
    /// The user with this primary key.
    async fn get_user(&self, id: i64) -> User;
    /// Writes every column of `user` by primary key; returns the rows matched.
    async fn update_user(&self, user: &User) -> u64;
    /// How many users have this hair colour.
    async fn count_users_with_hair_color(&self, color: &str) -> u64;
    /// The newest `limit` posts of the users with this hair colour, in one statement.
    async fn feed(&self, color: &str, limit: i64) -> Vec<Post>;
    /// The newest `limit` posts, each with its author, in one statement.
    async fn posts_with_users(&self, limit: i64) -> Vec<(Post, User)>;
    /// The authors of `posts`, by id: one `SELECT … WHERE id IN (…) ORDER BY id` over their
    /// distinct ids ([`distinct`]).
    async fn authors_of(&self, posts: &[Post]) -> HashMap<i64, User>;
    /// The posts of these users, by user, each list in id order: one `SELECT … WHERE user_id IN
    /// (…) ORDER BY id` ([`posts_by_user`]).
    async fn posts_of(&self, user_ids: &[i64]) -> HashMap<i64, Vec<Post>>;
    /// Inserts `counter` unless its name is taken (one `INSERT … ON CONFLICT DO NOTHING` /
    /// `INSERT IGNORE`); sets its id and returns `true` when it was written.
    async fn insert_counter_if_absent(&self, counter: &mut Counter) -> bool;
    /// In one transaction, the insert of `insert_counter_if_absent`, and when it wrote nothing,
    /// `UPDATE … SET views = views + ? WHERE name = ?`; returns `true` when it inserted.
    async fn upsert_counter(&self, counter: &mut Counter) -> bool;
    /// Makes the raw side's database hold these rows (stored through mini-orm, with their ids),
    /// unless it is mini-orm's database.
    async fn mirror(&self, users: &[User], posts: &[Post], comments: &[Comment]);
}

/// A backend: how to get both sides with empty `users`, `posts`, `comments` and `counters`
/// tables.
trait Backend {
    /// The raw side.
    type Raw: Raw;
    /// The backend's name in benchmark ids.
    const NAME: &'static str;
    /// mini-orm's database and the raw side, each with empty tables created by mini-orm's schema.
    async fn fresh(&self) -> (Db, Self::Raw);
}

/// The rows a workload starts from, as stored (with their ids).
struct Fixture {
    users: Vec<User>,
    posts: Vec<Post>,
    comments: Vec<Comment>,
}

/// Stores `users` users, `posts_per_user` posts each and `comments_per_post` comments on each
/// post through mini-orm, then mirrors them to the raw side.
async fn store(
    db: &Db,
    raw: &impl Raw,
    users: usize,
    posts_per_user: usize,
    comments_per_post: usize,
) -> Fixture {
    User::insert_all(db, &new_users(users)).await.unwrap();
    let users = User::query()
        .order_by(User::ID.asc())
        .all(db)
        .await
        .unwrap();
    Post::insert_all(db, &new_posts(&users, posts_per_user))
        .await
        .unwrap();
    let posts = Post::query()
        .order_by(Post::ID.asc())
        .all(db)
        .await
        .unwrap();
    Comment::insert_all(db, &new_comments(&posts, comments_per_post))
        .await
        .unwrap();
    let comments = Comment::query()
        .order_by(Comment::ID.asc())
        .all(db)
        .await
        .unwrap();
    raw.mirror(&users, &posts, &comments).await;
    Fixture {
        users,
        posts,
        comments,
    }
}

/// `ids` without repeats, in their first order (what a relation queries).
fn distinct(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// `posts` by author, each list in the order of `posts`.
fn posts_by_user(posts: Vec<Post>) -> HashMap<i64, Vec<Post>> {
    let mut by_user: HashMap<i64, Vec<Post>> = HashMap::new();
    for post in posts {
        by_user.entry(post.user_id).or_default().push(post);
    }
    by_user
}

/// The ORM side of `associations`: the same three queries as the raw side, grouped the same way.
async fn orm_associations(db: &Db) -> Vec<UserWithPosts> {
    let users = User::query().all(db).await.unwrap();
    let posts = Post::query()
        .filter(Post::USER_ID.is_in(users.iter().map(|u| u.id)))
        .all(db)
        .await
        .unwrap();
    let comments = Comment::query()
        .filter(Comment::POST_ID.is_in(posts.iter().map(|p| p.id)))
        .all(db)
        .await
        .unwrap();
    group_associations(users, posts, comments)
}

/// Every workload on backend `B`, both sides.
fn bench_backend<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    trivial_query(c, rt, backend);
    insert(c, rt, backend);
    associations(c, rt, backend);
    single_rows(c, rt, backend);
    feeds::feeds(c, rt, backend);
    eager::eager(c, rt, backend);
    upserts::upserts(c, rt, backend);
}

fn trivial_query<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let mut group = c.benchmark_group(format!("{}/trivial_query", B::NAME));
    for n in TRIVIAL_QUERY_SIZES {
        let (db, raw) = rt.block_on(async {
            let (db, raw) = backend.fresh().await;
            store(&db, &raw, n, 0, 0).await;
            (db, raw)
        });
        let (orm_rows, raw_rows) = rt.block_on(async {
            (
                User::query().all(&db).await.unwrap(),
                raw.load_users().await,
            )
        });
        assert_eq!(orm_rows.len(), n);
        assert_eq!(orm_rows, raw_rows, "both sides load the same users");

        let (db, raw) = (&db, &raw);
        group.bench_function(BenchmarkId::new(ORM, n), |b| {
            b.to_async(rt)
                .iter(|| async move { User::query().all(db).await.unwrap() })
        });
        group.bench_function(BenchmarkId::new(RAW, n), |b| {
            b.to_async(rt).iter(|| raw.load_users())
        });
    }
    group.finish();
}

fn insert<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let mut group = c.benchmark_group(format!("{}/insert", B::NAME));
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    for n in INSERT_SIZES {
        let users = new_users(n);
        let users = &users;
        rt.block_on(async {
            // Without ids, as both sides' keys come from the database.
            let stored = |rows: Vec<User>| {
                rows.into_iter()
                    .map(|u| (u.name, u.hair_color))
                    .collect::<Vec<_>>()
            };
            User::query().delete(db).await.unwrap();
            assert_eq!(User::insert_all(db, users).await.unwrap(), n as u64);
            let orm_rows = stored(
                User::query()
                    .order_by(User::ID.asc())
                    .all(db)
                    .await
                    .unwrap(),
            );
            raw.delete_users().await;
            assert_eq!(raw.insert_users(users).await, n as u64);
            let raw_rows = stored(raw.load_users().await);
            assert_eq!(orm_rows.len(), n);
            assert_eq!(orm_rows, raw_rows, "both sides insert the same rows");
        });

        // Each iteration starts from an empty table; emptying it is not timed.
        group.bench_function(BenchmarkId::new(ORM, n), |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    User::query().delete(db).await.unwrap();
                    let started = Instant::now();
                    black_box(User::insert_all(db, users).await.unwrap());
                    timed += started.elapsed();
                }
                timed
            })
        });
        group.bench_function(BenchmarkId::new(RAW, n), |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    raw.delete_users().await;
                    let started = Instant::now();
                    black_box(raw.insert_users(users).await);
                    timed += started.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
}

fn associations<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let (users, posts_per_user, comments_per_post) = ASSOCIATIONS;
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    let fixture = rt.block_on(store(db, raw, users, posts_per_user, comments_per_post));
    assert_eq!(fixture.posts.len(), users * posts_per_user);
    assert_eq!(
        fixture.comments.len(),
        users * posts_per_user * comments_per_post
    );
    let (orm_result, raw_result) =
        rt.block_on(async { (orm_associations(db).await, raw.associations().await) });
    assert_eq!(orm_result.len(), users);
    assert!(orm_result.iter().all(|u| {
        u.posts.len() == posts_per_user
            && u.posts
                .iter()
                .all(|p| p.comments.len() == comments_per_post)
    }));
    assert_eq!(orm_result, raw_result, "both sides load the same tree");

    let mut group = c.benchmark_group(format!("{}/associations", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(|| orm_associations(db)));
    group.bench_function(RAW, |b| b.to_async(rt).iter(|| raw.associations()));
    group.finish();
}

/// `get_by_pk`, `count_filtered` and `update_by_pk`, on one table of users (the update last, as
/// it changes a hair colour that the count reads).
fn single_rows<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    let fixture = rt.block_on(store(db, raw, SINGLE_ROW_TABLE_SIZE, 0, 0));
    let target = &fixture.users[SINGLE_ROW_TABLE_SIZE / 2];
    let id = target.id;

    let (orm_user, raw_user) =
        rt.block_on(async { (User::get(db, id).await.unwrap(), raw.get_user(id).await) });
    assert_eq!(&orm_user, target);
    assert_eq!(raw_user, orm_user, "both sides get the same user");
    let mut group = c.benchmark_group(format!("{}/get_by_pk", B::NAME));
    group.bench_function(ORM, |b| {
        b.to_async(rt)
            .iter(|| async move { User::get(db, id).await.unwrap() })
    });
    group.bench_function(RAW, |b| b.to_async(rt).iter(|| raw.get_user(id)));
    group.finish();

    let count_orm = || async move {
        User::query()
            .filter(User::HAIR_COLOR.eq(COUNTED_HAIR_COLOR))
            .count(db)
            .await
            .unwrap()
    };
    let (orm_count, raw_count) = rt.block_on(async {
        (
            count_orm().await,
            raw.count_users_with_hair_color(COUNTED_HAIR_COLOR).await,
        )
    });
    let expected = fixture
        .users
        .iter()
        .filter(|u| u.hair_color.as_deref() == Some(COUNTED_HAIR_COLOR))
        .count() as u64;
    assert_eq!((orm_count, raw_count), (expected, expected));
    let mut group = c.benchmark_group(format!("{}/count_filtered", B::NAME));
    group.bench_function(ORM, |b| b.to_async(rt).iter(count_orm));
    group.bench_function(RAW, |b| {
        b.to_async(rt)
            .iter(|| raw.count_users_with_hair_color(COUNTED_HAIR_COLOR))
    });
    group.finish();

    // Every iteration writes the other of two versions of the row, so each one changes it.
    let versions = [
        User {
            name: format!("{} (renamed)", target.name),
            hair_color: Some("brown".to_owned()),
            ..target.clone()
        },
        target.clone(),
    ];
    let versions = &versions;
    rt.block_on(async {
        for version in versions {
            version.update(db).await.unwrap();
            assert_eq!(&User::get(db, id).await.unwrap(), version);
            assert_eq!(raw.update_user(version).await, 1);
            assert_eq!(&raw.get_user(id).await, version);
        }
    });
    let mut group = c.benchmark_group(format!("{}/update_by_pk", B::NAME));
    group.bench_function(ORM, |b| {
        let mut i = 0;
        b.to_async(rt).iter(|| {
            i += 1;
            let version = &versions[i % 2];
            async move { version.update(db).await.unwrap() }
        })
    });
    group.bench_function(RAW, |b| {
        let mut i = 0;
        b.to_async(rt).iter(|| {
            i += 1;
            raw.update_user(&versions[i % 2])
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    bench_backend(&mut c, &rt, &sqlite::Sqlite);

    match std::env::var(MYSQL_URL_VAR) {
        Ok(url) => {
            let backend = rt.block_on(mysql::MySql::connect(&url));
            bench_backend(&mut c, &rt, &backend);
            rt.block_on(backend.close());
        }
        Err(_) => eprintln!(
            "MySQL benchmarks skipped: {MYSQL_URL_VAR} is not set (e.g. mysql://root@127.0.0.1:3306/test)"
        ),
    }

    c.final_summary();
}
