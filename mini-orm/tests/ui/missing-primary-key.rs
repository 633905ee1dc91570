use mini_orm::Model;

#[derive(Model)]
struct User {
    id: i64,
    name: String,
}

fn main() {}
