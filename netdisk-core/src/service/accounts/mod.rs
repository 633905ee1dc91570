//! Accounts and sessions: registration with the admin sign-up policy, login with lockout
//! (`attempts` counts wrong passwords), session tokens, logout, VIP; what admins do to accounts
//! (`admin`); e-mail addresses and the links mailed to them, password changes (`email`); roles
//! on the photo site (`roles`).

mod admin;
mod attempts;
mod email;
mod roles;
mod touches;

pub use admin::AccountSummary;
pub use email::EmailStatus;
pub use roles::{Ability, Role};

use std::sync::Arc;

use mini_orm::{Error as OrmError, Model};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cache::ReadCache;
use super::{Caller, Shared, check_text};
use crate::error::{Result, ServiceError};
use crate::models::{Session, User};
use crate::password;

/// Longest account name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest real name, phone or address, in characters.
const MAX_PROFILE_CHARS: usize = 255;
/// A session's `last_seen` is written at most this often (seconds), not on every request.
const TOUCH_INTERVAL: i64 = 60;

/// The two kinds of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserType {
    /// Uploads and deletes movies, publishes notices.
    Admin,
    /// Watches: lists and downloads movies, buys VIP.
    User,
}

impl UserType {
    /// `"admin"` or `"user"`, as the contract and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Admin => "admin",
            UserType::User => "user",
        }
    }

    /// The type spelled `text`, if any.
    pub fn parse(text: &str) -> Option<UserType> {
        match text {
            "admin" => Some(UserType::Admin),
            "user" => Some(UserType::User),
            _ => None,
        }
    }
}

/// A registration.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    /// 1 to 32 characters, unique.
    pub name: &'a str,
    /// As given by the client (hashed before storing).
    pub password: &'a str,
    /// Admin or user.
    pub user_type: UserType,
    /// Optional profile, from the netdisk door.
    pub real_name: Option<&'a str>,
    /// Optional profile, from the netdisk door.
    pub phone: Option<&'a str>,
    /// Optional profile, from the netdisk door.
    pub address: Option<&'a str>,
}

impl<'a> NewAccount<'a> {
    /// A user account (not an admin) with nothing but a name and a password.
    pub fn user(name: &'a str, password: &'a str) -> Self {
        NewAccount {
            name,
            password,
            user_type: UserType::User,
            real_name: None,
            phone: None,
            address: None,
        }
    }
}

/// What may be shown of an account (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Account id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Admin or user.
    pub user_type: UserType,
    /// Whether the account bought VIP.
    pub is_vip: bool,
    /// When it registered.
    pub register_time: String,
    /// Real name, if given.
    pub real_name: Option<String>,
    /// Phone, if given.
    pub phone: Option<String>,
    /// Address, if given.
    pub address: Option<String>,
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        Profile {
            id: user.id,
            username: user.name.clone(),
            user_type: UserType::parse(&user.user_type).unwrap_or(UserType::User),
            is_vip: user.is_vip,
            register_time: user.register_time.clone(),
            real_name: user.real_name.clone(),
            phone: user.phone.clone(),
            address: user.address.clone(),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The session token: 128 random bits as 32 hex digits. Shown once; stored only hashed.
    pub token: String,
    /// The session's caller.
    pub caller: Caller,
    /// The account.
    pub profile: Profile,
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The accounts and sessions service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    shared: Arc<Shared>,
    touches: Arc<touches::Touches>,
    /// Sessions found recently: token hash → the caller and the session's `last_seen`.
    sessions: Arc<ReadCache<[u8; 32], (Caller, i64)>>,
}

impl Accounts {
    /// The service, after ending the sessions and mailed links that expired while no server
    /// ran.
    pub(super) async fn open(shared: Arc<Shared>) -> Result<Accounts> {
        let accounts = Accounts {
            sessions: Arc::new(ReadCache::new(shared.config.read_cache())),
            shared,
            touches: Default::default(),
        };
        accounts.purge_expired_sessions().await?;
        accounts.purge_expired_links().await?;
        Ok(accounts)
    }

    fn db(&self) -> &mini_orm::Db {
        &self.shared.db
    }

    fn config(&self) -> &crate::Config {
        &self.shared.config
    }

    async fn purge_expired_sessions(&self) -> Result<()> {
        let idle_since = self.shared.now() - self.config().session_idle_secs as i64;
        Session::query()
            .filter(Session::LAST_SEEN.lt(idle_since))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// Creates an account. Names are unique ([`ServiceError::Conflict`], also when two register
    /// the same name at once). An admin account is refused ([`ServiceError::Forbidden`]) once an
    /// admin exists, unless the configuration opens admin sign-up.
    pub async fn register(&self, account: NewAccount<'_>) -> Result<Profile> {
        check_text("a name", account.name, MAX_NAME_CHARS)?;
        for (what, value) in [
            ("a real name", account.real_name),
            ("a phone", account.phone),
            ("an address", account.address),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                check_text(what, value, MAX_PROFILE_CHARS)?;
            }
        }
        let mut user = User {
            id: 0,
            name: account.name.to_owned(),
            pwd_hash: password::hash(account.password).await?,
            register_time: self.shared.now_text(),
            is_vip: false,
            user_type: account.user_type.as_str().to_owned(),
            failed_logins: 0,
            locked_until: 0,
            first_admin: None,
            real_name: account.real_name.map(str::to_owned),
            phone: account.phone.map(str::to_owned),
            address: account.address.map(str::to_owned),
        };
        const ADMIN_EXISTS: &str = "admin sign-up is closed: an administrator exists already";
        if account.user_type == UserType::Admin && !self.config().admin_signup_open {
            let admins = User::query().filter(User::USER_TYPE.eq(UserType::Admin.as_str()));
            if admins.exists(self.db()).await? {
                return Err(ServiceError::Forbidden(ADMIN_EXISTS));
            }
            // Two first admins racing both get here; the unique index lets one through.
            user.first_admin = Some(1);
        }
        match user.save(self.db()).await {
            Ok(()) => Ok(Profile::from(&user)),
            Err(OrmError::UniqueViolation { columns, .. })
                if columns.iter().any(|c| c == "first_admin") =>
            {
                Err(ServiceError::Forbidden(ADMIN_EXISTS))
            }
            Err(e) if e.is_unique_violation() => Err(ServiceError::Conflict("this name is taken")),
            Err(e) => Err(e.into()),
        }
    }

