//! The C/S chat door over real sockets: a client written like the original Python one works
//! unchanged (`tests/python/chat_client.py`); newline clients get newline answers; the lobby is
//! the browser's lobby (its people too); and what a hostile or broken client sends (a chat before login or in
//! another's name, an oversized message, bytes that are not UTF-8, a message split at every byte,
//! a flood, no login at all, thousands of connections that never log in, no reading at all) is refused or dropped while the room carries on.

mod support;

use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::{LOBBY, NewAccount};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::TestServer;

type Result = mini_orm::Result<()>;

async fn account(server: &TestServer, name: &str, password: &str) {
    let account = NewAccount::user(name, password);
    server.netdisk.accounts().register(account).await.unwrap();
}

/// A raw chat connection.
struct Chatter {
    stream: TcpStream,
}

impl Chatter {
    async fn connect(server: &TestServer) -> Chatter {
        let addr = server.running.as_ref().unwrap().addr("chat").unwrap();
        Chatter {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    /// A connection whose receive buffer is small, so that not reading fills it soon.
    async fn connect_small_window(server: &TestServer) -> Chatter {
        let addr = server.running.as_ref().unwrap().addr("chat").unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        Chatter {
            stream: socket.connect(addr).await.unwrap(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// What arrives within `wait` (empty when nothing does).
    async fn heard(&mut self, wait: Duration) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + wait;
        while let Ok(Ok(n)) = tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            self.stream.read(&mut buf),
        )
        .await
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(got).unwrap()
    }

    /// Logs in with `\n`-terminated messages and checks the answer.
    async fn login(server: &TestServer, name: &str) -> Chatter {
        Chatter::login_on(Chatter::connect(server).await, name).await
    }

    async fn login_on(mut chatter: Chatter, name: &str) -> Chatter {
        chatter
            .send(format!("0001|{name}|{name}-pw\n").as_bytes())
            .await;
        let answer = chatter.heard(Duration::from_millis(500)).await;
        assert_eq!(answer, format!("1001|1|{name}|{name}\n"));
        chatter
    }
}

async fn the_original_style_python_client_works_unchanged(t: &TestDb) -> Result {
    if !support::python3_present() {
        return Ok(());
    }
    let server = TestServer::start(t).await;
    account(&server, "user1", "111111").await;
    account(&server, "user2", "111111").await;
    let accounts = server.netdisk.accounts();
    let john = accounts
        .login("user1", "111111", None)
        .await
        .unwrap()
        .caller;
    server
        .netdisk
        .chat()
        .set_nickname(&john, "itcast1")
        .await
        .unwrap();
    let port = server
        .running
        .as_ref()
        .unwrap()
        .addr("chat")
        .unwrap()
        .port()
        .to_string();
    support::run_python_client("chat_client.py", &[&port]).await;
    Ok(())
}

async fn the_lobby_is_one_room_for_every_door(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    account(&server, "alice", "alice-pw").await;
    account(&server, "bob", "bob-pw").await;
    let mut alice = Chatter::login(&server, "alice").await;
    let chat = server.netdisk.chat();
    let bob = server
        .netdisk
        .accounts()
        .login("bob", "bob-pw", None)
        .await
        .unwrap()
        .caller;
    chat.say(&bob, LOBBY, "from the browser").await.unwrap();
    assert_eq!(
        alice.heard(Duration::from_millis(500)).await,
        "1002|bob|from the browser\n"
    );
    alice.send(b"0002|alice|from the C/S client\n").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let history = chat.history(None, LOBBY, None, 10).await.unwrap();
    assert_eq!(
        (history[0].user.as_str(), history[0].text.as_str()),
        ("alice", "from the C/S client")
    );

    // A C/S client is among the lobby's people while its connection is open.
    let mut people = chat.people(None, LOBBY).await.unwrap();
    let listed = |people: &mut netdisk_core::RoomPeople| -> Vec<String> {
        people.now().people.keys().cloned().collect()
    };
    let within = Duration::from_secs(3);
    let shown = tokio::time::timeout(within, async {
        while listed(&mut people) != ["alice"] {
            people.changed().await;
        }
    });
    assert!(shown.await.is_ok(), "alice is listed");
    drop(alice);
    let gone = tokio::time::timeout(within, async {
        while !listed(&mut people).is_empty() {
            people.changed().await;
        }
    });
    assert!(gone.await.is_ok(), "alice left with her connection");
    Ok(())
}

async fn refused_messages_send_nothing_and_the_room_carries_on(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| c.chat_max_message_bytes = 64).await;
    for name in ["alice", "bob"] {
        account(&server, name, &format!("{name}-pw")).await;
    }
    let mut stranger = Chatter::connect(&server).await;
    stranger.send(b"0002|alice|before any login\n").await;
    let mut bob = Chatter::login(&server, "bob").await;
    let mut alice = Chatter::login(&server, "alice").await;
    let quiet = Duration::from_millis(300);
    for refused in [
        b"0002|bob|in bob's name\n".to_vec(),
        format!("0002|alice|{}\n", "x".repeat(100)).into_bytes(),
        b"0002|alice|\xff\xfe not utf-8\n".to_vec(),
        b"9999|alice|no such code\n".to_vec(),
        b"0002|alice\n".to_vec(),
    ] {
        alice.send(&refused).await;
        assert_eq!(
            bob.heard(quiet).await,
            "",
            "{:?} reached bob",
            String::from_utf8_lossy(&refused)
        );
    }
    assert_eq!(
        stranger.heard(quiet).await,
        "",
        "nothing goes to a connection that is not logged in"
    );
    // Split at every byte, the next message still arrives whole.
    for byte in b"0002|alice|one | piece\n" {
        alice.send(&[*byte]).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        bob.heard(Duration::from_millis(500)).await,
        "1002|alice|one | piece\n"
    );
    let wrong = {
        let mut c = Chatter::connect(&server).await;
        c.send(b"0001|alice|guess").await;
        c.heard(Duration::from_millis(500)).await
    };
    assert_eq!(
        wrong, "1001|0||",
        "a terminator-less client gets a terminator-less answer"
    );
    Ok(())
}

async fn a_flood_is_slowed_and_a_silent_connection_must_log_in(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| {
        c.chat_burst = 5;
        c.chat_per_second = 1;
        c.server.frame_timeout_secs = 1;
    })
    .await;
    for name in ["alice", "bob"] {
        account(&server, name, &format!("{name}-pw")).await;
    }
    let mut bob = Chatter::login(&server, "bob").await;
    let mut alice = Chatter::login(&server, "alice").await;
    for n in 0..30 {
        alice
            .send(format!("0002|alice|flood {n}\n").as_bytes())
            .await;
    }
    let heard = bob.heard(Duration::from_millis(800)).await;
    assert_eq!(heard.lines().count(), 5, "the burst, then slowed: {heard}");

    let mut silent = Chatter::connect(&server).await;
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.stream.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "a connection that never logs in is closed"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // Logged in, a connection may stay quiet as long as it likes.
    bob.send(b"").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    alice.send(b"0002|alice|still here\n").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = bob.heard(Duration::from_millis(1500)).await;
    assert!(later.contains("1002|alice|"), "{later}");
    Ok(())
}

/// How many connections this process may open beside what the test itself needs: the soft
/// limit on open files, halved (each connection is a file here and one in the server).
fn connections_allowed() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse::<usize>().ok())
        .unwrap_or(1024);
    soft.saturating_sub(300) / 2
}

