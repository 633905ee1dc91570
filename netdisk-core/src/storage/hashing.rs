//! The MD5 and SHA-256 of an upload, computed on two threads of their own alongside the reading
//! and writing (step 2 of the [module documentation](super)), through a bounded number of
//! reused buffers.

use std::io;
use std::sync::mpsc;

use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// How many buffers one upload may fill at once (being written, or waiting for or in hashing).
pub(super) const BUFFERS: usize = 4;
/// How much an upload's hashing threads lower their priority ([`crate::priority`]). With 16
/// clients reading, 16 registering and one uploading (`loadgen writes`), two runs each: reads
/// 11.5-13.0k -> 16.9-17.6k per second, their p99 6.7-8.0 -> 4.6-4.9 ms; uploads 232-257 ->
/// 172-175 MB/s. Alone, an upload is as fast as before (418-460 MB/s).
pub(super) const HASHING_NICE_INCREMENT: i32 = 5;

/// A buffer of an upload whose first `len` bytes are content.
pub(super) struct Chunk {
    pub(super) buf: Vec<u8>,
    pub(super) len: usize,
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// MD5 and SHA-256 of an upload, computed on two threads of their own.
///
/// The task that reads the upload (and writes it to the file) sends each filled chunk to the
/// MD5 thread, which passes it on to the SHA-256 thread, which hands the buffer back for reuse:
/// hashing runs alongside reading and writing, up to [`BUFFERS`] chunks behind, in bounded
/// memory. They are plain threads rather than blocking-pool jobs so that uploads waiting for
/// bytes never hold pool threads that file I/O needs.
///
/// Dropping a `Hashers` (the upload failed, or its future was dropped) closes the MD5 thread's
/// input: it hashes the chunks already sent (at most [`BUFFERS`]) and ends, which closes the
/// SHA-256 thread's input, which ends too.
pub(super) struct Hashers {
    /// Filled chunks, in order, to the MD5 thread.
    pub(super) to_md5: mpsc::Sender<Chunk>,
    /// Buffers the SHA-256 thread is done with.
    pub(super) free: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    /// How many buffers exist (at most [`BUFFERS`]).
    allocated: usize,
    /// The MD5 (lowercase hex), sent once the MD5 thread's input is closed.
    md5: oneshot::Receiver<String>,
    /// The SHA-256 (lowercase hex), sent once the SHA-256 thread's input is closed.
    sha256: oneshot::Receiver<String>,
}

impl Hashers {
    /// Starts the two threads.
    pub(super) fn start() -> io::Result<Hashers> {
        let (to_md5, md5_input) = mpsc::channel::<Chunk>();
        let (to_sha256, sha256_input) = mpsc::channel::<Chunk>();
        let (to_free, free) = tokio::sync::mpsc::unbounded_channel();
        let (md5_done, md5) = oneshot::channel();
        let (sha256_done, sha256) = oneshot::channel();
        spawn_hasher::<Sha256>("upload-sha256", sha256_input, sha256_done, move |chunk| {
            // The receiver is gone only when the upload is over.
            let _ = to_free.send(chunk.buf);
        })?;
        spawn_hasher::<Md5>("upload-md5", md5_input, md5_done, move |chunk| {
            // The SHA-256 thread only ends early by panicking: `buffer` then reports it.
            let _ = to_sha256.send(chunk);
        })?;
        Ok(Hashers {
            to_md5,
            free,
            allocated: 0,
            md5,
            sha256,
        })
    }

    /// A buffer to read the next chunk into: one the hashes are done with, else a new one of
    /// `len` bytes while fewer than [`BUFFERS`] exist, else the next one they finish with.
    pub(super) async fn buffer(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if let Ok(buf) = self.free.try_recv() {
            return Ok(buf);
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return Ok(vec![0; len]);
        }
        self.free.recv().await.ok_or_else(hasher_stopped)
    }

    /// Queues the next chunk for hashing (never waits: [`Hashers::buffer`] bounds the queue).
    pub(super) fn push(&self, chunk: Chunk) -> io::Result<()> {
        self.to_md5.send(chunk).map_err(|_| hasher_stopped())
    }

    /// Waits for every chunk pushed to be hashed; returns the MD5 and the SHA-256 as lowercase
    /// hex.
    pub(super) async fn finish(self) -> io::Result<(String, String)> {
        let Hashers {
            to_md5,
            md5,
            sha256,
            ..
        } = self;
        drop(to_md5);
        let md5 = md5.await.map_err(|_| hasher_stopped())?;
        let sha256 = sha256.await.map_err(|_| hasher_stopped())?;
        Ok((md5, sha256))
    }
}

/// Spawns a thread that hashes the chunks from `input` in order, passing each on to `forward`,
/// and sends the lowercase hex digest to `done` once `input` is closed.
fn spawn_hasher<D: Digest>(
    name: &str,
    input: mpsc::Receiver<Chunk>,
    done: oneshot::Sender<String>,
    mut forward: impl FnMut(Chunk) + Send + 'static,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Err(error) = crate::priority::lower_thread_priority(HASHING_NICE_INCREMENT) {
                tracing::debug!(%error, "an upload hashes at the request workers' priority");
            }
            let mut digest = D::new();
            for chunk in input {
                digest.update(chunk.bytes());
                forward(chunk);
            }
            // The upload may have been dropped meanwhile; then nobody wants the digest.
            let _ = done.send(hex::encode(digest.finalize()));
        })?;
    Ok(())
}

/// The error when a hashing thread ended before its input did (it panicked).
fn hasher_stopped() -> io::Error {
    io::Error::other("an upload hashing thread stopped unexpectedly")
}
