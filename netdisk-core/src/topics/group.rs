//! Group commit for [`Topics::publish`](super::Topics::publish): the events handed over while a
//! transaction is being stored wait for it to finish and are then stored together, in one
//! transaction of their own, in the order they were handed over.
//!
//! A busy chat room is why: every message is a transaction, and on a file database each commit
//! syncs the disk and takes the single writer, so that one transaction at a time capped a room
//! at a few hundred messages a second, each publisher queueing for the writer behind the
//! others. Grouped, a commit stores whatever came meanwhile. Nothing waits to make a group: a
//! lone event is stored at once, as before.
//!
//! The storing runs in a task of its own (spawned by the publish that finds none running), so
//! that a publisher that is dropped while it waits (its connection closed, say) never leaves a
//! group half done: the event it handed over is stored and announced all the same.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mini_orm::Db;
use tokio::sync::oneshot;

use super::{Event, Inner, TopicsError, store};

/// How many times a transaction runs when another one takes the same `seq`.
const ATTEMPTS: u32 = 20;
/// Most events stored in one transaction.
const MAX_GROUP: usize = 256;

/// One event handed over to be stored.
pub(super) struct Request {
    pub(super) topic: String,
    pub(super) payload: String,
    pub(super) reply: oneshot::Sender<Result<Event, TopicsError>>,
}

/// The events waiting for the next transaction, and whether a task is storing.
#[derive(Default)]
pub(super) struct Group {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: Vec<Request>,
    storing: bool,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("never poisoned: no code panics while holding it")
    }

    /// Queues `request`; true when no task is storing, and the caller must start one
    /// ([`Storing`]).
    pub(super) fn push(&self, request: Request) -> bool {
        let mut state = self.lock();
        state.waiting.push(request);
        !std::mem::replace(&mut state.storing, true)
    }

    /// The next events to store, or none (and no task is storing from now on).
    fn take(&self) -> Vec<Request> {
        let mut state = self.lock();
        let count = state.waiting.len().min(MAX_GROUP);
        if count == 0 {
            state.storing = false;
        }
        state.waiting.drain(..count).collect()
    }
}

/// The storing task's hold on [`State::storing`]. A task that ends before it has taken all
/// there is (it panicked, or its runtime shut down before it even ran) lets the next publisher
/// start another, and drops the events still waiting: their publishers panic in turn (as they
/// would have storing them alone).
pub(super) struct Storing {
    inner: Arc<Inner>,
    done: bool,
}

impl Storing {
    /// The hold of a task to spawn with [`Storing::store_waiting`]; made before it is spawned, so
    /// that a task dropped unpolled lets go too.
    pub(super) fn new(inner: Arc<Inner>) -> Storing {
        Storing { inner, done: false }
    }

    /// The next events to store; none when all were taken (the task ends).
    fn take(&mut self) -> Vec<Request> {
        let requests = self.inner.group.take();
        self.done = requests.is_empty();
        requests
    }

    /// Stores what waits, group by group, until nothing does; answers every publisher and
    /// announces every event stored.
    pub(super) async fn store_waiting(mut self) {
        loop {
            let requests = self.take();
            if requests.is_empty() {
                return;
            }
            store_group(&self.inner, requests).await;
        }
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        if !self.done {
            let mut state = self.inner.group.lock();
            state.storing = false;
            state.waiting.clear();
        }
    }
}

/// Stores `requests` (one transaction if it can), answers their publishers and announces the
/// events stored.
async fn store_group(inner: &Inner, mut requests: Vec<Request>) {
    // By topic (a stable sort: each topic's events keep their order), so that groups of
    // several processes lock the topics' last rows (MySQL) in one order, not into deadlocks.
    requests.sort_by(|a, b| a.topic.cmp(&b.topic));
    match store_together(&inner.db, &requests).await {
        Ok(events) => {
            for (request, event) in requests.into_iter().zip(events) {
                inner.announce(&event);
                let _ = request.reply.send(Ok(event));
            }
        }
        // One event alone gets its own error; a group that failed is stored one by one, so
        // that one publisher's failure is not the others'.
        Err(error) if requests.len() == 1 => {
            let request = requests.into_iter().next().expect("one request");
            let _ = request.reply.send(Err(error.into()));
        }
        Err(_) => {
            for request in requests {
                let stored = store_together(&inner.db, std::slice::from_ref(&request)).await;
                let answer = match stored {
                    Ok(mut events) => {
                        let event = events.pop().expect("one event per request");
                        inner.announce(&event);
                        Ok(event)
                    }
                    Err(error) => Err(error.into()),
                };
                let _ = request.reply.send(answer);
            }
        }
    }
}

/// Stores `requests` as the next events of their topics, in order, in one transaction (run
/// again, after a short random pause, when another process took the same `seq`).
async fn store_together(db: &Db, requests: &[Request]) -> mini_orm::Result<Vec<Event>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = async {
            let mut tx = db.begin().await?;
            let mut events = Vec::with_capacity(requests.len());
            for request in requests {
                let row = store::append(&mut tx, &request.topic, request.payload.clone()).await?;
                events.push(Event::from(row));
            }
            tx.commit().await?;
            Ok(events)
        }
        .await;
        match outcome {
            Err(error) if store::is_retryable(&error) && attempt < ATTEMPTS => {
                let pause = rand::random_range(1..=5 * u64::from(attempt));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            outcome => return outcome,
        }
    }
}
