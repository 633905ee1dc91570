//! The terminal chat client's connection layer against the real `server` binary (its HTTP door
//! alone, on a free loopback port and a temporary data directory): history, a message said
//! coming back once, a reconnection after the server was killed and started again on the same
//! port and data (logging in again, since the session was ended meanwhile), people coming and
//! going, a gap left by a long disconnection filled with `earlier` pages, and the program's
//! one-line errors.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::chat::{Backoff, Credentials, Event, Link, Session};
use reqwest::Url;
use serde_json::json;
use support::process::ServerProcess;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How long anything awaited may take (a server starting on a busy machine included).
const LIMIT: Duration = Duration::from_secs(30);

/// Quick retries: the tests wait for reconnections.
const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_millis(500),
};

/// The `server` binary with its HTTP door only.
struct Server {
    process: ServerProcess,
    http: SocketAddr,
}

impl Server {
    /// Starts it on `data` with the HTTP door at `http` (`127.0.0.1:0` for a free port), chat
    /// rate limits raised for bursts of messages; waits until it listens.
    async fn start(data: &Path, http: &str) -> Server {
        let env = [
            ("RUST_LOG", "warn"),
            ("NETDISK_CHAT_BURST", "1000"),
            ("NETDISK_CHAT_PER_SECOND", "1000"),
        ];
        let process = ServerProcess::start(None, data, &[("http", http)], &env).await;
        let http = process.addr("http").parse().unwrap();
        Server { process, http }
    }

    fn url(&self) -> Url {
        url(self.http)
    }

    async fn kill(self) {
        self.process.stop().await;
    }
}

fn url(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}")).unwrap()
}

