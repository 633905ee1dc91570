//! Where things are on disk: the store's directories, the paths of blobs (made by
//! [`Storage::blob_path`], and accepted only in exactly that shape), and reading, listing and
//! removing stored blobs.

use std::io::{self, ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::fs::{self, File};
use tokio::io::AsyncSeekExt;

use super::StorageError;

/// Directory (under the root) holding uploads in progress.
const TMP_DIR: &str = "tmp";
/// Directory (under the root) holding the stored blobs.
const BLOBS_DIR: &str = "blobs";
/// Extension of temporary upload files.
pub(super) const PART_EXT: &str = "part";
/// Length of a SHA-256 digest in hex.
const SHA256_HEX_LEN: usize = 64;

/// The file store rooted at one directory (see the [module documentation](super)).
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
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

    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    pub(super) fn blobs_dir(&self) -> PathBuf {
        self.root.join(BLOBS_DIR)
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
    pub(super) fn resolve(&self, rel: &str) -> Result<PathBuf, StorageError> {
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

    /// Opens a blob to read ranges of at any offset (positioned reads, `sendfile`). A missing
    /// blob is an [`io::Error`] of kind [`ErrorKind::NotFound`]; `rel` must be a path
    /// [`Storage::blob_path`] makes ([`StorageError::InvalidPath`] otherwise).
    ///
    /// The file is opened on the calling thread, as nginx opens the files it serves: opening a
    /// local file takes microseconds, where a trip to a blocking thread and back took 45 µs,
    /// two thirds of the time the HTTP door spent on a range request (BENCHMARKS.md, issue 16).
    pub fn open_blob_for_ranges(&self, rel: &str) -> Result<std::fs::File, StorageError> {
        let path = self.resolve(rel)?;
        Ok(std::fs::File::open(path)?)
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
