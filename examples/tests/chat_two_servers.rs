//! Chat across two server PROCESSES on one MySQL/MariaDB database and a Redis server of the
//! test's own (`--pubsub redis://…`, the database safety net off so that only Redis and its
//! reconnection carry messages between them):
//!
//! - what is said on either reaches every client on both (browsers' WebSockets and C/S chat
//!   clients), exactly once each and in order; presence is one list; history is complete;
//! - Redis stopped: each process carries on for its own clients; Redis started again: the other
//!   process's clients catch up, and nothing is lost or shown twice.
//!
//! ```text
//! MINI_ORM_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo test -p examples --test chat_two_servers
//! ```
//!
//! Without `MINI_ORM_MYSQL_URL`, or without `redis-server`, the tests print that they are
//! skipped, except on CI, where they fail.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::testing::RedisServer;
use serde_json::{Value, json};
use support::process::ServerProcess;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Result = mini_orm::Result<()>;

/// How long something said may take to reach a client of the other process.
const CROSSING: Duration = Duration::from_secs(10);

/// Two servers with the chat and HTTP doors, on `t`'s database and Redis `redis`.
async fn two_servers(t: &TestDb, redis: &RedisServer) -> (ServerProcess, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [
        ("NETDISK_PUBSUB", url.as_str()),
        ("NETDISK_PUBSUB_CHECK_MS", "0"),
        ("NETDISK_CHAT_BURST", "1000"),
        ("NETDISK_CHAT_PER_SECOND", "1000"),
    ];
    let doors = [("chat", "127.0.0.1:0"), ("http", "127.0.0.1:0")];
    let a = ServerProcess::start(Some(&t.url), dir.path(), &doors, &env).await;
    let b = ServerProcess::start(Some(&t.url), dir.path(), &doors, &env).await;
    (a, b)
}

/// Posts JSON `body` to `path` on the HTTP door at `http`; the answer's JSON body.
async fn post_json(http: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON answer: {answer}"))
}

/// Signs `name` up (password `pw`) and logs in: the bearer token.
async fn account(http: &str, name: &str) -> String {
    let credentials = json!({"name": name, "password": "pw"});
    post_json(http, "/api/signup", &credentials).await;
    let login = post_json(http, "/api/login", &credentials).await;
    login["token"].as_str().expect("a token").to_owned()
}

/// A browser-like client of the lobby's WebSocket, read by a task of its own (so that it
/// answers pings), its JSON messages passed on.
struct Browser {
    messages: mpsc::UnboundedReceiver<Value>,
    outgoing: mpsc::UnboundedSender<Message>,
    /// Account names in the room, as the presence messages said.
    people: BTreeSet<String>,
    /// `(seq, text)` of every message heard, in the order heard.
    heard: Vec<(i64, String)>,
}

