//! Criterion benchmarks of mini-orm against the raw drivers doing the same work (rusqlite for
//! SQLite, mysql_async for MySQL/MariaDB), over the workloads of diesel's benchmark suite
//! (`diesel_bench`) and its schema: `users(id, name, hair_color NULL)`,
//! `posts(id, user_id, title, body NULL)`, `comments(id, post_id, text)`.
//!
//! | workload | what one iteration does |
//! |---|---|
//! | `trivial_query/N` | loads all N users (N = 1, 10, 100, 1000, 10000) into a `Vec<User>` |
//! | `insert/N` | one multi-row `INSERT` of N users (N = 1, 10, 25, 50, 100, 1000; `insert_all`); the table is emptied, untimed, before each iteration |
//! | `associations` | 100 users with 10 posts each with 10 comments each, loaded with three queries (all users, their posts by `user_id IN`, those posts' comments by `post_id IN`) and grouped in memory ([`group_associations`]) |
//! | `get_by_pk` | one user by primary key, out of 100 |
//! | `update_by_pk` | writes every column of one user by primary key (alternating between two values) |
//! | `count_filtered` | `COUNT(*)` of the users with `hair_color = 'black'`, out of 100 |
//! | `feed_in_subquery` | the newest 20 posts of the users with black hair, in one statement (`user_id IN (SELECT id FROM users WHERE hair_color = ?)`), over the `associations` data |
//! | `join` | the newest 20 posts, each with its author, in one statement (`posts JOIN users`), over the same data |
//! | `eager_parents` | the authors of a page of 20 posts (of 20 users), by id, in one statement (`Relation::load`: `users WHERE id IN (…)`), over the same data |
//! | `eager_children` | the posts of a page of 20 users (200 posts), grouped by user, in one statement (`Relation::children_of`: `posts WHERE user_id IN (…)`), over the same data |
//! | `insert_if_absent_new` | `insert_if_absent` of a counter with a new name (written) |
//! | `insert_if_absent_present` | `insert_if_absent` of a counter whose name is taken (not written) |
//! | `upsert_insert` | `upsert` of a counter with a new name: a transaction with the insert |
//! | `upsert_update` | `upsert` of a counter whose name is taken: a transaction with the refused insert and an `UPDATE … SET views = views + 1` |
//!
//! Every workload runs twice in the same criterion group, through mini-orm (`orm`) and through
//! the raw driver (`raw`), with ids `<backend>/<workload>/<orm|raw>[/<N>]`, e.g.
//! `sqlite/trivial_query/orm/100`. Both sides run the same SQL ([`raw_sql`] is the raw side's,
//! on both drivers) and decode every row into the same structs; before timing, each workload
//! checks that both sides return the same result.
//!
//! - SQLite: mini-orm on `sqlite::memory:`, the raw side on its own in-memory rusqlite
//!   connection with the same data and mini-orm's connection settings (128 cached statements,
//!   `SQLITE_DBCONFIG_ENABLE_QPSG`, foreign keys on, case-sensitive `LIKE`), statements through
//!   `prepare_cached`.
//! - MySQL/MariaDB: only when `MINI_ORM_MYSQL_URL` is set (e.g.
//!   `mysql://root@127.0.0.1:3306/test`); both sides share a database of the run's own on that
//!   server (`mini_orm_bench_<unix time>_<pid>`, dropped at the end). The raw side takes a
//!   connection from a mysql_async pool per operation (as mini-orm does) and runs prepared
//!   statements. Without the variable one line says that the MySQL benchmarks are skipped.
//!
//! Both backends run on a current-thread tokio runtime.
//!
//! ```text
//! cargo bench -p benches                               # everything (a few minutes per backend)
//! MINI_ORM_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo bench -p benches
//! cargo bench -p benches -- sqlite/insert              # a criterion filter
//! cargo bench -p benches -- --sample-size 100 --measurement-time 5   # longer, steadier runs
//! cargo run -p benches --bin ratios                    # the table of medians and ratios
//! ```
//!
//! `ratios` reads `target/criterion/**/new/{benchmark,estimates}.json` (criterion's output of the
//! last run of each benchmark) and prints a markdown table: backend, workload, N, mini-orm
//! median, raw median, and their ratio; see [`report`].
//!
//! Noise: the two sides of a pair are timed one after the other (2-3 s each), so on a shared
//! machine a burst of other work lands on one side only. On a busy 2-core machine one run's ratio
//! moves by 30 % or more: run when the machine is quiet (e.g. under `nice -n -15`), compare
//! several runs, and do not run two benchmark runs at once (they also share
//! `target/criterion`, which `ratios` reads).

