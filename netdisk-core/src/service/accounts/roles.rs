//! Roles, as the photo site (Albumy) has them: what an account may do there. A role is
//! [`Role::Administrator`] exactly when the account is an admin (the Youku door's admin); a user
//! account is a [`Role::User`] unless an administrator made it a [`Role::Moderator`] or
//! [`Role::Locked`] it. Locking by role is not blocking: a blocked account (an admin's lock,
//! [`Accounts::lock`]) cannot log in at all, a locked one may still look, follow and collect.
//!
//! Writing on the photo site also needs a confirmed e-mail address ([`Accounts::require`]):
//! an account whose address is unconfirmed, or that has none, may look but not upload,
//! comment, follow or collect.

use mini_orm::Model;
use serde::Serialize;

use super::{Accounts, UserType};
use crate::error::{Result, ServiceError};
use crate::models::{AccountRole, User};
use crate::service::Caller;

/// What an account may do on the photo site; each role may do what the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May look, follow and collect.
    Locked,
    /// Also comments and uploads.
    User,
    /// Also moderates: deletes others' photos and comments, sees reports.
    Moderator,
    /// Also administers: roles, locks, the dashboard. The admin accounts.
    Administrator,
}

impl Role {
    /// Every role, from the least to the most.
    pub const ALL: [Role; 4] = [
        Role::Locked,
        Role::User,
        Role::Moderator,
        Role::Administrator,
    ];

    /// `locked`, `user`, `moderator` or `administrator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Locked => "locked",
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Administrator => "administrator",
        }
    }

    /// The role spelled `text`, if any.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may do `ability`.
    pub fn may(self, ability: Ability) -> bool {
        let least = match ability {
            Ability::Follow | Ability::Collect => Role::Locked,
            Ability::Comment | Ability::Upload => Role::User,
            Ability::Moderate => Role::Moderator,
            Ability::Administer => Role::Administrator,
        };
        self >= least
    }

    /// The role of an account of `user_type` whose stored role (if any) is `stored`.
    fn of(user_type: UserType, stored: Option<&str>) -> Role {
        match user_type {
            UserType::Admin => Role::Administrator,
            UserType::User => stored.and_then(Role::parse).unwrap_or(Role::User),
        }
    }
}

/// Something done on the photo site that a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ability {
    /// Follow and unfollow people.
    Follow,
    /// Collect (favourite) photos.
    Collect,
    /// Comment on photos.
    Comment,
    /// Upload photos.
    Upload,
    /// Delete others' photos and comments; see reports.
    Moderate,
    /// Change roles; the dashboard.
    Administer,
}

impl Ability {
    fn refusal(self) -> &'static str {
        match self {
            Ability::Follow => "your account may not follow anyone",
            Ability::Collect => "your account may not collect photos",
            Ability::Comment => "your account may not comment",
            Ability::Upload => "your account may not upload photos",
            Ability::Moderate => "only moderators may do this",
            Ability::Administer => "only administrators may do this",
        }
    }

    /// Whether doing it needs a confirmed e-mail address (the writes of an ordinary member).
    fn needs_confirmed_email(self) -> bool {
        !matches!(self, Ability::Moderate | Ability::Administer)
    }
}

impl Accounts {
    /// The caller's role.
    pub async fn role(&self, caller: &Caller) -> Result<Role> {
        self.role_of(caller.user_id(), caller.user_type()).await
    }

    async fn role_of(&self, user_id: i64, user_type: UserType) -> Result<Role> {
        let stored = AccountRole::query()
            .filter(AccountRole::USER_ID.eq(user_id))
            .first(self.db())
            .await?;
        Ok(Role::of(
            user_type,
            stored.as_ref().map(|r| r.role.as_str()),
        ))
    }

    /// Ok when the caller's role may do `ability` and, for an ordinary member's writes, the
    /// caller's e-mail address is confirmed; [`ServiceError::Forbidden`] otherwise.
    pub async fn require(&self, caller: &Caller, ability: Ability) -> Result<Role> {
        let role = self.role(caller).await?;
        if !role.may(ability) {
            return Err(ServiceError::Forbidden(ability.refusal()));
        }
        if ability.needs_confirmed_email() {
            self.require_confirmed(caller).await?;
        }
        Ok(role)
    }

    /// Gives account `name` the role `role`. Administrators only. An administrator's role comes
    /// with the account type and cannot be given or taken here.
    pub async fn set_role(&self, caller: &Caller, name: &str, role: Role) -> Result<()> {
        self.require(caller, Ability::Administer).await?;
        let user = self.by_name(name).await?;
        if user.user_type == UserType::Admin.as_str() || role == Role::Administrator {
            return Err(ServiceError::Forbidden(
                "administrators are the admin accounts: that role comes with the account",
            ));
        }
        let mut row = AccountRole {
            id: 0,
            user_id: user.id,
            role: role.as_str().to_owned(),
        };
        let this_account = AccountRole::USER_ID.eq(user.id);
        let new_role = [AccountRole::ROLE.set(role.as_str())];
        row.upsert(self.db(), this_account, new_role).await?;
        Ok(())
    }

    /// Every account's role, by account id (for the admin's list).
    pub(super) async fn roles(&self, users: &[User]) -> Result<Vec<Role>> {
        let stored = AccountRole::query().all(self.db()).await?;
        Ok(users
            .iter()
            .map(|user| {
                let row = stored.iter().find(|r| r.user_id == user.id);
                let user_type = UserType::parse(&user.user_type).unwrap_or(UserType::User);
                Role::of(user_type, row.map(|r| r.role.as_str()))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{Ability, Role};

    #[test]
    fn each_role_may_what_the_one_before_may() {
        use Ability::*;
        let table = [
            (Role::Locked, vec![Follow, Collect]),
            (Role::User, vec![Follow, Collect, Comment, Upload]),
            (
                Role::Moderator,
                vec![Follow, Collect, Comment, Upload, Moderate],
            ),
            (
                Role::Administrator,
                vec![Follow, Collect, Comment, Upload, Moderate, Administer],
            ),
        ];
        for (role, allowed) in table {
            for ability in [Follow, Collect, Comment, Upload, Moderate, Administer] {
                assert_eq!(
                    role.may(ability),
                    allowed.contains(&ability),
                    "{role:?} {ability:?}"
                );
            }
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
