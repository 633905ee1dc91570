//! The Redis pub/sub transport: one task per process, with one subscriber connection for all
//! topics (`SUBSCRIBE` per topic that has local subscribers) and one connection to `PUBLISH` on.
//!
//! A message is `"<origin> <seq> <created_at>\n<payload>"` on the channel `<prefix><topic>`;
//! `origin` is a random number per [`Topics`](super::Topics), so a process skips its own
//! messages (it delivered them itself at once). When Redis cannot be reached the task warns once,
//! retries with exponential backoff (capped at [`MAX_BACKOFF`]), drops what is published
//! meanwhile (it is in the database), and on reconnecting says so once and makes every local
//! subscription catch up from the database.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use tokio::sync::{Notify, mpsc};

use super::{Event, Link, Outage, Transport};

/// The first wait before reconnecting.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two reconnection attempts.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(3);
/// Events waiting to be published; more are dropped (and found by the other processes' safety
/// net), so a stalled Redis never grows memory.
const OUTBOX: usize = 4096;
/// How long one Redis command may take before the connection is taken for broken.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The transport; see the module doc.
pub(super) struct RedisTransport {
    client: redis::Client,
    prefix: String,
    origin: u64,
    outbox: mpsc::Sender<Event>,
    /// Taken by [`Transport::start`].
    receiver: Mutex<Option<mpsc::Receiver<Event>>>,
    /// Woken when the set of topics with local subscribers changed.
    changed: Arc<Notify>,
}

impl RedisTransport {
    /// A transport for the server at `url` (`redis://host:port[/db]`); connects once started.
    pub(super) fn new(url: &str, prefix: &str) -> redis::RedisResult<RedisTransport> {
        let client = redis::Client::open(url)?;
        let (outbox, receiver) = mpsc::channel(OUTBOX);
        Ok(RedisTransport {
            client,
            prefix: prefix.to_owned(),
            origin: rand::random(),
            outbox,
            receiver: Mutex::new(Some(receiver)),
            changed: Arc::new(Notify::new()),
        })
    }
}

impl Transport for RedisTransport {
    fn start(&self, link: Link) {
        let Some(outbox) = self.receiver.lock().expect("never poisoned").take() else {
            return;
        };
        let task = Task {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            origin: self.origin,
            outbox,
            changed: self.changed.clone(),
            link,
            outage: Outage::default(),
        };
        tokio::spawn(task.run());
    }

    fn announce(&self, event: &Event) {
        // Full (Redis stalled) or closed (shutting down): the other processes' safety net
        // finds the event in the database.
        let _ = self.outbox.try_send(event.clone());
    }

    fn topics_changed(&self) {
        self.changed.notify_one();
    }
}

/// Why a connection ended.
enum End {
    /// Every `Topics` clone is gone: the task ends.
    Closed,
    /// Redis is unreachable or the connection broke.
    Failed(redis::RedisError),
}

struct Task {
    client: redis::Client,
    prefix: String,
    origin: u64,
    outbox: mpsc::Receiver<Event>,
    changed: Arc<Notify>,
    link: Link,
    /// Whether Redis is unreachable (logged once per outage, not once per attempt).
    outage: Outage,
}

