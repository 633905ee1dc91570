//! Helpers for the fault-injection tests (`disconnects`, `database_outage`, `disk_full`): a
//! seeded random source, uploads over both protocols, a client with a small receive window, and
//! a real server on a data directory and database URL of the test's choosing.
// Each test binary includes this file and uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netdisk_core::config::{Listen, ServerConfig};
use netdisk_core::{Config, Netdisk, server};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use tokio::net::TcpSocket;

use crate::support::{Client, api, md5_hex};

/// A random source seeded from the environment variable `var` when it is set (to replay a run),
/// otherwise from the clock; the seed is printed either way.
pub fn seeded_rng(var: &str) -> StdRng {
    let seed = match std::env::var(var) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{var}={text:?} is not a number")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    println!("seed {seed} (set {var}={seed} to replay this run)");
    StdRng::seed_from_u64(seed)
}

/// A number from the environment variable `var`, or `default` when it is unset.
pub fn env_count(var: &str, default: usize) -> usize {
    std::env::var(var).map_or(default, |text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{var}={text:?} is not a number"))
    })
}

/// Sends a Youku `upload_movie` (a charged movie) with all of `bytes`; returns the answer.
pub async fn upload_movie(c: &mut Client, session: &str, name: &str, bytes: &[u8]) -> Value {
    c.send(
        &json!({"type": "upload_movie", "session": session, "file_name": name,
                   "file_size": bytes.len(), "file_md5": md5_hex(bytes), "is_free": 0}),
    )
    .await;
    c.send_raw(bytes).await;
    c.recv().await.expect("an answer to upload_movie")
}

/// Sends a Youku `upload_file` with all of `bytes`; returns the answer.
pub async fn upload_file(c: &mut Client, session: &str, name: &str, bytes: &[u8]) -> Value {
    c.send(
        &json!({"type": "upload_file", "session": session, "file_name": name,
                   "file_size": bytes.len(), "file_md5": md5_hex(bytes)}),
    )
    .await;
    c.send_raw(bytes).await;
    c.recv().await.expect("an answer to upload_file")
}

/// Logs a netdisk-protocol connection in as `name` (password: the MD5 of the name, as
/// `Client::login_as` registers it) and asserts that it worked.
pub async fn door_login(c: &mut Client, name: &str) {
    let answer = c
        .call(api(
            "login",
            json!({"username": name, "password": md5_hex(name.as_bytes())}),
        ))
        .await;
    assert_eq!(answer["code"], 1, "netdisk login as {name}: {answer}");
}

/// Connects to `addr` with a 16 KiB receive buffer, so that a download the client stops reading
/// fills the kernel's buffers quickly instead of being absorbed by them.
pub async fn connect_small_window(addr: std::net::SocketAddr) -> Client {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    Client {
        stream: socket.connect(addr).await.unwrap(),
    }
}

/// A server started on a data directory and database of the test's choosing (the test harness's
/// `TestServer` always uses its own temporary directory and test database).
pub struct OwnServer {
    /// The service.
    pub netdisk: Netdisk,
    /// The listeners.
    pub running: server::Running,
}

impl OwnServer {
    /// Opens the service on `data_dir` and `database_url` (`None`: SQLite inside the data
    /// directory), with no wait for free movies, and starts both protocols on 127.0.0.1:0.
    pub async fn start(data_dir: &Path, database_url: Option<String>) -> OwnServer {
        let any_port = Listen::At("127.0.0.1:0".parse().unwrap());
        let config = Config {
            data_dir: data_dir.to_owned(),
            database_url,
            free_wait_secs: 0,
            server: ServerConfig {
                doors: server::every_door(any_port),
                ..ServerConfig::default()
            },
            ..Config::default()
        };
        let (netdisk, _) = Netdisk::open(config.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot open the service on {data_dir:?}: {e}"));
        let running = server::start(netdisk.clone(), &config.server)
            .await
            .unwrap();
        OwnServer { netdisk, running }
    }

    /// A new Youku-protocol connection.
    pub async fn youku(&self) -> Client {
        Client::connect(self.running.addr("youku").unwrap()).await
    }

    /// A new netdisk-protocol connection.
    pub async fn netdisk_client(&self) -> Client {
        Client::connect(self.running.addr("netdisk").unwrap()).await
    }
}

/// Awaits `future`, failing with `what` when it takes longer than `limit` (a hang is a bug to
/// report, not something to wait out).
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no outcome within {limit:?}"))
}
