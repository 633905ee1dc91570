//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), on the blocking
//! thread pool so that a login never stalls other connections.
//!
//! Hashes run at most one fewer at a time than there are cores (at least one; [`hash_slots`]).
//! Unbounded, a burst of registrations or failed logins took every core from the request
//! workers, and each blocking thread kept its 19 MiB resident (636 MiB after 33 logins).

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::error::{Result, ServiceError};

/// Passwords longer than this are refused before hashing (hashing megabytes is a cheap attack).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes running at once: the cores but one, at least one.
fn hash_slots() -> &'static tokio::sync::Semaphore {
    static HASH_SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    HASH_SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn check_length(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::bad_request(format!(
            "a password has 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with a fresh salt.
pub async fn hash(password: &str) -> Result<String> {
    check_length(password)?;
    let password = password.to_owned();
    let _slot = hash_slots().acquire().await.expect("never closed");
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ServiceError::Internal(format!("argon2: {e}").into()))
    })
    .await
    .map_err(|e| ServiceError::Internal(Box::new(e)))?
}

/// Whether `password` matches `stored` (a PHC string). With `stored = None` (no such user) it
/// checks against a fixed dummy hash, so both answers take about the same time.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if check_length(password).is_err() {
        return Ok(false);
    }
    let known = stored.is_some();
    let password = password.to_owned();
    let _slot = hash_slots().acquire().await.expect("never closed");
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    hasher()
                        .hash_password(b"dummy password for unknown users")
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        // Always verify, even for an unknown user: the work, not the answer, is what hides
        // whether the name exists.
        let matches = hasher()
            .verify_password(password.as_bytes(), stored.as_str())
            .is_ok();
        known && matches
    })
    .await
    .map_err(|e| ServiceError::Internal(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let first = hash("correct horse").await.unwrap();
        let second = hash("correct horse").await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!first.contains("correct horse"));
        assert!(verify("correct horse", Some(first.clone())).await.unwrap());
        assert!(!verify("wrong horse", Some(first)).await.unwrap());
        assert!(!verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn empty_and_huge_passwords_are_refused() {
        assert!(hash("").await.is_err());
        assert!(hash(&"x".repeat(MAX_PASSWORD_BYTES + 1)).await.is_err());
        assert!(
            !verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), None)
                .await
                .unwrap()
        );
    }
}