async fn sign_up(server: &Url, name: &str) {
    let answer = reqwest::Client::new()
        .post(server.join("api/signup").unwrap())
        .json(&json!({"name": name, "password": "pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201, "signing up {name}");
}

async fn log_in(server: &Url, name: &str) -> Arc<Session> {
    let credentials = Credentials {
        name: name.into(),
        password: "pw".into(),
    };
    Arc::new(Session::login(server, credentials).await.unwrap())
}

/// A link to the lobby, and every event it gave so far.
struct Watch {
    link: Link,
    seen: Vec<Event>,
}

impl Watch {
    /// Opens the lobby and waits for its history.
    async fn lobby(session: Arc<Session>) -> Watch {
        let mut watch = Watch {
            link: Link::open(session, "lobby", BACKOFF),
            seen: Vec::new(),
        };
        watch.until("the history", is_history).await;
        watch
    }

    /// The next event that `wanted`, keeping every one before it.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.link.next()).await;
            let Ok(next) = next else {
                panic!("no {what} within {LIMIT:?}; seen: {:#?}", self.seen);
            };
            let event = next.expect("the link's task runs");
            self.seen.push(event.clone());
            if wanted(&event) {
                return event;
            }
        }
    }

    /// Waits for the message `text` said in the room.
    async fn heard(&mut self, text: &str) {
        let what = format!("message {text:?}");
        self.until(&what, |e| matches!(e, Event::Message(m) if m.text == text))
            .await;
    }

    /// The texts received live, in order, with their `seq`.
    fn live(&self) -> Vec<(i64, &str)> {
        self.seen
            .iter()
            .filter_map(|event| match event {
                Event::Message(m) => Some((m.seq, m.text.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Every message received (history, live, earlier pages) by `seq`; panics when two copies
    /// of one `seq` differ.
    fn merged(&self) -> BTreeMap<i64, String> {
        let mut merged = BTreeMap::new();
        for event in &self.seen {
            let messages = match event {
                Event::History(messages) | Event::Earlier(messages) => messages.as_slice(),
                Event::Message(message) => std::slice::from_ref(message),
                _ => continue,
            };
            for m in messages {
                let kept = merged.entry(m.seq).or_insert_with(|| m.text.clone());
                assert_eq!(*kept, m.text, "two different messages with seq {}", m.seq);
            }
        }
        merged
    }
}

fn is_history(event: &Event) -> bool {
    matches!(event, Event::History(_))
}

fn is_lost(event: &Event) -> bool {
    matches!(event, Event::Lost { .. })
}

fn is_connected(event: &Event) -> bool {
    matches!(event, Event::Connected { .. })
}

fn connected(again: bool) -> Event {
    Event::Connected {
        room: "lobby".into(),
        user: Some("alice".into()),
        can_talk: true,
        again,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_to_a_restarted_server_logging_in_again_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0").await;
    let address = server.http.to_string();
    sign_up(&server.url(), "alice").await;
    sign_up(&server.url(), "bob").await;
    let session = log_in(&server.url(), "alice").await;
    let mut alice = Watch::lobby(session.clone()).await;
    assert_eq!(alice.seen, [connected(false), Event::History(vec![])]);
    alice.link.say("before the restart");
    alice.heard("before the restart").await;

    // The server forgets the session and goes away; another takes its port and data.
    session.logout().await.unwrap();
    let ended = session.token();
    server.kill().await;
    alice.until("the drop", is_lost).await;
    let server = Server::start(data.path(), &address).await;
    let back = alice.until("the reconnection", is_connected).await;
    assert_eq!(back, connected(true), "logged in again, not a guest");
    assert_ne!(session.token(), ended, "a new session");
    let Event::History(history) = alice.until("the new history", is_history).await else {
        unreachable!()
    };
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before the restart"]);

    let mut bob = Watch::lobby(log_in(&server.url(), "bob").await).await;
    alice
        .until("bob's arrival", |e| presence_has(e, "bob", true))
        .await;
    bob.link.say("after the restart");
    alice.heard("after the restart").await;
    alice.link.say("me too");
    alice.heard("me too").await;
    bob.heard("me too").await;

    let live = [
        (1, "before the restart"),
        (2, "after the restart"),
        (3, "me too"),
    ];
    assert_eq!(alice.live(), live, "each message came live once");
    let merged = alice.merged();
    assert_eq!(merged.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    let guests = alice
        .seen
        .iter()
        .filter(|e| matches!(e, Event::Connected { user, .. } if user.as_deref() != Some("alice")));
    assert_eq!(guests.count(), 0, "never taken for a guest");
    bob.link.close().await;
    alice
        .until("bob leaving", |e| presence_has(e, "bob", false))
        .await;
    alice.link.close().await;
}

/// Whether `event` is presence news of `user` coming in (`joined`) or leaving.
fn presence_has(event: &Event, user: &str, joined: bool) -> bool {
    match event {
        Event::Presence { joined: came, .. } if joined => came.iter().any(|p| p.user == user),
        Event::Presence { left, .. } if !joined => left.iter().any(|u| u == user),
        _ => false,
    }
}

/// A TCP relay to the server that can be cut, and kept shut, to keep a client away.
struct Gate {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl Gate {
    async fn start(upstream: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let relays = Arc::new(Mutex::new(Vec::<AbortHandle>::new()));
        let (is_open, relaying) = (open.clone(), relays.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                relaying.lock().unwrap().push(relay.abort_handle());
            }
        });
        Gate {
            addr,
            open,
            relays,
            accepting: accepting.abort_handle(),
        }
    }

    /// Cuts every connection through the gate and refuses new ones.
    fn shut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for relay in self.relays.lock().unwrap().drain(..) {
            relay.abort();
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.accepting.abort();
        self.shut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_left_by_a_long_disconnection_is_filled_with_earlier_pages() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0").await;
    sign_up(&server.url(), "alice").await;
    sign_up(&server.url(), "bob").await;
    let gate = Gate::start(server.http).await;
    let mut alice = Watch::lobby(log_in(&url(gate.addr), "alice").await).await;
    let mut bob = Watch::lobby(log_in(&server.url(), "bob").await).await;
    for n in 1..=3 {
        bob.link.say(&format!("m{n}"));
    }
    alice.heard("m3").await;

    gate.shut();
    alice.until("the drop", is_lost).await;
    // More than two pages said while alice is away (the history on entering holds 50).
    for n in 4..=123 {
        bob.link.say(&format!("m{n}"));
    }
    bob.heard("m123").await;
    let before_reconnection = alice.seen.len();
    gate.reopen();
    assert_eq!(
        alice.until("the reconnection", is_connected).await,
        connected(true)
    );
    let filled =
        |e: &Event| matches!(e, Event::Earlier(m) if m.first().is_some_and(|m| m.seq <= 4));
    alice.until("the gap filled", filled).await;
    bob.link.say("m124");
    alice.heard("m124").await;

    let merged = alice.merged();
    let expected: BTreeMap<i64, String> = (1..=124).map(|n| (n, format!("m{n}"))).collect();
    assert_eq!(merged, expected, "everything, each once");
    let pages: Vec<(i64, i64)> = alice.seen[before_reconnection..]
        .iter()
        .filter_map(|event| match event {
            Event::Earlier(m) => Some((m.first()?.seq, m.last()?.seq)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pages,
        [(24, 73), (1, 23)],
        "pages down to the last seen, no further"
    );
    let live: Vec<i64> = alice.live().iter().map(|(seq, _)| *seq).collect();
    assert_eq!(live, [1, 2, 3, 124]);
    alice.link.close().await;
    bob.link.close().await;
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_and_an_unknown_room_are_one_line_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), "127.0.0.1:0").await;
    sign_up(&server.url(), "alice").await;
    let address = server.url().to_string();
    let wrong = support::run(
        "chat",
        &[
            "--server",
            &address,
            "--user",
            "alice",
            "--password",
            "nope",
        ],
        "",
        &[],
    )
    .await;
    assert!(!wrong.success);
    assert_eq!(
        wrong.stderr,
        "error: login refused: wrong name, password or account type\n"
    );
    let unknown = support::run(
        "chat",
        &["--server", &address, "--user", "alice", "--room", "nowhere"],
        "",
        &[("NETDISK_PASSWORD", "pw")],
    )
    .await;
    assert!(!unknown.success);
    assert_eq!(
        unknown.stderr,
        "error: no room \"nowhere\" that you may enter (yours: lobby)\n"
    );
    server.kill().await;
}
