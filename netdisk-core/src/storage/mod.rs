//! File storage that loses nothing: uploads are verified and made durable before they count.
//!
//! Files live under a storage root with server-chosen names; a client's file name never
//! becomes part of a path. The layout on disk is:
//!
//! ```text
//! <root>/tmp/<32 random hex chars>.part         an upload in progress (or a crash leftover)
//! <root>/blobs/<ab>/<sha256 hex>-<blob_id>      a stored blob; <ab> = first two hex chars of the sha
//! ```
//!
//! Content is addressed by its SHA-256 so the caller can deduplicate identical uploads; the
//! database (not this module) keeps the reference counts and the `blob_id`s.
//!
//! The durability steps of an upload ([`Storage::receive`] then [`Received::persist`]):
//!
//! 1. the declared size is checked against the limit before anything is read or created;
//! 2. exactly `size` bytes are streamed through a few reused 256 KiB buffers into a new temporary
//!    file `<root>/tmp/<random>.part` (same filesystem as the blobs, so the final rename is
//!    atomic), MD5 and SHA-256 being computed on two threads alongside, and what was written
//!    so far being synced in the background every few megabytes ([`writeback`]);
//! 3. the size and the MD5 (if the client declared one) are checked;
//! 4. the temporary file is fsynced (`sync_all`);
//! 5. [`Received::persist`] renames it into `blobs/` and fsyncs the directory holding it (and
//!    `blobs/` itself when the two-character shard directory was just created).
//!
//! Any failure (reader error, reader ending early, MD5 mismatch, too large, the future being
//! dropped) removes the temporary file; a [`Received`] dropped without being persisted removes
//! its file too. Files left behind by a crash are removed by [`Storage::sweep_temporaries`] at
//! start-up. Downloads ([`Storage::open_blob`]) stream from an offset, in constant memory.

mod writeback;

