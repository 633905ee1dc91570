//! MySQL/MariaDB: mini-orm and a mysql_async pool on the same database, one of this run's own
//! (`mini_orm_bench_<unix time>_<pid>`, so that runs at the same time do not meet) on the server
//! `MINI_ORM_MYSQL_URL` names. It is dropped at the end of the run; databases of runs that ended
//! without dropping theirs are dropped once they are an hour old. The raw side takes a connection
//! from its pool for each operation, as mini-orm does, and runs prepared statements
//! (mysql_async caches them per connection, keyed by their text).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use benches::raw_sql::{self, InsertSqlCache};
use benches::{
    Comment, Counter, Post, User, UserWithPosts, group_associations, mysql_url_with_database,
};
use mini_orm::Db;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, Value};

use crate::{Backend, Raw, distinct, posts_by_user};

/// The prefix of the benchmarks' database names.
const DATABASE_PREFIX: &str = "mini_orm_bench_";
/// The age after which a benchmark database is taken to be left over from a run that crashed.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A MySQL server, through mini-orm and through a raw pool, on a database of this run's own.
pub struct MySql {
    db: Db,
    pool: Pool,
    server_url: String,
    database: String,
}

/// Drops the benchmark databases created more than [`STALE_AFTER`] before `now`.
async fn drop_stale_databases(admin: &mut Conn, now: u64) {
    let names: Vec<String> = admin.query("SHOW DATABASES").await.unwrap();
    for name in names {
        let created = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            admin
                .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                .await
                .unwrap();
        }
    }
}

impl MySql {
    /// Creates this run's database on the server of `url` and connects both sides to it.
    pub async fn connect(url: &str) -> MySql {
        let server_url = url.replacen("mariadb://", "mysql://", 1);
        let mut admin = Conn::from_url(server_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to MINI_ORM_MYSQL_URL ({url}): {e}"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        drop_stale_databases(&mut admin, now).await;
        let database = format!("{DATABASE_PREFIX}{now}_{}", std::process::id());
        admin
            .query_drop(format!(
                "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .unwrap();
        admin.disconnect().await.unwrap();

        let url = mysql_url_with_database(&server_url, &database);
        let db = Db::connect(&url).await.unwrap();
        // The same connection settings as mini-orm's pool, so that only the code in between
        // differs: connections keep their prepared statements when they go back to the pool.
        let opts = Opts::from_url(&url).unwrap();
        let pool_opts = opts.pool_opts().clone().with_reset_connection(false);
        let opts = OptsBuilder::from_opts(opts)
            .client_found_rows(true)
            .pool_opts(pool_opts)
            .init(vec!["SET NAMES utf8mb4 COLLATE utf8mb4_bin"]);
        MySql {
            db,
            pool: Pool::new(opts),
            server_url,
            database,
        }
    }

    /// Closes both pools and drops this run's database.
    pub async fn close(self) {
        self.db.close().await.unwrap();
        self.pool.disconnect().await.unwrap();
        let mut admin = Conn::from_url(self.server_url.as_str()).await.unwrap();
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.database))
            .await
            .unwrap();
        admin.disconnect().await.unwrap();
    }
}

impl Backend for MySql {
    type Raw = RawMySql;
    const NAME: &'static str = "mysql";

    /// Drops and creates the tables; both sides use the same ones.
    async fn fresh(&self) -> (Db, RawMySql) {
        let db = &self.db;
        db.drop_table::<Counter>().await.unwrap();
        db.drop_table::<Comment>().await.unwrap();
        db.drop_table::<Post>().await.unwrap();
        db.drop_table::<User>().await.unwrap();
        db.create_table::<User>().await.unwrap();
        db.create_table::<Post>().await.unwrap();
        db.create_table::<Comment>().await.unwrap();
        db.create_table::<Counter>().await.unwrap();
        let raw = RawMySql {
            pool: self.pool.clone(),
            user_inserts: InsertSqlCache::new("users", raw_sql::USER_COLUMNS),
        };
        (self.db.clone(), raw)
    }
}

/// mysql_async on mini-orm's database.
pub struct RawMySql {
    pool: Pool,
    user_inserts: InsertSqlCache,
}

fn user((id, name, hair_color): (i64, String, Option<String>)) -> User {
    User {
        id,
        name,
        hair_color,
    }
}

fn post((id, user_id, title, body): (i64, i64, String, Option<String>)) -> Post {
    Post {
        id,
        user_id,
        title,
        body,
    }
}

fn comment((id, post_id, text): (i64, i64, String)) -> Comment {
    Comment { id, post_id, text }
}

/// `ids` as positional parameters.
fn id_params(ids: impl Iterator<Item = i64>) -> Params {
    Params::Positional(ids.map(Value::Int).collect())
}

/// [`Raw::insert_counter_if_absent`] on `conn`.
async fn insert_counter_if_absent(conn: &mut Conn, counter: &mut Counter) -> bool {
    conn.exec_drop(
        raw_sql::INSERT_COUNTER_IF_ABSENT_MYSQL,
        (counter.name.as_str(), counter.views),
    )
    .await
    .unwrap();
    let written = conn.affected_rows() == 1;
    if written {
        counter.id = conn.last_insert_id().expect("an inserted row has an id") as i64;
    }
    written
}

impl RawMySql {
    async fn conn(&self) -> Conn {
        self.pool.get_conn().await.unwrap()
    }
}

impl Raw for RawMySql {
    async fn insert_users(&self, users: &[User]) -> u64 {
        let sql = self.user_inserts.get(users.len());
        let mut params = Vec::with_capacity(users.len() * 2);
        for user in users {
            params.push(Value::from(user.name.as_str()));
            params.push(Value::from(user.hair_color.as_deref()));
        }
        let mut conn = self.conn().await;
        conn.exec_drop(&*sql, Params::Positional(params))
            .await
            .unwrap();
        conn.affected_rows()
    }

