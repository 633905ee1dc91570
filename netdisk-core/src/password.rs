//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), on threads of
//! its own, at a lower OS scheduling priority than the request workers, so that a login never
//! stalls other connections.
//!
//! Hashes run on one fewer thread than there are cores (at least one), queued first come, first
//! served, in the server's low-priority [`Workers`]. Unbounded, a burst of registrations or failed logins took every
//! core from the request workers. Bounded but at the workers' priority, the one hashing thread
//! still held its core for whole scheduler slices while the workers (and the upload's hashing)
//! waited for it. So on Linux each hashing thread lowers its own priority by
//! [`NICE_INCREMENT`](crate::workers::NICE_INCREMENT) when it starts, and a request worker that wakes up preempts a hash. With 16 clients
//! registering in a loop and one uploading, on two cores (`loadgen writes`): small reads 8300 ->
//! 9800 per second, p50 1.7 -> 1.35 ms, p99 6.4-9.9 -> 5.6-6.8 ms; registrations 30 -> 20 per
//! second. Registrations and logins get slower when the server is busy, which is the trade
//! wanted: they take tens of milliseconds of CPU anyway, reads take microseconds.
//!
//! Each hash works in 19 MiB of argon2 memory, and that memory is reused: each hashing thread
//! allocates its block buffer at its first hash and keeps it, so there are never more buffers
//! than threads, and none is freed. Letting the argon2 crate allocate and free its 19 MiB on
//! every call made glibc raise its dynamic mmap threshold past 19 MiB after the first free,
//! after which every hash was served from the malloc arena of whichever thread ran it and
//! stayed resident there, up to 19 MiB per arena (server RSS 258 MiB after the 32 logins of
//! `loadgen download`, 30 MiB with reused buffers).
//!
//! A hash whose caller stopped waiting before it started (the client went away) is skipped.
//!
//! Every door's password is hashed in one form ([`canonical`]: the hex MD5 of the text, unless it
//! is one), so that one account works at every door; such hashes carry the associated data
//! `canonical` (`data=Y2Fub25pY2Fs`), and a stored hash without it (made before) is checked
//! against the text as it comes, as it was made.
//!
//! Hashes are written as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1,data=Y2Fub25pY2Fs$salt$hash`, the argon2
//! crate's own format). Verification reads algorithm, version, parameters and salt from the
//! stored string, so hashes made with other argon2 parameters still verify, as long as their
//! memory fits in a thread's buffer (at most 19 MiB); a stored hash that asks for more, or that
//! does not parse, is an error rather than a wrong password.

use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, AssociatedData, Block, Params, ParamsBuilder, Version};
use md5::{Digest, Md5};

use crate::error::{Result, ServiceError};
use crate::workers::{Workers, cores_but_one};

/// Passwords longer than this are refused before hashing (hashing megabytes is a cheap attack).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The server's hashing threads (the cores but one), started at the first hash, each with an
/// argon2 block buffer of its own that it keeps between hashes.
fn hashers() -> &'static Workers<Box<[Block]>> {
    static HASHERS: OnceLock<Workers<Box<[Block]>>> = OnceLock::new();
    HASHERS
        .get_or_init(|| Workers::start("password hashing", "argon2", cores_but_one(), block_buffer))
}

/// A hashing thread's buffer, made at its first hash. Argon2 overwrites every block in its
/// first pass: the buffer is not cleared between hashes.
fn block_buffer() -> Box<[Block]> {
    vec![Block::new(); hasher().params().block_count()].into_boxed_slice()
}

/// The associated data of every hash of a [`canonical`] password (PHC `data=Y2Fub25pY2Fs`).
/// A stored hash without it was made before passwords had one form, from the text as it came.
const CANONICAL_MARK: &[u8] = b"canonical";