use std::io::{self, ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::oneshot;

use writeback::Writeback;

/// Size of each buffer an upload streams through (each allocated once and reused).
const BUF_SIZE: usize = 256 * 1024;
/// How many buffers one upload may fill at once (being written, or waiting for or in hashing).
const BUFFERS: usize = 4;
/// How much an upload's hashing threads lower their priority ([`crate::priority`]). With 16
/// clients reading, 16 registering and one uploading (`loadgen writes`), two runs each: reads
/// 11.5-13.0k -> 16.9-17.6k per second, their p99 6.7-8.0 -> 4.6-4.9 ms; uploads 232-257 ->
/// 172-175 MB/s. Alone, an upload is as fast as before (418-460 MB/s).
const HASHING_NICE_INCREMENT: i32 = 5;
/// Directory (under the root) holding uploads in progress.
const TMP_DIR: &str = "tmp";
/// Directory (under the root) holding the stored blobs.
const BLOBS_DIR: &str = "blobs";
/// Extension of temporary upload files.
const PART_EXT: &str = "part";
/// Length of a SHA-256 digest in hex.
const SHA256_HEX_LEN: usize = 64;

/// The file store rooted at one directory (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

/// What can go wrong storing or reading a file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The declared size is over the limit; nothing was read from the reader.
    #[error("file of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// The content's MD5 differs from the declared one (both lowercase hex).
    #[error("MD5 mismatch: expected {expected}, content has {actual}")]
    Integrity {
        /// The MD5 the client declared (lowercased).
        expected: String,
        /// The MD5 of the bytes actually received.
        actual: String,
    },
    /// The reader ended before `expected` bytes; `received` bytes came.
    #[error("upload ended early: {received} of {expected} bytes received")]
    Incomplete {
        /// The declared size.
        expected: u64,
        /// How many bytes came before the reader ended.
        received: u64,
    },
    /// A path given to `open_blob`/`remove_blob`/`blob_exists`/`persist` is not one
    /// [`Storage::blob_path`] makes.
    #[error("invalid blob path: {0:?}")]
    InvalidPath(String),
    /// An I/O error from the reader or the filesystem.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Storage {
    /// Opens the store at `root`, creating `<root>`, `<root>/tmp` and `<root>/blobs` if missing.
    pub async fn open(root: impl Into<PathBuf>) -> io::Result<Storage> {
        let root = root.into();
        fs::create_dir_all(root.join(TMP_DIR)).await?;
        fs::create_dir_all(root.join(BLOBS_DIR)).await?;
        Ok(Storage { root })
    }

    /// The root directory of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join(BLOBS_DIR)
    }

    /// Removes every leftover `*.part` file in `<root>/tmp` (from a crash) and returns how many.
    ///
    /// Call it at start-up, before accepting uploads: it would also remove the temporary files
    /// of uploads in progress.
    pub async fn sweep_temporaries(&self) -> io::Result<usize> {
        let mut entries = fs::read_dir(self.tmp_dir()).await?;
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != PART_EXT) {
                continue;
            }
            if !entry.file_type().await?.is_file() {
                continue;
            }
            match fs::remove_file(&path).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed leftover temporary upload files");
        }
        Ok(removed)
    }

    /// Receives an upload into a new temporary file and verifies it.
    ///
    /// Reads exactly `size` bytes from `reader` (never more: bytes after them stay in the reader
    /// for the caller) in 256 KiB chunks, writing each to the file while two threads of its own
    /// compute MD5 and SHA-256 over the previous ones (at most four chunks in memory; if the
    /// future is dropped, the threads finish those and end). `expected_md5`, when given, is
    /// compared case-insensitively as hex. The file is fsynced before this returns;
    /// [`Received::persist`] then moves it into place.
    ///
    /// `size > limit` is refused with [`StorageError::TooLarge`] before anything is read or
    /// created. On any error (and if the returned future is dropped before completing) the
    /// temporary file is removed.
    pub async fn receive<R: AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        size: u64,
        expected_md5: Option<&str>,
        limit: u64,
    ) -> Result<Received, StorageError> {
        if size > limit {
            return Err(StorageError::TooLarge { size, limit });
        }

        // The guard is declared before the file so the file is closed before it is removed.
        let (mut guard, mut file) = self.create_temporary().await?;

        let mut hashers = Hashers::start()?;
        let mut writeback = Writeback::new(&file).await?;
        let mut received: u64 = 0;
        while received < size {
            // Never ask for more than what is left, so the reader keeps any bytes after `size`.
            let left = usize::try_from(size - received).unwrap_or(usize::MAX);
            let mut buf = hashers.buffer(left.min(BUF_SIZE)).await?;
            let want = left.min(buf.len());
            let len = fill(reader, &mut buf[..want]).await?;
            if len < want {
                return Err(StorageError::Incomplete {
                    expected: size,
                    received: received + len as u64,
                });
            }
            file.write_all(&buf[..len]).await?;
            received += len as u64;
            writeback.written(received);
            hashers.push(Chunk { buf, len })?;
        }

        let (md5, sha256) = hashers.finish().await?;
        if let Some(expected) = expected_md5 {
            let expected = expected.to_ascii_lowercase();
            if expected != md5 {
                return Err(StorageError::Integrity {
                    expected,
                    actual: md5,
                });
            }
        }

        file.flush().await?;
        file.sync_all().await?;
        drop(file);

        Ok(Received {
            size,
            md5,
            sha256,
            temp: guard.path.take(),
        })
    }

    /// Creates a new, uniquely named temporary file for an upload.
    async fn create_temporary(&self) -> io::Result<(TempGuard, File)> {
        let dir = self.tmp_dir();
        let mut attempts = 0;
        loop {
            let mut name = [0u8; 16];
            rand::fill(&mut name[..]);
            let path = dir.join(format!("{}.{PART_EXT}", hex::encode(name)));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => return Ok((TempGuard { path: Some(path) }, file)),
                // 128 random bits: a collision means something is badly wrong, but retry a bit.
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempts < 3 => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The path of a blob relative to the root: `"blobs/ab/<sha256>-<blob_id>"` with `/`
    /// separators, where `ab` is the first two characters of the (lowercased) SHA-256 hex.
    ///
    /// Only a 64-character hex `sha256` gives a path the other methods accept.
    pub fn blob_path(sha256: &str, blob_id: i64) -> String {
        let sha256 = sha256.to_ascii_lowercase();
        let shard = sha256.get(..2).unwrap_or("");
        format!("{BLOBS_DIR}/{shard}/{sha256}-{blob_id}")
    }

    /// Checks that `rel` has exactly the shape [`Storage::blob_path`] produces and returns the
    /// full path.
    fn resolve(&self, rel: &str) -> Result<PathBuf, StorageError> {
        let (shard, file) =
            parse_blob_path(rel).ok_or_else(|| StorageError::InvalidPath(rel.to_owned()))?;
        Ok(self.blobs_dir().join(shard).join(file))
    }

    /// Opens a stored blob positioned at `offset`, for a download that may resume.
    ///
    /// Returns the file and the number of bytes from `offset` to its end. An `offset` past the
    /// end is an [`io::Error`] of kind [`ErrorKind::InvalidInput`]; a missing blob is one of kind
    /// [`ErrorKind::NotFound`]. `rel` must be a path [`Storage::blob_path`] makes
    /// ([`StorageError::InvalidPath`] otherwise).
    pub async fn open_blob(&self, rel: &str, offset: u64) -> Result<(File, u64), StorageError> {
        let path = self.resolve(rel)?;
        let mut file = File::open(&path).await?;
        let len = file.metadata().await?.len();
        if offset > len {
            return Err(StorageError::Io(io::Error::new(
                ErrorKind::InvalidInput,
                format!("offset {offset} is past the end of the blob ({len} bytes)"),
            )));
        }
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).await?;
        }
        Ok((file, len - offset))
    }

    /// Removes a blob; a missing file is not an error. `rel` must be a path
    /// [`Storage::blob_path`] makes ([`StorageError::InvalidPath`] otherwise).
    pub async fn remove_blob(&self, rel: &str) -> Result<(), StorageError> {
        let path = self.resolve(rel)?;
        match fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a blob exists (as a regular file). `rel` must be a path [`Storage::blob_path`]
    /// makes ([`StorageError::InvalidPath`] otherwise).
    pub async fn blob_exists(&self, rel: &str) -> Result<bool, StorageError> {
        let path = self.resolve(rel)?;
        match fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every blob's relative path, sorted (for start-up checks of orphans and missing files).
    ///
    /// Only files with the shape [`Storage::blob_path`] makes are listed; anything else found
    /// under `<root>/blobs` is skipped with a warning.
    pub async fn list_blobs(&self) -> io::Result<Vec<String>> {
        let mut blobs = Vec::new();
        let mut shards = fs::read_dir(self.blobs_dir()).await?;
        while let Some(shard) = shards.next_entry().await? {
            if !shard.file_type().await?.is_dir() {
                tracing::warn!(path = %shard.path().display(), "unexpected file in the blob store");
                continue;
            }
            let Some(shard_name) = shard.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(path = %shard.path().display(), "unexpected directory in the blob store");
                continue;
            };
            let mut files = fs::read_dir(shard.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let rel = file
                    .file_name()
                    .to_str()
                    .map(|name| format!("{BLOBS_DIR}/{shard_name}/{name}"));
                match rel {
                    Some(rel)
                        if parse_blob_path(&rel).is_some() && file.file_type().await?.is_file() =>
                    {
                        blobs.push(rel);
                    }
                    _ => {
                        tracing::warn!(path = %file.path().display(), "unexpected entry in the blob store");
                    }
                }
            }
        }
        blobs.sort_unstable();
        Ok(blobs)
    }
}