    async fn delete_users(&self) {
        let mut conn = self.conn().await;
        conn.exec_drop(raw_sql::DELETE_USERS, ()).await.unwrap();
    }

    async fn load_users(&self) -> Vec<User> {
        let mut conn = self.conn().await;
        conn.exec_map(raw_sql::SELECT_USERS, (), user)
            .await
            .unwrap()
    }

    async fn associations(&self) -> Vec<UserWithPosts> {
        let mut conn = self.conn().await;
        let users: Vec<User> = conn
            .exec_map(raw_sql::SELECT_USERS, (), user)
            .await
            .unwrap();
        let posts: Vec<Post> = conn
            .exec_map(
                raw_sql::select_posts_by_user_ids(users.len()),
                id_params(users.iter().map(|u| u.id)),
                post,
            )
            .await
            .unwrap();
        let comments = conn
            .exec_map(
                raw_sql::select_comments_by_post_ids(posts.len()),
                id_params(posts.iter().map(|p| p.id)),
                comment,
            )
            .await
            .unwrap();
        group_associations(users, posts, comments)
    }

    async fn get_user(&self, id: i64) -> User {
        let mut conn = self.conn().await;
        let row = conn
            .exec_first(raw_sql::SELECT_USER_BY_ID, (id,))
            .await
            .unwrap();
        user(row.expect("the user exists"))
    }

    async fn update_user(&self, user: &User) -> u64 {
        let mut conn = self.conn().await;
        conn.exec_drop(
            raw_sql::UPDATE_USER_BY_ID,
            (user.name.as_str(), user.hair_color.as_deref(), user.id),
        )
        .await
        .unwrap();
        conn.affected_rows()
    }

    async fn count_users_with_hair_color(&self, color: &str) -> u64 {
        let mut conn = self.conn().await;
        let count: Option<i64> = conn
            .exec_first(raw_sql::COUNT_USERS_BY_HAIR_COLOR, (color,))
            .await
            .unwrap();
        count.expect("COUNT(*) returns a row") as u64
    }

    /// Nothing to do: the raw side reads mini-orm's tables.
    async fn feed(&self, color: &str, limit: i64) -> Vec<Post> {
        let mut conn = self.conn().await;
        conn.exec_map(raw_sql::SELECT_FEED, (color, limit), post)
            .await
            .unwrap()
    }

    async fn posts_with_users(&self, limit: i64) -> Vec<(Post, User)> {
        let mut conn = self.conn().await;
        let rows: Vec<mysql_async::Row> = conn
            .exec(raw_sql::SELECT_POSTS_WITH_USERS, (limit,))
            .await
            .unwrap();
        rows.into_iter()
            .map(|mut row| {
                let post = Post {
                    id: row.take(0).unwrap(),
                    user_id: row.take(1).unwrap(),
                    title: row.take(2).unwrap(),
                    body: row.take(3).unwrap(),
                };
                let user = User {
                    id: row.take(4).unwrap(),
                    name: row.take(5).unwrap(),
                    hair_color: row.take(6).unwrap(),
                };
                (post, user)
            })
            .collect()
    }

    async fn authors_of(&self, posts: &[Post]) -> HashMap<i64, User> {
        let ids = distinct(posts.iter().map(|p| p.user_id));
        let mut conn = self.conn().await;
        let users: Vec<User> = conn
            .exec_map(
                raw_sql::select_users_by_ids(ids.len()),
                id_params(ids.into_iter()),
                user,
            )
            .await
            .unwrap();
        users.into_iter().map(|u| (u.id, u)).collect()
    }

    async fn posts_of(&self, user_ids: &[i64]) -> HashMap<i64, Vec<Post>> {
        let ids = distinct(user_ids.iter().copied());
        let mut conn = self.conn().await;
        let posts = conn
            .exec_map(
                raw_sql::select_posts_by_user_ids_in_order(ids.len()),
                id_params(ids.into_iter()),
                post,
            )
            .await
            .unwrap();
        posts_by_user(posts)
    }

    async fn insert_counter_if_absent(&self, counter: &mut Counter) -> bool {
        let mut conn = self.conn().await;
        insert_counter_if_absent(&mut conn, counter).await
    }

    async fn upsert_counter(&self, counter: &mut Counter) -> bool {
        let mut conn = self.conn().await;
        conn.query_drop("START TRANSACTION").await.unwrap();
        let inserted = insert_counter_if_absent(&mut conn, counter).await;
        if !inserted {
            conn.exec_drop(
                raw_sql::INCREMENT_COUNTER,
                (counter.views, counter.name.as_str()),
            )
            .await
            .unwrap();
            assert_eq!(
                conn.affected_rows(),
                1,
                "the counter that refused the insert is updated"
            );
        }
        conn.query_drop("COMMIT").await.unwrap();
        inserted
    }

    async fn mirror(&self, _users: &[User], _posts: &[Post], _comments: &[Comment]) {}
}
