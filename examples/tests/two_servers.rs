//! Two server PROCESSES (the compiled `server` binary) on one MySQL/MariaDB database and one data
//! directory, as a deployment behind a load balancer would run them: a session started on one
//! works on the other, and a logout on either ends it on both (on the other within a second); a file and a movie uploaded through
//! one are listed and downloaded intact through the other (and the download's record is seen
//! through the first); a notice published on one is pushed, exactly once, to the subscribers of
//! both, and to a browser's event stream (`/notices/events`) on the other's HTTP door: with
//! in-process pub/sub through each server's database check (`pubsub_check_ms`, 100 ms
//! here), and with `--pubsub redis://127.0.0.1:6379` through Redis alone (the check is off).
//!
//! ```text
//! MINI_ORM_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo test -p examples --test two_servers
//! ```
//!
//! Each test creates a database of its own on that server (`mini_orm_test_...`, through the ORM's
//! test harness) and drops it at the end. Without `MINI_ORM_MYSQL_URL` the tests print that they
//! are skipped, except on CI (`CI` set), where they fail: two processes need a database server.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use examples::{Client, Connection, FileEntry, Role, Timeouts, hash_password};
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::json;
use support::process::ServerProcess;
use support::{content, write_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Result = mini_orm::Result<()>;

/// How long a notice published on one server may take to reach the other's subscribers.
const PUSH_LIMIT: Duration = Duration::from_secs(5);

/// A browser's notice stream on the HTTP door at `http`, logged in as `name` (password `pw`,
/// as the clients send it): `GET /notices/events` over a plain socket, and what it sent so far.
struct EventStream {
    stream: tokio::net::TcpStream,
    seen: String,
}

impl EventStream {
    async fn open(http: &str, name: &str) -> EventStream {
        let login = json!({"name": name, "password": hash_password("pw")}).to_string();
        let answer = http_exchange(
            http,
            &format!(
                "POST /api/login HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{login}",
                login.len()
            ),
        )
        .await;
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let token: serde_json::Value = serde_json::from_str(body).unwrap();
        let token = token["token"].as_str().expect("an HTTP login").to_owned();
        let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
        let request = format!(
            "GET /notices/events HTTP/1.1\r\nHost: {http}\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        EventStream {
            stream,
            seen: String::new(),
        }
    }

    /// Reads what arrives within `wait`.
    async fn read_for(&mut self, wait: Duration) {
        let mut buf = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    /// How many `notice` events arrived.
    fn notices(&self) -> usize {
        self.seen.matches("event: notice").count()
    }
}

/// Sends `request` to `addr` and reads the answer to the end.
async fn http_exchange(addr: &str, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Two servers on the database of `t`, sharing one data directory, with extra environment `env`.
async fn two_servers(
    t: &TestDb,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> (ServerProcess, ServerProcess) {
    let doors = [("youku", "127.0.0.1:0"), ("http", "127.0.0.1:0")];
    let first = ServerProcess::start(Some(&t.url), data_dir, &doors, env).await;
    let second = ServerProcess::start(Some(&t.url), data_dir, &doors, env).await;
    (first, second)
}

/// A client of `role` on `addr`, registered (when `register`) and logged in as `name`.
async fn logged_in(addr: &str, role: Role, name: &str, register: bool) -> Client {
    let mut client = Client::connect(addr, role, Timeouts::default())
        .await
        .unwrap();
    if register {
        client.register(name, "pw").await.unwrap();
    }
    client.login(name, "pw").await.unwrap();
    client
}

async fn a_session_from_one_server_works_and_ends_on_the_other(t: &TestDb) -> Result {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(t, dir.path(), &[]).await;

    let mut on_a = Connection::connect(a.addr("youku"), Timeouts::default())
        .await
        .unwrap();
    let mut on_b = Connection::connect(b.addr("youku"), Timeouts::default())
        .await
        .unwrap();
    let account = |kind: &str| json!({"type": kind, "name": "alice", "password": hash_password("pw"), "user_type": "user"});
    on_a.call(&account("register")).await.unwrap();
    let session = on_a.call(&account("login")).await.unwrap()["session"].clone();
    // Started on A, used on B: a purchase there is seen through A.
    let bought = on_b
        .call(&json!({"type": "buy_vip", "session": session}))
        .await
        .unwrap();
    assert_eq!(bought["is_vip"], 1);
    let again = on_a.call(&account("login")).await.unwrap();
    assert_eq!(again["is_vip"], 1, "B's change is A's too");
    let second = again["session"].clone();

    // Ended on B: refused on A; the other session (started on A) is untouched, and ends on A.
    on_b.call(&json!({"type": "logout", "session": session}))
        .await
        .unwrap();
    for (name, connection) in [("A", &mut on_a), ("B", &mut on_b)] {
        let refused = connection
            .call(&json!({"type": "check_notice", "session": session}))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Some("not_logged_in"),
            "on {name}: {refused}"
        );
    }
    on_b.call(&json!({"type": "check_notice", "session": second}))
        .await
        .unwrap();
    on_a.call(&json!({"type": "logout", "session": second}))
        .await
        .unwrap();
    // B had the session in memory: it honours the logout within a second.
    let logged_out = Instant::now();
    let refused = loop {
        match on_b
            .call(&json!({"type": "list_files", "session": second}))
            .await
        {
            Err(refused) => break refused,
            Ok(_) => assert!(
                logged_out.elapsed() < Duration::from_secs(1),
                "B still accepts the session a second after A ended it"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.code(), Some("not_logged_in"), "{refused}");

    a.stop().await;
    b.stop().await;
    Ok(())
}

async fn what_is_uploaded_through_one_server_comes_out_intact_through_the_other(
    t: &TestDb,
) -> Result {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (a, b) = two_servers(t, &data, &[]).await;
    let files = tempfile::tempdir().unwrap();
    let document = content(700_001);
    let film = content(1_200_007).into_iter().rev().collect::<Vec<u8>>();
    let document_path = write_file(files.path(), "report.pdf", &document);
    let film_path = write_file(files.path(), "film.mp4", &film);

    let mut admin_a = logged_in(a.addr("youku"), Role::Admin, "root", true).await;
    let movie_id = admin_a
        .upload_movie(Path::new(&film_path), false)
        .await
        .unwrap();
    let mut alice_a = logged_in(a.addr("youku"), Role::User, "alice", true).await;
    let file_id = alice_a
        .upload_file(Path::new(&document_path))
        .await
        .unwrap();

    let mut alice_b = logged_in(b.addr("youku"), Role::User, "alice", false).await;
    let listed: Vec<FileEntry> = alice_b.files().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0].file_id,
            listed[0].file_name.as_str(),
            listed[0].file_size
        ),
        (file_id, "report.pdf", document.len() as u64)
    );
    let saved_to = tempfile::tempdir().unwrap();
    let saved = alice_b
        .download_file(&listed[0], saved_to.path())
        .await
        .unwrap_or_else(|e| panic!("{e}\nB:\n{}", b.output()));
    assert!(
        std::fs::read(&saved.path).unwrap() == document,
        "the file is intact through B"
    );

    let movie = alice_b.find_movie(movie_id).await.unwrap();
    let saved = alice_b
        .download_movie(&movie, saved_to.path())
        .await
        .unwrap_or_else(|e| panic!("{e}\nB:\n{}", b.output()));
    assert!(
        std::fs::read(&saved.path).unwrap() == film,
        "the movie is intact through B"
    );
    let records = alice_a.records().await.unwrap();
    assert_eq!(records.len(), 1, "A sees the download made through B");
    assert_eq!(
        (records[0].movie.as_str(), records[0].price),
        ("film.mp4", 10)
    );

    // Deleted through B, gone through A.
    alice_b.delete_file(file_id).await.unwrap();
    assert_eq!(alice_a.files().await.unwrap(), vec![]);

    a.stop().await;
    b.stop().await;
    Ok(())
}

async fn a_notice_published_on_one_server_is_pushed_once_to_subscribers_of_both(
    t: &TestDb,
) -> Result {
    notice_pushed_once_on_both(t, &[("NETDISK_PUBSUB_CHECK_MS", "100")]).await
}

/// The Redis every machine of ours runs (`.ci/run` starts one where it is missing).
const REDIS: &str = "redis://127.0.0.1:6379";

async fn with_redis_a_notice_published_on_one_server_is_pushed_once_to_subscribers_of_both(
    t: &TestDb,
) -> Result {
    if tokio::net::TcpStream::connect("127.0.0.1:6379")
        .await
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide Redis on 127.0.0.1:6379"
        );
        println!(
            "skipped: nothing answers on 127.0.0.1:6379 (start redis-server to run this test)"
        );
        return Ok(());
    }
    // No database check: only Redis can carry the notice to the other server.
    let env = [("NETDISK_PUBSUB", REDIS), ("NETDISK_PUBSUB_CHECK_MS", "0")];
    notice_pushed_once_on_both(t, &env).await
}

