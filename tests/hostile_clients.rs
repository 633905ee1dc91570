//! Hostile clients against a real server, on both doors: one that sends a frame header (or an
//! upload's first bytes) and stops, one that sends nothing, one that trickles a request one byte
//! per second, one that announces a 100 GB upload (with or without streaming bytes after it), and
//! a flood of thousands of connections at once over a lower connection limit while an ordinary
//! client goes on working.
//!
//! The server's limits are set low (`frame_timeout_secs`, `idle_timeout_secs`,
//! `stall_timeout_secs` of 1-2 s, see `netdisk_core::config::ServerConfig`) so each cut-off
//! takes seconds. Durations are printed, never asserted: what is asserted is that the server
//! closes each connection (silently where `docs/protocol-notes.md` says a connection cut off by a
//! limit is simply closed), that it never waits for a whole trickled frame, that nothing of a
//! refused or abandoned upload is stored, and that the ordinary client's requests all succeed.
//!
//! The network behaviour does not depend on the database, so these run on in-memory SQLite only.
//! `cargo test -p tests --test hostile_clients`. The flood is 2000 connections by default;
//! `NETDISK_HOSTILE_CONNECTIONS=5000` floods more (mind `ulimit -n`: each connection costs two
//! descriptors in this process, a client's and, while it is served, the server's).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::Config;
use netdisk_core::models::{Movie, Session, UserFile};
use serde_json::{Value, json};
use support::{Client, TestServer, md5_hex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Result = mini_orm::Result<()>;

/// How many connections the flood opens.
const CONNECTIONS_VAR: &str = "NETDISK_HOSTILE_CONNECTIONS";

/// Low time limits, so that every cut-off takes a second or two.
fn quick_limits(c: &mut Config) {
    c.server.frame_timeout_secs = 1;
    c.server.idle_timeout_secs = 1;
    c.server.stall_timeout_secs = 1;
}

/// A valid request's frame: the framed body a client would send.
fn framed(request: &Value) -> Vec<u8> {
    let body = request.to_string().into_bytes();
    let mut frame = (body.len() as i32).to_le_bytes().to_vec();
    frame.extend(body);
    frame
}

/// Reads until the server closes the connection; returns how many bytes it sent first (`None`
/// if it has not closed within `wait`).
async fn bytes_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<usize> {
    let mut received = 0;
    let mut buffer = [0; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(received),
            Ok(Ok(n)) => received += n,
        }
    }
}

/// Rows and files that an upload would leave.
async fn upload_traces(t: &TestDb, server: &TestServer) -> mini_orm::Result<(u64, u64, usize)> {
    Ok((
        Movie::query().count(&t.db).await?,
        UserFile::query().count(&t.db).await?,
        server.stored_files(),
    ))
}

async fn a_client_that_stops_after_a_header_is_dropped(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| {
        quick_limits(c);
        // Only the frame deadline may cut these off, not the idle timeout.
        c.server.idle_timeout_secs = 60;
    })
    .await;
    let mut admin = server.youku().await;
    let session = admin.login_as("root", "admin").await;
    let started = Instant::now();
    let mut header_only = Vec::new();
    for door in [server.youku().await, server.netdisk_client().await] {
        let mut client = door;
        client.send_raw(&100i32.to_le_bytes()).await;
        header_only.push(client);
    }
    for client in &mut header_only {
        let sent_back = bytes_until_closed(&mut client.stream, Duration::from_secs(20)).await;
        assert_eq!(
            sent_back,
            Some(0),
            "closed at the frame deadline, without an answer"
        );
    }
    eprintln!("header-only clients dropped after {:?}", started.elapsed());

    // An upload whose bytes stop coming: dropped at the stall timeout, and nothing is stored.
    let content = vec![3u8; 10_000];
    admin
        .send(
            &json!({"type": "upload_movie", "session": session, "file_name": "half.mp4",
                      "file_size": content.len(), "file_md5": md5_hex(&content), "is_free": 1}),
        )
        .await;
    admin.send_raw(&content[..1000]).await;
    let started = Instant::now();
    let closed = bytes_until_closed(&mut admin.stream, Duration::from_secs(20)).await;
    assert!(closed.is_some(), "a stalled upload's connection is closed");
    eprintln!("stalled upload dropped after {:?}", started.elapsed());
    assert_eq!(upload_traces(t, &server).await?, (0, 0, 0));
    Ok(())
}