impl Browser {
    async fn open(http: &str, token: &str) -> Browser {
        let mut request = format!("ws://{http}/chat/lobby/ws")
            .into_client_request()
            .unwrap();
        let bearer = format!("Bearer {token}").parse().unwrap();
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let (pass, messages) = mpsc::unbounded_channel();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(message) = to_send.recv() => {
                        if socket.send(message).await.is_err() { return; }
                    }
                    message = socket.next() => match message {
                        Some(Ok(Message::Text(text))) => {
                            let _ = pass.send(serde_json::from_str(&text).unwrap());
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                }
            }
        });
        Browser {
            messages,
            outgoing,
            people: BTreeSet::new(),
            heard: Vec::new(),
        }
    }

    fn say(&self, text: &str) {
        let say = json!({"type": "say", "text": text}).to_string();
        self.outgoing.send(Message::Text(say.into())).unwrap();
    }

    /// Takes in what arrived within `wait`.
    async fn read_for(&mut self, wait: Duration) {
        while let Ok(Some(message)) = tokio::time::timeout(wait, self.messages.recv()).await {
            match message["type"].as_str() {
                Some("presence") => {
                    for person in message["joined"].as_array().unwrap() {
                        self.people.insert(person["user"].as_str().unwrap().into());
                    }
                    for user in message["left"].as_array().unwrap() {
                        self.people.remove(user.as_str().unwrap());
                    }
                }
                Some("message") => {
                    let said = &message["message"];
                    let text = said["text"].as_str().unwrap().to_owned();
                    self.heard.push((said["seq"].as_i64().unwrap(), text));
                }
                Some("history") => {
                    for said in message["messages"].as_array().unwrap() {
                        let text = said["text"].as_str().unwrap().to_owned();
                        self.heard.push((said["seq"].as_i64().unwrap(), text));
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads until `done` holds, within `limit`.
    async fn read_until(&mut self, limit: Duration, done: impl Fn(&Browser) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(self) && tokio::time::Instant::now() < deadline {
            self.read_for(Duration::from_millis(50)).await;
        }
        done(self)
    }
}

/// A C/S chat client (newline style), logged in as `name`, read by a task of its own.
struct ChatClient {
    lines: mpsc::UnboundedReceiver<String>,
    heard: Vec<String>,
}

impl ChatClient {
    async fn login(chat: &str, name: &str) -> ChatClient {
        let stream = tokio::net::TcpStream::connect(chat).await.unwrap();
        let (reader, mut writer) = stream.into_split();
        writer
            .write_all(format!("0001|{name}|pw\n").as_bytes())
            .await
            .unwrap();
        let mut reader = BufReader::new(reader).lines();
        let answer = reader.next_line().await.unwrap().unwrap();
        assert_eq!(answer, format!("1001|1|{name}|{name}"));
        let (pass, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _writer = writer;
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = pass.send(line);
            }
        });
        ChatClient {
            lines,
            heard: Vec::new(),
        }
    }

    async fn read_until(&mut self, limit: Duration, count: usize) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.heard.len() < count {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => self.heard.push(line),
                _ => return false,
            }
        }
        true
    }
}

/// The texts of `heard` in the order heard, checking every seq came once, in order, from 1.
fn in_order_once(heard: &[(i64, String)]) -> Vec<String> {
    let seqs: Vec<i64> = heard.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<i64> = (1..=heard.len() as i64).collect();
    assert_eq!(seqs, expected, "each message once, in order");
    heard.iter().map(|(_, text)| text.clone()).collect()
}

fn redis_or_skip(redis: Option<RedisServer>) -> Option<RedisServer> {
    if redis.is_none() {
        println!("skipped: these tests need redis-server");
    }
    redis
}

