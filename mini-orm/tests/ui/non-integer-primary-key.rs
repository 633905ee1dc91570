use mini_orm::Model;

#[derive(Model)]
struct Session {
    #[field(primary_key)]
    token: String,
}

fn main() {}
