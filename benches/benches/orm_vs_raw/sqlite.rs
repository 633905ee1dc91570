//! SQLite: mini-orm on `sqlite::memory:` against an in-memory rusqlite connection holding the
//! same rows, configured as mini-orm's connections are, its statements prepared once and reused
//! through `prepare_cached`.

use std::collections::HashMap;

use benches::raw_sql::{self, InsertSqlCache};
use benches::{Comment, Counter, Post, User, UserWithPosts, group_associations};
use mini_orm::{Backend as Dialect, Db, Model, schema};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, params, params_from_iter};

use crate::{Backend, Raw, distinct, posts_by_user};

/// The in-memory SQLite backend: a fresh pair of databases for each workload.
pub struct Sqlite;

impl Backend for Sqlite {
    type Raw = RawSqlite;
    const NAME: &'static str = "sqlite";

    async fn fresh(&self) -> (Db, RawSqlite) {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.create_table::<User>().await.unwrap();
        db.create_table::<Post>().await.unwrap();
        db.create_table::<Comment>().await.unwrap();
        db.create_table::<Counter>().await.unwrap();

        let conn = Connection::open_in_memory().unwrap();
        // The settings of mini-orm's connections. As many cached statements (rusqlite's default
        // is 16). One plan per statement (QPSG): without it SQLite re-prepares a cached statement
        // whenever a newly bound value might change its plan (a `LIMIT ?`, a `col = ?` with
        // STAT4), which took a quarter of the raw side's instructions in `feed_in_subquery`.
        conn.set_prepared_statement_cache_capacity(128);
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;")
            .unwrap();
        for table in [User::TABLE, Post::TABLE, Comment::TABLE, Counter::TABLE] {
            for sql in schema::create_table(Dialect::Sqlite, table) {
                conn.execute_batch(&sql).unwrap();
            }
        }
        let raw = RawSqlite {
            conn,
            user_inserts: InsertSqlCache::new("users", raw_sql::USER_COLUMNS),
        };
        (db, raw)
    }
}

/// rusqlite on its own in-memory database.
pub struct RawSqlite {
    conn: Connection,
    user_inserts: InsertSqlCache,
}

fn user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        hair_color: row.get(2)?,
    })
}

fn post(row: &rusqlite::Row<'_>) -> rusqlite::Result<Post> {
    Ok(Post {
        id: row.get(0)?,
        user_id: row.get(1)?,
        title: row.get(2)?,
        body: row.get(3)?,
    })
}

fn comment(row: &rusqlite::Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: row.get(0)?,
        post_id: row.get(1)?,
        text: row.get(2)?,
    })
}

impl RawSqlite {
    fn load_users_now(&self) -> Vec<User> {
        let mut stmt = self.conn.prepare_cached(raw_sql::SELECT_USERS).unwrap();
        stmt.query_map([], user)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }
}

impl Raw for RawSqlite {
    async fn insert_users(&self, users: &[User]) -> u64 {
        let sql = self.user_inserts.get(users.len());
        let mut stmt = self.conn.prepare_cached(&sql).unwrap();
        for (i, user) in users.iter().enumerate() {
            stmt.raw_bind_parameter(2 * i + 1, user.name.as_str())
                .unwrap();
            stmt.raw_bind_parameter(2 * i + 2, user.hair_color.as_deref())
                .unwrap();
        }
        stmt.raw_execute().unwrap() as u64
    }

    async fn delete_users(&self) {
        let mut stmt = self.conn.prepare_cached(raw_sql::DELETE_USERS).unwrap();
        stmt.execute([]).unwrap();
    }

    async fn load_users(&self) -> Vec<User> {
        self.load_users_now()
    }

    async fn associations(&self) -> Vec<UserWithPosts> {
        let users = self.load_users_now();
        let mut stmt = self
            .conn
            .prepare_cached(&raw_sql::select_posts_by_user_ids(users.len()))
            .unwrap();
        let posts: Vec<Post> = stmt
            .query_map(params_from_iter(users.iter().map(|u| u.id)), post)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut stmt = self
            .conn
            .prepare_cached(&raw_sql::select_comments_by_post_ids(posts.len()))
            .unwrap();
        let comments = stmt
            .query_map(params_from_iter(posts.iter().map(|p| p.id)), comment)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        group_associations(users, posts, comments)
    }

