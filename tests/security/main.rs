//! Security properties through the real servers, on every backend (except the randomness of
//! session tokens, which owes nothing to the database: checked on one): lockout after repeated
//! failed logins (per account, expiring, on a clock the test moves; not outrun by simultaneous
//! guesses), one answer for every wrong login (and how long each kind takes), no way into another
//! person's files or records or into an admin's requests, session tokens (random 128 bits, ended
//! by logout and by idle expiry, stored only hashed), passwords stored only as salted argon2id,
//! and logs free of passwords and tokens.
//!
//! The login timing is printed, never asserted (the machine is shared):
//!
//! ```text
//! cargo test -p tests --test security -- --nocapture login_refusals
//! ```
//!
//! prints one `LOGIN TIMING` line per backend. The long version takes more samples and logins:
//! `NETDISK_TIMING_ROUNDS` (default 30 logins of each kind) and `NETDISK_TOKEN_LOGINS` (default
//! 200 logins whose tokens are compared).
//!
//! The log capture is process-wide (one tracing subscriber, installed by the first test that
//! needs it); every secret a test checks for is its own.//!
//! Each property has a module of its own: `lockout`, `login_refusals`, `access` (another
//! person's files and records, admin requests), `sessions` (tokens, logout, idle expiry),
//! `stored_secrets` (passwords and tokens stored only hashed) and `logged_secrets`.

#[path = "../support/faults.rs"]
mod faults;
#[path = "../support/scenarios.rs"]
mod scenarios;
#[path = "../support/mod.rs"]
mod support;

mod access;
mod lockout;
mod logged_secrets;
mod login_refusals;
mod sessions;
mod stored_secrets;

use mini_orm::Model;
use mini_orm::testing::TestDb;
use netdisk_core::models::{DownloadRecord, Movie, Notice, Session, User, UserFile};

type Result = mini_orm::Result<()>;

/// Where the manual clocks start: 2023-11-14, an ordinary day.
const EPOCH: i64 = 1_700_000_000;

/// Counts that a refused request must leave alone: live movies, notices, download records,
/// personal files, VIP users, sessions.
async fn state(t: &TestDb) -> mini_orm::Result<[u64; 6]> {
    Ok([
        Movie::query()
            .filter(Movie::IS_DELETED.eq(false))
            .count(&t.db)
            .await?,
        Notice::query().count(&t.db).await?,
        DownloadRecord::query().count(&t.db).await?,
        UserFile::query().count(&t.db).await?,
        User::query()
            .filter(User::IS_VIP.eq(true))
            .count(&t.db)
            .await?,
        Session::query().count(&t.db).await?,
    ])
}

/// Whether `secret` appears in `text`, in either case.
fn mentions(text: &str, secret: &str) -> bool {
    text.contains(secret)
        || text.contains(&secret.to_ascii_lowercase())
        || text.contains(&secret.to_ascii_uppercase())
}
