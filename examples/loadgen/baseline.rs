//! The yardstick for transfers: a tiny TCP server on its own tokio runtime (two workers, like
//! the server's on this machine) that does only what a transfer must do, with no protocol:
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::proto::{self, CHUNK, Content};

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
    runtime: Option<Runtime>,
    /// Streams the file to each connection (when there is one).
    download_addr: Option<SocketAddr>,
    /// Receives uploads.
    upload_addr: SocketAddr,
}

impl Baseline {
    /// Starts the listeners on 127.0.0.1: downloads serve `file` (none without one); uploads to
    /// a file land in `dir`.
    pub fn start(file: Option<&Path>, dir: &Path) -> anyhow::Result<Baseline> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baseline")
            .enable_all()
            .build()?;
        let bind = || -> std::io::Result<(SocketAddr, TcpListener)> {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            let _entered = runtime.enter();
            Ok((listener.local_addr()?, TcpListener::from_std(listener)?))
        };
        let mut download_addr = None;
        if let Some(file) = file {
            let (addr, download) = bind()?;
            let file = file.to_owned();
            runtime.spawn(accept(download, move |stream| {
                serve_file(stream, file.clone())
            }));
            download_addr = Some(addr);
        }
        let (upload_addr, upload) = bind()?;
        let dir = Arc::new(dir.to_owned());
        let counter = Arc::new(AtomicU64::new(0));
        runtime.spawn(accept(upload, move |stream| {
            let path = dir.join(format!("{}.bin", counter.fetch_add(1, Ordering::Relaxed)));
            receive(stream, path)
        }));
        Ok(Baseline {
            runtime: Some(runtime),
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

impl Drop for Baseline {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Accepts connections forever, serving each on its own task.
async fn accept<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
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