async fn a_silent_client_is_dropped_at_the_idle_timeout(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, quick_limits).await;
    let started = Instant::now();
    for mut client in [server.youku().await, server.netdisk_client().await] {
        let sent_back = bytes_until_closed(&mut client.stream, Duration::from_secs(20)).await;
        assert_eq!(sent_back, Some(0), "closed silently at the idle timeout");
    }
    eprintln!("silent clients dropped after {:?}", started.elapsed());
    Ok(())
}

async fn a_client_trickling_a_byte_a_second_is_cut_off(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| {
        quick_limits(c);
        c.server.frame_timeout_secs = 2;
        c.server.idle_timeout_secs = 60;
    })
    .await;
    let requests = [
        (
            server.youku().await,
            json!({"type": "register", "name": "slowpoke", "password": "pw", "user_type": "user"}),
        ),
        (
            server.netdisk_client().await,
            json!({"api": "register", "data": {"username": "slowpoke2", "password": "pw",
                   "real_name": "", "phone": "", "address": ""}}),
        ),
    ];
    let trickles = requests.map(|(client, request)| tokio::spawn(trickle(client, request)));
    for trickle in trickles {
        let (sent, total, answered) = trickle.await.unwrap();
        eprintln!("the server closed after {sent} of {total} trickled bytes");
        assert!(
            sent < total,
            "the server waited for the whole trickled frame"
        );
        assert!(!answered, "a cut-off frame is not answered");
    }
    assert_eq!(netdisk_core::models::User::query().count(&t.db).await?, 0);
    Ok(())
}

/// Sends `request`'s frame one byte a second until the server closes the connection; returns
/// the bytes sent, the frame's length, and whether anything came back.
async fn trickle(mut client: Client, request: Value) -> (usize, usize, bool) {
    let frame = framed(&request);
    let mut buffer = [0; 64];
    for (sent, byte) in frame.iter().enumerate() {
        if client.stream.write_all(&[*byte]).await.is_err() {
            return (sent, frame.len(), false);
        }
        let read = tokio::time::timeout(Duration::from_secs(1), client.stream.read(&mut buffer));
        match read.await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return (sent + 1, frame.len(), false),
            Ok(Ok(_)) => return (sent + 1, frame.len(), true),
        }
    }
    (frame.len(), frame.len(), true)
}

