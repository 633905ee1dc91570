use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_kye)]
    id: i64,
}

fn main() {}
