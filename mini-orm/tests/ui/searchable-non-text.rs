use mini_orm::Model;

#[derive(Model)]
struct Listing {
    #[field(primary_key)]
    id: i64,
    #[field(searchable)]
    title: String,
    #[field(searchable)]
    summary: Option<String>,
    #[field(searchable)]
    price: i64,
    #[field(index, searchable)]
    tags: Vec<u8>,
    #[field(searchable)]
    note: Option<i32>,
}

fn main() {}
