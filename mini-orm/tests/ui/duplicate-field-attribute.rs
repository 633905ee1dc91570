use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
    #[field(unique, unique)]
    name: String,
}

fn main() {}
