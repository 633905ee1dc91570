//! Creates the service's four tables and round-trips a few rows through mini-orm.
//!
//! ```text
//! cargo run -p examples --example quickstart                      # SQLite in ./netdisk-data
//! cargo run -p examples --example quickstart -- mysql://root@127.0.0.1:3306/test
//! RUST_LOG=mini_orm=debug cargo run -p examples --example quickstart   # show every statement
//! ```

use mini_orm::{Db, Model};
use netdisk_core::models::{self, DownloadRecord, Movie, Notice, User};

const DEFAULT_DB: &str = "sqlite://netdisk-data/netdisk.db";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_DB.to_owned());
    if url == DEFAULT_DB {
        std::fs::create_dir_all("netdisk-data")?;
    }
    let db = Db::connect(&url).await?;
    models::create_schema(&db).await?;
    println!("connected to {url} ({:?}); tables ready", db.backend());

    let now = "2026-11-22 10:00:00".to_owned();
    let admin_name = format!("admin-{}", std::process::id());
    let mut admin = match User::query()
        .filter(User::NAME.eq(admin_name.as_str()))
        .first(&db)
        .await?
    {
        Some(existing) => existing,
        None => {
            let mut user = User {
                id: 0,
                name: admin_name,
                pwd_hash: "(quickstart: no real password)".into(),
                register_time: now.clone(),
                is_vip: false,
                is_locked: false,
                user_type: "admin".into(),
                real_name: None,
                phone: None,
                address: None,
            };
            user.save(&db).await?;
            user
        }
    };
    println!("user   #{}: {} ({})", admin.id, admin.name, admin.user_type);

    let mut tx = db.begin().await?;
    let mut movie = Movie {
        id: 0,
        name: "big_buck_bunny.mp4".into(),
        is_free: true,
        is_deleted: false,
        file_md5: "0123456789abcdef0123456789abcdef".into(),
        path: "movies/example".into(),
        size: 1024,
        upload_time: now.clone(),
        user_id: admin.id,
    };
    movie.save(&mut tx).await?;
    let mut notice = Notice {
        id: 0,
        title: "Welcome".into(),
        content: "The quickstart published this.".into(),
        create_time: now.clone(),
        user_id: admin.id,
    };
    notice.save(&mut tx).await?;
    let mut record = DownloadRecord {
        id: 0,
        user_id: admin.id,
        movie_id: movie.id,
        download_time: now,
        price: 0,
    };
    record.save(&mut tx).await?;
    tx.commit().await?;

    admin.is_vip = true;
    admin.update(&db).await?;
    let free_movies = Movie::query()
        .filter(Movie::IS_DELETED.eq(false) & Movie::IS_FREE.eq(true))
        .count(&db)
        .await?;
    let latest = Notice::query()
        .order_by(Notice::ID.desc())
        .first(&db)
        .await?;
    println!(
        "movie  #{}: {} ({free_movies} free movies in all)",
        movie.id, movie.name
    );
    println!("notice #{}: {:?}", notice.id, latest.map(|n| n.title));
    println!(
        "record #{}: user {} downloaded movie {}",
        record.id, record.user_id, record.movie_id
    );
    println!("VIP now: {}", User::get(&db, admin.id).await?.is_vip);
    db.close().await?;
    Ok(())
}
