//! In-process fan-out: one `tokio::sync::broadcast` channel per topic that has subscribers in
//! this process, created by the first subscription and dropped with the last.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::Event;

/// What a topic's channel carries to its subscriptions.
#[derive(Debug, Clone)]
pub(super) enum Note {
    /// An event, from this process or from the transport; possibly out of order or twice.
    Event(Event),
    /// Events may have been missed (a transport reconnect, the safety net found newer ones):
    /// read the database after the last `seq` seen.
    CatchUp,
}

/// The channels of the topics this process has subscribers for.
pub(super) struct Hubs {
    map: Mutex<HashMap<Arc<str>, Hub>>,
    capacity: usize,
}

struct Hub {
    /// The topic (the map's key), shared with the subscriptions.
    name: Arc<str>,
    sender: broadcast::Sender<Note>,
    /// Subscriptions holding a receiver of `sender`.
    subscribers: usize,
    /// The highest `seq` sent on `sender` (or found in the database by the safety net).
    known: i64,
}

impl Hubs {
    /// No topic yet; each topic's channel will hold `capacity` notes for its slowest receiver.
    pub(super) fn new(capacity: usize) -> Hubs {
        Hubs {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Hub>> {
        self.map
            .lock()
            .expect("never poisoned: no code panics while holding it")
    }

    /// A receiver of `topic`'s channel, and whether the channel is new (the transport has to
    /// listen to the topic from now on).
    pub(super) fn join(&self, topic: &str) -> (Arc<str>, broadcast::Receiver<Note>, bool) {
        let mut map = self.lock();
        if let Some(hub) = map.get_mut(topic) {
            hub.subscribers += 1;
            return (hub.name.clone(), hub.sender.subscribe(), false);
        }
        let name: Arc<str> = Arc::from(topic);
        let (sender, receiver) = broadcast::channel(self.capacity);
        let hub = Hub {
            name: name.clone(),
            sender,
            subscribers: 1,
            known: 0,
        };
        map.insert(name.clone(), hub);
        (name, receiver, true)
    }

    /// One subscription of `topic` went away; true when it was the last (the channel is gone).
    pub(super) fn leave(&self, topic: &str) -> bool {
        let mut map = self.lock();
        let Some(hub) = map.get_mut(topic) else {
            return false;
        };
        hub.subscribers -= 1;
        if hub.subscribers > 0 {
            return false;
        }
        map.remove(topic);
        true
    }

    /// Sends `event` to the subscriptions of its topic in this process, if there are any.
    pub(super) fn deliver(&self, event: &Event) {
        let mut map = self.lock();
        if let Some(hub) = map.get_mut(event.topic()) {
            hub.known = hub.known.max(event.seq());
            // Sent under the lock, so `known` and the channel agree. An error only means no
            // receiver is left, and the hub is about to go.
            let _ = hub.sender.send(Note::Event(event.clone()));
        }
    }

    /// Tells the subscriptions of `topic` to look in the database.
    pub(super) fn catch_up(&self, topic: &str) {
        if let Some(hub) = self.lock().get(topic) {
            let _ = hub.sender.send(Note::CatchUp);
        }
    }

    /// Tells every subscription to look in the database.
    pub(super) fn catch_up_all(&self) {
        for hub in self.lock().values() {
            let _ = hub.sender.send(Note::CatchUp);
        }
    }

    /// The topics with subscribers.
    pub(super) fn topics(&self) -> Vec<Arc<str>> {
        self.lock().keys().cloned().collect()
    }

    /// The database's last `seq` of `topic` is `last`: when that is more than was ever sent on
    /// the topic's channel, something was missed and the subscriptions are told to catch up.
    pub(super) fn found_in_database(&self, topic: &str, last: i64) {
        if let Some(hub) = self.lock().get_mut(topic)
            && last > hub.known
        {
            hub.known = last;
            let _ = hub.sender.send(Note::CatchUp);
        }
    }
}

/// A transport's handle on this process's subscriptions: where it delivers what other processes
/// published, and how it learns which topics to listen to (see [`Transport`](super::Transport)).
#[derive(Clone)]
pub struct Link {
    pub(super) hubs: Arc<Hubs>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Link {
    /// Hands an event another process published to this process's subscribers of its topic
    /// (nothing happens when there are none). Duplicates and events out of order are fine: each
    /// subscription keeps order and drops what it has seen.
    pub fn deliver(&self, event: &Event) {
        self.hubs.deliver(event);
    }

    /// Makes the subscribers of `topic` read the database for events they have not seen; for a
    /// transport that may have missed some (it has just started listening to the topic, say).
    pub fn catch_up(&self, topic: &str) {
        self.hubs.catch_up(topic);
    }

    /// Makes every subscriber read the database for events it has not seen; for a transport that
    /// has just reconnected.
    pub fn catch_up_all(&self) {
        self.hubs.catch_up_all();
    }

    /// The topics this process has subscribers for: those a transport should listen to.
    pub fn topics(&self) -> Vec<Arc<str>> {
        self.hubs.topics()
    }
}
