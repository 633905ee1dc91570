//! Youku requests served by the accounts service: `register`, `login`, `logout`, `buy_vip`.

use serde_json::json;

use super::reply::{Reply, done, ok};
use super::request::Credentials;
use crate::{Caller, Netdisk, NewAccount, ServiceError, UserType};

fn user_type(text: &str) -> Result<UserType, ServiceError> {
    UserType::parse(text)
        .ok_or_else(|| ServiceError::BadRequest("user_type must be \"admin\" or \"user\"".into()))
}

pub(super) async fn register(netdisk: &Netdisk, r: Credentials) -> Result<Reply, ServiceError> {
    let account = NewAccount {
        name: &r.name,
        password: &r.password,
        user_type: user_type(&r.user_type)?,
        real_name: None,
        phone: None,
        address: None,
    };
    netdisk.accounts().register(account).await?;
    done("registered")
}

pub(super) async fn login(netdisk: &Netdisk, r: Credentials) -> Result<Reply, ServiceError> {
    let kind = user_type(&r.user_type)?;
    let outcome = netdisk
        .accounts()
        .login(&r.name, &r.password, Some(kind))
        .await?;
    let fields = json!({
        "session": outcome.token,
        "is_vip": i32::from(outcome.profile.is_vip),
        "user_type": outcome.profile.user_type,
    });
    ok("logged in", fields).map(Reply::Json)
}

pub(super) async fn logout(netdisk: &Netdisk, caller: &Caller) -> Result<Reply, ServiceError> {
    netdisk.accounts().logout(caller).await?;
    done("logged out")
}

pub(super) async fn buy_vip(netdisk: &Netdisk, caller: &Caller) -> Result<Reply, ServiceError> {
    let is_vip = netdisk.accounts().buy_vip(caller).await?;
    super::reply::one("you are a VIP", "is_vip", i32::from(is_vip))
}
