use mini_orm::Model;

#[derive(Model)]
#[model(unique(owner_id, nmae))]
struct UserFile {
    #[field(primary_key)]
    id: i64,
    owner_id: i64,
    name: String,
}

fn main() {}
