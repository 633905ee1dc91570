//! Counting password attempts, so that guessing locks an account: at login, and where a
//! logged-in person types the current password again (changing the address or the password),
//! which a stolen session could otherwise use to guess it. Both count in `User::failed_logins`:
//! after `lockout_threshold` wrong passwords in a row the account is
//! [`ServiceError::Locked`] for `lockout_secs`.
//!
//! Each attempt is counted *before* its password is checked, in one atomic update that also
//! refuses when the count has reached the threshold: attempts made at the same time cannot
//! outrun the lock, however many connections they come from.

use mini_orm::{Filter, Model};

use super::Accounts;
use crate::clock::format_local;
use crate::error::{Result, ServiceError};
use crate::models::User;

impl Accounts {
    fn threshold(&self) -> i64 {
        i64::from(self.config().lockout_threshold.max(1))
    }

    /// Counts an attempt at the password of the account `which` selects, and returns the
    /// account (`None` when there is none; the statements are the same).
    /// [`ServiceError::Locked`] when it is locked, or as many attempts as the threshold allows
    /// are being checked right now (they will lock it if they fail).
    pub(super) async fn start_attempt(&self, which: &Filter<User>) -> Result<Option<User>> {
        let now = self.shared.now();
        let reserved = User::query()
            .filter(which.clone())
            .filter(User::LOCKED_UNTIL.le(now) & User::FAILED_LOGINS.lt(self.threshold()))
            .update(self.db(), [User::FAILED_LOGINS.increment(1)])
            .await?;
        let user = User::query().filter(which.clone()).first(self.db()).await?;
        if let Some(user) = user.as_ref().filter(|_| reserved == 0) {
            let until = if user.locked_until > now {
                user.locked_until
            } else {
                now + self.config().lockout_secs as i64
            };
            return Err(ServiceError::Locked {
                until: format_local(until),
            });
        }
        Ok(user)
    }

    /// After a wrong password for account `name`: locks it once the count reached the
    /// threshold.
    pub(super) async fn failed_attempt(&self, which: &Filter<User>, name: &str) -> Result<()> {
        let now = self.shared.now();
        let locked = User::query()
            .filter(which.clone())
            .filter(User::FAILED_LOGINS.ge(self.threshold()))
            .update(
                self.db(),
                [
                    User::LOCKED_UNTIL.set(now + self.config().lockout_secs as i64),
                    User::FAILED_LOGINS.set(0),
                ],
            )
            .await?;
        if locked > 0 {
            tracing::warn!(user = %name, "account locked after repeated wrong passwords");
        }
        Ok(())
    }

    /// After the right password: the run of failures ends.
    pub(super) async fn good_attempt(&self, which: &Filter<User>) -> Result<()> {
        User::query()
            .filter(which.clone())
            .update(self.db(), [User::FAILED_LOGINS.set(0)])
            .await?;
        Ok(())
    }
}
