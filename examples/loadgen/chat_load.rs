//! The load of mode `chat`, whatever carries it (WebSocket or the C/S chat door, the server or a
//! floor): a [`Room`] of clients, the first few of which talk, and phases ([`Load`]) of
//! messages said and heard.
//!
//! Every message said is the text `chat#<id>#<µs>`: a number loadgen gives it (0, 1, 2… over
//! the room's life; message `id` is said by talker `id % talkers`) and the moment it was said,
//! in microseconds of loadgen's monotonic clock. A listener finds that mark in whatever frame
//! or line brings the message (no JSON parsing: 1 000 listeners at 100 messages a second are
//! 100 000 deliveries a second for loadgen to read, on the cores the server uses too), and
//! tallies it: the delay since it was said, and whether it is the next one expected from its
//! talker. A talker says its messages one after the other on one connection, which the server
//! handles in order, so each listener must hear each talker's ids in increasing order, each
//! once; an id heard after a later one of the same talker, or twice, counts as out of order,
//! and one never heard as lost.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::stats::{Latencies, Summary};

/// After the last message was said, listeners go on until they heard everything, or until no
/// delivery came for this long (what is still missing then counts as lost)...
const QUIET: Duration = Duration::from_secs(3);
/// ...or at most this long.
const DRAIN: Duration = Duration::from_secs(60);

/// How often a saturating talker looks again whether the window has room.
const WINDOW_POLL: Duration = Duration::from_millis(1);

/// The prefix of every message's text.
const MARK: &[u8] = b"chat#";

/// Microseconds since loadgen's clock started (the first call).
fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The text of message `id`, said now.
fn mark(id: u64) -> String {
    format!("chat#{id}#{}", now_us())
}

/// The mark in a frame or line: the message's id and when it was said (µs).
pub fn find_mark(bytes: &[u8]) -> Option<(u64, u64)> {
    let at = bytes.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let (id, rest) = number(&bytes[at..])?;
    let (said, _) = number(rest.strip_prefix(b"#")?)?;
    Some((id, said))
}

/// The decimal number at the start of `bytes`, and what follows it.
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let end = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    let value = std::str::from_utf8(&bytes[..end]).ok()?.parse().ok()?;
    Some((value, &bytes[end..]))
}

/// What a listener heard.
pub enum Heard {
    /// A message of the load: its id and when it was said (µs).
    Mark(u64, u64),
    /// A refusal of something a talker said (the server's `error` message).
    Refused(String),
}

/// The sending side of one client.
pub trait Mouth: Send {
    /// Says `text` in the room.
    fn say(&mut self, text: String) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The receiving side of one client.
pub trait Ear: Send + 'static {
    /// The next message of the load or refusal, skipping anything else (presence, say);
    /// `None` when the connection closed. Cancel-safe.
    fn hear(&mut self) -> impl Future<Output = anyhow::Result<Option<Heard>>> + Send;
}

/// How a phase says its messages.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// One message every `every`, `count` in all (the talkers in turn).
    Steady {
        /// The interval.
        every: Duration,
        /// Messages to say.
        count: u64,
    },
    /// As fast as the talkers may for `duration`, keeping at most `window` messages' worth of
    /// deliveries outstanding (said but not heard yet, over all listeners).
    Saturate {
        /// Messages in flight at most.
        window: u64,
        /// How long.
        duration: Duration,
    },
}

/// What one phase measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages said.
    pub said: u64,
    /// How long the talking lasted.
    pub talking: Duration,
    /// Deliveries the room owed: each message to every listener but, where the server does
    /// not echo, its talker.
    pub expected: u64,
    /// Deliveries heard before the talking ended.
    pub in_time: u64,
    /// Deliveries not heard by the time deliveries stopped coming.
    pub lost: u64,
    /// Deliveries heard out of their talker's order, twice, or by their own talker when the
    /// server does not echo.
    pub disordered: u64,
    /// Refusals heard (`too_fast`, say).
    pub refused: u64,
    /// How long after the talking the last listener stopped (a backlog's length).
    pub draining: Duration,
    /// The first refusal or failure, if any.
    pub first_problem: Option<String>,
    /// Delay from said to heard, of every delivery.
    pub latency: Summary,
}

impl Outcome {
    /// Messages said per second.
    pub fn said_per_s(&self) -> f64 {
        self.said as f64 / self.talking.as_secs_f64().max(1e-9)
    }

    /// Deliveries heard per second while the talking lasted.
    pub fn delivered_per_s(&self) -> f64 {
        self.in_time as f64 / self.talking.as_secs_f64().max(1e-9)
    }

    /// Nothing lost, out of order or refused.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.disordered == 0 && self.refused == 0 && self.first_problem.is_none()
    }
}

/// Clients in one room: all listen, the first `talkers` also talk.
pub struct Room<M, E> {
    mouths: Vec<M>,
    ears: Vec<E>,
    talkers: u64,
    /// Whether a talker hears its own messages (the WebSocket does, the C/S door does not).
    echoes: bool,
    /// The id of the next message.
    next_id: u64,
}

