//! [`Caller`]: the proof that a request comes from someone logged in.

use super::UserType;
use crate::error::{Result, ServiceError};

/// Someone with a valid session, as [`Accounts::authenticate`](super::Accounts::authenticate)
/// found them. Only the accounts service makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub(super) user_id: i64,
    pub(super) name: String,
    pub(super) user_type: UserType,
    pub(super) session_id: i64,
}

impl Caller {
    /// The account's id.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The account's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Admin or user.
    pub fn user_type(&self) -> UserType {
        self.user_type
    }

    /// Ok when the caller has `role`; [`ServiceError::Forbidden`] otherwise.
    pub(super) fn require(&self, role: UserType) -> Result<()> {
        if self.user_type == role {
            return Ok(());
        }
        Err(ServiceError::Forbidden(match role {
            UserType::Admin => "only administrators may do this",
            UserType::User => "only users may do this",
        }))
    }
}
