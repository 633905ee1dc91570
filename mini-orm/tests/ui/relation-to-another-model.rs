use std::collections::HashMap;

use mini_orm::{Db, Model};

#[derive(Model)]
struct Author {
    #[field(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Album {
    #[field(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Photo {
    #[field(primary_key)]
    id: i64,
    #[field(references = Author)]
    author_id: i64,
}

async fn albums(photos: &[Photo], db: &Db) -> mini_orm::Result<HashMap<i64, Album>> {
    // `author_id` references `Author`, not `Album`.
    Photo::AUTHOR_ID_REF.load(photos, db).await
}

fn main() {}