/// What a phase tells its listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Messages are being said.
    Talking,
    /// Every message is said; ids end before this one.
    Said(u64),
    /// Stop listening.
    Stop,
}

impl<M: Mouth, E: Ear> Room<M, E> {
    /// A room of `clients` (the talkers first, at least one).
    pub fn new(clients: Vec<(M, E)>, talkers: usize, echoes: bool) -> Room<M, E> {
        let (mouths, ears) = clients.into_iter().unzip();
        Room {
            mouths,
            ears,
            talkers: talkers.max(1) as u64,
            echoes,
            next_id: 0,
        }
    }

    /// Deliveries each message owes.
    fn per_message(&self) -> u64 {
        self.ears.len() as u64 - u64::from(!self.echoes)
    }

    /// Runs one phase: the listeners start, the talkers say `load`, and the listeners stop once
    /// they heard every message, or when deliveries stop coming ([`QUIET`], [`DRAIN`]).
    pub async fn run(&mut self, load: Load) -> anyhow::Result<Outcome> {
        anyhow::ensure!(
            self.mouths.len() as u64 >= self.talkers,
            "fewer clients than talkers"
        );
        let start = self.next_id;
        let per_message = self.per_message();
        let (control, listening) = watch::channel(Control::Talking);
        let control = Arc::new(control);
        let heard = Arc::new(AtomicU64::new(0));
        let began = now_us();
        let until = began
            + match load {
                Load::Steady { every, count } => every.as_micros() as u64 * count,
                Load::Saturate { duration, .. } => duration.as_micros() as u64,
            };
        let listeners: Vec<_> = std::mem::take(&mut self.ears)
            .into_iter()
            .enumerate()
            .map(|(i, ear)| {
                let own = (!self.echoes && (i as u64) < self.talkers).then_some(i as u64);
                let tally = Tally::new(start, self.talkers, own, until);
                let (listening, heard) = (listening.clone(), heard.clone());
                tokio::spawn(listen(ear, tally, listening, heard))
            })
            .collect();
        let talked = self.talk(load, per_message, &heard).await;
        let talking = Duration::from_micros(now_us() - began);
        control.send_replace(Control::Said(self.next_id));
        let stopper = tokio::spawn(stop_when_quiet(control.clone(), heard.clone()));
        let mut outcome = Outcome {
            said: self.next_id - start,
            talking,
            ..Outcome::default()
        };
        let mut latencies = Latencies::default();
        for listener in listeners {
            let (ear, tally) = listener.await?;
            self.ears.push(ear);
            tally.add_to(&mut outcome, self.next_id, &mut latencies);
        }
        stopper.abort();
        outcome.draining = Duration::from_micros(now_us() - began).saturating_sub(talking);
        outcome.latency = latencies.summary();
        if let Err(error) = talked {
            outcome.first_problem = Some(format!("talking failed: {error:#}"));
        }
        Ok(outcome)
    }

