//! The store's tests, by role: [`receive`] (uploads verified, persisted and read back; failures,
//! cancellations and drops leaving nothing behind; leftovers swept), [`layout`] (the directories,
//! paths not made by `Storage::blob_path` refused, blobs listed and removed) and [`hashing`] (the
//! digests over odd chunks; the hashing threads ending when their input does and running below
//! the workers' priority). What they share is here: a store in a temporary directory, checks of
//! what is on disk, and readers that misbehave in the ways a client can.

mod hashing;
mod layout;
mod receive;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::Storage;

const HELLO: &[u8] = b"hello world";
const HELLO_MD5: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";
const HELLO_SHA256: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
const LIMIT: u64 = 1 << 30;

async fn store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path().join("store")).await.unwrap();
    (dir, storage)
}

/// Names of the entries of `<root>/<sub>`.
fn entries(storage: &Storage, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(storage.root().join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn assert_clean(storage: &Storage) {
    assert_eq!(
        entries(storage, "tmp"),
        Vec::<String>::new(),
        "tmp is not empty"
    );
    assert_eq!(
        entries(storage, "blobs"),
        Vec::<String>::new(),
        "blobs is not empty"
    );
}

/// Yields `data` in chunks of at most `chunk` bytes, returning `Pending` (after waking
/// itself) before every other chunk, then `error` (if any) instead of end-of-file.
struct ChunkedReader {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    pending_next: bool,
    error: Option<io::ErrorKind>,
}

impl ChunkedReader {
    fn new(data: Vec<u8>, chunk: usize) -> Self {
        ChunkedReader {
            data,
            pos: 0,
            chunk,
            pending_next: true,
            error: None,
        }
    }
}

impl AsyncRead for ChunkedReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.pending_next = !this.pending_next;
        if !this.pending_next {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.pos == this.data.len()
            && let Some(kind) = this.error
        {
            return Poll::Ready(Err(io::Error::new(kind, "connection reset")));
        }
        put_next_chunk(&this.data, &mut this.pos, this.chunk, buf)
    }
}

/// What [`ChunkedReader`] and [`StallingReader`] yield: the next at most `chunk` bytes of
/// `data` from `*pos` (fewer if `buf` has less room), moving `*pos` past them.
fn put_next_chunk(
    data: &[u8],
    pos: &mut usize,
    chunk: usize,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let n = chunk.min(buf.remaining()).min(data.len() - *pos);
    buf.put_slice(&data[*pos..*pos + n]);
    *pos += n;
    Poll::Ready(Ok(()))
}

/// Records whether it was ever polled.
struct TrippedReader(Arc<AtomicBool>);

impl AsyncRead for TrippedReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.store(true, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

/// Never yields anything.
struct StalledReader;

impl AsyncRead for StalledReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// Yields `data` in chunks of at most `chunk` bytes, then signals `stalled` and never yields
/// anything more.
struct StallingReader {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    stalled: Arc<tokio::sync::Notify>,
}

impl AsyncRead for StallingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos == this.data.len() {
            this.stalled.notify_one();
            return Poll::Pending;
        }
        put_next_chunk(&this.data, &mut this.pos, this.chunk, buf)
    }
}

async fn read_all(file: &mut File) -> Vec<u8> {
    let mut out = Vec::new();
    file.read_to_end(&mut out).await.unwrap();
    out
}
