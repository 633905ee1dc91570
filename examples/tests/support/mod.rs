//! A real server on 127.0.0.1:0 (in-memory SQLite, no wait for free movies), and a way to run
//! the compiled `admin` and `user` examples against it with piped stdin.
#![allow(dead_code)]

pub mod process;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use netdisk_core::config::{Listen, ServerConfig};
use netdisk_core::{Config, Netdisk, server};
use tokio::io::AsyncWriteExt;

/// A running server and its data directory.
pub struct TestServer {
    /// `HOST:PORT` of its Youku protocol.
    pub addr: String,
    /// Kept so the server runs as long as the test.
    pub running: server::Running,
    /// The data directory (removed at the end).
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with the test configuration.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            free_wait_secs: 0,
            server: ServerConfig {
                doors: server::every_door(Listen::Off),
                ..ServerConfig::default()
            }
            .with_door("youku", Listen::At("127.0.0.1:0".parse().unwrap())),
            ..Config::default()
        };
        let db = mini_orm::Db::connect("sqlite::memory:").await.unwrap();
        let (netdisk, _) = Netdisk::open_with(
            db,
            config.clone(),
            Arc::new(netdisk_core::clock::SystemClock),
        )
        .await
        .unwrap();
        let running = server::start(netdisk, &config.server).await.unwrap();
        let addr = running.addr("youku").unwrap().to_string();
        TestServer { addr, running, dir }
    }
}

/// What a finished client printed.
#[derive(Debug)]
pub struct Run {
    /// Whether it exited with 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// The compiled example `name` (`cargo test` builds the examples next to the test binaries:
/// `target/<profile>/examples/` beside `target/<profile>/deps/`).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// Runs example `name` with `args`, `stdin` piped in (then closed), and `env` set; waits for it
/// to exit (at most a minute).
pub async fn run(name: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut child = tokio::process::Command::new(example(name))
        .args(args)
        .env_remove("NETDISK_NAME")
        .env_remove("NETDISK_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.as_bytes().to_vec();
    let writer = tokio::spawn(async move {
        // The client may exit before reading everything; that is its business.
        let _ = pipe.write_all(&input).await;
    });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the client finishes within a minute")
        .unwrap();
    writer.await.unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `len` bytes that are not all alike, so that a misplaced byte shows.
pub fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8 + 1).collect()
}

/// Writes `bytes` to `dir/name` and returns the path as text.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The id in an `admin upload-movie` line: `movie <id> uploaded: <path>`.
pub fn uploaded_movie_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("movie ")?.split_once(" uploaded"))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no upload line in {stdout:?}"))
}
