use mini_orm::Model;

#[derive(Model)]
struct User {
    #[field(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Movie {
    #[field(primary_key)]
    id: i64,
}

fn main() {
    let _ = User::query().filter(Movie::ID.eq(1));
}
