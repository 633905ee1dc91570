//! What administrators do to accounts: list them, add one, lock and unlock, reset a password.
//! A lock or a new password ends the account's sessions at once on this server (within
//! `read_cache_ms` on the others).

use mini_orm::Model;
use serde::Serialize;

use super::{Accounts, MAX_NAME_CHARS, NewAccount, Role, UserType};
use crate::error::{Result, ServiceError};
use crate::models::{AccountLock, Session, User, UserPermission};
use crate::password;
use crate::service::{Caller, check_text};

/// An account as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    /// Login name.
    pub name: String,
    /// Admin or user.
    pub user_type: UserType,
    /// Whether it bought VIP.
    pub is_vip: bool,
    /// When it registered.
    pub register_time: String,
    /// Whether an admin locked it.
    pub locked: bool,
    /// Its role on the photo site.
    pub role: Role,
    /// The permissions an admin granted it.
    pub permissions: Vec<String>,
}

impl Accounts {
    /// Every account, by name. Admins only.
    pub async fn accounts(&self, caller: &Caller) -> Result<Vec<AccountSummary>> {
        caller.require(UserType::Admin)?;
        let users = User::query()
            .order_by(User::NAME.asc())
            .all(self.db())
            .await?;
        let locks = AccountLock::query().all(self.db()).await?;
        let granted = UserPermission::query().all(self.db()).await?;
        let roles = self.roles(&users).await?;
        Ok(users
            .into_iter()
            .zip(roles)
            .map(|(user, role)| AccountSummary {
                role,
                locked: locks.iter().any(|l| l.user_id == user.id),
                permissions: granted
                    .iter()
                    .filter(|p| p.user_id == user.id)
                    .map(|p| p.permission.clone())
                    .collect(),
                user_type: UserType::parse(&user.user_type).unwrap_or(UserType::User),
                name: user.name,
                is_vip: user.is_vip,
                register_time: user.register_time,
            })
            .collect())
    }

    /// Adds a user account; the password typed twice must match. Admins only.
    pub async fn add_user(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        again: &str,
    ) -> Result<()> {
        caller.require(UserType::Admin)?;
        if password.is_empty() {
            return Err(ServiceError::bad_request("a password cannot be empty"));
        }
        if password != again {
            return Err(ServiceError::bad_request("the two passwords differ"));
        }
        let account = NewAccount::user(name, password);
        self.register(account).await.map(|_| ())
    }

    /// Locks account `name` until an admin unlocks it, ending its sessions. Admins only; an
    /// admin cannot lock themselves out.
    pub async fn lock(&self, caller: &Caller, name: &str) -> Result<()> {
        caller.require(UserType::Admin)?;
        let user = self.by_name(name).await?;
        if user.id == caller.user_id() {
            return Err(ServiceError::Forbidden("you cannot lock yourself out"));
        }
        let mut lock = AccountLock {
            id: 0,
            user_id: user.id,
            locked_at: self.shared.now_text(),
        };
        lock.insert_if_absent(self.db()).await?;
        self.end_sessions(user.id).await
    }

    /// Unlocks account `name`, also ending a lock after failed logins. Admins only.
    pub async fn unlock(&self, caller: &Caller, name: &str) -> Result<()> {
        caller.require(UserType::Admin)?;
        let user = self.by_name(name).await?;
        AccountLock::query()
            .filter(AccountLock::USER_ID.eq(user.id))
            .delete(self.db())
            .await?;
        User::query()
            .filter(User::ID.eq(user.id))
            .update(
                self.db(),
                [User::FAILED_LOGINS.set(0), User::LOCKED_UNTIL.set(0)],
            )
            .await?;
        Ok(())
    }

    /// Gives account `name` a new password, ending its sessions. Admins only.
    pub async fn reset_password(&self, caller: &Caller, name: &str, password: &str) -> Result<()> {
        caller.require(UserType::Admin)?;
        if password.is_empty() {
            return Err(ServiceError::bad_request("a password cannot be empty"));
        }
        let user = self.by_name(name).await?;
        let hash = password::hash(password).await?;
        User::query()
            .filter(User::ID.eq(user.id))
            .update(self.db(), [User::PWD_HASH.set(hash)])
            .await?;
        self.end_sessions(user.id).await
    }

    /// Whether an admin locked account `user_id`.
    pub(super) async fn is_locked(&self, user_id: i64) -> Result<bool> {
        let locked = AccountLock::query().filter(AccountLock::USER_ID.eq(user_id));
        Ok(locked.exists(self.db()).await?)
    }

    pub(super) async fn by_name(&self, name: &str) -> Result<User> {
        check_text("a name", name, MAX_NAME_CHARS)?;
        User::query()
            .filter(User::NAME.eq(name))
            .first(self.db())
            .await?
            .ok_or(ServiceError::NotFound("no such account"))
    }

    /// Ends every session of account `user_id`.
    pub(super) async fn end_sessions(&self, user_id: i64) -> Result<()> {
        self.sessions
            .clear(|_, (caller, _)| caller.user_id() == user_id);
        Session::query()
            .filter(Session::USER_ID.eq(user_id))
            .delete(self.db())
            .await?;
        Ok(())
    }
}
