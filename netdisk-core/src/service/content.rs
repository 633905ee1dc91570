//! Reference-counted content, shared by movies and files: identical bytes are stored once, and a
//! file is removed only when its last reference goes, inside the same transaction that removes
//! the reference. Also start-up's check that rows and stored files agree.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mini_orm::{Model, Transaction};

use super::Shared;
use crate::error::{Result, ServiceError};
use crate::models::Blob;
use crate::storage::{Received, Storage};

/// A blob file with no row is removed at start-up only once it is this old: a younger one may
/// belong to an upload another process is committing right now.
const ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// What start-up found and mended in storage.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StartupReport {
    /// Temporary files of interrupted uploads, removed.
    pub temporaries_removed: usize,
    /// Stored files that no row refers to, removed.
    pub orphans_removed: usize,
    /// Rows whose file is missing (reported, not mended: the bytes are gone).
    pub missing_files: Vec<String>,
}

/// The content store: blob rows and their files, used by the movie and file services.
#[derive(Clone)]
pub(super) struct Content {
    shared: Arc<Shared>,
}

/// The blob row [`reserve`] found or created for some content.
enum Reserved {
    /// A new row, holding the one reference: the received file must move into place.
    New(Blob),
    /// An existing row, which gained a reference: the received copy is not needed.
    Existing(i64),
}

/// How many times a transaction that adds or drops references is run when MySQL breaks a
/// deadlock by rolling it back.
const DEADLOCK_ATTEMPTS: u32 = 5;

