use mini_orm::Model;

#[derive(Model)]
#[model(table = "linked_node")]
struct Node {
    #[field(references = Node, on_delete = "nullify")]
    next: Option<i64>,
    #[field(primary_key)]
    key: i64,
}

fn main() {}
