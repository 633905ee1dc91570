use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
    name: String,
    #[field(column = "name")]
    nickname: String,
}

fn main() {}
