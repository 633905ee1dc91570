//! The service's error type. Each variant is one kind of answer; [`ServiceError::code`] names
//! the kind. Each door turns an error into its own wire code in one function of its own (the
//! Youku door's `failure` uses these names, which are its contract's codes; the netdisk door's
//! `code` maps them to that protocol's numbers).

use crate::storage::StorageError;

/// `Result` with [`ServiceError`].
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Why a service call was refused or failed.
///
/// The first group are answers to the caller (bad input, not allowed, not found...); only
/// [`ServiceError::Mail`], [`ServiceError::Unavailable`] and [`ServiceError::Internal`] are
/// unexpected, and only those are worth logging as errors. No message carries a password, a
/// session token or a mailed link's token.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed: a missing, empty, oversized or ill-formed value.
    #[error("{0}")]
    BadRequest(String),
    /// No valid session: never logged in, logged out, or expired.
    #[error("not logged in, or the session has expired")]
    NotLoggedIn,
    /// Wrong name, password or account type (one answer for all three).
    #[error("wrong name, password or account type")]
    WrongCredentials,
    /// The caller may not do this (a user calling an admin operation, a closed admin sign-up).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing asked for does not exist, or is not the caller's.
    #[error("{0}")]
    NotFound(&'static str),
    /// It already exists (a taken name, a movie with the same content, a file name used twice).
    #[error("{0}")]
    Conflict(&'static str),
    /// An upload larger than the configured limit.
    #[error("{size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The account is locked after too many failed logins.
    #[error("too many failed logins: the account is locked until {until}")]
    Locked {
        /// When the lock ends, as `YYYY-MM-DD HH:MM:SS` local time.
        until: String,
    },
    /// The uploaded bytes do not match the declared MD5; nothing was stored.
    #[error("the content's MD5 is {actual}, not the declared {expected}; nothing was stored")]
    Integrity {
        /// The declared MD5.
        expected: String,
        /// The MD5 of what arrived.
        actual: String,
    },
    /// Too early: a free movie's wait is not over yet.
    #[error("the movie starts in {wait_secs} s")]
    NotYet {
        /// Seconds left to wait.
        wait_secs: u64,
    },
    /// Too many messages too fast: the sender is slowed down.
    #[error("slow down: you may try again in {}", wait_text(*retry_after_ms))]
    TooFast {
        /// Milliseconds until the next message is accepted.
        retry_after_ms: u64,
    },
    /// A mail could not be handed to the mail server (or written to the outbox); what was to
    /// be mailed was undone, and retrying later may work.
    #[error("the mail could not be sent, so nothing was changed; try again later")]
    Mail(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached; retrying later may work.
    #[error("the database is unavailable; try again later")]
    Unavailable(#[source] mini_orm::Error),
    /// Anything else: a bug, a full disk, a database error that should not happen.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A wait for people to read: `750 ms`, `42 s`, `9 min` (rounded up).
fn wait_text(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..120_000 => format!("{} s", ms.div_ceil(1000)),
        _ => format!("{} min", ms.div_ceil(60_000)),
    }
}

impl ServiceError {
    /// The error's kind as a short snake_case name: `bad_request`, `not_logged_in`, ... (the
    /// Youku contract's codes, `../shared/PROTOCOL.md` section 2; also the outcome in logs).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest(_) => "bad_request",
            ServiceError::NotLoggedIn | ServiceError::WrongCredentials => "not_logged_in",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::TooLarge { .. } => "too_large",
            ServiceError::Locked { .. } => "locked",
            ServiceError::Integrity { .. } => "integrity",
            ServiceError::NotYet { .. } => "not_yet",
            ServiceError::TooFast { .. } => "too_fast",
            ServiceError::Mail(_) => "mail_failed",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Internal(_) => "internal",
        }
    }

    /// Whether this is unexpected (worth an error log) rather than an answer to the caller.
    pub fn is_unexpected(&self) -> bool {
        matches!(
            self,
            ServiceError::Mail(_) | ServiceError::Unavailable(_) | ServiceError::Internal(_)
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ServiceError::BadRequest(message.into())
    }
}

impl From<mini_orm::Error> for ServiceError {
    fn from(error: mini_orm::Error) -> Self {
        // A deadlock that outlived its retries is as transient as an outage.
        if error.is_unavailable() || error.is_deadlock() {
            ServiceError::Unavailable(error)
        } else {
            ServiceError::Internal(Box::new(error))
        }
    }
}

impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::TooLarge { size, limit } => ServiceError::TooLarge { size, limit },
            StorageError::Integrity { expected, actual } => {
                ServiceError::Integrity { expected, actual }
            }
            StorageError::Incomplete { expected, received } => ServiceError::BadRequest(format!(
                "the upload ended after {received} of {expected} bytes; nothing was stored"
            )),
            other => ServiceError::Internal(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceError;

    #[test]
    fn waits_read_in_the_unit_that_suits_them() {
        let text = |ms| ServiceError::TooFast { retry_after_ms: ms }.to_string();
        assert_eq!(text(250), "slow down: you may try again in 250 ms");
        assert_eq!(text(59_001), "slow down: you may try again in 60 s");
        assert_eq!(text(600_000), "slow down: you may try again in 10 min");
    }
}
