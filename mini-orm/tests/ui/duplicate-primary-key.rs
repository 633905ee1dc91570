use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
    #[field(primary_key)]
    other_id: i64,
}

fn main() {}