async fn a_100_gb_upload_is_refused_before_any_byte_is_read(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    const HUNDRED_GB: u64 = 100_000_000_000;
    let admin_session = server.youku().await.login_as("root", "admin").await;
    let user_session = server.youku().await.login_as("alice", "user").await;
    let md5 = md5_hex(b"whatever");
    let uploads = [
        json!({"type": "upload_movie", "session": admin_session, "file_name": "huge.mp4",
               "file_size": HUNDRED_GB, "file_md5": md5, "is_free": 1}),
        json!({"type": "upload_file", "session": user_session, "file_name": "huge.bin",
               "file_size": HUNDRED_GB, "file_md5": md5}),
    ];
    for request in uploads {
        // The frame alone: the answer comes without a single byte of the body.
        let mut client = server.youku().await;
        let answer = client.call(request.clone()).await;
        assert_eq!(
            (answer["flag"].clone(), answer["code"].clone()),
            (json!(false), json!("too_large"))
        );
        assert!(client.closed().await, "the connection is closed");

        // A client that streams its bytes right after the frame, as the original clients do,
        // still reads the answer before the connection closes.
        let client = server.youku().await;
        let (mut reader, mut writer) = client.stream.into_split();
        let eager = tokio::spawn(async move {
            let mut bytes = framed(&request);
            bytes.extend(vec![0u8; 4 << 20]);
            let _ = writer.write_all(&bytes).await;
            writer
        });
        let mut header = [0; 4];
        reader.read_exact(&mut header).await.expect("an answer");
        let mut body = vec![0; i32::from_le_bytes(header) as usize];
        reader.read_exact(&mut body).await.expect("a whole answer");
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["code"], "too_large");
        drop(eager.await.unwrap());
    }
    // The netdisk door answers code 3 before the go-ahead, so the client sends nothing, and
    // the connection goes on.
    let mut netdisk = server.netdisk_client().await;
    let profile =
        json!({"username": "bob", "password": "pw", "real_name": "", "phone": "", "address": ""});
    netdisk
        .call(json!({"api": "register", "data": profile}))
        .await;
    let login = json!({"api": "login", "data": {"username": "bob", "password": "pw"}});
    assert_eq!(netdisk.call(login).await["code"], 1);
    let upload = json!({"api": "upload", "data": {"username": "bob", "file_name": "huge.bin", "file_size": HUNDRED_GB}});
    assert_eq!(netdisk.call(upload).await["code"], 3);
    let check = json!({"api": "check", "data": {"username": "bob"}});
    assert_eq!(
        netdisk.call(check).await["code"],
        2,
        "still served; no files"
    );
    assert_eq!(upload_traces(t, &server).await?, (0, 0, 0));
    Ok(())
}

/// How a flooding connection misbehaves. Each sends at least one byte: a client that sends
/// nothing may never be known to the server at all (past the listen backlog the kernel completes
/// handshakes with SYN cookies and drops them while the accept queue is full, and a silent
/// client never retransmits), so the server could not close it; silent clients are cut off by
/// the idle timeout in `a_silent_client_is_dropped_at_the_idle_timeout`.
#[derive(Debug, Clone, Copy)]
enum Hostility {
    /// Sends one byte of a header and stops.
    OneByte,
    /// Sends a header and stops.
    HeaderOnly,
    /// Sends a header and half a body.
    HalfFrame,
}

/// What the flood saw, across its connections.
#[derive(Default)]
struct FloodTally {
    /// Connections opened and not yet seen closed (each holds a descriptor here).
    open: AtomicUsize,
    /// Connections the server closed without sending anything.
    closed_silently: AtomicUsize,
    /// Connections the server sent bytes to before closing.
    answered: AtomicUsize,
    /// Connections that could not connect or send.
    failed: AtomicUsize,
    /// Connections the server had not closed after two minutes.
    never_closed: AtomicUsize,
}

/// One flooding connection: connects, misbehaves, waits for the server to close it.
async fn hostile(addr: std::net::SocketAddr, hostility: Hostility, tally: Arc<FloodTally>) {
    tally.open.fetch_add(1, Ordering::SeqCst);
    let outcome = async {
        let mut stream = TcpStream::connect(addr).await.map_err(drop)?;
        let frame = framed(&json!({"type": "check_notice", "session": "x".repeat(64)}));
        let sent = match hostility {
            Hostility::OneByte => &frame[..1],
            Hostility::HeaderOnly => &frame[..4],
            Hostility::HalfFrame => &frame[..frame.len() / 2],
        };
        stream.write_all(sent).await.map_err(drop)?;
        Ok(bytes_until_closed(&mut stream, Duration::from_secs(120)).await)
    }
    .await;
    let counter = match outcome {
        Ok(Some(0)) => &tally.closed_silently,
        Ok(Some(_)) => &tally.answered,
        Ok(None) => &tally.never_closed,
        Err(()) => &tally.failed,
    };
    counter.fetch_add(1, Ordering::SeqCst);
    tally.open.fetch_sub(1, Ordering::SeqCst);
}

/// Open file descriptors of this process.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |fds| fds.count())
}