use std::collections::HashMap;

use mini_orm::Model;

pub mod report;

/// The backend names used in benchmark ids.
pub const BACKENDS: [&str; 2] = ["sqlite", "mysql"];

/// The workload names used in benchmark ids, in the order of the report.
pub const WORKLOADS: [&str; 14] = [
    "trivial_query",
    "insert",
    "associations",
    "get_by_pk",
    "update_by_pk",
    "count_filtered",
    "feed_in_subquery",
    "join",
    "eager_parents",
    "eager_children",
    "insert_if_absent_new",
    "insert_if_absent_present",
    "upsert_insert",
    "upsert_update",
];

/// The side of a benchmark that goes through mini-orm.
pub const ORM: &str = "orm";
/// The side of a benchmark that goes through the raw driver.
pub const RAW: &str = "raw";

/// The users of the `trivial_query` workload.
pub const TRIVIAL_QUERY_SIZES: [usize; 5] = [1, 10, 100, 1000, 10000];
/// The users of one `insert` statement.
pub const INSERT_SIZES: [usize; 6] = [1, 10, 25, 50, 100, 1000];
/// Users, posts per user and comments per post of the `associations` workload.
pub const ASSOCIATIONS: (usize, usize, usize) = (100, 10, 10);
/// The users in the table of the single-row workloads (`get_by_pk`, `update_by_pk`,
/// `count_filtered`).
pub const SINGLE_ROW_TABLE_SIZE: usize = 100;
/// Rows in one page of the `feed_in_subquery` and `join` workloads.
pub const FEED_PAGE: i64 = 20;
/// Rows in the page whose parents or children the `eager_*` workloads load.
pub const EAGER_PAGE: usize = 20;
/// The hair colour `count_filtered` counts.
pub const COUNTED_HAIR_COLOR: &str = "black";

/// A user (diesel_bench's `users`).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "users")]
pub struct User {
    /// Primary key.
    #[field(primary_key)]
    pub id: i64,
    /// `User {i}`.
    pub name: String,
    /// `black` for even `i`, none for odd.
    pub hair_color: Option<String>,
}

/// A post of a user (diesel_bench's `posts`).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "posts")]
pub struct Post {
    /// Primary key.
    #[field(primary_key)]
    pub id: i64,
    /// The author (a foreign key, indexed: `Post::USER_ID_REF` loads authors or posts).
    #[field(references = User)]
    pub user_id: i64,
    /// `Post {i} by user {user_id}`.
    pub title: String,
    /// A body for even `i`, none for odd.
    pub body: Option<String>,
}

/// A comment on a post (diesel_bench's `comments`).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "comments")]
pub struct Comment {
    /// Primary key.
    #[field(primary_key)]
    pub id: i64,
    /// The post commented on.
    #[field(index)]
    pub post_id: i64,
    /// `Comment {i} on post {post_id}`.
    pub text: String,
}

/// A view counter with a unique name: the table of the `insert_if_absent_*` and `upsert_*`
/// workloads.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "counters")]
pub struct Counter {
    /// Primary key.
    #[field(primary_key)]
    pub id: i64,
    /// What is counted.
    #[field(unique, max_len = 64)]
    pub name: String,
    /// How often it was seen.
    pub views: i64,
}