    /// Says the phase's messages (each owing `per_message` deliveries).
    async fn talk(
        &mut self,
        load: Load,
        per_message: u64,
        heard: &AtomicU64,
    ) -> anyhow::Result<()> {
        match load {
            Load::Steady { every, count } => {
                let mut ticks = tokio::time::interval(every);
                for _ in 0..count {
                    ticks.tick().await;
                    self.say_next().await?;
                }
            }
            Load::Saturate { window, duration } => {
                let end = tokio::time::Instant::now() + duration;
                let start = self.next_id;
                while tokio::time::Instant::now() < end {
                    let owed = (self.next_id - start) * per_message;
                    if owed.saturating_sub(heard.load(Ordering::Relaxed)) >= window * per_message {
                        tokio::time::sleep(WINDOW_POLL).await;
                    } else {
                        self.say_next().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Says the next message, by its talker.
    async fn say_next(&mut self) -> anyhow::Result<()> {
        let id = self.next_id;
        self.next_id += 1;
        self.mouths[(id % self.talkers) as usize]
            .say(mark(id))
            .await
    }
}

/// Tells the listeners to stop once `heard` stays still for [`QUIET`], or after [`DRAIN`].
async fn stop_when_quiet(control: Arc<watch::Sender<Control>>, heard: Arc<AtomicU64>) {
    let give_up = tokio::time::Instant::now() + DRAIN;
    let (mut last, mut since) = (heard.load(Ordering::Relaxed), tokio::time::Instant::now());
    while tokio::time::Instant::now() < give_up && since.elapsed() < QUIET {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = heard.load(Ordering::Relaxed);
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        }
    }
    control.send_replace(Control::Stop);
}

/// Listens until told to stop, or until it has heard every message once they are all said.
async fn listen<E: Ear>(
    mut ear: E,
    mut tally: Tally,
    mut control: watch::Receiver<Control>,
    heard: Arc<AtomicU64>,
) -> (E, Tally) {
    loop {
        match *control.borrow_and_update() {
            Control::Stop => break,
            Control::Said(end) if tally.heard_all(end) => break,
            _ => {}
        }
        tokio::select! {
            next = ear.hear() => match next {
                Ok(Some(Heard::Mark(id, said))) => {
                    tally.mark(id, said, now_us());
                    heard.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(Heard::Refused(text))) => tally.problem(true, text),
                Ok(None) => {
                    tally.problem(false, "the server closed the connection".to_owned());
                    break;
                }
                Err(error) => {
                    tally.problem(false, format!("{error:#}"));
                    break;
                }
            },
            changed = control.changed() => if changed.is_err() { break },
        }
    }
    (ear, tally)
}

/// One listener's account of a phase.
struct Tally {
    /// The phase's first id.
    start: u64,
    talkers: u64,
    /// The talker whose messages this listener must not hear (its own, without echo).
    own: Option<u64>,
    /// When the talking ends (µs).
    until: u64,
    /// The next id expected from each talker.
    next: Vec<u64>,
    /// Ids heard at or after their talker's next expected one (each new).
    fresh: u64,
    in_time: u64,
    disordered: u64,
    refused: u64,
    first_problem: Option<String>,
    latencies: Latencies,
}

impl Tally {
    fn new(start: u64, talkers: u64, own: Option<u64>, until: u64) -> Tally {
        Tally {
            start,
            talkers,
            own,
            until,
            next: (0..talkers).map(|t| first_id(start, talkers, t)).collect(),
            fresh: 0,
            in_time: 0,
            disordered: 0,
            refused: 0,
            first_problem: None,
            latencies: Latencies::default(),
        }
    }

    /// Message `id`, said at `said`, heard at `now` (µs).
    fn mark(&mut self, id: u64, said: u64, now: u64) {
        let talker = id % self.talkers;
        if id < self.start || self.own == Some(talker) {
            self.disordered += 1;
            return;
        }
        let next = &mut self.next[talker as usize];
        if id >= *next {
            *next = id + self.talkers;
            self.fresh += 1;
        } else {
            self.disordered += 1;
        }
        self.in_time += u64::from(now <= self.until);
        self.latencies
            .record(Duration::from_micros(now.saturating_sub(said)));
    }

    fn problem(&mut self, refusal: bool, text: String) {
        self.refused += u64::from(refusal);
        self.first_problem.get_or_insert(text);
    }

    /// Deliveries owed to this listener for ids before `end`.
    fn expected(&self, end: u64) -> u64 {
        let all = end - self.start;
        match self.own {
            // Ids of talker `t` in start..end.
            Some(t) => all - self.count_of(t, end),
            None => all,
        }
    }

    /// How many ids of talker `t` lie in `start..end`.
    fn count_of(&self, t: u64, end: u64) -> u64 {
        let first = first_id(self.start, self.talkers, t);
        if first >= end {
            0
        } else {
            (end - first).div_ceil(self.talkers)
        }
    }

    fn heard_all(&self, end: u64) -> bool {
        self.fresh >= self.expected(end)
    }

    /// Adds this listener's figures to the phase's (`end`: the id after the last said).
    fn add_to(self, outcome: &mut Outcome, end: u64, latencies: &mut Latencies) {
        let expected = self.expected(end);
        outcome.expected += expected;
        outcome.in_time += self.in_time;
        outcome.lost += expected.saturating_sub(self.fresh);
        outcome.disordered += self.disordered;
        outcome.refused += self.refused;
        if outcome.first_problem.is_none() {
            outcome.first_problem = self.first_problem;
        }
        latencies.merge(self.latencies);
    }
}

/// The first id from `start` on that talker `t` of `talkers` says.
fn first_id(start: u64, talkers: u64, t: u64) -> u64 {
    start + (t + talkers - start % talkers) % talkers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_found_in_frames_and_lines() {
        let text = mark(42);
        let frame =
            format!(r#"{{"message":{{"seq":7,"text":"{text}","user":"u"}},"type":"message"}}"#);
        assert_eq!(find_mark(frame.as_bytes()).map(|m| m.0), Some(42));
        let line = format!("1002|lgab-cs0|{text}");
        assert_eq!(find_mark(line.as_bytes()).map(|m| m.0), Some(42));
        assert_eq!(find_mark(b"1002|nick|hello"), None);
        assert_eq!(find_mark(b"chat#12"), None);
    }

    #[test]
    fn a_tally_counts_lost_and_disordered_per_talker() {
        // Ids 10..20 from 3 talkers (id % 3); this listener is talker 1, which hears no echo of
        // its own 10, 13, 16 and 19.
        let mut tally = Tally::new(10, 3, Some(1), u64::MAX);
        assert_eq!(tally.expected(20), 6);
        // 14 never comes; 17 comes twice; 16 is its own.
        for id in [11, 12, 15, 18, 17, 17, 16] {
            tally.mark(id, 0, 5);
        }
        assert_eq!((tally.fresh, tally.disordered), (5, 2));
        assert!(!tally.heard_all(20));
        let mut outcome = Outcome::default();
        tally.add_to(&mut outcome, 20, &mut Latencies::default());
        assert_eq!((outcome.expected, outcome.lost, outcome.in_time), (6, 1, 6));
    }
}