    async fn get_user(&self, id: i64) -> User {
        let mut stmt = self
            .conn
            .prepare_cached(raw_sql::SELECT_USER_BY_ID)
            .unwrap();
        stmt.query_row([id], user).unwrap()
    }

    async fn update_user(&self, user: &User) -> u64 {
        let mut stmt = self
            .conn
            .prepare_cached(raw_sql::UPDATE_USER_BY_ID)
            .unwrap();
        stmt.execute(params![user.name, user.hair_color, user.id])
            .unwrap() as u64
    }

    async fn count_users_with_hair_color(&self, color: &str) -> u64 {
        let mut stmt = self
            .conn
            .prepare_cached(raw_sql::COUNT_USERS_BY_HAIR_COLOR)
            .unwrap();
        let count: i64 = stmt.query_row([color], |row| row.get(0)).unwrap();
        count as u64
    }

    async fn feed(&self, color: &str, limit: i64) -> Vec<Post> {
        let mut stmt = self.conn.prepare_cached(raw_sql::SELECT_FEED).unwrap();
        stmt.query_map(params![color, limit], post)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    async fn posts_with_users(&self, limit: i64) -> Vec<(Post, User)> {
        let mut stmt = self
            .conn
            .prepare_cached(raw_sql::SELECT_POSTS_WITH_USERS)
            .unwrap();
        stmt.query_map([limit], |row| {
            let post = post(row)?;
            let user = User {
                id: row.get(4)?,
                name: row.get(5)?,
                hair_color: row.get(6)?,
            };
            Ok((post, user))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    async fn authors_of(&self, posts: &[Post]) -> HashMap<i64, User> {
        let ids = distinct(posts.iter().map(|p| p.user_id));
        let mut stmt = self
            .conn
            .prepare_cached(&raw_sql::select_users_by_ids(ids.len()))
            .unwrap();
        stmt.query_map(params_from_iter(ids), user)
            .unwrap()
            .map(|u| u.map(|u| (u.id, u)))
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    async fn posts_of(&self, user_ids: &[i64]) -> HashMap<i64, Vec<Post>> {
        let ids = distinct(user_ids.iter().copied());
        let mut stmt = self
            .conn
            .prepare_cached(&raw_sql::select_posts_by_user_ids_in_order(ids.len()))
            .unwrap();
        let posts = stmt
            .query_map(params_from_iter(ids), post)
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        posts_by_user(posts)
    }

    async fn insert_counter_if_absent(&self, counter: &mut Counter) -> bool {
        let mut stmt = self
            .conn
            .prepare_cached(raw_sql::INSERT_COUNTER_IF_ABSENT_SQLITE)
            .unwrap();
        let written = stmt.execute(params![counter.name, counter.views]).unwrap() == 1;
        if written {
            counter.id = self.conn.last_insert_rowid();
        }
        written
    }

    async fn upsert_counter(&self, counter: &mut Counter) -> bool {
        let run = |sql: &str| self.conn.prepare_cached(sql).unwrap().execute([]).unwrap();
        run("BEGIN IMMEDIATE");
        let inserted = self.insert_counter_if_absent(counter).await;
        if !inserted {
            let mut stmt = self
                .conn
                .prepare_cached(raw_sql::INCREMENT_COUNTER)
                .unwrap();
            let matched = stmt.execute(params![counter.views, counter.name]).unwrap();
            assert_eq!(matched, 1, "the counter that refused the insert is updated");
        }
        run("COMMIT");
        inserted
    }

    async fn mirror(&self, users: &[User], posts: &[Post], comments: &[Comment]) {
        let conn = &self.conn;
        conn.execute_batch("BEGIN").unwrap();
        let mut stmt = conn
            .prepare("INSERT INTO users (id, name, hair_color) VALUES (?, ?, ?)")
            .unwrap();
        for u in users {
            stmt.execute(params![u.id, u.name, u.hair_color]).unwrap();
        }
        let mut stmt = conn
            .prepare("INSERT INTO posts (id, user_id, title, body) VALUES (?, ?, ?, ?)")
            .unwrap();
        for p in posts {
            stmt.execute(params![p.id, p.user_id, p.title, p.body])
                .unwrap();
        }
        let mut stmt = conn
            .prepare("INSERT INTO comments (id, post_id, text) VALUES (?, ?, ?)")
            .unwrap();
        for c in comments {
            stmt.execute(params![c.id, c.post_id, c.text]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
}
