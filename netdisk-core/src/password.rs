//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), on the blocking
//! thread pool so that a login never stalls other connections.
//!
//! Hashes run at most one fewer at a time than there are cores (at least one; [`hash_slots`]).
//! Unbounded, a burst of registrations or failed logins took every core from the request
//! workers.
//!
//! Each hash works in 19 MiB of argon2 memory, and that memory is reused: a small pool keeps at
//! most one block buffer per slot ([`BlockPool`]), a hash takes one with its slot and gives it
//! back when done, so the buffers are allocated once each and never freed. Letting the argon2
//! crate allocate and free its 19 MiB on every call made glibc raise its dynamic mmap threshold
//! past 19 MiB after the first free, after which every hash was served from the malloc arena of
//! whichever blocking thread ran it and stayed resident there, up to 19 MiB per arena (server
//! RSS 258 MiB after the 32 logins of `loadgen download`, 30 MiB with the pool). A pool on
//! tokio's blocking threads was chosen over a dedicated hashing thread pool with thread-owned
//! buffers: the slot semaphore already bounds the hashes in flight, so the pool is a
//! mutex-guarded free list next to it, with no threads, channels or shutdown of our own.
//!
//! Hashes are written as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, the argon2
//! crate's own format). Verification reads algorithm, version, parameters and salt from the
//! stored string, so hashes made with other argon2 parameters still verify, as long as their
//! memory fits in a pooled buffer (at most 19 MiB); a stored hash that asks for more, or that
//! does not parse, is an error rather than a wrong password.

use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Result, ServiceError};

/// Passwords longer than this are refused before hashing (hashing megabytes is a cheap attack).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How many hashes may run at once: the cores but one, at least one.
fn slot_count() -> usize {
    static SLOT_COUNT: OnceLock<usize> = OnceLock::new();
    *SLOT_COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        cores.saturating_sub(1).max(1)
    })
}

/// Hashes running at once: [`slot_count`] permits.
fn hash_slots() -> &'static tokio::sync::Semaphore {
    static HASH_SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    HASH_SLOTS.get_or_init(|| tokio::sync::Semaphore::new(slot_count()))
}

/// The block buffers of the hashes, one per slot at most.
fn block_pool() -> &'static BlockPool {
    static POOL: OnceLock<BlockPool> = OnceLock::new();
    POOL.get_or_init(|| BlockPool::new(slot_count(), hasher().params().block_count()))
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2 memory kept between hashes: buffers of `blocks` 1 KiB blocks, at most `keep` of them.
struct BlockPool {
    free: Mutex<Vec<Box<[Block]>>>,
    keep: usize,
    blocks: usize,
}

impl BlockPool {
    fn new(keep: usize, blocks: usize) -> Self {
        Self {
            free: Mutex::new(Vec::with_capacity(keep)),
            keep,
            blocks,
        }
    }

    /// A free buffer, or a new one if none is free. Argon2 overwrites every block in its first
    /// pass, so a buffer is not cleared between hashes.
    fn take(&self) -> Box<[Block]> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| vec![Block::new(); self.blocks].into_boxed_slice())
    }

    /// Keeps `blocks` for the next hash, unless `keep` buffers are already free.
    fn give_back(&self, blocks: Box<[Block]>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < self.keep {
            free.push(blocks);
        }
    }
}

/// Runs `work` on the blocking pool with a hash slot and a pooled block buffer. The slot moves
/// into the blocking task, so a caller that stops waiting does not free it while the hash still
/// runs (which would let more hashes, and buffers, than slots exist at once).
async fn with_blocks<T: Send + 'static>(
    work: impl FnOnce(&mut [Block]) -> Result<T> + Send + 'static,
) -> Result<T> {
    let slot = hash_slots().acquire().await.expect("never closed");
    tokio::task::spawn_blocking(move || {
        let pool = block_pool();
        let mut blocks = pool.take();
        let result = work(&mut blocks);
        pool.give_back(blocks);
        drop(slot);
        result
    })
    .await
    .map_err(|e| ServiceError::Internal(Box::new(e)))?
}

fn argon2_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("argon2: {e}").into())
}

fn stored_hash_error(reason: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("cannot check a stored password hash: {reason}").into())
}

