//! Sessions' `last_seen`, written in groups. Each write is a commit, and on SQLite a commit syncs
//! the disk and takes the one writer; sessions that come due together (clients that logged in
//! together, a minute later) would otherwise queue one commit each behind one another. A request
//! whose session is due joins the group being collected; one of the group's requests writes all
//! of its sessions with one statement, and every request of the group returns once that is done.

use std::mem;
use std::sync::{Mutex, PoisonError};

use mini_orm::Model;

use super::Accounts;
use crate::error::Result;
use crate::models::Session;

/// Most sessions one UPDATE names; a larger group is written by several statements.
const SESSIONS_PER_STATEMENT: usize = 500;

/// The sessions waiting for their `last_seen` to be written, and the turn to write them.
#[derive(Default)]
pub(super) struct Touches {
    collecting: Mutex<Group>,
    /// Held while a group is written; how many groups have been written.
    written: tokio::sync::Mutex<u64>,
}

/// The group being collected.
#[derive(Default)]
struct Group {
    /// Its number: the groups before it are written, or being written.
    number: u64,
    /// The sessions in it (and those of a group whose write failed, to be written again).
    sessions: Vec<i64>,
}

impl Touches {
    fn collecting(&self) -> std::sync::MutexGuard<'_, Group> {
        self.collecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A group taken to be written. Unless it was, dropping it (the write failed, or the request
/// writing it was cancelled) puts its sessions back, so that the group's other requests, which
/// find it unwritten when their turn comes, write them.
struct Taken<'a> {
    touches: &'a Touches,
    number: u64,
    sessions: Vec<i64>,
    written: bool,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if !self.written {
            let sessions = mem::take(&mut self.sessions);
            self.touches.collecting().sessions.extend(sessions);
        }
    }
}

impl Accounts {
    /// Sets session `id`'s `last_seen` to now, together with the other sessions that come due
    /// meanwhile; returns once it is written.
    pub(super) async fn touch_session(&self, id: i64) -> Result<()> {
        let touches = &*self.touches;
        let joined = {
            let mut group = touches.collecting();
            group.sessions.push(id);
            group.number
        };
        let mut written = touches.written.lock().await;
        if *written > joined {
            return Ok(()); // another request of the group wrote it while this one waited
        }
        let mut taken = {
            let mut group = touches.collecting();
            let number = group.number;
            group.number += 1;
            Taken {
                touches,
                number,
                sessions: mem::take(&mut group.sessions),
                written: false,
            }
        };
        self.write_last_seen(&taken.sessions).await?;
        taken.written = true;
        *written = taken.number + 1;
        Ok(())
    }

    async fn write_last_seen(&self, sessions: &[i64]) -> Result<()> {
        let now = self.shared.now();
        for some in sessions.chunks(SESSIONS_PER_STATEMENT) {
            Session::query()
                .filter(Session::ID.is_in(some.iter().copied()))
                .update(self.db(), [Session::LAST_SEEN.set(now)])
                .await?;
        }
        Ok(())
    }
}
