use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
    #[field(default = some_function())]
    name: String,
}

fn main() {}
