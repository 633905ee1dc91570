//! Topics: publish/subscribe with a database behind it, so that nothing is lost, repeated or
//! reordered.
//!
//! ```no_run
//! # async fn example(db: mini_orm::Db) -> Result<(), netdisk_core::topics::TopicsError> {
//! use netdisk_core::topics::{Pubsub, Topics};
//!
//! let topics = Topics::open(db, Pubsub::InProcess).await?;
//! let mut room = topics.subscribe("chat.room.17").await?;
//! topics.publish("chat.room.17", &serde_json::json!({"from": "ann", "text": "hi"})).await?;
//! let event = room.next().await?;
//! assert_eq!((event.topic(), event.seq()), ("chat.room.17", 1));
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - **Stored first.** [`Topics::publish`] commits the event to the `topic_event` table before
//!   anyone hears of it, numbered by `seq`: 1, 2, 3… within its topic, without gaps, even with
//!   several processes publishing to one topic at once (see [`Topics::append`]). An event with
//!   `seq` n commits only after the one with n − 1, so a reader sees a prefix of each topic.
//! - **Each event once, in order.** A [`Subscription`] returns the events of its topic in `seq`
//!   order, each once, none missing: it drops what it has seen, and fills any gap (an event that
//!   came out of order or not at all) from the database before going on. A subscription resumed
//!   with [`Topics::subscribe_after`] replays from the database what it missed while away.
//! - **Local delivery never waits for the transport.** Subscribers in the publishing process get
//!   the event straight from it, whether or not Redis is up.
//! - **Lost messages are found.** A transport message can be lost (Redis down or restarted, a
//!   full queue). A reconnected transport makes every subscription catch up from the database,
//!   and a safety net ([`Options::check_every`], 3 s by default) compares, for every topic with
//!   subscribers in this process, the database's last `seq` with the last one delivered, in one
//!   grouped query per 200 topics, and makes that topic's subscriptions catch up when it is
//!   behind. An event whose message was lost and that no later event reveals arrives within that
//!   interval.
//! - **Bounded memory.** Each topic with subscribers in the process has one broadcast channel of
//!   [`Options::capacity`] events; a subscription that falls further behind is told so
//!   (`Lagged`) and reads the database instead, in pages of [`Options::page_size`]. The Redis
//!   transport's outgoing queue is bounded too (what does not fit is found by the other
//!   processes' safety net).
//!
//! # Design
//!
//! - `store.rs`: the table and its queries. The next `seq` is the topic's last plus one, read
//!   `FOR UPDATE` on MySQL in the appending transaction; a unique violation on `(topic, seq)` or
//!   a deadlock (two transactions starting the same new topic) runs the transaction again.
//! - `group.rs`: group commit: what publishers of a process hand over while a transaction is
//!   being stored goes into the next one together (a commit syncs the disk on SQLite).
//! - `local.rs`: the in-process fan-out, a `tokio::sync::broadcast` channel per topic, created by
//!   its first subscription and dropped with its last, so an idle topic costs nothing and a
//!   subscription costs one receiver.
//! - `subscription.rs`: [`Subscription`], which orders and dedupes by `seq`.
//! - `redis.rs`: the Redis transport: one task and one subscriber connection per process,
//!   `SUBSCRIBE` to each topic that has local subscribers (so a process hears only the rooms it
//!   has listeners in), exponential reconnection backoff capped at 3 s, and one warning per
//!   outage (plus one note when it is over).
//!
//! A custom [`Transport`] (given as [`Pubsub::Custom`]) plugs in the same way as Redis; the
//! tests use one that loses messages on purpose.

mod group;
mod local;
mod redis;
mod store;
mod subscription;

use std::any::Any;
use std::str::FromStr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use mini_orm::{Db, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use local::Link;
pub use store::TopicEvent;
pub use subscription::Subscription;

use crate::error::ServiceError;
use local::Hubs;

/// The longest topic, in bytes (the column is `VARCHAR(128)`).
pub const MAX_TOPIC_LEN: usize = 128;
/// How many topics one safety-net query looks at.
const CHECK_BATCH: usize = 200;

/// One published event. Cheap to clone: the topic, the payload and what was rendered from it
/// ([`Event::rendered`]) are shared by the clones.
#[derive(Debug, Clone)]
pub struct Event {
    topic: Arc<str>,
    seq: i64,
    payload: Arc<str>,
    created_at: i64,
    rendered: Arc<[OnceLock<Rendered>; FORMS]>,
}

/// How many forms an event keeps ([`Event::rendered`]): one per door that renders it.
const FORMS: usize = 2;

/// One form of an event, as [`Event::rendered`] keeps it.
type Rendered = (&'static str, Box<dyn Any + Send + Sync>);

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        (&self.topic, self.seq, &self.payload, self.created_at)
            == (&other.topic, other.seq, &other.payload, other.created_at)
    }
}

