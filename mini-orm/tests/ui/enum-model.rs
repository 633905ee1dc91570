use mini_orm::Model;

#[derive(Model)]
enum UserType {
    Admin,
    User,
}

fn main() {}
