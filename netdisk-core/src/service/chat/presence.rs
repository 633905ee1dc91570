//! Presence: who is in each room now, across every server process on the database.
//!
//! A connection in a room holds a [`Here`]; this process counts them per room and person and
//! writes one `chat_presence` row per room and person it has (however many connections they
//! have open here), tagged with the process's random instance name. The process says it is
//! alive every [`HEARTBEAT`] in `chat_process`; rows of a process silent for [`STALE_AFTER`]
//! are nobody's, and any process deletes them (a process that was killed leaves its rooms
//! within seconds). A process that finds its own heartbeat row gone (it was paused past the
//! limit, or the database was away) writes its rows again.
//!
//! One background task per process does the database work: it writes what changed (arrivals
//! and departures coalesced for [`COALESCE`]), and then reads the people of every room someone
//! here watches, at most every [`REFRESH`] unless something changed here, and publishes each
//! room's list on a `watch` channel with the change from the previous list, serialized once,
//! so that a thousand watchers of a room cost one query and one JSON text per change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mini_orm::Model;
use serde::Serialize;
use tokio::sync::{Notify, watch};

use super::super::Shared;
use crate::error::Result;
use crate::models::{ChatPresence, ChatProcess, Nickname, User};

/// How often a process says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a silent process's people stay listed.
pub const STALE_AFTER: Duration = Duration::from_secs(6);
/// How often the lists are read when nothing changed here (changes in other processes show
/// within this).
pub const REFRESH: Duration = Duration::from_secs(1);
/// How long arrivals and departures are gathered before they are written.
const COALESCE: Duration = Duration::from_millis(50);

/// Someone in a room, as the lists show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The account name.
    pub user: String,
    /// The name shown.
    pub nickname: String,
}

/// Everyone in a room, by account name.
pub type People = BTreeMap<String, Person>;

/// A room's people at one moment, and how they differ from the moment before.
#[derive(Debug)]
pub struct PeopleNow {
    /// Counts the lists published for the room in this process: 1, 2, 3…
    pub version: u64,
    /// Everyone there.
    pub people: Arc<People>,
    /// Who arrived (or changed their nickname) since version `version - 1`.
    pub joined: Vec<Person>,
    /// Who left since version `version - 1`.
    pub left: Vec<String>,
}

impl PeopleNow {
    /// The change from `before` to this list: who is here and was not (or is under another
    /// nickname), and who was there and is not.
    pub fn since(&self, before: &People) -> (Vec<Person>, Vec<String>) {
        difference(before, &self.people)
    }
}

fn difference(before: &People, after: &People) -> (Vec<Person>, Vec<String>) {
    let joined = after
        .values()
        .filter(|person| before.get(&person.user) != Some(person))
        .cloned()
        .collect();
    let left = before
        .keys()
        .filter(|user| !after.contains_key(*user))
        .cloned()
        .collect();
    (joined, left)
}

/// The people of one room, kept current: [`RoomPeople::changed`] waits for the next list.
pub struct RoomPeople(watch::Receiver<Arc<PeopleNow>>);

impl RoomPeople {
    /// The list as it is now.
    pub fn now(&mut self) -> Arc<PeopleNow> {
        self.0.borrow_and_update().clone()
    }

    /// Waits for a list newer than the last one seen, and returns it. Cancel-safe.
    pub async fn changed(&mut self) -> Arc<PeopleNow> {
        if self.0.changed().await.is_err() {
            // The process's presence is gone (the service was dropped): nothing changes.
            std::future::pending::<()>().await;
        }
        self.0.borrow_and_update().clone()
    }
}

/// A connection's place in a room: the person is listed while at least one of their
/// connections here holds one. Dropping it leaves.
pub struct Here {
    presence: Weak<Inner>,
    key: (i64, i64),
}

impl Drop for Here {
    fn drop(&mut self) {
        if let Some(inner) = self.presence.upgrade() {
            inner.leave(self.key);
        }
    }
}

/// This process's presence. Cheap to clone.
#[derive(Clone)]
pub(super) struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    instance: String,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// Connections here per (room, user).
    here: HashMap<(i64, i64), usize>,
    /// Keys whose row may differ from `here`.
    dirty: HashSet<(i64, i64)>,
    /// Write every row again (the heartbeat row was gone, or a write failed).
    rewrite: bool,
    /// The rooms someone here watches.
    watched: HashMap<i64, watch::Sender<Arc<PeopleNow>>>,
}