impl Eq for Event {}

impl Event {
    /// An event as stored; for a [`Transport`] rebuilding one it received.
    pub fn new(topic: &str, seq: i64, payload: &str, created_at: i64) -> Event {
        Event {
            topic: Arc::from(topic),
            seq,
            payload: Arc::from(payload),
            created_at,
            rendered: Arc::default(),
        }
    }

    /// The event rendered as `form` (what a door sends for it, say), made by `render` once for
    /// every subscriber in this process that received this event (the clones of one delivery
    /// share it) and then shared: each call returns a clone, so make `T` cheap to clone
    /// ([`Bytes`](bytes::Bytes), an `Arc`). The first two forms asked for are kept; a third is rendered on
    /// every call, as is a form asked for as another type than it was kept as.
    pub fn rendered<T: Clone + Send + Sync + 'static, E>(
        &self,
        form: &'static str,
        render: impl FnOnce(&Event) -> Result<T, E>,
    ) -> Result<T, E> {
        for slot in self.rendered.iter() {
            let Some((kept, value)) = slot.get() else {
                let value = render(self)?;
                // Another subscriber may have kept a form here meanwhile: this one then goes
                // unkept, which costs a render, not a wrong answer.
                let _ = slot.set((form, Box::new(value.clone())));
                return Ok(value);
            };
            if *kept == form
                && let Some(value) = value.downcast_ref::<T>()
            {
                return Ok(value.clone());
            }
        }
        render(self)
    }

    /// The topic, such as `notices` or `chat.room.17`.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Its place in the topic: 1 for the first event, then one more for each.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// The payload, as the JSON text it was published as.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// The payload, read as `T`.
    pub fn payload_as<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.payload)
    }

    /// When it was stored, in milliseconds since the Unix epoch.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }
}

/// Why a topics operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    /// The topic is empty, longer than [`MAX_TOPIC_LEN`] bytes, or has a character other than
    /// ASCII letters, digits, `.`, `_`, `-` and `:`.
    #[error("invalid topic {0:?}: 1 to 128 of the characters A-Z a-z 0-9 . _ - :")]
    InvalidTopic(String),
    /// The payload cannot be written as JSON.
    #[error("the payload cannot be written as JSON: {0}")]
    Payload(#[from] serde_json::Error),
    /// The transport's address is not one this module understands.
    #[error("invalid pub/sub transport {0:?}: expected `in-process` or redis://HOST:PORT")]
    InvalidTransport(String),
    /// The database failed (a caller of [`Topics::append`] runs its transaction again when
    /// [`TopicsError::is_retryable`]).
    #[error(transparent)]
    Db(#[from] mini_orm::Error),
}

impl TopicsError {
    /// True when the transaction that appended lost a race for the same `seq` (a unique
    /// violation or a MySQL deadlock): running the whole transaction again is the remedy.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TopicsError::Db(error) if store::is_retryable(error))
    }
}

/// How many times [`retrying`] runs a transaction that appends events.
const APPEND_ATTEMPTS: u32 = 20;

/// Runs `work` (a transaction that [`Topics::append`]s, with its announce) again while it fails
/// with [`TopicsError::is_retryable`] (another process took the same `seq`), after a short
/// random pause that grows with each attempt, up to 20 attempts in all.
pub async fn retrying<T, F>(mut work: impl FnMut() -> F) -> Result<T, TopicsError>
where
    F: Future<Output = Result<T, TopicsError>>,
{
    let mut attempt = 1;
    loop {
        match work().await {
            Err(error) if error.is_retryable() && attempt < APPEND_ATTEMPTS => {
                attempt += 1;
                let pause = rand::random_range(1..=5 * u64::from(attempt));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            outcome => return outcome,
        }
    }
}

impl From<TopicsError> for ServiceError {
    fn from(error: TopicsError) -> Self {
        match error {
            TopicsError::InvalidTopic(_) => ServiceError::BadRequest(error.to_string()),
            TopicsError::Db(error) => ServiceError::from(error),
            other => ServiceError::Internal(Box::new(other)),
        }
    }
}

/// How events reach the other processes sharing the database.
#[derive(Clone, Default)]
pub enum Pubsub {
    /// Nowhere: subscribers in this process hear of events published in it at once, and of
    /// other processes' events through the safety net ([`Options::check_every`]). Needs nothing.
    #[default]
    InProcess,
    /// Redis pub/sub at this URL (`redis://127.0.0.1:6379`).
    Redis(String),
    /// A transport of the caller's.
    Custom(Arc<dyn Transport>),
}

impl std::fmt::Debug for Pubsub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pubsub::InProcess => f.write_str("InProcess"),
            Pubsub::Redis(url) => f.debug_tuple("Redis").field(url).finish(),
            Pubsub::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl FromStr for Pubsub {
    type Err = TopicsError;

    /// `in-process` (or an empty text) or a `redis://` URL, as given to `--pubsub`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" | "in-process" => Ok(Pubsub::InProcess),
            url if url.starts_with("redis://") => Ok(Pubsub::Redis(url.to_owned())),
            other => Err(TopicsError::InvalidTransport(other.to_owned())),
        }
    }
}

