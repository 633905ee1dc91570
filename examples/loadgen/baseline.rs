//! The yardsticks: tiny TCP servers on tokio runtimes of their own inside loadgen.
//!
//! For small requests, [`Echo`]: the server's framing and nothing else (see there).
//!
//! For transfers, [`Baseline`] (two workers, like the server's on this machine), which does only
//! what a transfer must do, with no protocol:
//!
//! - download direction: on connect, reads a file with `tokio::fs::File` in 64 KiB chunks and
//!   writes each to the socket;
//! - upload direction: the client sends a mode byte and an 8-byte little-endian length, then
//!   the bytes; the server reads them in 64 KiB chunks and writes them to a `tokio::fs::File`
//!   (then `sync_all`, as the server makes uploads durable) or drops them (mode `sink`), and
//!   answers one byte when done.
//!
//! The clients use the same code as the protocol clients ([`crate::proto::receive_discard`],
//! [`crate::proto::send_variant`]) on the same [`examples::Connection`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use netdisk_core::server::frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::proto::{self, CHUNK, Content, FrameReader};
use crate::target::cpu_seconds;

/// Where an upload's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Dropped as they arrive.
    Discard,
    /// Written to a file in the scratch directory, then `sync_all`.
    File,
}

/// The running baseline servers.
pub struct Baseline {
    /// Held for its drop, which stops the servers.
    _pool: Pool,
    /// Streams the file to each connection (when there is one).
    download_addr: Option<SocketAddr>,
    /// Receives uploads.
    upload_addr: SocketAddr,
}

impl Baseline {
    /// Starts the listeners on 127.0.0.1: downloads serve `file` (none without one); uploads to
    /// a file land in `dir`.
    pub fn start(file: Option<&Path>, dir: &Path) -> anyhow::Result<Baseline> {
        let pool = Pool::new(2)?;
        let mut download_addr = None;
        if let Some(file) = file {
            let file = file.to_owned();
            download_addr = Some(pool.listen(move |stream| serve_file(stream, file.clone()))?);
        }
        let dir = Arc::new(dir.to_owned());
        let counter = Arc::new(AtomicU64::new(0));
        let upload_addr = pool.listen(move |stream| {
            let path = dir.join(format!("{}.bin", counter.fetch_add(1, Ordering::Relaxed)));
            receive(stream, path)
        })?;
        Ok(Baseline {
            _pool: pool,
            download_addr,
            upload_addr,
        })
    }

    /// Downloads `len` bytes from the baseline, discarding them.
    pub async fn download(&self, len: u64) -> anyhow::Result<()> {
        let addr = self
            .download_addr
            .context("the baseline was started without a file to serve")?;
        let mut connection = proto::connect(addr).await?;
        proto::receive_discard(&mut connection, len).await?;
        Ok(())
    }

    /// Uploads variant `n` of `content` to the baseline; returns once it answered (after the
    /// `sync_all` for [`Sink::File`]).
    pub async fn upload(&self, content: &Content, n: u64, sink: Sink) -> anyhow::Result<()> {
        let mut connection = proto::connect(self.upload_addr).await?;
        let mut header = vec![u8::from(sink == Sink::File)];
        header.extend_from_slice(&content.len().to_le_bytes());
        connection.write_raw(&header).await?;
        proto::send_variant(&mut connection, content, n).await?;
        let mut done = [0u8; 1];
        connection
            .read_raw(&mut done, Duration::from_secs(120))
            .await?;
        Ok(())
    }
}

/// The floor for small requests: a length-prefixed echo server with no database, no JSON and
/// no log. For each request frame it sends back one frame: the canned answer registered for the
/// request body's length (see [`Echo::start`]), or the request body itself when none is.
///
/// It runs on a tokio runtime of its own inside loadgen, with as many workers as the server's
/// runtime has (the server's `#[tokio::main]` takes one per core, or `TOKIO_WORKER_THREADS`).
/// That way it gets what the server gets: the same number of threads competing for the same
/// cores against the same client, with loadgen's own runtime apart; a second process would buy
/// nothing more (both are scheduled by the same kernel as threads) but a second executable.
pub struct Echo {
    pool: Pool,
    addr: SocketAddr,
}