/// Splits a relative blob path into its shard directory and file name, if (and only if) it is
/// exactly what [`Storage::blob_path`] produces for a 64-character lowercase hex SHA-256.
fn parse_blob_path(rel: &str) -> Option<(&str, &str)> {
    let rest = rel.strip_prefix(BLOBS_DIR)?.strip_prefix('/')?;
    let (shard, file) = rest.split_once('/')?;
    let sha = file.get(..SHA256_HEX_LEN)?;
    let id = file.get(SHA256_HEX_LEN..)?.strip_prefix('-')?;
    if !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let id: i64 = id.parse().ok()?;
    // The round trip rejects everything else: a wrong shard, "+1", "01", extra separators...
    (Storage::blob_path(sha, id) == rel).then_some((shard, file))
}

/// Reads into the whole of `buf` unless the reader ends first; returns how many bytes came.
async fn fill<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        match reader.read(&mut buf[len..]).await {
            Ok(0) => break,
            Ok(n) => len += n.min(buf.len() - len),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// A buffer of an upload whose first `len` bytes are content.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
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
struct Hashers {
    /// Filled chunks, in order, to the MD5 thread.
    to_md5: mpsc::Sender<Chunk>,
    /// Buffers the SHA-256 thread is done with.
    free: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    /// How many buffers exist (at most [`BUFFERS`]).
    allocated: usize,
    /// The MD5 (lowercase hex), sent once the MD5 thread's input is closed.
    md5: oneshot::Receiver<String>,
    /// The SHA-256 (lowercase hex), sent once the SHA-256 thread's input is closed.
    sha256: oneshot::Receiver<String>,
}

impl Hashers {
    /// Starts the two threads.
    fn start() -> io::Result<Hashers> {
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
    async fn buffer(&mut self, len: usize) -> io::Result<Vec<u8>> {
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
    fn push(&self, chunk: Chunk) -> io::Result<()> {
        self.to_md5.send(chunk).map_err(|_| hasher_stopped())
    }

    /// Waits for every chunk pushed to be hashed; returns the MD5 and the SHA-256 as lowercase
    /// hex.
    async fn finish(self) -> io::Result<(String, String)> {
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

/// Fsyncs a directory so the entries just created or renamed in it survive a crash.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).await?.sync_all().await
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened (and need not be synced) this way elsewhere.
        let _ = dir;
        Ok(())
    }
}

/// Removes a temporary file when dropped, unless its path was taken.
#[derive(Debug)]
struct TempGuard {
    path: Option<PathBuf>,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            remove_temporary(&path);
        }
    }
}

/// Best-effort removal of a temporary file (from `Drop`, so synchronous and infallible).
fn remove_temporary(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove a temporary upload file");
        }
    }
}