/// Carries events between processes; implemented by the Redis transport, and by whoever wants
/// another one ([`Pubsub::Custom`]).
///
/// A transport may lose, repeat or reorder messages: subscriptions put that right from the
/// database. It must not block: its methods are called from publishers and subscribers.
pub trait Transport: Send + Sync + 'static {
    /// Called once by [`Topics::open`]: from now on, deliver what other processes publish
    /// through `link`, on the topics in [`Link::topics`].
    fn start(&self, link: Link);
    /// Tells the other processes of `event` (committed already).
    fn announce(&self, event: &Event);
    /// The topics with local subscribers ([`Link::topics`]) changed.
    fn topics_changed(&self) {}
}

/// Settings of [`Topics::open_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Events each topic's broadcast channel holds for its slowest subscription; one that falls
    /// further behind catches up from the database. Default 256.
    pub capacity: usize,
    /// How often the safety net compares each subscribed topic with the database (zero: never).
    /// Default 3 s.
    pub check_every: Duration,
    /// Events read from the database at a time when catching up. Default 256.
    pub page_size: u32,
    /// Prefix of the Redis channels: `<prefix><topic>`. Default `netdisk.topic.`.
    pub channel_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            capacity: 256,
            check_every: Duration::from_secs(3),
            page_size: 256,
            channel_prefix: "netdisk.topic.".to_owned(),
        }
    }
}