impl Presence {
    /// This process's presence, with its background task.
    pub(super) fn start(shared: Arc<Shared>) -> Presence {
        let instance = format!("{:016x}", rand::random::<u64>());
        let inner = Arc::new(Inner {
            shared,
            instance,
            state: Mutex::new(State {
                rewrite: true,
                ..State::default()
            }),
            wake: Notify::new(),
        });
        tokio::spawn(keep(Arc::downgrade(&inner)));
        Presence { inner }
    }

    /// Lists `user_id` in `room_id` until the returned [`Here`] and every other one for them
    /// there is dropped.
    pub(super) fn arrive(&self, room_id: i64, user_id: i64) -> Here {
        let key = (room_id, user_id);
        let mut state = self.inner.lock();
        let count = state.here.entry(key).or_default();
        *count += 1;
        if *count == 1 {
            state.dirty.insert(key);
            self.inner.wake.notify_one();
        }
        Here {
            presence: Arc::downgrade(&self.inner),
            key,
        }
    }

    /// The people of room `room_id`, kept current. The first list may still be empty when
    /// nobody watched the room here before: it fills within moments.
    pub(super) fn watch(&self, room_id: i64) -> RoomPeople {
        let mut state = self.inner.lock();
        if let Some(sender) = state.watched.get(&room_id) {
            return RoomPeople(sender.subscribe());
        }
        let empty = Arc::new(PeopleNow {
            version: 0,
            people: Arc::default(),
            joined: Vec::new(),
            left: Vec::new(),
        });
        let (sender, receiver) = watch::channel(empty);
        state.watched.insert(room_id, sender);
        self.inner.wake.notify_one();
        RoomPeople(receiver)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn leave(&self, key: (i64, i64)) {
        let mut state = self.lock();
        let Some(count) = state.here.get_mut(&key) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            state.here.remove(&key);
            state.dirty.insert(key);
            self.wake.notify_one();
        }
    }

    /// Writes what changed here, says this process is alive when due, and clears out dead
    /// processes' rows.
    async fn write(&self, heartbeat_due: bool) -> Result<()> {
        let db = &self.shared.db;
        let now = unix_ms();
        if heartbeat_due {
            let mine = ChatProcess::INSTANCE.eq(self.instance.clone());
            let said = ChatProcess::query()
                .filter(mine)
                .update(db, [ChatProcess::SEEN_AT_MS.set(now)])
                .await?;
            if said == 0 {
                let mut process = ChatProcess {
                    id: 0,
                    instance: self.instance.clone(),
                    seen_at_ms: now,
                };
                process.insert_if_absent(db).await?;
                self.lock().rewrite = true;
            }
            let dead = ChatProcess::query()
                .filter(ChatProcess::SEEN_AT_MS.lt(now - STALE_AFTER.as_millis() as i64));
            let dead_instances = dead.clone().values(ChatProcess::INSTANCE);
            ChatPresence::query()
                .filter(ChatPresence::INSTANCE.in_query(dead_instances))
                .delete(db)
                .await?;
            dead.delete(db).await?;
        }
        let (rewrite, changes) = {
            let mut state = self.lock();
            let rewrite = std::mem::take(&mut state.rewrite);
            let keys: Vec<_> = if rewrite {
                state.dirty.clear();
                state.here.keys().copied().collect()
            } else {
                state.dirty.drain().collect()
            };
            let changes: Vec<_> = keys
                .into_iter()
                .map(|key| (key, state.here.contains_key(&key)))
                .collect();
            (rewrite, changes)
        };
        if !rewrite && changes.is_empty() {
            return Ok(());
        }
        let written = self.write_rows(rewrite, &changes).await;
        if written.is_err() {
            self.lock().rewrite = true;
        }
        written
    }

