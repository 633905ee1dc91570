//! Models shared by the ORM's integration tests.
#![allow(dead_code)]

use mini_orm::Model;

/// The user table of the service, as the issue describes it.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "user_info")]
pub struct User {
    #[field(primary_key)]
    pub id: i64,
    #[field(unique, max_len = 32)]
    pub name: String,
    pub pwd: String,
    pub is_vip: bool,
    pub is_locked: bool,
    #[field(max_len = 16, index)]
    pub user_type: String,
    pub register_time: String,
    pub real_name: Option<String>,
    #[field(default = 0)]
    pub failed_logins: i64,
}

impl User {
    pub fn named(name: &str) -> User {
        User {
            id: 0,
            name: name.to_owned(),
            pwd: "hash".to_owned(),
            is_vip: false,
            is_locked: false,
            user_type: "user".to_owned(),
            register_time: "2026-11-22 10:00:00".to_owned(),
            real_name: None,
            failed_logins: 0,
        }
    }
}

/// Every supported field type, a reserved word as a column name, and a composite unique key.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(unique(owner, label), index(owner, score))]
pub struct Sample {
    #[field(primary_key)]
    pub id: i64,
    pub owner: i64,
    #[field(max_len = 64)]
    pub label: String,
    pub small: i32,
    pub flag: bool,
    pub score: f64,
    pub bytes: Vec<u8>,
    #[field(column = "order")]
    pub order_note: String,
    pub maybe_text: Option<String>,
    pub maybe_int: Option<i64>,
}

impl Sample {
    pub fn new(owner: i64, label: &str) -> Sample {
        Sample {
            id: 0,
            owner,
            label: label.to_owned(),
            small: -7,
            flag: true,
            score: 2.5,
            bytes: vec![0, 1, 2, 255],
            order_note: "select * from \"x\"; -- '".to_owned(),
            maybe_text: None,
            maybe_int: Some(i64::MIN),
        }
    }
}
