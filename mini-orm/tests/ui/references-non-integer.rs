use mini_orm::Model;

#[derive(Model)]
struct Author {
    #[field(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Review {
    #[field(references = Author)]
    author_name: String,
    #[field(references = Author)]
    small_key: Option<i32>,
    #[field(primary_key, references = Author)]
    own_key: i64,
}

fn main() {}
