//! What tests and benchmarks of this crate and of the crates on it share (the `testing`
//! feature): a Redis server of a test's own, to stop and start under a running system, and
//! pictures that compress like photos.

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

/// A `width`×`height` JPEG at quality 92 that compresses like a photo: smooth light and shade
/// with fine grain on top (a flat synthetic picture would decode unrealistically fast). The
/// same `seed` gives the same bytes.
pub fn photo_like_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    use image::{ImageEncoder, Rgb, RgbImage};
    let mut noise = seed.wrapping_mul(2_654_435_761).max(1);
    let picture = RgbImage::from_fn(width, height, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let grain = (noise % 48) as f32 - 24.0;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let light = 120.0 + 90.0 * ((fx * 7.0 + seed as f32).sin() * (fy * 5.0).cos());
        let channel = |shift: f32| (light + shift + grain).clamp(0.0, 255.0) as u8;
        Rgb([
            channel(30.0 * fy),
            channel(-20.0 * fx),
            channel(40.0 * (1.0 - fy)),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(&picture, width, height, image::ExtendedColorType::Rgb8)
        .expect("encoding a picture in memory cannot fail");
    out
}