    async fn write_rows(&self, rewrite: bool, changes: &[((i64, i64), bool)]) -> Result<()> {
        let mut tx = self.shared.db.begin().await?;
        let mine = ChatPresence::INSTANCE.eq(self.instance.clone());
        if rewrite {
            ChatPresence::query()
                .filter(mine.clone())
                .delete(&mut tx)
                .await?;
        }
        for &((room_id, user_id), present) in changes {
            if present {
                let mut row = ChatPresence {
                    id: 0,
                    instance: self.instance.clone(),
                    room_id,
                    user_id,
                };
                row.insert_if_absent(&mut tx).await?;
            } else {
                let key = ChatPresence::ROOM_ID.eq(room_id) & ChatPresence::USER_ID.eq(user_id);
                ChatPresence::query()
                    .filter(mine.clone() & key)
                    .delete(&mut tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads the people of every watched room and publishes the lists that changed.
    async fn refresh(&self) -> Result<()> {
        let rooms: Vec<i64> = {
            let mut state = self.lock();
            state
                .watched
                .retain(|_, sender| sender.receiver_count() > 0);
            state.watched.keys().copied().collect()
        };
        if rooms.is_empty() {
            return Ok(());
        }
        let db = &self.shared.db;
        let alive_since = unix_ms() - STALE_AFTER.as_millis() as i64;
        let alive = ChatProcess::query()
            .filter(ChatProcess::SEEN_AT_MS.ge(alive_since))
            .values(ChatProcess::INSTANCE);
        let rows = ChatPresence::query()
            .filter(ChatPresence::ROOM_ID.is_in(rooms.iter().copied()))
            .filter(ChatPresence::INSTANCE.in_query(alive))
            .all(db)
            .await?;
        let user_ids: HashSet<i64> = rows.iter().map(|row| row.user_id).collect();
        let (users, nicknames) = if user_ids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let users = User::query()
                .filter(User::ID.is_in(user_ids.iter().copied()))
                .all(db)
                .await?;
            let nicknames = Nickname::query()
                .filter(Nickname::USER_ID.is_in(user_ids.iter().copied()))
                .all(db)
                .await?;
            (users, nicknames)
        };
        let nicknames: HashMap<i64, String> = nicknames
            .into_iter()
            .map(|n| (n.user_id, n.nickname))
            .collect();
        let people: HashMap<i64, Person> = users
            .into_iter()
            .map(|user| {
                let nickname = nicknames.get(&user.id).unwrap_or(&user.name).clone();
                let person = Person {
                    user: user.name,
                    nickname,
                };
                (user.id, person)
            })
            .collect();
        let mut lists: HashMap<i64, People> = rooms.iter().map(|&id| (id, People::new())).collect();
        for row in rows {
            if let (Some(list), Some(person)) =
                (lists.get_mut(&row.room_id), people.get(&row.user_id))
            {
                list.insert(person.user.clone(), person.clone());
            }
        }
        let state = self.lock();
        for (room_id, list) in lists {
            let Some(sender) = state.watched.get(&room_id) else {
                continue;
            };
            sender.send_if_modified(|current| {
                if *current.people == list && current.version > 0 {
                    return false;
                }
                let (joined, left) = difference(&current.people, &list);
                *current = Arc::new(PeopleNow {
                    version: current.version + 1,
                    people: Arc::new(list),
                    joined,
                    left,
                });
                true
            });
        }
        Ok(())
    }
}

/// The background task: writes, heartbeats and reads until the service is dropped.
async fn keep(presence: Weak<Inner>) {
    let mut last_heartbeat: Option<tokio::time::Instant> = None;
    let mut warned = false;
    loop {
        let Some(inner) = presence.upgrade() else {
            return;
        };
        let heartbeat_due = last_heartbeat.is_none_or(|at| at.elapsed() >= HEARTBEAT);
        let done = async {
            inner.write(heartbeat_due).await?;
            inner.refresh().await
        };
        match done.await {
            Ok(()) => {
                if heartbeat_due {
                    last_heartbeat = Some(tokio::time::Instant::now());
                }
                if std::mem::take(&mut warned) {
                    tracing::info!("chat presence is written again");
                }
            }
            Err(error) if !warned => {
                warned = true;
                tracing::warn!(%error, "chat presence could not be written; retrying");
            }
            Err(_) => {}
        }
        // Holding `inner` here delays the task's end by at most `REFRESH` once the service is
        // dropped.
        let woken = tokio::time::timeout(REFRESH, inner.wake.notified()).await;
        drop(inner);
        if woken.is_ok() {
            tokio::time::sleep(COALESCE).await;
        }
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
