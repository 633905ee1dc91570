use mini_orm::Model;

struct NotAModel;

#[derive(Model)]
struct Photo {
    #[field(primary_key)]
    id: i64,
    #[field(references = NotAModel)]
    other_id: i64,
}

fn main() {}