    /// Logs in and starts a session. A wrong name, password or account type all give
    /// [`ServiceError::WrongCredentials`], and take about as long (an unknown name is checked
    /// against a dummy hash). After `lockout_threshold` wrong passwords in a row the account is
    /// [`ServiceError::Locked`] for `lockout_secs` (see `attempts`).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        user_type: Option<UserType>,
    ) -> Result<LoginOutcome> {
        let now = self.shared.now();
        let by_name = User::NAME.eq(name);
        let user = self.start_attempt(&by_name).await?;
        let matches = password::verify(password, user.as_ref().map(|u| u.pwd_hash.clone())).await?;
        if !matches {
            // Run for unknown names too (matching no row), so both take the same statements.
            self.failed_attempt(&by_name, name).await?;
            return Err(ServiceError::WrongCredentials);
        }
        let Some(user) = user else {
            return Err(ServiceError::WrongCredentials); // unreachable: the dummy hash never matches
        };
        // The right password ends the run of failures, even with the wrong account type.
        self.good_attempt(&by_name).await?;
        if self.is_locked(user.id).await? {
            return Err(ServiceError::Forbidden(
                "this account is locked by an administrator",
            ));
        }
        if user_type.is_some_and(|t| t.as_str() != user.user_type) {
            return Err(ServiceError::WrongCredentials);
        }
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut session = Session {
            id: 0,
            token_hash: hex::encode(token_hash(&token)),
            user_id: user.id,
            created_at: now,
            last_seen: now,
        };
        session.save(self.db()).await?;
        let profile = Profile::from(&user);
        let caller = Caller {
            user_id: user.id,
            name: user.name,
            user_type: profile.user_type,
            session_id: session.id,
        };
        Ok(LoginOutcome {
            token,
            caller,
            profile,
        })
    }

    /// The caller behind a session token; [`ServiceError::NotLoggedIn`] when the token is
    /// unknown, logged out, or idle for longer than `session_idle_secs` (which also ends it).
    ///
    /// Tokens are looked up by their SHA-256, so the lookup's timing says nothing about the
    /// token itself. A session found in the database is trusted from memory for
    /// [`read_cache_ms`](crate::Config::read_cache_ms): a logout through another server process
    /// is honoured within that time.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if token.len() != 32 {
            return Err(ServiceError::NotLoggedIn);
        }
        let now = self.shared.now();
        let hash = token_hash(token);
        let (caller, last_seen) = self
            .sessions
            .get_or_load(hash, self.find_session(&hash))
            .await?;
        if now - last_seen > self.config().session_idle_secs as i64 {
            self.forget(caller.session_id);
            let expired = Session::query().filter(Session::ID.eq(caller.session_id));
            let _ = expired.delete(self.db()).await;
            return Err(ServiceError::NotLoggedIn);
        }
        if now - last_seen >= TOUCH_INTERVAL {
            self.touch_session(caller.session_id).await?;
            self.sessions
                .update(&hash, |(_, last_seen)| *last_seen = now);
        }
        Ok(caller)
    }

    /// The session with this token hash and its account, from the database.
    async fn find_session(&self, hash: &[u8; 32]) -> Result<(Caller, i64)> {
        let by_hash = Session::query().filter(Session::TOKEN_HASH.eq(hex::encode(hash)));
        let session = by_hash
            .first(self.db())
            .await?
            .ok_or(ServiceError::NotLoggedIn)?;
        let user = User::find(self.db(), session.user_id)
            .await?
            .ok_or(ServiceError::NotLoggedIn)?;
        let caller = Caller {
            user_id: user.id,
            user_type: UserType::parse(&user.user_type).unwrap_or(UserType::User),
            name: user.name,
            session_id: session.id,
        };
        Ok((caller, session.last_seen))
    }

    /// Forgets a session this process ended.
    fn forget(&self, session_id: i64) {
        self.sessions
            .clear(|_, (caller, _)| caller.session_id == session_id);
    }

    /// Ends the caller's session: its token stops working at once on this server, and within
    /// [`read_cache_ms`](crate::Config::read_cache_ms) on every other.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        self.forget(caller.session_id);
        Session::query()
            .filter(Session::ID.eq(caller.session_id))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// The caller's account.
    pub async fn profile(&self, caller: &Caller) -> Result<Profile> {
        let user = User::find(self.db(), caller.user_id)
            .await?
            .ok_or(ServiceError::NotLoggedIn)?;
        Ok(Profile::from(&user))
    }

    /// Makes the caller (a user) a VIP; idempotent. Returns the VIP flag (true).
    pub async fn buy_vip(&self, caller: &Caller) -> Result<bool> {
        caller.require(UserType::User)?;
        User::query()
            .filter(User::ID.eq(caller.user_id))
            .update(self.db(), [User::IS_VIP.set(true)])
            .await?;
        Ok(true)
    }
}