impl Echo {
    /// Starts the echo server on 127.0.0.1 with `workers` worker threads. `answers` maps a
    /// request body's length to the answer body sent back for it.
    pub fn start(workers: usize, answers: HashMap<usize, Vec<u8>>) -> anyhow::Result<Echo> {
        let pool = Pool::new(workers)?;
        let answers: Arc<HashMap<usize, Vec<u8>>> = Arc::new(
            answers
                .into_iter()
                .map(|(length, body)| (length, frame::encode(&body)))
                .collect(),
        );
        let addr = pool.listen(move |stream| serve_echo(stream, answers.clone()))?;
        Ok(Echo { pool, addr })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// CPU seconds its threads have used so far (`None` where `/proc` cannot tell).
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pool.cpu_seconds()
    }
}

/// Name of the threads of every [`Pool`] (at most 15 bytes: the kernel's limit).
const POOL_THREAD: &str = "baseline";

/// A tokio runtime of loadgen's own for a baseline server, with the listeners it serves; its
/// tasks stop when it is dropped. The chat floors (`chat_ws.rs`, `chat_tcp.rs`) run on one too.
pub struct Pool(Option<Runtime>);

impl Pool {
    /// A runtime with `workers` worker threads.
    pub fn new(workers: usize) -> std::io::Result<Pool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name(POOL_THREAD)
            .enable_all()
            .build()?;
        Ok(Pool(Some(runtime)))
    }

    /// Listens on 127.0.0.1 (a free port) and serves each connection with `serve`, on a task of
    /// its own; returns the address.
    pub fn listen<F, Fut>(&self, serve: F) -> std::io::Result<SocketAddr>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let runtime = self.0.as_ref().expect("running until dropped");
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        runtime.spawn(accept(listener, serve));
        Ok(addr)
    }

    /// User + system CPU seconds of the threads named [`POOL_THREAD`] in this process.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let mut total = 0.0;
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let dir = task.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if name.trim_end() == POOL_THREAD {
                total += cpu_seconds(&dir.join("stat").to_string_lossy()).unwrap_or(0.0);
            }
        }
        Some(total)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Accepts connections forever, serving each on its own task.
async fn accept<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let task = serve(stream);
        tokio::spawn(async move {
            if let Err(error) = task.await {
                eprintln!("baseline server: {error}");
            }
        });
    }
}

/// Writes the whole of `path` to `stream`, 64 KiB at a time.
async fn serve_file(mut stream: TcpStream, path: PathBuf) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&chunk[..n]).await?;
    }
    stream.flush().await
}

/// Receives one upload (mode byte, length, bytes) into `path` or nowhere, then answers a byte.
async fn receive(mut stream: TcpStream, path: PathBuf) -> std::io::Result<()> {
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await?;
    let to_file = header[0] == 1;
    let len = u64::from_le_bytes(header[1..].try_into().expect("8 bytes"));
    let mut file = if to_file {
        Some(tokio::fs::File::create(&path).await?)
    } else {
        None
    };
    let mut chunk = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(file) = &mut file {
            file.write_all(&chunk[..n]).await?;
        }
        left -= n as u64;
    }
    if let Some(file) = &mut file {
        file.flush().await?;
        file.sync_all().await?;
    }
    stream.write_all(&[1]).await?;
    if file.take().is_some() {
        tokio::fs::remove_file(&path).await?;
    }
    Ok(())
}

/// Answers each request frame on `stream` with the canned answer for its length, or with its
/// own body (see [`Echo`]), until the client closes.
async fn serve_echo(
    mut stream: TcpStream,
    answers: Arc<HashMap<usize, Vec<u8>>>,
) -> std::io::Result<()> {
    let mut reader = FrameReader::default();
    loop {
        let body = match reader.next(&mut stream).await {
            Ok(body) => body,
            Err(examples::Error::Closed) => return Ok(()),
            Err(error) => return Err(std::io::Error::other(error.to_string())),
        };
        match answers.get(&body.len()) {
            Some(answer) => stream.write_all(answer).await?,
            None => {
                let echo = frame::encode(body);
                stream.write_all(&echo).await?;
            }
        }
    }
}