/// Two servers with `env`: a notice released on A reaches a subscriber on each, once.
async fn notice_pushed_once_on_both(t: &TestDb, env: &[(&str, &str)]) -> Result {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_servers(t, dir.path(), env).await;

    let mut admin = logged_in(a.addr("youku"), Role::Admin, "root", true).await;
    let mut on_b = logged_in(b.addr("youku"), Role::User, "bob", true).await;
    on_b.subscribe().await.unwrap();
    let mut on_a = logged_in(a.addr("youku"), Role::User, "alice", true).await;
    on_a.subscribe().await.unwrap();
    let mut browser_on_b = EventStream::open(b.addr("http"), "bob").await;
    browser_on_b.read_for(Duration::from_millis(200)).await;
    let published = Instant::now();
    admin
        .release_notice("Maintenance", "tonight")
        .await
        .unwrap();

    let mut heard = [Vec::new(), Vec::new()];
    while (heard.iter().any(Vec::is_empty) || browser_on_b.notices() == 0)
        && published.elapsed() < PUSH_LIMIT
    {
        browser_on_b.read_for(Duration::from_millis(20)).await;
        heard[0].extend(on_a.pushed_notices().await);
        heard[1].extend(on_b.pushed_notices().await);
    }
    let reached_both = published.elapsed();
    assert!(
        !heard[1].is_empty(),
        "no push on B within {PUSH_LIMIT:?} of the notice published on A\nB:\n{}",
        b.output()
    );
    // Several poll intervals more: nothing is pushed twice.
    browser_on_b.read_for(Duration::from_millis(800)).await;
    heard[0].extend(on_a.pushed_notices().await);
    heard[1].extend(on_b.pushed_notices().await);
    for (name, pushed) in ["A", "B"].iter().zip(&heard) {
        assert_eq!(pushed.len(), 1, "one push on {name}: {pushed:?}");
        assert_eq!(
            (pushed[0].title.as_str(), pushed[0].content.as_str()),
            ("Maintenance", "tonight")
        );
    }
    assert_eq!(
        heard[0], heard[1],
        "the same notice, the same time, on both"
    );
    assert_eq!(
        browser_on_b.notices(),
        1,
        "one event on B's HTTP door: {}",
        browser_on_b.seen
    );
    assert!(browser_on_b.seen.contains("\"title\":\"Maintenance\""));
    println!("a notice published on A reached subscribers of both in {reached_both:?}");

    a.stop().await;
    b.stop().await;
    Ok(())
}

backend_tests!(on [mysql]:
    a_session_from_one_server_works_and_ends_on_the_other,
    what_is_uploaded_through_one_server_comes_out_intact_through_the_other,
    a_notice_published_on_one_server_is_pushed_once_to_subscribers_of_both,
    with_redis_a_notice_published_on_one_server_is_pushed_once_to_subscribers_of_both,
);
