//! The service's tables, created from its models, on every backend: creation is idempotent and
//! the queries the services make (lists by type and deleted flag, records by user) work.

use mini_orm::testing::TestDb;
use mini_orm::{Model, Result, backend_tests};
use netdisk_core::models::{DownloadRecord, Movie, User, create_schema};

fn user(name: &str) -> User {
    User {
        id: 0,
        name: name.into(),
        pwd_hash: "h".into(),
        register_time: "2026-11-22 10:00:00".into(),
        is_vip: false,
        user_type: "user".into(),
        failed_logins: 0,
        locked_until: 0,
        first_admin: None,
        real_name: None,
        phone: None,
        address: None,
    }
}

fn movie(name: &str, is_free: bool, uploader: i64) -> Movie {
    Movie {
        id: 0,
        name: name.into(),
        is_free,
        is_deleted: false,
        file_md5: format!("{:0>32}", name.len()),
        blob_id: 1,
        size: 10,
        upload_time: "2026-11-22 10:00:00".into(),
        user_id: uploader,
    }
}

async fn schema_is_idempotent_and_serves_the_service_queries(t: &TestDb) -> Result<()> {
    create_schema(&t.db).await?;
    create_schema(&t.db).await?;
    let mut admin = user("admin");
    admin.user_type = "admin".into();
    admin.save(&t.db).await?;
    let mut ids = Vec::new();
    for (name, free) in [("a", true), ("b", false), ("c", true)] {
        let mut m = movie(name, free, admin.id);
        m.save(&t.db).await?;
        ids.push(m.id);
    }
    let mut deleted = Movie::get(&t.db, ids[2]).await?;
    deleted.is_deleted = true;
    deleted.update(&t.db).await?;

    let free_live: Vec<String> = Movie::query()
        .filter(Movie::IS_DELETED.eq(false) & Movie::IS_FREE.eq(true))
        .order_by(Movie::ID.desc())
        .all(&t.db)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(free_live, ["a"]);

    let mut viewer = user("viewer");
    viewer.save(&t.db).await?;
    for movie_id in &ids[..2] {
        let mut record = DownloadRecord {
            id: 0,
            user_id: viewer.id,
            movie_id: *movie_id,
            download_time: "2026-11-22 11:00:00".into(),
            price: 5,
        };
        record.save(&t.db).await?;
    }
    let mine = DownloadRecord::query()
        .filter(DownloadRecord::USER_ID.eq(viewer.id))
        .count(&t.db)
        .await?;
    assert_eq!(mine, 2);
    assert!(
        user("viewer")
            .save(&t.db)
            .await
            .unwrap_err()
            .is_unique_violation()
    );
    Ok(())
}

backend_tests!(schema_is_idempotent_and_serves_the_service_queries);
