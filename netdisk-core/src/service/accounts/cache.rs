//! Sessions found recently, kept in memory so that a request does not look its session up in
//! the database every time. An entry is trusted for [`RECHECK`] only: after that the next
//! request looks again, so a logout or any change to the account made through another server
//! process on the same database is honoured within that time (a logout through this process at
//! once).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::Caller;

/// How long a session found in the database is trusted without looking again.
pub(super) const RECHECK: Duration = Duration::from_millis(500);

/// Most sessions kept; past it, entries due for a recheck are dropped first, then all.
const CAPACITY: usize = 100_000;

/// Token hash → what the database said of it, and when.
#[derive(Default)]
pub(super) struct SessionCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

/// One session as last found.
#[derive(Clone)]
pub(super) struct Entry {
    /// Who it belongs to.
    pub caller: Caller,
    /// Its `last_seen` (service clock, seconds), as written by this process or read.
    pub last_seen: i64,
    /// When it was read from the database.
    checked: Instant,
}

impl SessionCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session with this token hash, if it was found in the database less than
    /// [`RECHECK`] ago.
    pub(super) fn get(&self, hash: &[u8; 32]) -> Option<Entry> {
        let entries = self.entries();
        let entry = entries.get(hash)?;
        (entry.checked.elapsed() < RECHECK).then(|| entry.clone())
    }

    /// Remembers what the database said of a session just now.
    pub(super) fn put(&self, hash: [u8; 32], caller: Caller, last_seen: i64) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.checked.elapsed() < RECHECK);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let checked = Instant::now();
        entries.insert(
            hash,
            Entry {
                caller,
                last_seen,
                checked,
            },
        );
    }

    /// Notes that a session's `last_seen` was written.
    pub(super) fn touched(&self, hash: &[u8; 32], last_seen: i64) {
        if let Some(entry) = self.entries().get_mut(hash) {
            entry.last_seen = last_seen;
        }
    }

    /// Forgets a session (logged out or expired).
    pub(super) fn forget(&self, session_id: i64) {
        self.entries()
            .retain(|_, entry| entry.caller.session_id != session_id);
    }
}
