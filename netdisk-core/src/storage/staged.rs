//! Staged files: the bytes of a resumable upload, kept across requests (and restarts) in
//! `<root>/staged/<id>.part` until the upload completes and is received into `blobs/` like any
//! other upload. A chunk is appended whole or not at all: a chunk cut off half-way leaves the
//! file as it was before the chunk.

use std::io::{self, ErrorKind};
use std::path::PathBuf;

use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::Storage;

/// Directory (under the root) holding staged uploads.
const STAGED_DIR: &str = "staged";

impl Storage {
    /// Where staged upload `id` keeps its bytes; `id` is a server-made number, never a client's
    /// text.
    fn staged_path(&self, id: i64) -> PathBuf {
        self.root().join(STAGED_DIR).join(format!("{id}.part"))
    }

    /// Appends `chunk` to staged upload `id`, which must hold exactly `offset` bytes already
    /// (bytes past `offset`, left by a crash between writing and recording a chunk, are cut
    /// off first). The chunk is synced to disk before this returns; on any error the file is
    /// put back to `offset` bytes.
    pub async fn append_staged(&self, id: i64, offset: u64, chunk: &[u8]) -> io::Result<()> {
        fs::create_dir_all(self.root().join(STAGED_DIR)).await?;
        let path = self.staged_path(id);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .await?;
        let len = file.metadata().await?.len();
        if len < offset {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("staged upload {id} holds {len} bytes, not the {offset} recorded"),
            ));
        }
        if len > offset {
            file.set_len(offset).await?;
        }
        let written = async {
            file.seek(io::SeekFrom::Start(offset)).await?;
            file.write_all(chunk).await?;
            file.sync_data().await
        }
        .await;
        if let Err(error) = written {
            let _ = file.set_len(offset).await;
            return Err(error);
        }
        Ok(())
    }

    /// Opens staged upload `id` for reading from its start.
    pub async fn open_staged(&self, id: i64) -> io::Result<File> {
        File::open(self.staged_path(id)).await
    }

    /// Removes staged upload `id`; a missing file is not an error.
    pub async fn remove_staged(&self, id: i64) -> io::Result<()> {
        match fs::remove_file(self.staged_path(id)).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Storage {
    /// The ids of every staged upload that has bytes on disk.
    pub async fn staged_ids(&self) -> io::Result<Vec<i64>> {
        let mut entries = match fs::read_dir(self.root().join(STAGED_DIR)).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut ids = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let id = name
                .to_str()
                .and_then(|name| name.strip_suffix(".part"))
                .and_then(|id| id.parse().ok());
            if let Some(id) = id {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