impl Counter {
    /// A counter to insert (its id is left to the database), seen once.
    pub fn new(name: impl Into<String>) -> Counter {
        Counter {
            id: 0,
            name: name.into(),
            views: 1,
        }
    }
}

/// `n` users to insert (their ids are left to the database): `User {i}`, with black hair for
/// even `i` and none for odd `i`.
pub fn new_users(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| User {
            id: 0,
            name: format!("User {i}"),
            hair_color: (i % 2 == 0).then(|| COUNTED_HAIR_COLOR.to_owned()),
        })
        .collect()
}

/// `per_user` posts for each of `users` (stored users, with their ids).
pub fn new_posts(users: &[User], per_user: usize) -> Vec<Post> {
    users
        .iter()
        .flat_map(|user| {
            (0..per_user).map(move |i| Post {
                id: 0,
                user_id: user.id,
                title: format!("Post {i} by user {}", user.id),
                body: (i % 2 == 0).then(|| format!("The body of post {i} by user {}", user.id)),
            })
        })
        .collect()
}

/// `per_post` comments for each of `posts` (stored posts, with their ids).
pub fn new_comments(posts: &[Post], per_post: usize) -> Vec<Comment> {
    posts
        .iter()
        .flat_map(|post| {
            (0..per_post).map(move |i| Comment {
                id: 0,
                post_id: post.id,
                text: format!("Comment {i} on post {}", post.id),
            })
        })
        .collect()
}

/// A user with its posts, each with its comments: the result of the `associations` workload.
#[derive(Debug, PartialEq)]
pub struct UserWithPosts {
    /// The user.
    pub user: User,
    /// The user's posts, in the order they were loaded.
    pub posts: Vec<PostWithComments>,
}

/// A post with its comments.
#[derive(Debug, PartialEq)]
pub struct PostWithComments {
    /// The post.
    pub post: Post,
    /// The post's comments, in the order they were loaded.
    pub comments: Vec<Comment>,
}

/// Nests `comments` under their posts and `posts` under their users, keeping the order of each
/// list; posts and comments whose parent is not in the lists are dropped. Both sides of the
/// `associations` workload group their rows with this.
pub fn group_associations(
    users: Vec<User>,
    posts: Vec<Post>,
    comments: Vec<Comment>,
) -> Vec<UserWithPosts> {
    let mut comments_by_post: HashMap<i64, Vec<Comment>> = HashMap::with_capacity(posts.len());
    for comment in comments {
        comments_by_post
            .entry(comment.post_id)
            .or_default()
            .push(comment);
    }
    let mut posts_by_user: HashMap<i64, Vec<PostWithComments>> =
        HashMap::with_capacity(users.len());
    for post in posts {
        let comments = comments_by_post.remove(&post.id).unwrap_or_default();
        posts_by_user
            .entry(post.user_id)
            .or_default()
            .push(PostWithComments { post, comments });
    }
    users
        .into_iter()
        .map(|user| {
            let posts = posts_by_user.remove(&user.id).unwrap_or_default();
            UserWithPosts { user, posts }
        })
        .collect()
}

/// `url` (`mysql://…`) naming `database` instead of the database it names, if any.
pub fn mysql_url_with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (scheme, rest) = base.split_once("://").unwrap_or(("mysql", base));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{scheme}://{authority}/{database}{query}")
}