/// A verified upload in a temporary file, returned by [`Storage::receive`].
///
/// Dropping it without [`Received::persist`] deletes the file.
#[derive(Debug)]
pub struct Received {
    /// The size in bytes.
    pub size: u64,
    /// The MD5 of the content, lowercase hex.
    pub md5: String,
    /// The SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// The temporary file; `None` once persisted.
    temp: Option<PathBuf>,
}

impl Received {
    /// Moves the upload into place at `rel` (a path [`Storage::blob_path`] makes) and consumes
    /// it.
    ///
    /// Creates the `blobs/ab` directory if needed, renames the temporary file to `rel`
    /// (replacing an existing file there, which has the same content) and fsyncs the directory.
    /// An invalid `rel` is [`StorageError::InvalidPath`] and the temporary file is removed. If
    /// the final directory fsync fails, the file may already be at `rel`: the caller should
    /// treat the upload as failed (the start-up orphan check, or [`Storage::remove_blob`],
    /// cleans it up).
    pub async fn persist(mut self, storage: &Storage, rel: &str) -> Result<(), StorageError> {
        let dest = storage.resolve(rel)?;
        let Some(temp) = self.temp.as_deref() else {
            // Unreachable: `temp` is only taken below, by this consuming method.
            return Err(StorageError::Io(io::Error::other(
                "upload already persisted",
            )));
        };
        let Some(shard_dir) = dest.parent() else {
            return Err(StorageError::InvalidPath(rel.to_owned()));
        };
        match fs::create_dir(shard_dir).await {
            // A new directory entry in blobs/: make it durable too.
            Ok(()) => sync_dir(&storage.blobs_dir()).await?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        fs::rename(temp, &dest).await?;
        // The file is no longer at the temporary path: nothing for Drop to remove.
        self.temp = None;
        sync_dir(shard_dir).await?;
        tracing::debug!(blob = rel, size = self.size, "stored blob");
        Ok(())
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(path) = self.temp.take() {
            remove_temporary(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

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
            let n = this
                .chunk
                .min(buf.remaining())
                .min(this.data.len() - this.pos);
            buf.put_slice(&this.data[this.pos..this.pos + n]);
            this.pos += n;
            Poll::Ready(Ok(()))
        }
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
            let n = this
                .chunk
                .min(buf.remaining())
                .min(this.data.len() - this.pos);
            buf.put_slice(&this.data[this.pos..this.pos + n]);
            this.pos += n;
            Poll::Ready(Ok(()))
        }
    }

    async fn read_all(file: &mut File) -> Vec<u8> {
        let mut out = Vec::new();
        file.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn good_upload_is_verified_persisted_and_readable_from_an_offset() {
        let (_dir, storage) = store().await;
        let mut reader = HELLO;
        let received = storage
            .receive(&mut reader, HELLO.len() as u64, Some(HELLO_MD5), LIMIT)
            .await
            .unwrap();
        assert_eq!(received.size, 11);
        assert_eq!(received.md5, HELLO_MD5);
        assert_eq!(received.sha256, HELLO_SHA256);
        let temp = received.temp.clone().unwrap();
        assert!(temp.starts_with(storage.root().join("tmp")));
        assert_eq!(temp.extension().unwrap(), "part");
        assert_eq!(std::fs::read(&temp).unwrap(), HELLO);

        let rel = Storage::blob_path(&received.sha256, 7);
        assert_eq!(rel, format!("blobs/b9/{HELLO_SHA256}-7"));
        received.persist(&storage, &rel).await.unwrap();
        assert!(!temp.exists());
        assert_eq!(entries(&storage, "tmp"), Vec::<String>::new());
        assert!(storage.blob_exists(&rel).await.unwrap());
        assert_eq!(
            std::fs::read(
                storage
                    .root()
                    .join("blobs")
                    .join("b9")
                    .join(format!("{HELLO_SHA256}-7"))
            )
            .unwrap(),
            HELLO
        );

        let (mut file, remaining) = storage.open_blob(&rel, 0).await.unwrap();
        assert_eq!(remaining, 11);
        assert_eq!(read_all(&mut file).await, b"hello world");

        let (mut file, remaining) = storage.open_blob(&rel, 6).await.unwrap();
        assert_eq!(remaining, 5);
        assert_eq!(read_all(&mut file).await, b"world");

        let (mut file, remaining) = storage.open_blob(&rel, 11).await.unwrap();
        assert_eq!(remaining, 0);
        assert_eq!(read_all(&mut file).await, b"");

        match storage.open_blob(&rel, 12).await {
            Err(StorageError::Io(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn declared_md5_is_compared_case_insensitively_and_is_optional() {
        let (_dir, storage) = store().await;
        let upper = HELLO_MD5.to_ascii_uppercase();
        let received = storage
            .receive(&mut &HELLO[..], 11, Some(&upper), LIMIT)
            .await
            .unwrap();
        assert_eq!(received.md5, HELLO_MD5);
        let received = storage
            .receive(&mut &HELLO[..], 11, None, LIMIT)
            .await
            .unwrap();
        assert_eq!(received.sha256, HELLO_SHA256);
    }

    #[tokio::test]
    async fn md5_mismatch_is_an_integrity_error_and_leaves_nothing() {
        let (_dir, storage) = store().await;
        let wrong = "00000000000000000000000000000000";
        let err = storage
            .receive(&mut &HELLO[..], 11, Some(wrong), LIMIT)
            .await
            .unwrap_err();
        match err {
            StorageError::Integrity { expected, actual } => {
                assert_eq!(expected, wrong);
                assert_eq!(actual, HELLO_MD5);
            }
            other => panic!("expected Integrity, got {other:?}"),
        }
        assert_clean(&storage);
        assert!(storage.list_blobs().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reader_failing_half_way_is_an_io_error_and_leaves_nothing() {
        let (_dir, storage) = store().await;
        let mut reader = ChunkedReader::new(vec![b'x'; 100_000], 10_000);
        reader.error = Some(ErrorKind::ConnectionReset);
        let err = storage
            .receive(&mut reader, 200_000, None, LIMIT)
            .await
            .unwrap_err();
        match err {
            StorageError::Io(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
            other => panic!("expected Io, got {other:?}"),
        }
        assert_eq!(reader.pos, 100_000, "the failure came after some bytes");
        assert_clean(&storage);
    }

    #[tokio::test]
    async fn reader_ending_early_is_incomplete_and_leaves_nothing() {
        let (_dir, storage) = store().await;
        let mut reader = ChunkedReader::new(vec![b'y'; 70_000], 30_000);
        let err = storage
            .receive(&mut reader, 100_000, None, LIMIT)
            .await
            .unwrap_err();
        match err {
            StorageError::Incomplete { expected, received } => {
                assert_eq!(expected, 100_000);
                assert_eq!(received, 70_000);
            }
            other => panic!("expected Incomplete, got {other:?}"),
        }
        assert_clean(&storage);
    }

    #[tokio::test]
    async fn too_large_is_refused_without_polling_the_reader() {
        let (_dir, storage) = store().await;
        let polled = Arc::new(AtomicBool::new(false));
        let mut reader = TrippedReader(polled.clone());
        let err = storage
            .receive(&mut reader, 1001, None, 1000)
            .await
            .unwrap_err();
        match err {
            StorageError::TooLarge { size, limit } => {
                assert_eq!((size, limit), (1001, 1000));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(!polled.load(Ordering::SeqCst), "the reader was polled");
        assert_clean(&storage);

        // Nothing is created either: without <root>/tmp, creating a temporary would be an Io
        // error, not TooLarge.
        std::fs::remove_dir(storage.root().join("tmp")).unwrap();
        let err = storage
            .receive(&mut reader, u64::MAX, None, 1000)
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { .. }), "{err:?}");
        assert!(!polled.load(Ordering::SeqCst), "the reader was polled");
        assert!(!storage.root().join("tmp").exists());
        std::fs::create_dir(storage.root().join("tmp")).unwrap();

        // Exactly at the limit is fine.
        let received = storage
            .receive(&mut &HELLO[..], 11, None, 11)
            .await
            .unwrap();
        assert_eq!(received.size, 11);
    }

    #[tokio::test]
    async fn receive_stops_at_size_and_leaves_the_rest_in_the_reader() {
        let (_dir, storage) = store().await;
        // Larger than the buffer so the last read has to be shortened.
        let mut data: Vec<u8> = (0..BUF_SIZE as u32 + 100)
            .map(|i| (i % 251) as u8)
            .collect();
        let size = data.len() as u64;
        data.extend_from_slice(b"EXTRA");
        let mut reader = &data[..];
        let received = storage
            .receive(&mut reader, size, None, LIMIT)
            .await
            .unwrap();
        assert_eq!(received.size, size);
        assert_eq!(
            received.sha256,
            hex::encode(Sha256::digest(&data[..size as usize]))
        );
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"EXTRA");

        // A zero-byte upload reads nothing at all.
        let mut reader = &b"abc"[..];
        let received = storage.receive(&mut reader, 0, None, LIMIT).await.unwrap();
        assert_eq!(received.md5, "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(reader, b"abc");
    }

    #[tokio::test]
    async fn dropping_received_without_persist_removes_the_temporary() {
        let (_dir, storage) = store().await;
        let received = storage
            .receive(&mut &HELLO[..], 11, None, LIMIT)
            .await
            .unwrap();
        let temp = received.temp.clone().unwrap();
        assert!(temp.is_file());
        assert_eq!(entries(&storage, "tmp").len(), 1);
        drop(received);
        assert!(!temp.exists());
        assert_clean(&storage);
    }

    #[tokio::test]
    async fn cancelled_receive_removes_the_temporary() {
        let (_dir, storage) = store().await;
        let mut reader = StalledReader;
        let result = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            storage.receive(&mut reader, 10, None, LIMIT),
        )
        .await;
        assert!(result.is_err(), "the receive should have timed out");
        assert_clean(&storage);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receive_dropped_half_way_removes_the_temporary() {
        let (_dir, storage) = store().await;
        let stalled = Arc::new(tokio::sync::Notify::new());
        // Enough for every buffer to be filled, written and handed to the hashing threads.
        let mut reader = StallingReader {
            data: vec![b'z'; 3 * BUFFERS * BUF_SIZE + 123],
            pos: 0,
            chunk: 50_000,
            stalled: stalled.clone(),
        };
        tokio::select! {
            result = storage.receive(&mut reader, 1 << 30, None, LIMIT) => {
                panic!("the receive should have stalled, got {result:?}");
            }
            () = stalled.notified() => {}
        }
        assert_eq!(reader.pos, reader.data.len());
        assert_clean(&storage);
    }

    #[tokio::test]
    async fn hashing_threads_end_once_their_input_is_dropped() {
        let mut hashers = Hashers::start().unwrap();
        for _ in 0..BUFFERS {
            let buf = hashers.buffer(BUF_SIZE).await.unwrap();
            hashers.push(Chunk { buf, len: BUF_SIZE }).unwrap();
        }
        // What dropping the future of a receive does: the chunks' sender goes away.
        let Hashers {
            to_md5, mut free, ..
        } = hashers;
        drop(to_md5);
        // `free` is closed once the SHA-256 thread, which ends after the MD5 thread, has ended.
        // (The timeout only turns a hang into a failure.)
        let returned = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut returned = 0;
            while free.recv().await.is_some() {
                returned += 1;
            }
            returned
        })
        .await
        .expect("the hashing threads did not end");
        assert_eq!(returned, BUFFERS, "every chunk sent was hashed first");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn upload_hashing_runs_below_the_workers_priority() {
        let lowered = (crate::priority::thread_nice() + HASHING_NICE_INCREMENT).min(19);
        let mut hashers = Hashers::start().unwrap();
        let buf = hashers.buffer(16).await.unwrap();
        hashers.push(Chunk { buf, len: 16 }).unwrap();
        // Once the chunk is back, both threads have hashed, so both lowered their priority.
        let _back = hashers.free.recv().await.unwrap();
        let mut at_lowered = 0;
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            if !matches!(name.trim(), "upload-md5" | "upload-sha256") {
                continue;
            }
            // Threads of uploads in other tests may come and go meanwhile.
            let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
                continue;
            };
            // The nice value is field 19 of `stat`: the 17th after the command's `)`.
            let after_name = stat.rsplit_once(')').unwrap().1;
            let nice: i32 = after_name
                .split_whitespace()
                .nth(16)
                .unwrap()
                .parse()
                .unwrap();
            at_lowered += usize::from(nice == lowered);
        }
        assert!(
            at_lowered >= 2,
            "{at_lowered} hashing threads at nice {lowered}"
        );
    }

    #[tokio::test]
    async fn sweep_temporaries_removes_leftover_parts_only() {
        let (_dir, storage) = store().await;
        let tmp = storage.root().join("tmp");
        for name in ["a.part", "b.part", "c.part"] {
            std::fs::write(tmp.join(name), b"leftover").unwrap();
        }
        std::fs::write(tmp.join("keep.txt"), b"not ours").unwrap();
        assert_eq!(storage.sweep_temporaries().await.unwrap(), 3);
        assert_eq!(entries(&storage, "tmp"), vec!["keep.txt".to_owned()]);
        assert_eq!(storage.sweep_temporaries().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn paths_not_made_by_blob_path_are_rejected() {
        let (dir, storage) = store().await;
        // Something a traversal could reach.
        std::fs::write(dir.path().join("x"), b"secret").unwrap();
        let sha = HELLO_SHA256;
        let bad = [
            "../x".to_owned(),
            "/etc/passwd".to_owned(),
            "blobs/../../x".to_owned(),
            String::new(),
            "blobs".to_owned(),
            "blobs/".to_owned(),
            format!("blobs/b9/{sha}"),
            format!("blobs/b9/{sha}-"),
            format!("blobs/b9/{sha}-+1"),
            format!("blobs/b9/{sha}-01"),
            format!("blobs/b9/{sha}-1/"),
            format!("blobs/b9/{sha}-1/.."),
            format!("blobs/00/{sha}-1"),
            format!("blobs//{sha}-1"),
            format!("/blobs/b9/{sha}-1"),
            format!("./blobs/b9/{sha}-1"),
            format!("blobs\\b9\\{sha}-1"),
            format!("blobs/B9/{}-1", sha.to_ascii_uppercase()),
            format!("blobs/b9/{}-1", &sha[..63]),
            format!("blobs/b9/{sha}0-1"),
            format!("blobs/b9/{sha}-99999999999999999999"),
            "blobs/zz/zz00000000000000000000000000000000000000000000000000000000000000-1"
                .to_owned(),
            "blobs/é/é".to_owned(),
        ];
        for rel in &bad {
            for result in [
                storage.open_blob(rel, 0).await.map(|_| ()),
                storage.remove_blob(rel).await,
                storage.blob_exists(rel).await.map(|_| ()),
            ] {
                match result {
                    Err(StorageError::InvalidPath(p)) => assert_eq!(&p, rel),
                    other => panic!("{rel:?}: expected InvalidPath, got {other:?}"),
                }
            }
        }
        assert!(dir.path().join("x").exists());

        // persist refuses them too, and the temporary goes away.
        let received = storage
            .receive(&mut &HELLO[..], 11, None, LIMIT)
            .await
            .unwrap();
        match received.persist(&storage, "../x").await {
            Err(StorageError::InvalidPath(p)) => assert_eq!(p, "../x"),
            other => panic!("expected InvalidPath, got {other:?}"),
        }
        assert_clean(&storage);
        assert_eq!(std::fs::read(dir.path().join("x")).unwrap(), b"secret");

        // Whatever blob_path makes is accepted, including odd ids.
        for id in [0, 1, -1, i64::MAX, i64::MIN] {
            let rel = Storage::blob_path(sha, id);
            assert!(!storage.blob_exists(&rel).await.unwrap(), "{rel}");
        }
        assert_eq!(
            Storage::blob_path(&sha.to_ascii_uppercase(), 3),
            Storage::blob_path(sha, 3)
        );
    }

    #[tokio::test]
    async fn large_chunked_upload_hashes_correctly() {
        let (_dir, storage) = store().await;
        let data: Vec<u8> = (0..3 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let md5 = hex::encode(Md5::digest(&data));
        let sha256 = hex::encode(Sha256::digest(&data));
        // Odd-sized small chunks, with a Pending before every other one.
        let mut reader = ChunkedReader::new(data.clone(), 1000 + 7);
        let received = storage
            .receive(&mut reader, data.len() as u64, Some(&md5), LIMIT)
            .await
            .unwrap();
        assert_eq!(received.size, data.len() as u64);
        assert_eq!(received.md5, md5);
        assert_eq!(received.sha256, sha256);

        let rel = Storage::blob_path(&received.sha256, 42);
        received.persist(&storage, &rel).await.unwrap();
        let (mut file, remaining) = storage.open_blob(&rel, 1_000_000).await.unwrap();
        assert_eq!(remaining, data.len() as u64 - 1_000_000);
        assert_eq!(read_all(&mut file).await, &data[1_000_000..]);
    }

    #[tokio::test]
    async fn remove_and_list_blobs() {
        let (_dir, storage) = store().await;
        let missing = Storage::blob_path(HELLO_SHA256, 1);
        storage.remove_blob(&missing).await.unwrap();
        assert!(storage.list_blobs().await.unwrap().is_empty());

        let mut expected = Vec::new();
        for (content, id) in [(&b"one"[..], 1), (b"two", 2), (b"one", 3)] {
            let received = storage
                .receive(&mut &content[..], content.len() as u64, None, LIMIT)
                .await
                .unwrap();
            let rel = Storage::blob_path(&received.sha256, id);
            received.persist(&storage, &rel).await.unwrap();
            expected.push(rel);
        }
        // Stray files are not blobs.
        std::fs::write(storage.root().join("blobs").join("stray"), b"?").unwrap();
        std::fs::write(
            storage
                .root()
                .join("blobs")
                .join(&expected[0][6..8])
                .join("junk"),
            b"?",
        )
        .unwrap();
        expected.sort();
        assert_eq!(storage.list_blobs().await.unwrap(), expected);

        storage.remove_blob(&expected[0]).await.unwrap();
        assert!(!storage.blob_exists(&expected[0]).await.unwrap());
        storage.remove_blob(&expected[0]).await.unwrap();
        assert_eq!(storage.list_blobs().await.unwrap(), expected[1..]);
    }

    #[tokio::test]
    async fn persisting_over_an_existing_blob_replaces_it() {
        let (_dir, storage) = store().await;
        let rel = Storage::blob_path(HELLO_SHA256, 5);
        for _ in 0..2 {
            let received = storage
                .receive(&mut &HELLO[..], 11, None, LIMIT)
                .await
                .unwrap();
            received.persist(&storage, &rel).await.unwrap();
        }
        assert_eq!(storage.list_blobs().await.unwrap(), vec![rel.clone()]);
        assert_eq!(entries(&storage, "tmp"), Vec::<String>::new());
        let (mut file, remaining) = storage.open_blob(&rel, 0).await.unwrap();
        assert_eq!(remaining, 11);
        assert_eq!(read_all(&mut file).await, HELLO);
    }

    #[tokio::test]
    async fn open_creates_the_layout_and_missing_blobs_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a").join("b");
        let storage = Storage::open(&root).await.unwrap();
        assert_eq!(storage.root(), root);
        assert!(root.join("tmp").is_dir());
        assert!(root.join("blobs").is_dir());
        // Opening again is fine.
        Storage::open(&root).await.unwrap();
        match storage
            .open_blob(&Storage::blob_path(HELLO_SHA256, 1), 0)
            .await
        {
            Err(StorageError::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
}