fn hasher() -> Argon2<'static> {
    let mark = AssociatedData::new(CANONICAL_MARK).expect("a short constant is valid data");
    let params = ParamsBuilder::new()
        .m_cost(19 * 1024)
        .t_cost(2)
        .p_cost(1)
        .data(mark)
        .build()
        .expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
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
/// `stored` names, hashed in `blocks`: in its [`canonical`] form when `stored` carries
/// [`CANONICAL_MARK`], as given otherwise (a hash from before passwords had one form).
fn verify_in(blocks: &mut [Block], password: &str, stored: &str) -> Result<bool> {
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
    let password = if params.data() == CANONICAL_MARK {
        canonical(password)
    } else {
        password.to_owned()
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = &mut buffer[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut *out, blocks)
        .map_err(argon2_error)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(out).map_err(argon2_error)? == *expected)
}

/// The one form every door's password takes before it is hashed, so that one account works at
/// every door: the original Youku clients send the hex MD5 of what the person typed, the
/// browser, the chat door and the netdisk door send the text itself. Text that already is a
/// hex MD5 (32 lowercase hex digits, as Python's `hexdigest` writes it) is kept; any other
/// text is replaced by its hex MD5. (A typed password of exactly 32 lowercase hex digits is
/// therefore taken as a digest at every door.)
fn canonical(password: &str) -> String {
    let is_digest = password.len() == 32
        && password
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if is_digest {
        password.to_owned()
    } else {
        hex::encode(Md5::digest(password.as_bytes()))
    }
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1,data=Y2Fub25pY2Fs$salt$hash`) of `password` (in its
/// [`canonical`] form) with a fresh salt.
pub async fn hash(password: &str) -> Result<String> {
    check_length(password)?;
    let password = canonical(password);
    hashers()
        .run(move |blocks| hash_in(blocks, password.as_bytes()))
        .await
}

/// Whether `password` matches `stored` (a PHC string; see `verify_in` for the form compared). With `stored = None` (no such user) it
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
    hashers()
        .run(move |blocks| {
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
                verify_in(blocks, &password, dummy)?;
                return Ok(false);
            };
            verify_in(blocks, &password, &stored)
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
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1,data=Y2Fub25pY2Fs$"),
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
    async fn hashes_carry_the_mark_and_older_ones_verify_as_they_were_made() {
        let ours = hash("pass").await.unwrap();
        assert!(ours.contains("data=Y2Fub25pY2Fs"), "{ours}");
        let digest = "1a1dc91c907325c69271ddf0c944bc72"; // md5("pass")
        assert!(
            verify(digest, Some(ours.clone())).await.unwrap(),
            "one form"
        );
        // A hash from before: argon2id of the text as it came, no mark.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap();
        let older = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pass")
            .unwrap()
            .to_string();
        assert!(verify("pass", Some(older.clone())).await.unwrap());
        assert!(!verify(digest, Some(older)).await.unwrap());
    }

    #[test]
    fn the_canonical_form_is_the_hex_md5_of_the_text_unless_it_is_one() {
        let digest = "1a1dc91c907325c69271ddf0c944bc72"; // md5("pass")
        assert_eq!(canonical("pass"), digest);
        assert_eq!(canonical(digest), digest, "a digest is kept");
        let upper = digest.to_uppercase();
        assert_ne!(canonical(&upper), upper, "only lowercase hex is a digest");
        assert_ne!(canonical(&digest[1..]), &digest[1..], "only 32 digits");
    }

    #[tokio::test]
    async fn hashes_match_the_argon2_crate_both_ways() {
        // What is hashed is the canonical form (the hex MD5 of the text).
        let staple = canonical("battery staple");
        let theirs = hasher()
            .hash_password(staple.as_bytes())
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
        assert!(crate_verifies(staple.as_bytes()).is_ok());
        assert!(crate_verifies(canonical("battery stapler").as_bytes()).is_err());
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_servers_hashing_threads_run_below_the_request_workers() {
        use crate::priority::thread_nice as nice;
        let ours = nice();
        let theirs = super::hashers().run(move |_| Ok(nice())).await.unwrap();
        assert_eq!(theirs, (ours + crate::workers::NICE_INCREMENT).min(19));
    }
}