/// Publish/subscribe over the database (see the module doc). Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct Topics {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    hubs: Arc<Hubs>,
    transport: Option<Arc<dyn Transport>>,
    options: Options,
    /// The events waiting to be stored by [`Topics::publish`].
    group: group::Group,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("db", &self.inner.db)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Topics {
    /// Creates the `topic_event` table if it is missing and starts the transport, with the
    /// default [`Options`]. Needs a Tokio runtime.
    pub async fn open(db: Db, pubsub: Pubsub) -> Result<Topics, TopicsError> {
        Topics::open_with(db, pubsub, Options::default()).await
    }

    /// [`Topics::open`] with `options`.
    pub async fn open_with(
        db: Db,
        pubsub: Pubsub,
        options: Options,
    ) -> Result<Topics, TopicsError> {
        store::create(&db).await?;
        let transport: Option<Arc<dyn Transport>> = match pubsub {
            Pubsub::InProcess => None,
            Pubsub::Redis(url) => Some(Arc::new(
                redis::RedisTransport::new(&url, &options.channel_prefix)
                    .map_err(|e| TopicsError::InvalidTransport(format!("{url}: {e}")))?,
            )),
            Pubsub::Custom(transport) => Some(transport),
        };
        let hubs = Arc::new(Hubs::new(options.capacity));
        if let Some(transport) = &transport {
            transport.start(Link { hubs: hubs.clone() });
        }
        let check_every = options.check_every;
        let inner = Arc::new(Inner {
            db,
            hubs,
            transport,
            options,
            group: group::Group::default(),
        });
        if !check_every.is_zero() {
            tokio::spawn(safety_net(Arc::downgrade(&inner), check_every));
        }
        Ok(Topics { inner })
    }

    /// Stores `payload` as the next event of `topic`, then delivers it to this process's
    /// subscribers and announces it to the others. The events that other publishers of this
    /// process hand over while a transaction is being stored are stored together in the next
    /// one (group commit: see `group.rs`), each group in a transaction of its own that runs
    /// again when another process took the same `seq`.
    ///
    /// Once this future has been polled, the event is stored and announced even if it is
    /// dropped before it is ready.
    pub async fn publish(
        &self,
        topic: &str,
        payload: &impl Serialize,
    ) -> Result<Event, TopicsError> {
        check_topic(topic)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = group::Request {
            topic: topic.to_owned(),
            payload: serde_json::to_string(payload)?,
            reply,
        };
        if self.inner.group.push(request) {
            let storing = group::Storing::new(self.inner.clone());
            tokio::spawn(storing.store_waiting());
        }
        answer.await.expect(
            "the storing task answers every event it takes, unless it panicked or its runtime \
             shut down",
        )
    }

    /// Stores `payload` as the next event of `topic` inside the caller's transaction, for an
    /// event that must commit with the caller's own writes. After the commit, hand the event
    /// to [`Topics::announce`] (if that is forgotten or the process dies first, subscribers still
    /// get it from the safety net).
    ///
    /// A transaction holding an appended event also holds the topic's last row (on MySQL):
    /// keep it short. When it fails with [`TopicsError::is_retryable`], another transaction
    /// took the same `seq`: run the whole transaction again.
    pub async fn append(
        &self,
        tx: &mut Transaction,
        topic: &str,
        payload: &impl Serialize,
    ) -> Result<Event, TopicsError> {
        check_topic(topic)?;
        let payload = serde_json::to_string(payload)?;
        Ok(store::append(tx, topic, payload).await?.into())
    }

    /// Delivers a committed event to this process's subscribers and announces it to the other
    /// processes. [`Topics::publish`] does this itself.
    pub fn announce(&self, event: &Event) {
        self.inner.announce(event);
    }

    /// The events of `topic` published from now on.
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription, TopicsError> {
        check_topic(topic)?;
        // Joined before the last `seq` is read: an event committed after the read is sent on
        // the channel after this receiver exists.
        let (name, receiver) = self.join(topic);
        let subscription = Subscription::new(self.clone(), name, receiver, 0, false);
        let last = store::last_seq(&self.inner.db, topic).await?;
        Ok(subscription.starting_after(last))
    }

    /// The events of `topic` after `seq`: those in the database first, then those published
    /// from now on. `subscribe_after(topic, 0)` replays the whole topic.
    pub fn subscribe_after(&self, topic: &str, seq: i64) -> Result<Subscription, TopicsError> {
        check_topic(topic)?;
        let (name, receiver) = self.join(topic);
        Ok(Subscription::new(self.clone(), name, receiver, seq, true))
    }

    /// At most `limit` events of `topic` stored before `seq` `before` (the newest when `None`),
    /// newest first: a page of history, read back from the end.
    pub async fn history(
        &self,
        topic: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Event>, TopicsError> {
        check_topic(topic)?;
        Ok(store::page_before(&self.inner.db, topic, before, limit).await?)
    }

    /// The last `seq` of `topic` (0 when it has no event).
    pub async fn last_seq(&self, topic: &str) -> Result<i64, TopicsError> {
        check_topic(topic)?;
        Ok(store::last_seq(&self.inner.db, topic).await?)
    }

    fn join(&self, topic: &str) -> (Arc<str>, tokio::sync::broadcast::Receiver<local::Note>) {
        let (name, receiver, new) = self.inner.hubs.join(topic);
        if new && let Some(transport) = &self.inner.transport {
            transport.topics_changed();
        }
        (name, receiver)
    }

    /// A subscription of `topic` was dropped.
    fn leave(&self, topic: &str) {
        if self.inner.hubs.leave(topic)
            && let Some(transport) = &self.inner.transport
        {
            transport.topics_changed();
        }
    }
}

/// Refuses a topic that [`TopicsError::InvalidTopic`] describes.
fn check_topic(topic: &str) -> Result<(), TopicsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    if topic.is_empty() || topic.len() > MAX_TOPIC_LEN || !topic.chars().all(allowed) {
        return Err(TopicsError::InvalidTopic(topic.to_owned()));
    }
    Ok(())
}

/// Every `every`, makes the subscriptions of each topic the database is ahead on catch up
/// (see the module doc), for as long as the [`Topics`] lives. Warns once per run of failures.
async fn safety_net(inner: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut outage = Outage::default();
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(error) = inner.check().await {
            if outage.began() {
                tracing::warn!(%error, "topics: comparing subscribed topics with the database failed");
            }
        } else if outage.ended() {
            tracing::info!("topics: comparing subscribed topics with the database works again");
        }
    }
}

/// Whether something is failing, so that a run of failures is logged once when it begins and
/// once when it ends, not once per attempt.
#[derive(Debug, Default)]
struct Outage {
    failing: bool,
}

impl Outage {
    /// An attempt failed: true when the previous one had not (log it).
    fn began(&mut self) -> bool {
        !std::mem::replace(&mut self.failing, true)
    }

    /// An attempt worked: true when the previous one had failed (log it).
    fn ended(&mut self) -> bool {
        std::mem::replace(&mut self.failing, false)
    }
}

impl Inner {
    /// See [`Topics::announce`].
    fn announce(&self, event: &Event) {
        self.hubs.deliver(event);
        if let Some(transport) = &self.transport {
            transport.announce(event);
        }
    }

    /// One round of the safety net.
    async fn check(&self) -> mini_orm::Result<()> {
        let topics = self.hubs.topics();
        for batch in topics.chunks(CHECK_BATCH) {
            let names: Vec<&str> = batch.iter().map(|t| &**t).collect();
            for (topic, last) in store::last_seqs(&self.db, &names).await? {
                self.hubs.found_in_database(&topic, last);
            }
        }
        Ok(())
    }
}
