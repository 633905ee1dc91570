//! How fast mini-orm's full-text search answers, and what keeping its index costs a write, on
//! SQLite (a file database in WAL mode, as the server uses):
//!
//! - `ROWS` posts (default 100 000), each with 8 words drawn from 2 000 and two Chinese words of
//!   two characters, loaded through `insert_all`; then `QUERIES` two-word queries (default
//!   1 000), `limit 20`: p50, p99 and max;
//! - the cost of the index per insert: 2 000 saves of a model with two searchable fields against
//!   the same model without them, autocommitted, then inside one transaction.
//!
//! ```text
//! cargo run --release -p benches --bin search_latency                 # ~1-2 min
//! cargo run --release -p benches --bin search_latency -- 20000 500    # ROWS QUERIES
//! ```
// The derive makes a column constant per field; this program filters on none of them.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use mini_orm::{Db, Model};

/// A post whose title and body are searched.
#[derive(Model, Debug, Clone)]
#[model(table = "searched_post")]
struct Searched {
    #[field(primary_key)]
    id: i64,
    #[field(searchable, max_len = 200)]
    title: String,
    #[field(searchable)]
    body: Option<String>,
}

/// The same post, not searched.
#[derive(Model, Debug, Clone)]
#[model(table = "plain_post")]
struct Plain {
    #[field(primary_key)]
    id: i64,
    #[field(max_len = 200)]
    title: String,
    body: Option<String>,
}

/// Distinct words the texts are drawn from.
const VOCABULARY: usize = 2_000;
/// Inserts per side of the index-cost measurement.
const INSERTS: usize = 2_000;
/// Chinese words of two characters.
const CHINESE: [&str; 8] = [
    "你好", "日落", "湖边", "大家", "照片", "城市", "夜晚", "朋友",
];

/// A small deterministic generator (xorshift), so that every run loads the same texts.
struct Draw(u64);

impl Draw {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    fn word(&mut self) -> String {
        format!("word{}", self.next(VOCABULARY))
    }

    fn text(&mut self) -> (String, String) {
        let title: Vec<String> = (0..3).map(|_| self.word()).collect();
        let mut body: Vec<String> = (0..5).map(|_| self.word()).collect();
        body.push(CHINESE[self.next(CHINESE.len())].to_owned());
        body.push(CHINESE[self.next(CHINESE.len())].to_owned());
        (title.join(" "), body.join(" "))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn open(dir: &std::path::Path, name: &str) -> Db {
    let db = Db::connect(&format!("sqlite://{}", dir.join(name).display()))
        .await
        .expect("a SQLite file database");
    db.create_table::<Searched>().await.expect("the tables");
    db.create_table::<Plain>().await.expect("the tables");
    db
}

/// Loads `rows` posts, then times `queries` two-word searches.
async fn latency(dir: &std::path::Path, rows: usize, queries: usize) {
    let db = open(dir, "latency.db").await;
    let mut draw = Draw(0x5eed);
    let started = Instant::now();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(5_000) {
        let posts: Vec<Searched> = chunk
            .iter()
            .map(|_| {
                let (title, body) = draw.text();
                Searched {
                    id: 0,
                    title,
                    body: Some(body),
                }
            })
            .collect();
        Searched::insert_all(&db, &posts).await.expect("a load");
    }
    println!(
        "loaded {rows} posts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut times = Vec::with_capacity(queries);
    let mut found = 0;
    for _ in 0..queries {
        let query = format!("{} {}", draw.word(), draw.word());
        let started = Instant::now();
        let hits = Searched::search(&query)
            .limit(20)
            .all(&db)
            .await
            .expect("a search");
        times.push(started.elapsed());
        found += hits.len();
    }
    times.sort();
    println!(
        "{queries} two-word queries, limit 20 ({:.1} hits each): p50 {}, p99 {}, max {}",
        found as f64 / queries as f64,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("queries"))
    );
}

/// The mean time of one save of `make()`'s rows, autocommitted or in one transaction.
async fn save_time<M: Model>(db: &Db, mut make: impl FnMut() -> M, in_tx: bool) -> Duration {
    let started = Instant::now();
    if in_tx {
        let mut tx = db.begin().await.expect("a transaction");
        for _ in 0..INSERTS {
            make().save(&mut tx).await.expect("a save");
        }
        tx.commit().await.expect("a commit");
    } else {
        for _ in 0..INSERTS {
            make().save(db).await.expect("a save");
        }
    }
    started.elapsed() / INSERTS as u32
}

/// The index's cost per insert: searchable against plain, alternated.
async fn insert_cost(dir: &std::path::Path) {
    let db = open(dir, "inserts.db").await;
    let mut draw = Draw(0xfeed);
    for in_tx in [false, true] {
        let mut searched = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..3 {
            searched.push(
                save_time(
                    &db,
                    || {
                        let (title, body) = draw.text();
                        Searched {
                            id: 0,
                            title,
                            body: Some(body),
                        }
                    },
                    in_tx,
                )
                .await,
            );
            plain.push(
                save_time(
                    &db,
                    || {
                        let (title, body) = draw.text();
                        Plain {
                            id: 0,
                            title,
                            body: Some(body),
                        }
                    },
                    in_tx,
                )
                .await,
            );
        }
        searched.sort();
        plain.sort();
        let (s, p) = (searched[1], plain[1]);
        println!(
            "save {}: plain {}, searchable {} (index +{}), medians of 3 alternated rounds of {INSERTS}",
            if in_tx {
                "inside one transaction"
            } else {
                "autocommitted"
            },
            us(p),
            us(s),
            us(s.saturating_sub(p))
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let rows = args
        .next()
        .transpose()
        .expect("ROWS is a number")
        .unwrap_or(100_000);
    let queries = args
        .next()
        .transpose()
        .expect("QUERIES is a number")
        .unwrap_or(1_000);
    let dir = std::env::temp_dir().join(format!("mini_orm_search_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    latency(&dir, rows, queries).await;
    insert_cost(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}
