use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
    name: String,
}

fn main() {
    let _ = User::query().filter(User::NAME.eq(42));
}
