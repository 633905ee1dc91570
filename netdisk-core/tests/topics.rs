//! Topics (`netdisk_core::topics`): in-process delivery, gap filling, lag, resuming, and the
//! Redis transport across an outage, on every backend.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Db, backend_tests};
use netdisk_core::testing::RedisServer;
use netdisk_core::topics::{
    Event, Link, Options, Pubsub, Subscription, Topics, TopicsError, Transport,
};
use serde_json::json;
use tokio::time::timeout;

type Result = mini_orm::Result<()>;

const ROOM: &str = "chat.room.17";
/// How long an event that should arrive may take.
const SOON: Duration = Duration::from_secs(10);
/// How long to wait for events that must not come.
const QUIET: Duration = Duration::from_millis(300);

fn options(check_every: Duration) -> Options {
    Options {
        check_every,
        ..Options::default()
    }
}

/// A pool on the test's database, as a second server process would open it (the in-memory
/// database cannot be opened twice: it is shared instead).
async fn second_pool(t: &TestDb) -> Db {
    match t.backend {
        TestBackend::SqliteMemory => t.db.clone(),
        _ => Db::connect(&t.url).await.unwrap(),
    }
}

async fn publish(topics: &Topics, topic: &str, n: i64) -> Event {
    topics.publish(topic, &json!({ "n": n })).await.unwrap()
}

