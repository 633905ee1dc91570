//! MariaDB stops while the server runs: requests are answered `unavailable` (the contract's code
//! for "the database cannot be reached; retrying later may work") within a bounded time, the
//! server stays up, and once MariaDB is back the same server serves again, without a restart, on
//! connections and sessions opened before the outage as well as new ones. The same goes for a
//! MariaDB that is frozen (SIGSTOP) rather than stopped: nothing closes, nothing answers, and
//! the service must give up on it in bounded time (within 20 s here) instead of hanging.
//!
//! The shared MariaDB on port 3306 is never touched: the test starts a private `mariadbd` (empty
//! data directory, `--skip-grant-tables`, a free port outside the ephemeral range) and stops and
//! restarts that one. Without `mariadbd` installed the test does nothing and says so, except on
//! CI (`CI` set), where it fails: CI installs `mariadb-server`.
//!
//! `cargo test -p tests --test database_outage -- --nocapture` prints how long each refusal
//! took and how many requests failed after MariaDB came back before one succeeded. There is no
//! long version: one outage is the whole story.

#[path = "support/faults.rs"]
mod faults;
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use faults::{OwnServer, door_login, upload_file, upload_movie, within};
use mini_orm::raw;
use serde_json::{Value, json};
use support::{Client, api, md5_hex};
use tokio::process::{Child, Command};

/// How long one request may take to be refused during the outage: a refused TCP connection on
/// loopback fails at once, so anything close to this is a hang.
const REFUSAL_LIMIT: Duration = Duration::from_secs(20);
/// How long MariaDB may take to start or stop.
const MARIADB_LIMIT: Duration = Duration::from_secs(60);
/// Once MariaDB answers again, how long the server may keep failing (its pool may hold dead
/// connections that each fail one request).
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

