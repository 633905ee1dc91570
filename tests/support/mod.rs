//! A real server on 127.0.0.1:0 over a test database, and a minimal client speaking the contract's
//! framing, as the original Python clients do.
#![allow(dead_code)]

use std::time::Duration;

use mini_orm::testing::TestDb;
use netdisk_core::clock::{Clock, SystemClock};
use netdisk_core::config::{Listen, ServerConfig};
use netdisk_core::{Config, Netdisk, server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestServer {
    pub netdisk: Netdisk,
    pub running: Option<server::Running>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(t: &TestDb) -> TestServer {
        Self::start_with(t, |_| {}).await
    }

    pub async fn start_with(t: &TestDb, configure: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_clocked(t, std::sync::Arc::new(SystemClock), configure).await
    }

    /// A server like [`TestServer::start_with`]'s, whose service reads the time from `clock`.
    pub async fn start_clocked(
        t: &TestDb,
        clock: std::sync::Arc<dyn Clock>,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let any_port = Listen::At("127.0.0.1:0".parse().unwrap());
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            free_wait_secs: 0,
            server: ServerConfig {
                doors: server::every_door(any_port),
                ..ServerConfig::default()
            },
            ..Config::default()
        };
        configure(&mut config);
        let (netdisk, _) = Netdisk::open_with(t.db.clone(), config.clone(), clock)
            .await
            .unwrap();
        let running = server::start(netdisk.clone(), &config.server)
            .await
            .unwrap();
        TestServer {
            netdisk,
            running: Some(running),
            dir,
        }
    }

    pub async fn youku(&self) -> Client {
        Client::connect(self.running.as_ref().unwrap().addr("youku").unwrap()).await
    }

    pub async fn netdisk_client(&self) -> Client {
        Client::connect(self.running.as_ref().unwrap().addr("netdisk").unwrap()).await
    }

    /// Files under the data directory's `tmp` and `blobs`.
    pub fn stored_files(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| {
                            if e.path().is_dir() {
                                count(&e.path())
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        count(&self.dir.path().join("tmp")) + count(&self.dir.path().join("blobs"))
    }
}

/// A client that speaks the framing: `struct.pack('i', len)`, JSON, raw bytes.
/// How long a client waits for an answer. A crowd of 100 registrations is hashed by one thread
/// on a 2-core machine (cores − 1), and with other builds running there the last answers come
/// after more than 10 s: the tests check what the answers are, not how fast they come.
pub const RESPONSE_LIMIT: Duration = Duration::from_secs(30);

pub struct Client {
    pub stream: TcpStream,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    pub async fn send(&mut self, value: &Value) {
        self.send_bytes(value.to_string().as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, body: &[u8]) {
        let mut framed = (body.len() as i32).to_le_bytes().to_vec();
        framed.extend_from_slice(body);
        self.stream.write_all(&framed).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next frame, or `None` when the server closed the connection (or sent nothing within
    /// [`RESPONSE_LIMIT`]).
    pub async fn recv(&mut self) -> Option<Value> {
        let mut header = [0; 4];
        tokio::time::timeout(RESPONSE_LIMIT, self.stream.read_exact(&mut header))
            .await
            .ok()?
            .ok()?;
        let mut body = vec![0; i32::from_le_bytes(header) as usize];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(serde_json::from_slice(&body).unwrap())
    }

    pub async fn recv_raw(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        self.stream.read_exact(&mut bytes).await.unwrap();
        bytes
    }

    pub async fn call(&mut self, value: Value) -> Value {
        self.send(&value).await;
        self.recv().await.expect("a response")
    }

    /// Nothing arrives within `wait`.
    pub async fn silent_for(&mut self, wait: Duration) -> bool {
        let mut byte = [0; 1];
        tokio::time::timeout(wait, self.stream.peek(&mut byte))
            .await
            .is_err()
    }

    pub async fn closed(&mut self) -> bool {
        let mut byte = [0; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// Registers (as the original clients do, with an MD5'd password) and logs in.
    pub async fn login_as(&mut self, name: &str, user_type: &str) -> String {
        let password = md5_hex(name.as_bytes());
        self.call(
            json!({"type": "register", "name": name, "password": password, "user_type": user_type}),
        )
        .await;
        let answer = self.call(json!({"type": "login", "name": name, "password": password, "user_type": user_type})).await;
        assert_eq!(answer["flag"], true, "{answer}");
        answer["session"].as_str().unwrap().to_owned()
    }
}

/// The netdisk protocol's request envelope.
pub fn api(name: &str, data: Value) -> Value {
    json!({"api": name, "data": data})
}

/// A netdisk-protocol upload of all of `bytes` by a logged-in connection: the final answer
/// (`{"code": 1}` on success), or the refusal that came instead of the go-ahead.
pub async fn door_upload(c: &mut Client, name: &str, file: &str, bytes: &[u8]) -> Value {
    let go = c
        .call(api(
            "upload",
            json!({"username": name, "file_name": file, "file_size": bytes.len()}),
        ))
        .await;
    if go["code"] != 99999 {
        return go;
    }
    c.send_raw(bytes).await;
    c.recv().await.expect("an answer after the upload's bytes")
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes))
}

/// Whether `python3` runs here, for the tests of original-style Python clients; when it does not,
/// says that the test is skipped (and fails under `CI`, which must run them).
pub fn python3_present() -> bool {
    let present = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Python client tests: install python3"
        );
        eprintln!("skipped: python3 is not installed");
    }
    present
}

/// Runs `tests/python/<script>` with `args` and checks that it ended well, saying "all good".
pub async fn run_python_client(script: &str, args: &[&str]) {
    let path = format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all good"), "{stdout}");
}