/// The next `count` events, failing if one takes longer than [`SOON`].
async fn receive(sub: &mut Subscription, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..count {
        let event = timeout(SOON, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no event after {} on {}", sub.last_seq(), sub.topic()))
            .unwrap();
        events.push(event);
    }
    events
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(Event::seq).collect()
}

fn numbers(events: &[Event]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e.payload_as::<serde_json::Value>().unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// Publishes `{"n": n}` for each `n` of `ns` on `topics`, in turn.
async fn publish_each(topics: &Topics, ns: std::ops::RangeInclusive<i64>) {
    for n in ns {
        publish(topics, ROOM, n).await;
    }
}

/// Checks that `sub` yields the events numbered `expected`, in order, and nothing more.
async fn expect_exactly(sub: &mut Subscription, expected: std::ops::RangeInclusive<i64>) {
    let events = receive(sub, expected.clone().count()).await;
    assert_eq!(numbers(&events), expected.collect::<Vec<_>>());
    nothing_more(sub).await;
}

/// Fails if `sub` yields anything within [`QUIET`].
async fn nothing_more(sub: &mut Subscription) {
    if let Ok(extra) = timeout(QUIET, sub.next()).await {
        panic!("unexpected {extra:?} after {}", sub.last_seq());
    }
}

async fn publish_then_receive_in_order(t: &TestDb) -> Result {
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    let mut sub = topics.subscribe(ROOM).await.unwrap();
    let mut other = topics.subscribe("chat.room.18").await.unwrap();
    for n in 1..=5 {
        let event = publish(&topics, ROOM, n).await;
        assert_eq!((event.topic(), event.seq()), (ROOM, n));
    }
    let events = receive(&mut sub, 5).await;
    assert_eq!(seqs(&events), [1, 2, 3, 4, 5]);
    assert_eq!(numbers(&events), [1, 2, 3, 4, 5]);
    assert_eq!(events[0].payload(), r#"{"n":1}"#);
    nothing_more(&mut sub).await;
    nothing_more(&mut other).await;
    // A new subscription starts after what is there.
    let mut late = topics.subscribe(ROOM).await.unwrap();
    assert_eq!(late.last_seq(), 5);
    publish(&topics, ROOM, 6).await;
    assert_eq!(seqs(&receive(&mut late, 1).await), [6]);
    assert_eq!(topics.last_seq(ROOM).await.unwrap(), 6);
    Ok(())
}

async fn invalid_topics_are_refused(t: &TestDb) -> Result {
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    for topic in ["", "has space", "slash/no", "glob*", &"x".repeat(129)] {
        let error = topics.publish(topic, &1).await.unwrap_err();
        assert!(
            matches!(error, TopicsError::InvalidTopic(_)),
            "{topic:?}: {error}"
        );
        assert!(topics.subscribe_after(topic, 0).is_err());
    }
    topics.publish(&"x".repeat(128), &1).await.unwrap();
    topics.publish("user.42.notifications", &1).await.unwrap();
    Ok(())
}

async fn concurrent_publishers_are_received_once_in_order(t: &TestDb) -> Result {
    const EACH: i64 = 40;
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    // The second publisher runs on a pool of its own, as another server process would.
    let other = Topics::open(second_pool(t).await, Pubsub::InProcess)
        .await
        .unwrap();
    let mut subs = [
        topics.subscribe(ROOM).await.unwrap(),
        topics.subscribe(ROOM).await.unwrap(),
    ];
    let publishers = [(topics.clone(), 0), (other.clone(), 1000)].map(|(topics, base)| {
        tokio::spawn(async move {
            for n in 1..=EACH {
                publish(&topics, ROOM, base + n).await;
            }
        })
    });
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for sub in &mut subs {
        let events = receive(sub, 2 * EACH as usize).await;
        assert_eq!(seqs(&events), (1..=2 * EACH).collect::<Vec<_>>());
        let numbers = numbers(&events);
        // Each publisher's events in its own order, every one of them.
        let first: Vec<i64> = numbers.iter().copied().filter(|&n| n < 1000).collect();
        let second: Vec<i64> = numbers.iter().copied().filter(|&n| n > 1000).collect();
        assert_eq!(first, (1..=EACH).collect::<Vec<_>>());
        assert_eq!(second, (1001..=1000 + EACH).collect::<Vec<_>>());
        nothing_more(sub).await;
    }
    Ok(())
}

/// Publishers of one process publishing at once are stored in groups (group commit): every
/// event once, each publisher's in its order, on two topics at once; a publish dropped while
/// it waits is stored and delivered all the same; and what came is taken without waiting.
async fn publishers_of_one_process_are_grouped_in_order(t: &TestDb) -> Result {
    const PUBLISHERS: i64 = 8;
    const EACH: i64 = 25;
    const OTHER: &str = "chat.room.18";
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    let mut subs = [
        topics.subscribe(ROOM).await.unwrap(),
        topics.subscribe(OTHER).await.unwrap(),
    ];
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let topics = topics.clone();
            let topic = if p % 2 == 0 { ROOM } else { OTHER };
            tokio::spawn(async move {
                for n in 1..=EACH {
                    publish(&topics, topic, p * 1000 + n).await;
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let per_topic = PUBLISHERS / 2 * EACH;
    for (first, sub) in [0, 1].into_iter().zip(&mut subs) {
        let events = receive(sub, per_topic as usize).await;
        assert_eq!(seqs(&events), (1..=per_topic).collect::<Vec<_>>());
        let numbers = numbers(&events);
        for p in (first..PUBLISHERS).step_by(2) {
            let theirs: Vec<i64> = numbers.iter().copied().filter(|n| n / 1000 == p).collect();
            assert_eq!(theirs, (p * 1000 + 1..=p * 1000 + EACH).collect::<Vec<_>>());
        }
        nothing_more(sub).await;
    }
    // Polled once, then dropped (unless the storing task, on another thread, was quicker).
    let _ = timeout(Duration::ZERO, publish(&topics, ROOM, 1)).await;
    publish(&topics, ROOM, 2).await;
    publish(&topics, ROOM, 3).await;
    let [room, _] = &mut subs;
    assert_eq!(numbers(&receive(room, 1).await), [1]);
    let here: Vec<Event> = std::iter::from_fn(|| room.try_next()).collect();
    assert_eq!(numbers(&here), [2, 3]);
    assert_eq!(room.last_seq(), per_topic + 3);
    nothing_more(room).await;
    Ok(())
}

async fn subscribe_after_replays_from_the_database(t: &TestDb) -> Result {
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    publish_each(&topics, 1..=10).await;
    // A process restarted: a new `Topics` resumes where its subscriber left off.
    drop(topics);
    let topics = Topics::open(t.db.clone(), Pubsub::InProcess).await.unwrap();
    let mut sub = topics.subscribe_after(ROOM, 3).unwrap();
    assert_eq!(
        seqs(&receive(&mut sub, 7).await),
        (4..=10).collect::<Vec<_>>()
    );
    publish(&topics, ROOM, 11).await;
    assert_eq!(seqs(&receive(&mut sub, 1).await), [11]);
    nothing_more(&mut sub).await;
    let mut all = topics.subscribe_after(ROOM, 0).unwrap();
    assert_eq!(
        numbers(&receive(&mut all, 11).await),
        (1..=11).collect::<Vec<_>>()
    );
    Ok(())
}

async fn a_lagging_subscriber_still_gets_everything(t: &TestDb) -> Result {
    let options = Options {
        capacity: 2,
        page_size: 3,
        ..options(Duration::ZERO)
    };
    let transport = Lossy::new(|_| true);
    let topics = Topics::open_with(t.db.clone(), Pubsub::Custom(transport.clone()), options)
        .await
        .unwrap();
    let mut slow = topics.subscribe(ROOM).await.unwrap();
    publish_each(&topics, 1..=30).await;
    // The transport repeats the first event twice: the channel's two places then hold only
    // those, so nothing but the `Lagged` notice tells the subscriber that 2 to 30 were lost.
    let first = topics
        .subscribe_after(ROOM, 0)
        .unwrap()
        .next()
        .await
        .unwrap();
    for _ in 0..2 {
        transport.own.get().unwrap().deliver(&first);
    }
    expect_exactly(&mut slow, 1..=30).await;
    Ok(())
}

/// A transport between two `Topics` in one process that loses the events `lose` picks.
struct Lossy {
    own: OnceLock<Link>,
    peer: OnceLock<Link>,
    lose: fn(&Event) -> bool,
    lost: Mutex<Vec<i64>>,
}

impl Lossy {
    fn new(lose: fn(&Event) -> bool) -> Arc<Lossy> {
        Arc::new(Lossy {
            own: OnceLock::new(),
            peer: OnceLock::new(),
            lose,
            lost: Mutex::new(Vec::new()),
        })
    }
}

impl Transport for Lossy {
    fn start(&self, link: Link) {
        self.own.set(link).unwrap();
    }
    fn announce(&self, event: &Event) {
        if (self.lose)(event) {
            self.lost.lock().unwrap().push(event.seq());
        } else if let Some(peer) = self.peer.get() {
            peer.deliver(event);
        }
    }
}

/// Two `Topics` on one database joined by [`Lossy`] transports; events go both ways.
async fn lossy_pair(t: &TestDb, lose: fn(&Event) -> bool, check: Duration) -> [Topics; 2] {
    let (a, b) = (Lossy::new(lose), Lossy::new(lose));
    let open = |db: Db, transport: Arc<Lossy>| {
        Topics::open_with(db, Pubsub::Custom(transport), options(check))
    };
    let pair = [
        open(t.db.clone(), a.clone()).await.unwrap(),
        open(second_pool(t).await, b.clone()).await.unwrap(),
    ];
    a.peer.set(b.own.get().unwrap().clone()).unwrap();
    b.peer.set(a.own.get().unwrap().clone()).unwrap();
    pair
}

async fn a_gap_is_filled_from_the_database(t: &TestDb) -> Result {
    // Every odd event's message is lost; no safety net, so only gap filling can recover them.
    let [a, b] = lossy_pair(t, |e| e.seq() % 2 == 1, Duration::ZERO).await;
    let mut far = b.subscribe(ROOM).await.unwrap();
    publish_each(&a, 1..=10).await;
    expect_exactly(&mut far, 1..=10).await;
    Ok(())
}

async fn the_safety_net_finds_lost_messages(t: &TestDb) -> Result {
    // Every message is lost: only the periodic check delivers.
    let [a, b] = lossy_pair(t, |_| true, Duration::from_millis(200)).await;
    let mut far = b.subscribe(ROOM).await.unwrap();
    let mut near = a.subscribe(ROOM).await.unwrap();
    for n in 1..=3 {
        publish(&a, ROOM, n).await;
    }
    // Local delivery does not wait for the safety net.
    assert_eq!(
        seqs(&timeout(QUIET, receive(&mut near, 3)).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(seqs(&receive(&mut far, 3).await), [1, 2, 3]);
    nothing_more(&mut far).await;
    Ok(())
}

async fn a_lossless_transport_delivers_without_the_database(t: &TestDb) -> Result {
    // Nothing lost and no safety net: events cross by the transport alone, each once.
    let [a, b] = lossy_pair(t, |_| false, Duration::ZERO).await;
    let mut subs = [
        b.subscribe(ROOM).await.unwrap(),
        a.subscribe(ROOM).await.unwrap(),
    ];
    publish(&a, ROOM, 1).await;
    publish(&b, ROOM, 2).await;
    for sub in &mut subs {
        assert_eq!(numbers(&receive(sub, 2).await), [1, 2]);
        nothing_more(sub).await;
    }
    Ok(())
}

backend_tests!(
    publish_then_receive_in_order,
    invalid_topics_are_refused,
    concurrent_publishers_are_received_once_in_order,
    publishers_of_one_process_are_grouped_in_order,
    subscribe_after_replays_from_the_database,
    a_lagging_subscriber_still_gets_everything,
    a_gap_is_filled_from_the_database,
    the_safety_net_finds_lost_messages,
    a_lossless_transport_delivers_without_the_database,
);

/// What `netdisk_core::topics` logs, as `LEVEL field=value ...` lines, for the whole test binary.
fn topics_log() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<&'static Mutex<Vec<String>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static Mutex<Vec<String>> = Box::leak(Box::default());
        tracing::subscriber::set_global_default(LogTopics(log)).expect("the only subscriber");
        log
    })
}

struct LogTopics(&'static Mutex<Vec<String>>);

impl tracing::Subscriber for LogTopics {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("netdisk_core::topics")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 += &format!(" {}={value:?}", field.name());
            }
        }
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// How many lines of [`topics_log`] start with `level` and mention `server`.
fn logged(level: &str, server: &str) -> usize {
    let needle = format!("server={server}");
    let log = topics_log().lock().unwrap();
    log.iter()
        .filter(|line| line.starts_with(level) && line.contains(&needle))
        .count()
}

async fn redis_carries_events_between_processes_and_heals_an_outage(t: &TestDb) -> Result {
    topics_log();
    let Some(mut redis) = RedisServer::start().await else {
        return Ok(());
    };
    let server = format!("127.0.0.1:{}", redis.port());
    timeout(Duration::from_secs(60), async {
        // A long safety-net interval: whatever crosses does so by Redis or by the reconnect.
        let open = |db: Db| {
            Topics::open_with(
                db,
                Pubsub::Redis(redis.url()),
                options(Duration::from_secs(600)),
            )
        };
        let a = open(t.db.clone()).await.unwrap();
        let b = open(second_pool(t).await).await.unwrap();
        let mut on_a = a.subscribe(ROOM).await.unwrap();
        let mut on_b = b.subscribe(ROOM).await.unwrap();

        publish(&a, ROOM, 1).await;
        publish(&b, ROOM, 2).await;
        for sub in [&mut on_a, &mut on_b] {
            assert_eq!(numbers(&receive(sub, 2).await), [1, 2]);
            nothing_more(sub).await;
        }

        redis.stop();
        // Each side's own subscribers still get its events at once.
        publish(&a, ROOM, 3).await;
        let got = timeout(QUIET, receive(&mut on_a, 1))
            .await
            .expect("at once");
        assert_eq!(numbers(&got), [3]);
        publish(&b, ROOM, 4).await;
        // B learns of 3 from the database when its own 4 shows the gap.
        let got = timeout(QUIET, receive(&mut on_b, 2))
            .await
            .expect("at once");
        assert_eq!(numbers(&got), [3, 4]);
        // Nothing crosses while Redis is down (A has no newer event of its own to show the gap).
        nothing_more(&mut on_a).await;
        // Long enough for several reconnection attempts.
        tokio::time::sleep(Duration::from_millis(1500)).await;

        assert!(redis.restart().await);
        // A catches up on 4 once reconnected.
        assert_eq!(numbers(&receive(&mut on_a, 1).await), [4]);
        // And Redis carries events again.
        publish(&b, ROOM, 5).await;
        for sub in [&mut on_a, &mut on_b] {
            assert_eq!(numbers(&receive(sub, 1).await), [5]);
            nothing_more(sub).await;
        }
        // One warning per process for the outage, not one per attempt; one note when it ended.
        assert_eq!(logged("WARN", &server), 2);
        assert_eq!(logged("INFO", &server), 2);
        let mut seen = HashSet::new();
        assert!(
            seqs(&receive(&mut a.subscribe_after(ROOM, 0).unwrap(), 5).await)
                .into_iter()
                .all(|seq| seen.insert(seq))
        );
    })
    .await
    .expect("the Redis test took more than 60 s");
    Ok(())
}

backend_tests!(redis_carries_events_between_processes_and_heals_an_outage);

/// What one delivery's subscribers render from an event is rendered once and shared by them.
#[test]
fn an_event_is_rendered_once_for_all_its_clones() {
    let event = Event::new(ROOM, 1, r#"{"text":"hi"}"#, 0);
    let delivered = [event.clone(), event.clone(), event];
    let renders = std::cell::Cell::new(0);
    let render = |event: &Event| -> std::result::Result<Bytes, ()> {
        renders.set(renders.get() + 1);
        Ok(Bytes::from(format!("frame of {}", event.payload())))
    };
    for clone in &delivered {
        let frame = clone.rendered("ws", render).unwrap();
        assert_eq!(&frame[..], br#"frame of {"text":"hi"}"#);
    }
    assert_eq!(renders.get(), 1, "rendered once for every clone");
    let other = delivered[0].rendered("line", render).unwrap();
    assert_eq!(&other[..], br#"frame of {"text":"hi"}"#);
    assert_eq!(renders.get(), 2, "a second form is rendered once too");
    delivered[1].rendered("line", render).unwrap();
    assert_eq!(renders.get(), 2, "and kept");
    delivered[1].rendered("third", render).unwrap();
    delivered[2].rendered("third", render).unwrap();
    assert_eq!(renders.get(), 4, "a third form is rendered on the spot");
}