async fn a_flood_of_connections_is_cut_off_while_an_ordinary_client_is_served(
    t: &TestDb,
) -> Result {
    let flood: usize = std::env::var(CONNECTIONS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    const LIMIT: usize = 500;
    let server = TestServer::start_with(t, |c| {
        quick_limits(c);
        c.server.max_connections = LIMIT;
    })
    .await;
    let running = server.running.as_ref().unwrap();
    let doors = [
        running.addr("youku").unwrap(),
        running.addr("netdisk").unwrap(),
    ];
    let mut ordinary = server.youku().await;
    let session = ordinary.login_as("alice", "user").await;
    let baseline = open_descriptors();

    let started = Instant::now();
    let tally = Arc::new(FloodTally::default());
    let hostilities = [
        Hostility::OneByte,
        Hostility::HeaderOnly,
        Hostility::HalfFrame,
    ];
    let mut flooders = tokio::task::JoinSet::new();
    for i in 0..flood {
        let addr = doors[i % doors.len()];
        let hostility = hostilities[i % hostilities.len()];
        flooders.spawn(hostile(addr, hostility, tally.clone()));
    }

    // While the flood lasts: the ordinary client's requests (each within its idle timeout)
    // all succeed, and the server holds no more connections than its limit.
    let mut served = 0;
    let mut most_server_descriptors = 0;
    while !flooders.is_empty() {
        let answer = ordinary
            .call(json!({"type": "check_notice", "session": session, "limit": 1}))
            .await;
        assert_eq!(answer["flag"], true, "{answer}");
        served += 1;
        // Clients' sockets come and go while the descriptors are listed: count them before and
        // after, and take the larger, so that none is mistaken for the server's.
        let clients_before = tally.open.load(Ordering::SeqCst);
        let descriptors = open_descriptors();
        let clients = clients_before.max(tally.open.load(Ordering::SeqCst));
        let server_side = descriptors.saturating_sub(baseline + clients);
        most_server_descriptors = most_server_descriptors.max(server_side);
        let pause = tokio::time::sleep(Duration::from_millis(250));
        tokio::select! {
            _ = pause => {}
            _ = async { while flooders.join_next().await.is_some() {} } => {}
        }
    }
    eprintln!(
        "{flood} hostile connections cut off in {:?}; the ordinary client was served {served} \
         times meanwhile; at most {most_server_descriptors} descriptors beyond the clients'",
        started.elapsed()
    );
    let count = |counter: &AtomicUsize| counter.load(Ordering::SeqCst);
    let outcomes = [
        count(&tally.closed_silently),
        count(&tally.answered),
        count(&tally.failed),
        count(&tally.never_closed),
    ];
    assert_eq!(
        outcomes,
        [flood, 0, 0, 0],
        "closed silently, answered, failed, never closed"
    );
    assert!(
        served >= 1,
        "the ordinary client was served during the flood"
    );
    // Descriptors beyond the clients' are the server's side of the connections it accepted:
    // at most its limit (plus the one it holds while waiting for a slot, and a margin for the
    // runtime's and the database's own).
    assert!(
        most_server_descriptors <= LIMIT + 32,
        "the server held {most_server_descriptors} descriptors with a limit of {LIMIT}"
    );
    // And once the flood is over, new clients are served at once.
    let mut late = server.youku().await;
    let answer = late
        .call(json!({"type": "check_notice", "session": session}))
        .await;
    assert_eq!(answer["flag"], true);
    assert_eq!(Session::query().count(&t.db).await?, 1);
    Ok(())
}

backend_tests!(
    on [sqlite_memory]: a_client_that_stops_after_a_header_is_dropped,
    a_silent_client_is_dropped_at_the_idle_timeout,
    a_client_trickling_a_byte_a_second_is_cut_off,
    a_100_gb_upload_is_refused_before_any_byte_is_read,
    a_flood_of_connections_is_cut_off_while_an_ordinary_client_is_served,
);
