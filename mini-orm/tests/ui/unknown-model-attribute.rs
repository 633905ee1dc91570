use mini_orm::Model;

#[derive(Model)]
#[model(tabel = "users")]
struct User {
    #[field(primary_key)]
    id: i64,
}

fn main() {}
