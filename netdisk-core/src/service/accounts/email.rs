//! E-mail addresses on accounts, and the links mailed to them: sign up with an address, confirm
//! it, send the confirmation again, set a forgotten password, change the address (the new one
//! counts once confirmed) and the password (both with the current password typed again).
//!
//! A link carries 128 random bits; only their SHA-256 is stored, with the time the link stops
//! working. A link works once: using it deletes its row inside the transaction that makes the
//! change, so of two uses at once only one changes anything. A link's row is written before its
//! mail is sent and deleted again when the mail cannot be handed over (nobody ever saw that
//! token, so a row that could not be deleted is harmless and expires).
//!
//! Mail is limited per account and kind of link, so that nobody can fill a mailbox through the
//! site: a link at most every [`MAIL_GAP_SECS`] and [`MAILS_PER_HOUR`] in an hour. The links
//! still unused are what counts (a row's making time is its expiry less its lifetime); asking
//! for more is [`ServiceError::TooFast`], except for a password reset, which answers as if it
//! had mailed (see [`Accounts::request_password_reset`]).

use mini_orm::Model;
use serde::Serialize;

use super::{Accounts, NewAccount, Profile, token_hash};
use crate::clock::format_local;
use crate::error::{Result, ServiceError};
use crate::mail::{Mail, parse_address};
use crate::models::{AccountEmail, EmailToken, Session, User};
use crate::password;
use crate::service::{Caller, check_text};

/// Longest e-mail address, in characters (RFC 5321's limit on a path).
const MAX_ADDRESS_CHARS: usize = 254;

/// Seconds an account waits between two links of one kind.
const MAIL_GAP_SECS: i64 = 60;

/// Links of one kind an account may be mailed in an hour.
const MAILS_PER_HOUR: usize = 5;

const USED: &str =
    "this link does not work: it was used already, replaced by a newer one, or mistyped";
const EXPIRED: &str = "this link has expired: ask for a new one";
const IN_USE: &str = "this e-mail address is in use by another account";
const WRONG_PASSWORD: &str = "the current password is wrong";

/// An account's e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailStatus {
    /// The address, in lowercase.
    pub address: String,
    /// Whether its owner followed a link mailed to it.
    pub confirmed: bool,
}

/// What a mailed link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Makes the address it was mailed to the account's, confirmed.
    Confirm,
    /// Sets a new password.
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Reset => "reset",
        }
    }
}

/// `text` as an address: trimmed, lowercased, 1 to 254 characters, what lettre parses as
/// `local@domain`, and no quoted local part (which could hold anything, markup included).
fn normalise(text: &str) -> Result<String> {
    let text = text.trim();
    check_text("an e-mail address", text, MAX_ADDRESS_CHARS)?;
    if text.contains(['"', '<', '>']) {
        return Err(ServiceError::bad_request(
            "an e-mail address cannot contain quotes or angle brackets",
        ));
    }
    parse_address(text)?;
    Ok(text.to_lowercase())
}

impl Accounts {
    /// Creates an account with e-mail address `address` (unconfirmed) and mails it a link to
    /// confirm it. An address another account has is a [`ServiceError::Conflict`]. When the mail
    /// cannot be sent ([`ServiceError::Mail`]) the account is removed again: the sign-up did
    /// not happen.
    pub async fn register_with_email(
        &self,
        account: NewAccount<'_>,
        address: &str,
    ) -> Result<Profile> {
        let address = normalise(address)?;
        if self.owner_of(&address).await?.is_some() {
            return Err(ServiceError::Conflict(IN_USE));
        }
        let profile = self.register(account).await?;
        let mut email = AccountEmail {
            id: 0,
            user_id: profile.id,
            address: address.clone(),
            confirmed_at: None,
        };
        let done = match email.save(self.db()).await {
            Ok(()) => {
                self.mail_link(profile.id, &profile.username, Purpose::Confirm, &address)
                    .await
            }
            // Someone took the address since the check above.
            Err(e) if e.is_unique_violation() => Err(ServiceError::Conflict(IN_USE)),
            Err(e) => Err(e.into()),
        };
        if let Err(error) = done {
            self.remove_new_account(profile.id).await;
            return Err(error);
        }
        Ok(profile)
    }