fn check_length(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::bad_request(format!(
            "a password has 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The PHC string of `password` with our parameters and a fresh salt, hashed in `blocks`.
fn hash_in(blocks: &mut [Block], password: &[u8]) -> Result<String> {
    let hasher = hasher();
    let salt = argon2::password_hash::try_generate_salt().map_err(argon2_error)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hasher
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .map_err(argon2_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(hasher.params()).map_err(argon2_error)?,
        salt: Some(Salt::new(&salt).map_err(argon2_error)?),
        hash: Some(Output::new(&out).map_err(argon2_error)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to `stored` with the algorithm, version, parameters and salt that
/// `stored` names, hashed in `blocks`.
fn verify_in(blocks: &mut [Block], password: &[u8], stored: &str) -> Result<bool> {
    let phc = PasswordHash::new(stored).map_err(stored_hash_error)?;
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(stored_hash_error)?;
    let version = phc
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(stored_hash_error)?
        .unwrap_or_default();
    let params = Params::try_from(&phc).map_err(stored_hash_error)?;
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return Err(stored_hash_error("no salt or no hash"));
    };
    if params.block_count() > blocks.len() {
        return Err(stored_hash_error(format!(
            "it needs {} KiB of memory, more than the {} KiB this server hashes in",
            params.block_count(),
            blocks.len()
        )));
    }
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = &mut buffer[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut *out, blocks)
        .map_err(argon2_error)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(out).map_err(argon2_error)? == *expected)
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with a fresh salt.
pub async fn hash(password: &str) -> Result<String> {
    check_length(password)?;
    let password = password.to_owned();
    with_blocks(move |blocks| hash_in(blocks, password.as_bytes())).await
}

/// Whether `password` matches `stored` (a PHC string). With `stored = None` (no such user) it
/// checks against a fixed dummy hash, so both answers take about the same time.
///
/// A stored string that does not parse, names no argon2 variant or needs more memory than our
/// own parameters is an error, not a mismatch.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if check_length(password).is_err() {
        return Ok(false);
    }
    let password = password.to_owned();
    with_blocks(move |blocks| {
        let Some(stored) = stored else {
            let dummy = match DUMMY.get() {
                Some(dummy) => dummy,
                None => {
                    let made = hash_in(blocks, b"dummy password for unknown users")?;
                    DUMMY.get_or_init(|| made)
                }
            };
            // Always verify, even for an unknown user: the work, not the answer, is what hides
            // whether the name exists.
            verify_in(blocks, password.as_bytes(), dummy)?;
            return Ok(false);
        };
        verify_in(blocks, password.as_bytes(), &stored)
    })
    .await
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

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
        assert!(
            !verify("dummy password for unknown users", None)
                .await
                .unwrap()
        );
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

    #[tokio::test]
    async fn hashes_match_the_argon2_crate_both_ways() {
        let theirs = hasher()
            .hash_password(b"battery staple")
            .unwrap()
            .to_string();
        assert!(
            verify("battery staple", Some(theirs.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("battery stapler", Some(theirs)).await.unwrap());

        let ours = hash("battery staple").await.unwrap();
        let crate_verifies = |password: &[u8]| hasher().verify_password(password, ours.as_str());
        assert!(crate_verifies(b"battery staple").is_ok());
        assert!(crate_verifies(b"battery stapler").is_err());
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(parsed.salt.unwrap().len(), 16);
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
    }

    #[tokio::test]
    async fn other_parameters_are_read_from_the_stored_string() {
        for (m, t, p, algorithm) in [
            (8, 1, 1, Algorithm::Argon2id),
            (64, 3, 2, Algorithm::Argon2id),
            (32, 2, 1, Algorithm::Argon2i),
        ] {
            let params = Params::new(m, t, p, Some(24)).unwrap();
            let stored = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"tr0ub4dor")
                .unwrap()
                .to_string();
            assert!(stored.contains(&format!("m={m},t={t},p={p}$")), "{stored}");
            assert!(verify("tr0ub4dor", Some(stored.clone())).await.unwrap());
            assert!(!verify("troubador", Some(stored)).await.unwrap());
        }
    }

    #[tokio::test]
    async fn unusable_stored_hashes_are_errors_not_mismatches() {
        let ours = hash("hunter2").await.unwrap();
        let too_big = ours.replace("m=19456", "m=65536");
        let error = verify("hunter2", Some(too_big)).await.unwrap_err();
        let reason = std::error::Error::source(&error).unwrap().to_string();
        assert!(reason.contains("65536 KiB"), "{reason}");
        for broken in [
            "h".to_owned(),
            ours.replace("argon2id", "scrypt"),
            ours.rsplit_once('$').unwrap().0.to_owned(),
        ] {
            assert!(
                verify("hunter2", Some(broken.clone())).await.is_err(),
                "{broken}"
            );
        }
    }

    #[test]
    fn the_pool_reuses_buffers_and_keeps_at_most_its_share() {
        let pool = BlockPool::new(1, 8);
        let first = pool.take();
        let second = pool.take();
        assert_eq!(first.len(), 8);
        let kept = first.as_ptr();
        pool.give_back(first);
        pool.give_back(second);
        assert_eq!(pool.free.lock().unwrap().len(), 1);
        let again = pool.take();
        assert_eq!(again.as_ptr(), kept, "the free buffer is handed out again");
    }
}