impl Task {
    async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.connected(&mut backoff).await {
                End::Closed => return,
                End::Failed(error) if self.outage.began() => {
                    tracing::warn!(server = %self.server(), %error, "Redis pub/sub is unreachable: topics are delivered \
                        within this process only until it is back; reconnecting");
                }
                End::Failed(_) => {}
            }
            // Wait, dropping what is published meanwhile: it is in the database, and every
            // subscription catches up once the connection is back.
            let wait = tokio::time::sleep(backoff);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    event = self.outbox.recv() => if event.is_none() { return },
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Connects, subscribes, then relays until the connection breaks or the transport is
    /// dropped.
    async fn connected(&mut self, backoff: &mut Duration) -> End {
        let (mut sink, mut stream, mut publisher) = match self.connect().await {
            Ok(connection) => connection,
            Err(error) => return End::Failed(error),
        };
        let mut subscribed = HashSet::new();
        if let Err(error) = self.subscribe(&mut sink, &mut subscribed).await {
            return End::Failed(error);
        }
        if self.outage.ended() {
            tracing::info!(server = %self.server(), "Redis pub/sub is reachable again: catching up from the database");
        }
        *backoff = MIN_BACKOFF;
        // Whatever was published while the connection was down is in the database.
        self.link.catch_up_all();
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => self.received(&message),
                    None => return End::Failed(closed()),
                },
                event = self.outbox.recv() => match event {
                    Some(event) => {
                        let channel = format!("{}{}", self.prefix, event.topic());
                        let body = encode(self.origin, &event);
                        let sent = timed(publisher.publish::<_, _, ()>(channel, body)).await;
                        if let Err(error) = sent {
                            return End::Failed(error);
                        }
                    }
                    None => return End::Closed,
                },
                () = self.changed.notified() => {
                    if let Err(error) = self.subscribe(&mut sink, &mut subscribed).await {
                        return End::Failed(error);
                    }
                }
            }
        }
    }

    /// `host:port`, for the logs (the URL may hold a password).
    fn server(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    async fn connect(
        &self,
    ) -> redis::RedisResult<(PubSubSink, PubSubStream, MultiplexedConnection)> {
        let pubsub = timed(self.client.get_async_pubsub()).await?;
        let publisher = timed(self.client.get_multiplexed_async_connection()).await?;
        let (sink, stream) = pubsub.split();
        Ok((sink, stream, publisher))
    }

    /// Makes the connection's subscriptions those of the topics with local subscribers; the
    /// subscribers of a topic subscribed just now catch up, since messages sent before the
    /// subscription took effect never arrive.
    async fn subscribe(
        &self,
        sink: &mut PubSubSink,
        subscribed: &mut HashSet<Arc<str>>,
    ) -> redis::RedisResult<()> {
        let wanted: HashSet<Arc<str>> = self.link.topics().into_iter().collect();
        let new: Vec<Arc<str>> = wanted.difference(subscribed).cloned().collect();
        let gone: Vec<Arc<str>> = subscribed.difference(&wanted).cloned().collect();
        if !gone.is_empty() {
            timed(sink.unsubscribe(self.channels(&gone))).await?;
        }
        if !new.is_empty() {
            timed(sink.subscribe(self.channels(&new))).await?;
            for topic in &new {
                self.link.catch_up(topic);
            }
        }
        *subscribed = wanted;
        Ok(())
    }

    fn channels(&self, topics: &[Arc<str>]) -> Vec<String> {
        topics
            .iter()
            .map(|topic| format!("{}{topic}", self.prefix))
            .collect()
    }

    fn received(&self, message: &redis::Msg) {
        let Some(topic) = message.get_channel_name().strip_prefix(&self.prefix) else {
            return;
        };
        match decode(topic, message.get_payload_bytes()) {
            Some((origin, _)) if origin == self.origin => {}
            Some((_, event)) => self.link.deliver(&event),
            // Not ours, or garbled: the safety net reads the database anyway.
            None => self.link.catch_up(topic),
        }
    }
}

/// `fut`, failing after [`COMMAND_TIMEOUT`].
async fn timed<T>(fut: impl Future<Output = redis::RedisResult<T>>) -> redis::RedisResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(outcome) => outcome,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "no answer from Redis in time",
        ))),
    }
}

fn closed() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, "the connection was closed"))
}

fn encode(origin: u64, event: &Event) -> Vec<u8> {
    let head = format!("{origin} {} {}\n", event.seq(), event.created_at());
    let mut body = Vec::with_capacity(head.len() + event.payload().len());
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(event.payload().as_bytes());
    body
}

fn decode(topic: &str, body: &[u8]) -> Option<(u64, Event)> {
    let text = std::str::from_utf8(body).ok()?;
    let (head, payload) = text.split_once('\n')?;
    let mut fields = head.split(' ');
    let origin = fields.next()?.parse().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let created_at = fields.next()?.parse().ok()?;
    Some((origin, Event::new(topic, seq, payload, created_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let event = Event::new(
            "chat.room.17",
            42,
            "{\"text\":\"a\\nb\"}",
            1_700_000_000_000,
        );
        let (origin, back) = decode("chat.room.17", &encode(7, &event)).unwrap();
        assert_eq!((origin, back), (7, event));
        assert!(decode("t", b"garbage").is_none());
    }
}