/// The raw side's SQL, the same text for rusqlite and mysql_async (no identifier needs quoting
/// in either dialect). It selects the same columns, in the same order, as mini-orm's statements.
pub mod raw_sql {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    /// Every user.
    pub const SELECT_USERS: &str = "SELECT id, name, hair_color FROM users";
    /// One user by primary key.
    pub const SELECT_USER_BY_ID: &str = "SELECT id, name, hair_color FROM users WHERE id = ?";
    /// Every column of one user by primary key.
    pub const UPDATE_USER_BY_ID: &str = "UPDATE users SET name = ?, hair_color = ? WHERE id = ?";
    /// The users with one hair colour.
    pub const COUNT_USERS_BY_HAIR_COLOR: &str = "SELECT COUNT(*) FROM users WHERE hair_color = ?";
    /// The newest posts of the users with one hair colour (`feed_in_subquery`).
    pub const SELECT_FEED: &str = "SELECT id, user_id, title, body FROM posts \
        WHERE user_id IN (SELECT id FROM users WHERE hair_color = ?) ORDER BY id DESC LIMIT ?";
    /// The newest posts with their authors (`join`).
    pub const SELECT_POSTS_WITH_USERS: &str = "SELECT posts.id, posts.user_id, posts.title, \
        posts.body, users.id, users.name, users.hair_color FROM posts \
        JOIN users ON users.id = posts.user_id ORDER BY posts.id DESC LIMIT ?";
    /// Empties the users table.
    pub const DELETE_USERS: &str = "DELETE FROM users";
    /// A counter, unless its name is taken (SQLite).
    pub const INSERT_COUNTER_IF_ABSENT_SQLITE: &str =
        "INSERT INTO counters (name, views) VALUES (?, ?) ON CONFLICT DO NOTHING";
    /// A counter, unless its name is taken (MySQL).
    pub const INSERT_COUNTER_IF_ABSENT_MYSQL: &str =
        "INSERT IGNORE INTO counters (name, views) VALUES (?, ?)";
    /// Adds to the views of the counter with a name.
    pub const INCREMENT_COUNTER: &str = "UPDATE counters SET views = views + ? WHERE name = ?";

    /// The columns an insert into `users` writes, in bind order.
    pub const USER_COLUMNS: &[&str] = &["name", "hair_color"];

