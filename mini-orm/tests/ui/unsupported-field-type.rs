use mini_orm::Model;

#[derive(Model)]
struct Movie {
    #[field(primary_key)]
    id: i64,
    size: u128,
}

fn main() {}