/// The `mariadbd` (or `mysqld`) binary, on `PATH` or in the usual system directories.
fn find_mariadbd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        [
            "/usr/sbin",
            "/usr/local/sbin",
            "/usr/libexec",
            "/usr/local/mysql/bin",
        ]
        .map(PathBuf::from),
    );
    dirs.flat_map(|dir| ["mariadbd", "mysqld"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A port nobody listens on, outside Linux's ephemeral range (32768-60999), so that no test
/// binding port 0 takes it while MariaDB is down.
fn free_port() -> u16 {
    // Tests of this binary run at once: each starts from another port, and `restart` checks
    // that the server answering is its own.
    static STARTED: AtomicU16 = AtomicU16::new(0);
    let offset = STARTED.fetch_add(1, Ordering::Relaxed) * 100;
    let start = 20_000 + (std::process::id() % 9_000) as u16 + offset;
    (start..30_000)
        .chain(10_000..start)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port between 10000 and 30000")
}

/// A private MariaDB server in a temporary directory.
struct MariaDb {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Killed when dropped (a failing test must not leave it running).
    process: Option<Child>,
}

impl MariaDb {
    /// Creates the data directory (with an empty `test` database) and starts the server.
    async fn start(binary: PathBuf) -> MariaDb {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data").join("test")).unwrap();
        let mut db = MariaDb {
            binary,
            dir,
            port: free_port(),
            process: None,
        };
        db.restart().await;
        db
    }

    /// The URL the service connects to.
    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// Starts `mariadbd` on the data directory and waits until it answers.
    async fn restart(&mut self) {
        let dir = self.dir.path();
        let path = |name: &str| dir.join(name).display().to_string();
        let mut command = Command::new(&self.binary);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path("data")))
            .arg(format!("--socket={}", path("mysqld.sock")))
            .arg(format!("--pid-file={}", path("mysqld.pid")))
            .arg(format!("--log-error={}", path("error.log")))
            .arg(format!("--port={}", self.port))
            .args(["--bind-address=127.0.0.1", "--skip-grant-tables"])
            .args(["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            // mariadbd refuses to run as root unless told to.
            command.arg("--user=root");
        }
        let started = Instant::now();
        self.process = Some(command.spawn().expect("mariadbd starts"));
        loop {
            if let Ok(Some(status)) = self.process.as_mut().unwrap().try_wait() {
                panic!("mariadbd exited with {status}:\n{}", self.log());
            }
            if let Ok(db) = mini_orm::Db::connect(&self.url()).await {
                let datadir = raw("SELECT @@datadir").fetch_one::<(String,)>(&db).await;
                let _ = db.close().await;
                let ours = self.dir.path().join("data");
                let answering = PathBuf::from(datadir.unwrap().0);
                assert_eq!(
                    answering, ours,
                    "another MariaDB answers on port {}",
                    self.port
                );
                break;
            }
            assert!(
                started.elapsed() < MARIADB_LIMIT,
                "mariadbd did not answer within {MARIADB_LIMIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "mariadbd on port {} answered after {:?}",
            self.port,
            started.elapsed()
        );
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`) to `mariadbd`.
    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("mariadbd is running");
        let pid = process.id().expect("mariadbd has not exited").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// Stops `mariadbd` with SIGTERM (a normal shutdown) and waits for it to exit.
    async fn stop(&mut self) {
        self.signal("TERM");
        let mut process = self.process.take().unwrap();
        let status = within(MARIADB_LIMIT, "mariadbd stopping", process.wait()).await;
        println!("mariadbd stopped ({})", status.unwrap());
    }

    /// The end of MariaDB's error log, for failure messages.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Sends `request` and returns the answer, printing how long it took; fails if none comes
/// within [`REFUSAL_LIMIT`] (the request hangs) or the connection closes instead.
async fn timed(c: &mut Client, what: &str, request: Value) -> Value {
    let started = Instant::now();
    c.send(&request).await;
    loop {
        // `recv` gives up after `RESPONSE_LIMIT`, or at once on a closed connection.
        let waiting = Instant::now();
        if let Some(answer) = c.recv().await {
            println!("{what}: {answer} after {:?}", started.elapsed());
            return answer;
        }
        assert!(
            waiting.elapsed() >= Duration::from_secs(5),
            "{what}: the connection closed without an answer"
        );
        assert!(
            started.elapsed() < REFUSAL_LIMIT,
            "{what}: no answer within {REFUSAL_LIMIT:?}: the request hangs"
        );
    }
}

/// Asserts a Youku refusal with `code: unavailable`.
fn assert_unavailable(what: &str, answer: &Value) {
    assert_eq!(
        (answer["flag"].clone(), answer["code"].clone()),
        (json!(false), json!("unavailable")),
        "{what}: {answer}"
    );
}

/// Sends `request` until it succeeds, once the database is back (the pool may still hold
/// connections the outage broke, each failing one request); at most [`RECOVERY_LIMIT`].
async fn served_again(c: &mut Client, request: Value) -> Value {
    let back = Instant::now();
    let mut failures = 0;
    loop {
        let answer = timed(c, "recovery", request.clone()).await;
        if answer["flag"] == true {
            println!(
                "served again after {failures} more unavailable answers, {:?}",
                back.elapsed()
            );
            return answer;
        }
        assert_unavailable("recovery", &answer);
        failures += 1;
        assert!(
            back.elapsed() < RECOVERY_LIMIT,
            "still unavailable {RECOVERY_LIMIT:?} after MariaDB came back ({failures} failures)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Everything the outage test does, given the `mariadbd` binary.
async fn outage(binary: PathBuf) {
    let mut mariadb = MariaDb::start(binary).await;
    let data = tempfile::tempdir().unwrap();
    let server = OwnServer::start(data.path(), Some(mariadb.url())).await;

    // Before: an admin uploads a movie; a viewer keeps a Youku connection and a netdisk one open.
    let mut admin = server.youku().await;
    let admin_session = admin.login_as("root", "admin").await;
    let movie: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let uploaded = upload_movie(&mut admin, &admin_session, "before", &movie).await;
    let movie_id = uploaded["movie_id"].as_i64().expect("a movie id");
    let mut viewer = server.youku().await;
    let session = viewer.login_as("viewer", "user").await;
    let mut door = server.netdisk_client().await;
    door_login(&mut door, "viewer").await;
    let list = json!({"type": "get_movie_list", "session": session, "movie_type": "all"});
    assert_eq!(viewer.call(list.clone()).await["total"], 1);

    mariadb.stop().await;
    // What was read just before stays trusted from memory for `read_cache_ms` (the session,
    // the page of movies): past that, every request needs the database.
    tokio::time::sleep(netdisk_core::Config::default().read_cache()).await;

    // During: every request that needs the database is refused `unavailable`, on the open
    // connection with its session and on new connections alike.
    let in_session = [
        ("get_movie_list", list.clone()),
        (
            "list_files",
            json!({"type": "list_files", "session": session}),
        ),
        (
            "check_notice",
            json!({"type": "check_notice", "session": session}),
        ),
        (
            "download_movie",
            json!({"type": "download_movie", "session": session, "movie_id": movie_id}),
        ),
        ("buy_vip", json!({"type": "buy_vip", "session": session})),
    ];
    for (what, request) in &in_session {
        let answer = timed(&mut viewer, &format!("outage: {what}"), request.clone()).await;
        assert_unavailable(what, &answer);
    }
    // An upload is refused too, and its bytes skipped: the connection stays in step.
    let refused = within(
        REFUSAL_LIMIT,
        "outage: upload_file",
        upload_file(&mut viewer, &session, "during", b"lost"),
    )
    .await;
    assert_unavailable("upload_file", &refused);
    let mut fresh = server.youku().await;
    let login = json!({"type": "login", "name": "viewer", "password": md5_hex(b"viewer"), "user_type": "user"});
    let answer = timed(&mut fresh, "outage: login", login.clone()).await;
    assert_unavailable("login", &answer);
    let register =
        json!({"type": "register", "name": "newcomer", "password": "pw", "user_type": "user"});
    let answer = timed(&mut fresh, "outage: register", register).await;
    assert_unavailable("register", &answer);
    // The netdisk protocol has no code for it; it answers, with something other than success,
    // and keeps the connection.
    let check = api("check", json!({"username": "viewer"}));
    let answer = timed(&mut door, "outage: netdisk check", check.clone()).await;
    assert_ne!(answer["code"], 1, "{answer}");
    let mut fresh_door = server.netdisk_client().await;
    let door_login_request = api(
        "login",
        json!({"username": "viewer", "password": md5_hex(b"viewer")}),
    );
    let answer = timed(
        &mut fresh_door,
        "outage: netdisk login",
        door_login_request.clone(),
    )
    .await;
    assert_ne!(answer["code"], 1, "{answer}");

    mariadb.restart().await;

    // After: the same connection and session work again.
    let answer = served_again(&mut viewer, list.clone()).await;
    assert_eq!(
        answer["movie_list"],
        json!([["before", "charge", movie_id]])
    );
    for (what, request) in &in_session {
        let answer = timed(&mut viewer, &format!("recovered: {what}"), request.clone()).await;
        assert_eq!(answer["flag"], true, "{what}: {answer}");
        if *what == "download_movie" {
            assert!(viewer.recv_raw(movie.len()).await == movie);
        }
    }
    let stored = upload_file(&mut viewer, &session, "after", b"kept").await;
    assert_eq!(stored["flag"], true, "{stored}");
    assert_eq!(fresh.call(login).await["flag"], true);
    let mut newcomer = server.youku().await;
    newcomer.login_as("newcomer", "user").await;
    let answer = door.call(check).await;
    assert_eq!(
        (answer["code"].clone(), answer["data"].clone()),
        (json!(1), json!([{"name": "after", "size": 4}])),
        "the netdisk connection opened before the outage (the upload refused during it is not there)"
    );
    assert_eq!(fresh_door.call(door_login_request).await["code"], 1);
}

/// A MariaDB that stops answering without closing anything (frozen with SIGSTOP, as a hung
/// host or a network partition looks): requests must still be answered `unavailable` in bounded
/// time, and served again once it answers.
async fn freeze(binary: PathBuf) {
    let mariadb = MariaDb::start(binary).await;
    let data = tempfile::tempdir().unwrap();
    let server = OwnServer::start(data.path(), Some(mariadb.url())).await;
    let mut viewer = server.youku().await;
    let session = viewer.login_as("viewer", "user").await;
    let list = json!({"type": "list_files", "session": session});
    assert_eq!(viewer.call(list.clone()).await["flag"], true);

    mariadb.signal("STOP");
    let answer = timed(&mut viewer, "frozen: list_files", list.clone()).await;
    assert_unavailable("list_files", &answer);
    let mut fresh = server.youku().await;
    let login = json!({"type": "login", "name": "viewer", "password": md5_hex(b"viewer"), "user_type": "user"});
    let answer = timed(&mut fresh, "frozen: login", login.clone()).await;
    assert_unavailable("login", &answer);

    mariadb.signal("CONT");
    served_again(&mut viewer, list).await;
    assert_eq!(fresh.call(login).await["flag"], true);
}

/// The `mariadbd` binary; `None` (after saying why) when it is not installed, except on CI.
fn mariadbd_or_skip() -> Option<PathBuf> {
    let found = find_mariadbd();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "mariadbd is not installed, and CI must run the database outage tests \
             (install mariadb-server)"
        );
        eprintln!("database outage test did nothing: mariadbd is not installed");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_unavailable_while_mariadb_is_down_and_served_once_it_is_back() {
    if let Some(binary) = mariadbd_or_skip() {
        within(Duration::from_secs(240), "the outage test", outage(binary)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_mariadb_gets_unavailable_answers_in_bounded_time_not_hung_requests() {
    if let Some(binary) = mariadbd_or_skip() {
        within(
            Duration::from_secs(240),
            "the frozen-database test",
            freeze(binary),
        )
        .await;
    }
}
