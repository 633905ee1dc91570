use mini_orm::Model;

#[derive(Model)]
struct User(i64, String);

fn main() {}
