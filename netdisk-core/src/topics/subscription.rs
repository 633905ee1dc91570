//! [`Subscription`]: one reader of one topic, in `seq` order, from the broadcast channel when it
//! can and from the database when it must.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::local::Note;
use super::{Event, Topics, TopicsError, store};

/// The events of one topic after a given `seq`, each once and in order. Made by
/// [`Topics::subscribe`] or [`Topics::subscribe_after`]; dropping it unsubscribes.
///
/// Memory is bounded: it holds at most one page of events read from the database, and a
/// receiver on the topic's bounded broadcast channel (a subscription that falls behind is told
/// so by the channel and reads the database instead).
pub struct Subscription {
    topics: Topics,
    topic: Arc<str>,
    receiver: broadcast::Receiver<Note>,
    /// The last `seq` returned by [`Subscription::next`] (or the starting point).
    last: i64,
    /// Events read from the database and not returned yet, in `seq` order.
    pending: VecDeque<Event>,
    /// Whether the database may hold events after `last` that `pending` and the channel lack.
    behind: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("last", &self.last)
            .field("behind", &self.behind)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription whose receiver was taken before `after` was read, so that nothing
    /// committed after that read can pass it by; `behind` when the database must be read first.
    pub(super) fn new(
        topics: Topics,
        topic: Arc<str>,
        receiver: broadcast::Receiver<Note>,
        after: i64,
        behind: bool,
    ) -> Subscription {
        Subscription {
            topics,
            topic,
            receiver,
            last: after,
            pending: VecDeque::new(),
            behind,
        }
    }

    /// This subscription, starting after `seq` instead.
    pub(super) fn starting_after(mut self, seq: i64) -> Subscription {
        self.last = seq;
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The `seq` of the last event returned (the starting point before the first): what to
    /// give [`Topics::subscribe_after`] to resume after a restart.
    pub fn last_seq(&self) -> i64 {
        self.last
    }

    /// The next event: the one with the lowest `seq` above [`Subscription::last_seq`] (it is
    /// `last_seq() + 1` unless rows were removed from the database). Waits until there is one.
    ///
    /// An event that reached this process out of order, twice, or not at all (a lost transport
    /// message, a full channel, a reconnect) is put right from the database: a gap in `seq` is
    /// filled before anything after it is returned.
    ///
    /// Cancel-safe: dropping the future (in a `select!`, say) loses nothing; the next call
    /// carries on. An error is the database's while catching up; calling again retries.
    pub async fn next(&mut self) -> Result<Event, TopicsError> {
        loop {
            if let Some(event) = self.next_pending() {
                return Ok(event);
            }
            if self.behind {
                self.read_database().await?;
                continue;
            }
            let note = match self.receiver.recv().await {
                Ok(note) => note,
                Err(RecvError::Lagged(_)) => Note::CatchUp,
                // The hub keeps its sender while this subscription lives.
                Err(RecvError::Closed) => {
                    unreachable!("a topic's channel outlives its subscriptions")
                }
            };
            if let Some(event) = self.take(note) {
                return Ok(event);
            }
        }
    }

    /// The next event if it is here already, as [`Subscription::next`] would return it; `None`
    /// when it is not, or when the database must be read first (which `next` does). Never
    /// waits, and costs no registration with the topic's channel: for taking what else is
    /// already here after `next` returned.
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.next_pending() {
                return Some(event);
            }
            if self.behind {
                return None;
            }
            let note = match self.receiver.try_recv() {
                Ok(note) => note,
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Lagged(_)) => Note::CatchUp,
                Err(TryRecvError::Closed) => {
                    unreachable!("a topic's channel outlives its subscriptions")
                }
            };
            if let Some(event) = self.take(note) {
                return Some(event);
            }
        }
    }

    /// The next event read from the database, if any.
    fn next_pending(&mut self) -> Option<Event> {
        while let Some(event) = self.pending.pop_front() {
            // The database is authoritative: what it returns after `last` comes next.
            if event.seq() > self.last {
                self.last = event.seq();
                return Some(event);
            }
        }
        None
    }

    /// What a note from the channel makes of the next event: the event when it is the next
    /// one; nothing when it was seen already; on a gap, a catch-up note or a lag, nothing, and
    /// the database is read next (the missing events committed before the one that showed the
    /// gap, which is there too).
    fn take(&mut self, note: Note) -> Option<Event> {
        match note {
            Note::Event(event) if event.seq() == self.last + 1 => {
                self.last = event.seq();
                Some(event)
            }
            Note::Event(event) if event.seq() <= self.last => None,
            Note::Event(_) | Note::CatchUp => {
                self.behind = true;
                None
            }
        }
    }

    /// Reads the next page after `last` into `pending`; stays `behind` while pages are full.
    async fn read_database(&mut self) -> Result<(), TopicsError> {
        let page = self.topics.inner.options.page_size.max(1);
        let events = store::page_after(&self.topics.inner.db, &self.topic, self.last, page).await?;
        self.behind = events.len() >= page as usize;
        self.pending.extend(events);
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.topics.leave(&self.topic);
    }
}