async fn said_on_either_reaches_everyone_on_both_once_in_order(t: &TestDb) -> Result {
    let Some(redis) = redis_or_skip(RedisServer::start().await) else {
        return Ok(());
    };
    let (a, b) = two_servers(t, &redis).await;
    let (http_a, http_b) = (a.addr("http"), b.addr("http"));
    let alice = account(http_a, "alice").await;
    let bob = account(http_b, "bob").await;
    account(http_a, "carol").await;
    account(http_b, "dave").await;
    let mut alice_on_a = Browser::open(http_a, &alice).await;
    let mut bob_on_b = Browser::open(http_b, &bob).await;
    let mut carol_on_a = ChatClient::login(a.addr("chat"), "carol").await;
    let mut dave_on_b = ChatClient::login(b.addr("chat"), "dave").await;

    // Presence is one list: everyone, on both.
    let everyone: BTreeSet<String> = ["alice", "bob", "carol", "dave"].map(String::from).into();
    for browser in [&mut alice_on_a, &mut bob_on_b] {
        let listed = browser.read_until(CROSSING, |b| b.people == everyone).await;
        assert!(listed, "presence on both: {:?}", browser.people);
    }

    // Alice (on A) and Bob (on B) talk at once.
    for n in 0..20 {
        alice_on_a.say(&format!("alice {n}"));
        bob_on_b.say(&format!("bob {n}"));
    }
    for (name, browser) in [("A", &mut alice_on_a), ("B", &mut bob_on_b)] {
        let all = browser.read_until(CROSSING, |b| b.heard.len() >= 40).await;
        assert!(all, "40 messages on {name}: {:?}", browser.heard);
        browser.read_for(Duration::from_millis(300)).await;
    }
    let order = in_order_once(&alice_on_a.heard);
    assert_eq!(
        order,
        in_order_once(&bob_on_b.heard),
        "one order for everyone"
    );
    for n in 0..20 {
        let position = |text: String| order.iter().position(|t| *t == text).unwrap();
        if n > 0 {
            assert!(position(format!("alice {n}")) > position(format!("alice {}", n - 1)));
            assert!(position(format!("bob {n}")) > position(format!("bob {}", n - 1)));
        }
    }
    let as_lines: Vec<String> = order
        .iter()
        .map(|text| {
            let who = text.split(' ').next().unwrap();
            format!("1002|{who}|{text}")
        })
        .collect();
    for client in [&mut carol_on_a, &mut dave_on_b] {
        assert!(client.read_until(CROSSING, 40).await, "{:?}", client.heard);
        assert_eq!(
            client.heard, as_lines,
            "the C/S clients hear the same, in the same order"
        );
    }

    // History is complete, read through either.
    let mut late = Browser::open(http_b, &alice).await;
    assert!(late.read_until(CROSSING, |b| b.heard.len() >= 40).await);
    assert_eq!(in_order_once(&late.heard), order);
    a.stop().await;
    b.stop().await;
    Ok(())
}

async fn a_redis_outage_loses_nothing_and_shows_nothing_twice(t: &TestDb) -> Result {
    let Some(mut redis) = redis_or_skip(RedisServer::start().await) else {
        return Ok(());
    };
    let (a, b) = two_servers(t, &redis).await;
    let (http_a, http_b) = (a.addr("http"), b.addr("http"));
    let alice = account(http_a, "alice").await;
    let bob = account(http_b, "bob").await;
    let mut alice_on_a = Browser::open(http_a, &alice).await;
    let mut bob_on_b = Browser::open(http_b, &bob).await;
    alice_on_a.say("before");
    for browser in [&mut alice_on_a, &mut bob_on_b] {
        assert!(browser.read_until(CROSSING, |b| b.heard.len() == 1).await);
    }

    redis.stop();
    for n in 0..5 {
        alice_on_a.say(&format!("during {n}"));
    }
    // A carries on for its own clients; B cannot know yet.
    let own = alice_on_a
        .read_until(Duration::from_secs(3), |b| b.heard.len() == 6)
        .await;
    assert!(
        own,
        "A's clients hear A's messages while Redis is down: {:?}",
        alice_on_a.heard
    );
    bob_on_b.read_for(Duration::from_millis(500)).await;
    assert_eq!(bob_on_b.heard.len(), 1, "nothing crossed without Redis");

    assert!(redis.restart().await);
    let caught_up = bob_on_b.read_until(CROSSING, |b| b.heard.len() == 6).await;
    assert!(
        caught_up,
        "B catches up after Redis is back: {:?}\nB:\n{}",
        bob_on_b.heard,
        b.output()
    );
    bob_on_b.say("after");
    for browser in [&mut alice_on_a, &mut bob_on_b] {
        assert!(browser.read_until(CROSSING, |b| b.heard.len() >= 7).await);
        browser.read_for(Duration::from_millis(300)).await;
    }
    let texts = in_order_once(&alice_on_a.heard);
    assert_eq!(
        texts,
        in_order_once(&bob_on_b.heard),
        "the same, once each, on both"
    );
    assert_eq!(texts.first().map(String::as_str), Some("before"));
    assert_eq!(texts.last().map(String::as_str), Some("after"));
    a.stop().await;
    b.stop().await;
    Ok(())
}

backend_tests!(on [mysql]:
    said_on_either_reaches_everyone_on_both_once_in_order,
    a_redis_outage_loses_nothing_and_shows_nothing_twice,
);