/// Adds a reference to the content with `sha256` inside `tx`: the blob with the same SHA-256
/// gains a reference, or a new blob row is inserted.
///
/// Inserting first (rather than looking first) lets uploads of the same new content wait on the
/// unique index; on MySQL, those waiting then each need the row's exclusive lock, and InnoDB
/// rolls all but one back ([`mini_orm::Error::Deadlock`]): the caller runs the transaction again.
async fn reserve(tx: &mut Transaction, sha256: &str, size: u64) -> mini_orm::Result<Reserved> {
    loop {
        let mut blob = Blob {
            id: 0,
            sha256: sha256.to_owned(),
            size: size as i64,
            refs: 1,
        };
        match blob.save(&mut *tx).await {
            Ok(()) => return Ok(Reserved::New(blob)),
            Err(e) if e.is_unique_violation() => {
                let same = || Blob::query().filter(Blob::SHA256.eq(sha256));
                if same().update(&mut *tx, [Blob::REFS.increment(1)]).await? == 0 {
                    continue; // its last reference went away meanwhile: make a new generation
                }
                if let Some(existing) = same().first(&mut *tx).await? {
                    return Ok(Reserved::Existing(existing.id));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Decides what follows a failed transaction that adds or drops references (already rolled
/// back): after a deadlock, a short random pause before the caller runs it again; after any
/// other error, or too many deadlocks, the error.
async fn retry_after_deadlock(error: mini_orm::Error, attempt: &mut u32) -> Result<()> {
    if !error.is_deadlock() || *attempt >= DEADLOCK_ATTEMPTS {
        return Err(error.into());
    }
    *attempt += 1;
    let pause = rand::random_range(1..=10 * u64::from(*attempt));
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    Ok(())
}

/// Drops one reference inside `tx`; when it was the last, deletes the row and returns the file
/// to remove once the transaction has committed.
async fn release(tx: &mut Transaction, blob_id: i64) -> mini_orm::Result<Option<String>> {
    Blob::query()
        .filter(Blob::ID.eq(blob_id))
        .update(&mut *tx, [Blob::REFS.increment(-1)])
        .await?;
    let unused = Blob::query()
        .filter(Blob::ID.eq(blob_id) & Blob::REFS.le(0))
        .first(&mut *tx)
        .await?;
    let Some(blob) = unused else { return Ok(None) };
    blob.delete(&mut *tx).await?;
    Ok(Some(Storage::blob_path(&blob.sha256, blob.id)))
}

impl Content {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Content { shared }
    }

    fn storage(&self) -> &Storage {
        &self.shared.storage
    }

    /// Inserts `row`, which refers to `received`'s content through `set_blob`, in one transaction
    /// with the content's reference: both commit or neither does (and a file this created is
    /// removed again). A unique violation of the row is [`ServiceError::Conflict`] with `conflict`.
    pub(super) async fn insert_with_content<M: Model + Send>(
        &self,
        received: Received,
        row: &mut M,
        set_blob: fn(&mut M, i64),
        conflict: &'static str,
    ) -> Result<()> {
        let mut attempt = 1;
        let (mut tx, reserved) = loop {
            let mut tx = self.shared.db.begin().await?;
            match reserve(&mut tx, &received.sha256, received.size).await {
                Ok(reserved) => break (tx, reserved),
                Err(e) => retry_after_deadlock(e, &mut attempt).await?,
            }
        };
        let (blob_id, new_file) = match reserved {
            Reserved::Existing(blob_id) => (blob_id, None), // dropping `received` removes the copy
            Reserved::New(blob) => {
                let path = Storage::blob_path(&blob.sha256, blob.id);
                received.persist(self.storage(), &path).await?;
                (blob.id, Some(path))
            }
        };
        set_blob(row, blob_id);
        let saved = match row.save(&mut tx).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        if let Err(error) = saved {
            self.remove_unreferenced(new_file).await;
            if error.is_unique_violation() {
                return Err(ServiceError::Conflict(conflict));
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// Removes a file no row refers to any more; failing that, start-up's orphan sweep will.
    pub(super) async fn remove_unreferenced(&self, path: Option<String>) {
        if let Some(path) = path
            && let Err(error) = self.storage().remove_blob(&path).await
        {
            tracing::warn!(blob = %path, %error, "could not remove an unreferenced file; start-up will retry");
        }
    }

    /// The stored path of a blob.
    pub(super) async fn blob_path(&self, blob_id: i64) -> Result<String> {
        let blob = Blob::get(&self.shared.db, blob_id).await?;
        Ok(Storage::blob_path(&blob.sha256, blob.id))
    }

    /// Deletes `row`, which refers to blob `blob_id`, in one transaction with its reference
    /// (run again after a deadlock); the blob's file goes once nothing uses it.
    pub(super) async fn delete_with_reference<M: Model + Sync>(
        &self,
        row: &M,
        blob_id: i64,
    ) -> Result<()> {
        let mut attempt = 1;
        let (tx, unused) = loop {
            let mut tx = self.shared.db.begin().await?;
            let released = match row.delete(&mut tx).await {
                Ok(()) => release(&mut tx, blob_id).await,
                Err(e) => Err(e),
            };
            match released {
                Ok(unused) => break (tx, unused),
                Err(e) => retry_after_deadlock(e, &mut attempt).await?,
            }
        };
        tx.commit().await?;
        self.remove_unreferenced(unused).await;
        Ok(())
    }

    /// Removes temporary files of interrupted uploads and stored files that no row refers to
    /// (once older than [`ORPHAN_GRACE`]), and reports rows whose file is missing.
    pub(super) async fn check_storage(&self) -> Result<StartupReport> {
        let storage = self.storage();
        let internal = |e: std::io::Error| ServiceError::Internal(Box::new(e));
        let mut report = StartupReport {
            temporaries_removed: storage.sweep_temporaries().await.map_err(internal)?,
            ..StartupReport::default()
        };
        let known: HashSet<String> = Blob::query()
            .all(&self.shared.db)
            .await?
            .iter()
            .map(|b| Storage::blob_path(&b.sha256, b.id))
            .collect();
        let on_disk: HashSet<String> = storage
            .list_blobs()
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        for orphan in on_disk.difference(&known) {
            let age = tokio::fs::metadata(storage.root().join(orphan))
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_some_and(|age| age >= ORPHAN_GRACE) {
                storage.remove_blob(orphan).await?;
                report.orphans_removed += 1;
            }
        }
        report.missing_files = known.difference(&on_disk).cloned().collect();
        report.missing_files.sort();
        for missing in &report.missing_files {
            tracing::error!(blob = %missing, "a stored file is missing: its movie or file cannot be downloaded");
        }
        Ok(report)
    }
}
