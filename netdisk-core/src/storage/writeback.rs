//! Syncs while an upload streams: every [`STEP`] bytes, the bytes written so far are synced to
//! disk (`fdatasync`) in the background, so that the `sync_all` at the upload's end has only
//! the last stretch left to make durable instead of the whole file.
//!
//! The final fsync of a 256 MiB file took 0.3 s on the development machine's virtual disk even
//! when the kernel had been asked to write the bytes out as they came (`posix_fadvise`, as
//! `sync_file_range` does): most of its time is the disk making the data durable, which only a
//! sync starts. Syncing every 16 MiB on the side, for 256 MiB written at the pace of MD5
//! (550 MB/s): final fsync 330 -> 24 ms, 325 -> 524 MB/s in all (`fsync` at 32 MiB: 45 ms; at
//! 64 MiB: 88 ms). The same idea as RocksDB's `bytes_per_sync`.
//!
//! A sync runs on the blocking pool, one at a time per upload: the upload never waits for it
//! (when the last one still runs, the next waits for a later chunk). Its failure is ignored:
//! the final `sync_all` reports real I/O errors.

use std::sync::Arc;

use tokio::task::JoinHandle;

/// Bytes written between two background syncs.
pub(super) const STEP: u64 = 16 << 20;

/// The background syncs of one file being written.
pub(super) struct Writeback {
    /// Another handle on the file (its own descriptor), for the blocking-pool syncs.
    file: Arc<std::fs::File>,
    /// How many bytes had been written when the last sync started.
    synced: u64,
    /// The last sync, while it may still run.
    in_flight: Option<JoinHandle<()>>,
}

impl Writeback {
    /// Prepares the syncs of `file`.
    pub(super) async fn new(file: &tokio::fs::File) -> std::io::Result<Writeback> {
        Ok(Writeback {
            file: Arc::new(file.try_clone().await?.into_std().await),
            synced: 0,
            in_flight: None,
        })
    }

    /// Tells that `written` bytes were handed to the file in all: starts a sync when [`STEP`]
    /// more were written since the last one started, unless that one still runs.
    pub(super) fn written(&mut self, written: u64) {
        if written - self.synced < STEP
            || self
                .in_flight
                .as_ref()
                .is_some_and(|last| !last.is_finished())
        {
            return;
        }
        self.synced = written;
        let file = self.file.clone();
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            if let Err(error) = file.sync_data() {
                tracing::debug!(%error, "a background sync of an upload failed");
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn settle(writeback: &mut Writeback) {
        if let Some(last) = writeback.in_flight.take() {
            last.await.unwrap();
        }
    }

    #[tokio::test]
    async fn syncs_every_step_and_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = tokio::fs::File::create(dir.path().join("upload"))
            .await
            .unwrap();
        let mut writeback = Writeback::new(&file).await.unwrap();

        writeback.written(STEP - 1);
        assert!(writeback.in_flight.is_none(), "less than a step: no sync");

        writeback.written(STEP + 5);
        assert_eq!(writeback.synced, STEP + 5);
        settle(&mut writeback).await;

        writeback.written(2 * STEP);
        assert!(
            writeback.in_flight.is_none(),
            "less than a step since the last sync"
        );

        // While a sync runs, no other starts; the next call after it ends does.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        writeback.in_flight = Some(tokio::task::spawn_blocking(move || gate.recv().unwrap()));
        writeback.written(3 * STEP);
        assert_eq!(writeback.synced, STEP + 5);
        release.send(()).unwrap();
        settle(&mut writeback).await;
        writeback.written(3 * STEP);
        assert_eq!(writeback.synced, 3 * STEP);
        settle(&mut writeback).await;
    }
}
