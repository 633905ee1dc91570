//! [`Transfer`]: the bytes of a download, read in constant memory from an offset, counting what
//! was read so that the service can tell a complete transfer from an interrupted one; and
//! [`StoredContent`], stored bytes a download may read any range of.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf, Take};

use crate::error::Result;
use crate::storage::Storage;

/// The remaining bytes of a stored file, from the requested offset to its end.
#[derive(Debug)]
pub struct Transfer {
    content: Take<File>,
    len: u64,
    sent: u64,
}

impl Transfer {
    pub(crate) fn new(file: File, len: u64) -> Self {
        Transfer {
            content: file.take(len),
            len,
            sent: 0,
        }
    }

    /// How many bytes this transfer carries (what follows the response frame).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there is nothing to send (a resume from the very end).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every byte has been read.
    pub fn is_complete(&self) -> bool {
        self.sent == self.len
    }
}

impl AsyncRead for Transfer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.content).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.sent += read;
        polled
    }
}

/// Stored bytes that can be read from any offset, for downloads that ask for ranges: the
/// content of a movie being watched, of a personal file, or of a photo.
#[derive(Debug, Clone)]
pub struct StoredContent {
    storage: Storage,
    path: String,
    size: u64,
    digest: String,
}

impl StoredContent {
    pub(crate) fn new(storage: Storage, path: String, size: u64, digest: String) -> Self {
        StoredContent {
            storage,
            path,
            size,
            digest,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A hex digest of the content (MD5 for movies and files, SHA-256 for photos): what an
    /// `ETag` can be made of (equal content, equal digest).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The content as a file, which a door sends ranges of to its sockets (`sendfile`), in
    /// constant memory.
    pub fn open_file(&self) -> Result<std::fs::File> {
        Ok(self.storage.open_blob_for_ranges(&self.path)?)
    }
}