    /// One `INSERT INTO table (columns) VALUES (?, …), …` of `rows` rows.
    pub fn insert(table: &str, columns: &[&str], rows: usize) -> String {
        let group = format!("({})", vec!["?"; columns.len()].join(", "));
        format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![group.as_str(); rows].join(", ")
        )
    }

    /// The text of [`insert`] into one table, built once for each row count.
    #[derive(Debug)]
    pub struct InsertSqlCache {
        table: &'static str,
        columns: &'static [&'static str],
        built: RefCell<HashMap<usize, Rc<str>>>,
    }

    impl InsertSqlCache {
        /// An empty cache of inserts into `table`'s `columns`.
        pub fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
            InsertSqlCache {
                table,
                columns,
                built: RefCell::default(),
            }
        }

        /// The insert of `rows` rows.
        pub fn get(&self, rows: usize) -> Rc<str> {
            self.built
                .borrow_mut()
                .entry(rows)
                .or_insert_with(|| insert(self.table, self.columns, rows).into())
                .clone()
        }
    }

    /// The posts of `users` users, by `user_id IN (?, …)`.
    pub fn select_posts_by_user_ids(users: usize) -> String {
        format!(
            "SELECT id, user_id, title, body FROM posts WHERE user_id IN ({})",
            placeholders(users)
        )
    }

    /// The comments of `posts` posts, by `post_id IN (?, …)`.
    pub fn select_comments_by_post_ids(posts: usize) -> String {
        format!(
            "SELECT id, post_id, text FROM comments WHERE post_id IN ({})",
            placeholders(posts)
        )
    }

    /// The users with `ids` ids, by `id IN (?, …)`, in id order (a relation's parents).
    pub fn select_users_by_ids(ids: usize) -> String {
        format!(
            "SELECT id, name, hair_color FROM users WHERE id IN ({}) ORDER BY id ASC",
            placeholders(ids)
        )
    }

    /// The posts of `users` users, by `user_id IN (?, …)`, in id order (a relation's
    /// children).
    pub fn select_posts_by_user_ids_in_order(users: usize) -> String {
        format!("{} ORDER BY id ASC", select_posts_by_user_ids(users))
    }

    fn placeholders(n: usize) -> String {
        vec!["?"; n].join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_nests_each_row_under_its_parent_in_order() {
        let users = vec![
            User {
                id: 1,
                name: "a".into(),
                hair_color: None,
            },
            User {
                id: 2,
                name: "b".into(),
                hair_color: None,
            },
        ];
        let posts = vec![
            Post {
                id: 10,
                user_id: 2,
                title: "p10".into(),
                body: None,
            },
            Post {
                id: 11,
                user_id: 1,
                title: "p11".into(),
                body: None,
            },
            Post {
                id: 12,
                user_id: 2,
                title: "p12".into(),
                body: None,
            },
            Post {
                id: 13,
                user_id: 99,
                title: "orphan".into(),
                body: None,
            },
        ];
        let comment = |id, post_id| Comment {
            id,
            post_id,
            text: format!("c{id}"),
        };
        let comments = vec![comment(100, 12), comment(101, 10), comment(102, 12)];

        let grouped = group_associations(users, posts, comments);

        // Each user's id with its posts' ids, each with its comments' ids.
        type Shape = Vec<(i64, Vec<(i64, Vec<i64>)>)>;
        let shape: Shape = grouped
            .iter()
            .map(|u| {
                let posts = u
                    .posts
                    .iter()
                    .map(|p| (p.post.id, p.comments.iter().map(|c| c.id).collect()))
                    .collect();
                (u.user.id, posts)
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (1, vec![(11, vec![])]),
                (2, vec![(10, vec![101]), (12, vec![100, 102])]),
            ]
        );
    }

    #[test]
    fn fixtures_reference_their_parents() {
        let mut users = new_users(3);
        for (i, user) in users.iter_mut().enumerate() {
            user.id = 7 + i as i64;
        }
        assert_eq!(users[0].hair_color.as_deref(), Some(COUNTED_HAIR_COLOR));
        assert_eq!(users[1].hair_color, None);
        let posts = new_posts(&users, 2);
        assert_eq!(
            posts.iter().map(|p| p.user_id).collect::<Vec<_>>(),
            [7, 7, 8, 8, 9, 9]
        );
        let comments = new_comments(&posts[..1], 3);
        assert_eq!(comments.len(), 3);
        assert!(comments.iter().all(|c| c.post_id == posts[0].id));
    }

    #[test]
    fn mysql_url_names_the_given_database() {
        assert_eq!(
            mysql_url_with_database("mysql://root@127.0.0.1:3306/test", "bench"),
            "mysql://root@127.0.0.1:3306/bench"
        );
        assert_eq!(
            mysql_url_with_database("mysql://u:p@host?ssl-mode=disabled", "bench"),
            "mysql://u:p@host/bench?ssl-mode=disabled"
        );
    }

    #[test]
    fn raw_sql_has_one_placeholder_per_value() {
        assert_eq!(
            raw_sql::insert("users", raw_sql::USER_COLUMNS, 3),
            "INSERT INTO users (name, hair_color) VALUES (?, ?), (?, ?), (?, ?)"
        );
        assert_eq!(
            raw_sql::select_posts_by_user_ids(2),
            "SELECT id, user_id, title, body FROM posts WHERE user_id IN (?, ?)"
        );
        assert_eq!(
            raw_sql::select_comments_by_post_ids(1),
            "SELECT id, post_id, text FROM comments WHERE post_id IN (?)"
        );
        let cache = raw_sql::InsertSqlCache::new("users", raw_sql::USER_COLUMNS);
        assert_eq!(
            &*cache.get(2),
            "INSERT INTO users (name, hair_color) VALUES (?, ?), (?, ?)"
        );
        assert!(std::rc::Rc::ptr_eq(&cache.get(2), &cache.get(2)));
    }
}