async fn thousands_of_connections_that_never_log_in_are_closed(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| {
        c.server.frame_timeout_secs = 1;
        c.server.max_connections = 5000;
    })
    .await;
    for name in ["alice", "bob"] {
        account(&server, name, &format!("{name}-pw")).await;
    }
    let mut bob = Chatter::login(&server, "bob").await;
    let count = connections_allowed().min(2000);
    assert!(
        count >= 300,
        "too few open files allowed for this test: {count}"
    );
    let mut silent = Vec::with_capacity(count);
    for _ in 0..count {
        silent.push(Chatter::connect(&server).await);
    }
    // Meanwhile the room carries on.
    let mut alice = Chatter::login(&server, "alice").await;
    alice.send(b"0002|alice|still talking\n").await;
    assert_eq!(
        bob.heard(Duration::from_millis(500)).await,
        "1002|alice|still talking\n"
    );
    let closed = futures_util::future::join_all(silent.iter_mut().map(|c| async {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(8), c.stream.read(&mut buf)).await;
        matches!(read, Ok(Ok(0) | Err(_)))
    }))
    .await;
    let still_open = closed.iter().filter(|closed| !**closed).count();
    assert_eq!(still_open, 0, "every connection without a login is closed");
    drop(silent);
    let mut bob_again = Chatter::login(&server, "bob").await;
    alice.send(b"0002|alice|after\n").await;
    assert_eq!(
        bob_again.heard(Duration::from_millis(500)).await,
        "1002|alice|after\n",
        "the door still serves"
    );
    Ok(())
}

async fn a_client_that_stops_reading_is_dropped_without_slowing_the_room(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| {
        c.chat_burst = 100_000;
        c.chat_per_second = 100_000;
        c.server.stall_timeout_secs = 1;
    })
    .await;
    for name in ["alice", "bob", "sloth"] {
        account(&server, name, &format!("{name}-pw")).await;
    }
    let sloth = Chatter::login_on(Chatter::connect_small_window(&server).await, "sloth").await;
    let mut bob = Chatter::login(&server, "bob").await;
    let mut alice = Chatter::login(&server, "alice").await;
    let text = "y".repeat(4000);
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while got < 3000 * 4011 {
            match tokio::time::timeout(Duration::from_secs(20), bob.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got += n,
                _ => break,
            }
        }
        got
    });
    for _ in 0..3000 {
        alice.send(format!("0002|alice|{text}\n").as_bytes()).await;
    }
    let got = reader.await.unwrap();
    assert!(got >= 3000 * 4011, "bob heard everything ({got} bytes)");
    assert!(started.elapsed() < Duration::from_secs(30));
    // The sloth has still not read for longer than the stall timeout (bob may have heard
    // everything sooner than that after the sloth's buffers filled).
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The sloth's connection was closed: what the kernel buffered, then the end.
    let mut sloth = sloth;
    let mut buf = vec![0u8; 1 << 16];
    let mut sloth_got = 0;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sloth.stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => sloth_got += n,
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the sloth was dropped");
    assert!(
        sloth_got < got,
        "the sloth missed what came after ({sloth_got} bytes)"
    );
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    the_original_style_python_client_works_unchanged,
    the_lobby_is_one_room_for_every_door,
    refused_messages_send_nothing_and_the_room_carries_on,
    a_flood_is_slowed_and_a_silent_connection_must_log_in,
    a_client_that_stops_reading_is_dropped_without_slowing_the_room,
    thousands_of_connections_that_never_log_in_are_closed,
);
