//! What tests of this crate and of the crates on it share (the `testing` feature): a Redis
//! server of a test's own, to stop and start under a running system.

use std::time::Duration;

/// A `redis-server` of the test's own, on a port of its own.
pub struct RedisServer {
    port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// `None` (with a message saying the test is skipped) when `redis-server` is not
    /// installed; on CI (`CI` set), where `.ci/run` installs it, that is a failure instead.
    pub async fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer { port, child: None };
        if !server.restart().await {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must provide redis-server (.ci/run installs it)"
            );
            eprintln!("skipped: redis-server is not installed (CI installs it)");
            return None;
        }
        Some(server)
    }

    /// Where it listens, as `--pubsub` takes it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server; false when there is no `redis-server`.
    pub async fn restart(&mut self) -> bool {
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return false,
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Stops it (killed: whatever it held is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
