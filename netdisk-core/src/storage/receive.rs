//! Receiving an upload, steps 1 to 5 of the [module documentation](super): the size check, the
//! temporary file and what is streamed into it, the size and MD5 checks, the fsync, and the
//! rename into `blobs/` with the directory fsyncs; and the removal of temporary files (on
//! failure, on drop, and of a crash's leftovers at start-up).

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::hashing::{Chunk, Hashers};
use super::layout::PART_EXT;
use super::writeback::Writeback;
use super::{Storage, StorageError};

/// Size of each buffer an upload streams through (each allocated once and reused).
pub(super) const BUF_SIZE: usize = 256 * 1024;

impl Storage {
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
    pub(super) temp: Option<PathBuf>,
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