    /// Undoes a sign-up: the account, its address, links and sessions.
    async fn remove_new_account(&self, user_id: i64) {
        let removed = async {
            EmailToken::query()
                .filter(EmailToken::USER_ID.eq(user_id))
                .delete(self.db())
                .await?;
            AccountEmail::query()
                .filter(AccountEmail::USER_ID.eq(user_id))
                .delete(self.db())
                .await?;
            self.end_sessions(user_id).await?;
            User::query()
                .filter(User::ID.eq(user_id))
                .delete(self.db())
                .await?;
            Result::<()>::Ok(())
        };
        if let Err(error) = removed.await {
            tracing::error!(%error, user_id, "a sign-up whose mail failed could not be undone");
        }
    }

    /// The caller's e-mail address, if the account has one.
    pub async fn email(&self, caller: &Caller) -> Result<Option<EmailStatus>> {
        let row = AccountEmail::query()
            .filter(AccountEmail::USER_ID.eq(caller.user_id))
            .first(self.db())
            .await?;
        Ok(row.map(|row| EmailStatus {
            confirmed: row.confirmed_at.is_some(),
            address: row.address,
        }))
    }

    /// Ok when the caller's account has a confirmed e-mail address; [`ServiceError::Forbidden`]
    /// otherwise (an account without an address, such as one made at a TCP door, is not
    /// confirmed either).
    pub async fn require_confirmed(&self, caller: &Caller) -> Result<()> {
        match self.email(caller).await? {
            Some(email) if email.confirmed => Ok(()),
            _ => Err(ServiceError::Forbidden(
                "confirm your e-mail address first (see your account's settings)",
            )),
        }
    }

    /// Mails the caller's unconfirmed address a new link to confirm it (earlier links keep
    /// working until they expire). [`ServiceError::NotFound`] without an address,
    /// [`ServiceError::BadRequest`] when it is confirmed already.
    pub async fn resend_confirmation(&self, caller: &Caller) -> Result<()> {
        let Some(email) = self.email(caller).await? else {
            return Err(ServiceError::NotFound(
                "this account has no e-mail address: add one in the settings",
            ));
        };
        if email.confirmed {
            return Err(ServiceError::bad_request(
                "your address is confirmed already",
            ));
        }
        self.mail_link(
            caller.user_id,
            &caller.name,
            Purpose::Confirm,
            &email.address,
        )
        .await
    }

