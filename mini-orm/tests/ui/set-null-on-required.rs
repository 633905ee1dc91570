use mini_orm::Model;

/// A tree: a required parent cannot become NULL.
#[derive(Model)]
struct Category {
    #[field(primary_key)]
    id: i64,
    #[field(references = Self, on_delete = "set_null")]
    parent_id: i64,
    #[field(on_delete = "cascade")]
    rank: i64,
}

fn main() {}