    /// Follows a confirmation link: the address it was mailed to becomes its account's,
    /// confirmed (a change of address takes effect here), and every other confirmation link of
    /// the account stops working. Returns the address. A used, unknown or expired link is a
    /// [`ServiceError::BadRequest`] and changes nothing; an address another account confirmed
    /// meanwhile is a [`ServiceError::Conflict`].
    pub async fn confirm_email(&self, token: &str) -> Result<String> {
        let link = self.valid_link(token, Purpose::Confirm).await?;
        let now = self.shared.now();
        let mut tx = self.db().begin().await?;
        claim(&mut tx, &link).await?;
        let changed = AccountEmail::query()
            .filter(AccountEmail::USER_ID.eq(link.user_id))
            .update(
                &mut tx,
                [
                    AccountEmail::ADDRESS.set(link.address.clone()),
                    AccountEmail::CONFIRMED_AT.set(Some(now)),
                ],
            )
            .await;
        let saved = match changed {
            Ok(0) => {
                let mut email = AccountEmail {
                    id: 0,
                    user_id: link.user_id,
                    address: link.address.clone(),
                    confirmed_at: Some(now),
                };
                email.save(&mut tx).await
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match saved {
            Err(e) if e.is_unique_violation() => return Err(ServiceError::Conflict(IN_USE)),
            other => other?,
        }
        EmailToken::query()
            .filter(
                EmailToken::USER_ID.eq(link.user_id)
                    & EmailToken::PURPOSE.eq(Purpose::Confirm.as_str()),
            )
            .delete(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(link.address)
    }

    /// Mails a link to set a new password to the account whose confirmed address is
    /// `address`. Answers the same whether or not there is one, so that nobody learns which
    /// addresses have accounts (only an ill-formed address is refused, and a mail that could
    /// not be sent is an error); and the same when the account was mailed too much already
    /// (see the module docs), when no mail goes.
    pub async fn request_password_reset(&self, address: &str) -> Result<()> {
        let address = normalise(address)?;
        let Some(owner) = self.owner_of(&address).await? else {
            return Ok(());
        };
        if owner.confirmed_at.is_none() {
            return Ok(()); // an address nobody proved to own gets no way into the account
        }
        let Some(user) = User::find(self.db(), owner.user_id).await? else {
            return Ok(());
        };
        match self
            .mail_link(user.id, &user.name, Purpose::Reset, &address)
            .await
        {
            Err(ServiceError::TooFast { .. }) => {
                tracing::info!(user = %user.name, "a password reset link was not mailed: too many");
                Ok(())
            }
            other => other,
        }
    }

    /// Ok when `token` is a password reset link that still works (for the page that asks for
    /// the new password); the errors of [`Accounts::reset_password_by_link`].
    pub async fn check_reset_link(&self, token: &str) -> Result<()> {
        self.valid_link(token, Purpose::Reset).await.map(|_| ())
    }

    /// Follows a password reset link: the account gets `password`, loses its sessions and any
    /// lock after failed logins, and every reset link of the account stops working. A used,
    /// unknown or expired link is a [`ServiceError::BadRequest`] and changes nothing.
    pub async fn reset_password_by_link(&self, token: &str, password: &str) -> Result<()> {
        let link = self.valid_link(token, Purpose::Reset).await?;
        let hash = password::hash(password).await?;
        let mut tx = self.db().begin().await?;
        claim(&mut tx, &link).await?;
        User::query()
            .filter(User::ID.eq(link.user_id))
            .update(
                &mut tx,
                [
                    User::PWD_HASH.set(hash),
                    User::FAILED_LOGINS.set(0),
                    User::LOCKED_UNTIL.set(0),
                ],
            )
            .await?;
        self.void_reset_links(&mut tx, link.user_id).await?;
        tx.commit().await?;
        self.end_sessions(link.user_id).await
    }

    /// Starts a change of the caller's e-mail address to `address`: checks `password` (the
    /// current one) and mails a confirmation link to the new address. The account keeps its
    /// address until that link is followed ([`Accounts::confirm_email`]). An address another
    /// account has is a [`ServiceError::Conflict`]; a wrong password is
    /// [`ServiceError::Forbidden`].
    pub async fn change_email(&self, caller: &Caller, password: &str, address: &str) -> Result<()> {
        self.check_password(caller, password).await?;
        let address = normalise(address)?;
        match self.owner_of(&address).await? {
            Some(owner) if owner.user_id != caller.user_id => {
                return Err(ServiceError::Conflict(IN_USE));
            }
            Some(owner) if owner.confirmed_at.is_some() => {
                return Err(ServiceError::bad_request("this is your address already"));
            }
            _ => {}
        }
        self.mail_link(caller.user_id, &caller.name, Purpose::Confirm, &address)
            .await
    }

    /// Changes the caller's password after checking the current one (a wrong one is
    /// [`ServiceError::Forbidden`]). The account's other sessions end and its reset links stop
    /// working; the caller's own session goes on.
    pub async fn change_password(&self, caller: &Caller, current: &str, new: &str) -> Result<()> {
        self.check_password(caller, current).await?;
        let hash = password::hash(new).await?;
        let mut tx = self.db().begin().await?;
        User::query()
            .filter(User::ID.eq(caller.user_id))
            .update(&mut tx, [User::PWD_HASH.set(hash)])
            .await?;
        self.void_reset_links(&mut tx, caller.user_id).await?;
        tx.commit().await?;
        let (user_id, session_id) = (caller.user_id, caller.session_id);
        self.sessions
            .clear(|_, (c, _)| c.user_id == user_id && c.session_id != session_id);
        Session::query()
            .filter(Session::USER_ID.eq(user_id) & Session::ID.ne(session_id))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// Ok when `password` is the caller's; [`ServiceError::Forbidden`] when not. Counted as a
    /// login attempt is: guessing locks the account ([`ServiceError::Locked`]).
    async fn check_password(&self, caller: &Caller, password: &str) -> Result<()> {
        let mine = User::ID.eq(caller.user_id);
        let user = self
            .start_attempt(&mine)
            .await?
            .ok_or(ServiceError::NotLoggedIn)?;
        if password::verify(password, Some(user.pwd_hash)).await? {
            self.good_attempt(&mine).await
        } else {
            self.failed_attempt(&mine, &caller.name).await?;
            Err(ServiceError::Forbidden(WRONG_PASSWORD))
        }
    }

    async fn void_reset_links(&self, tx: &mut mini_orm::Transaction, user_id: i64) -> Result<()> {
        EmailToken::query()
            .filter(
                EmailToken::USER_ID.eq(user_id) & EmailToken::PURPOSE.eq(Purpose::Reset.as_str()),
            )
            .delete(tx)
            .await?;
        Ok(())
    }

    /// The account row holding `address`, if any.
    async fn owner_of(&self, address: &str) -> Result<Option<AccountEmail>> {
        let row = AccountEmail::query()
            .filter(AccountEmail::ADDRESS.eq(address))
            .first(self.db())
            .await?;
        Ok(row)
    }

    /// The unexpired link of `purpose` whose token is `token`.
    async fn valid_link(&self, token: &str, purpose: Purpose) -> Result<EmailToken> {
        if token.len() != 32 {
            return Err(ServiceError::bad_request(USED));
        }
        let link = EmailToken::query()
            .filter(
                EmailToken::TOKEN_HASH.eq(hex::encode(token_hash(token)))
                    & EmailToken::PURPOSE.eq(purpose.as_str()),
            )
            .first(self.db())
            .await?
            .ok_or_else(|| ServiceError::bad_request(USED))?;
        if link.expires_at <= self.shared.now() {
            return Err(ServiceError::bad_request(EXPIRED));
        }
        Ok(link)
    }

    /// Ends the links that expired (at start: a link past its time only ever says so).
    pub(super) async fn purge_expired_links(&self) -> Result<()> {
        EmailToken::query()
            .filter(EmailToken::EXPIRES_AT.le(self.shared.now()))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// Writes a link of `purpose` for account `user_id` (named `name`) and mails it to
    /// `address`; returns once the mail is handed over. When it cannot be, the link is deleted
    /// again and the error returned. [`ServiceError::TooFast`] when the account had as many
    /// links of `purpose` as it may for now (see the module docs).
    async fn mail_link(
        &self,
        user_id: i64,
        name: &str,
        purpose: Purpose,
        address: &str,
    ) -> Result<()> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let lifetime = match purpose {
            Purpose::Confirm => self.config().email_confirm_secs,
            Purpose::Reset => self.config().password_reset_secs,
        };
        let now = self.shared.now();
        let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(lifetime);
        let mut row = EmailToken {
            id: 0,
            token_hash: hex::encode(token_hash(&token)),
            user_id,
            purpose: purpose.as_str().to_owned(),
            address: address.to_owned(),
            expires_at,
        };
        let mut tx = self.db().begin().await?;
        // The account's row, locked: one link at a time is counted and written per account.
        User::query()
            .filter(User::ID.eq(user_id))
            .for_update()
            .first(&mut tx)
            .await?;
        let recent: Vec<i64> = EmailToken::query()
            .filter(
                EmailToken::USER_ID.eq(user_id)
                    & EmailToken::PURPOSE.eq(purpose.as_str())
                    & EmailToken::EXPIRES_AT.gt(expires_at.saturating_sub(3600)),
            )
            .all(&mut tx)
            .await?
            .into_iter()
            .map(|link| link.expires_at.saturating_sub(lifetime))
            .collect();
        let wait = wait_before_mail(&recent, now);
        if wait > 0 {
            return Err(ServiceError::TooFast {
                retry_after_ms: wait.unsigned_abs() * 1000,
            });
        }
        row.save(&mut tx).await?;
        tx.commit().await?;
        let site = self.config().site_url.trim_end_matches('/');
        let link = format!("{site}/{}/{token}", purpose.as_str());
        let until = format_local(expires_at);
        let (subject, text) = match purpose {
            Purpose::Confirm => (
                "Confirm your e-mail address",
                format!(
                    "Hello {name},\n\nfollow this link to confirm {address} as your account's \
                     e-mail address:\n\n{link}\n\nThe link works once, until {until}. If you did \
                     not ask for it, ignore this mail.\n"
                ),
            ),
            Purpose::Reset => (
                "Set a new password",
                format!(
                    "Hello {name},\n\nsomeone asked to set a new password for your account. \
                     Follow this link to choose one:\n\n{link}\n\nThe link works once, until \
                     {until}. If you did not ask for it, ignore this mail: your password stays \
                     as it is.\n"
                ),
            ),
        };
        let mail = Mail {
            to: address,
            subject,
            text,
            link: &link,
        };
        if let Err(error) = self.shared.mailer.send(mail).await {
            if let Err(e) = row.delete(self.db()).await {
                tracing::warn!(error = %e, "a link whose mail failed stays until it expires");
            }
            return Err(error);
        }
        Ok(())
    }
}

/// Seconds to wait at `now` before another link may be mailed, given when the account's links
/// of one kind still unused were made in the last hour (`made`); 0 when one may go now.
fn wait_before_mail(made: &[i64], now: i64) -> i64 {
    let newest = made.iter().max().map_or(0, |&t| t + MAIL_GAP_SECS - now);
    let mut in_hour: Vec<i64> = made.iter().copied().filter(|&t| t > now - 3600).collect();
    in_hour.sort_unstable();
    let full = match in_hour.len().checked_sub(MAILS_PER_HOUR) {
        // The oldest links that must age out of the hour first.
        Some(over) => in_hour[over] + 3600 - now,
        None => 0,
    };
    newest.max(full).max(0)
}

/// Uses `link` up inside `tx`: deleted, so that it works once; a link another request used at
/// the same moment is refused as used.
async fn claim(tx: &mut mini_orm::Transaction, link: &EmailToken) -> Result<()> {
    let taken = EmailToken::query()
        .filter(EmailToken::ID.eq(link.id))
        .delete(tx)
        .await?;
    if taken == 0 {
        return Err(ServiceError::bad_request(USED));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{MAIL_GAP_SECS, wait_before_mail};

    #[test]
    fn links_wait_a_minute_and_five_an_hour() {
        let now = 100_000;
        assert_eq!(wait_before_mail(&[], now), 0);
        assert_eq!(wait_before_mail(&[now - 10], now), MAIL_GAP_SECS - 10);
        assert_eq!(wait_before_mail(&[now - MAIL_GAP_SECS], now), 0);
        let four = [now - 3000, now - 2000, now - 1000, now - 500];
        assert_eq!(wait_before_mail(&four, now), 0);
        let five = [now - 3000, now - 2000, now - 1000, now - 500, now - 100];
        assert_eq!(
            wait_before_mail(&five, now),
            600,
            "until the oldest is an hour old"
        );
        let six = [
            now - 3500,
            now - 3000,
            now - 2000,
            now - 1000,
            now - 500,
            now - 100,
        ];
        assert_eq!(
            wait_before_mail(&six, now),
            600,
            "the two oldest must age out"
        );
        let old = [now - 7200, now - 5000, now - 4000, now - 3700, now - 3601];
        assert_eq!(wait_before_mail(&old, now), 0, "older than an hour");
    }
}
