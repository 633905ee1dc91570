//! Reference-counted content: identical bytes are stored once, and a file is removed only when
//! its last reference goes, inside the same transaction that removes the reference.

use mini_orm::{Model, Transaction};

use super::Netdisk;
use crate::error::{Result, ServiceError};
use crate::models::Blob;
use crate::storage::{Received, Storage};

/// A reference added by [`attach`].
struct Attached {
    blob_id: i64,
    /// The file this attach created, to remove if the transaction does not commit.
    new_file: Option<String>,
}

/// Adds a reference to `received`'s content inside `tx`: the blob with the same SHA-256 gains a
/// reference (and the just-received copy is dropped), or a new blob row is created and the file
/// moved into place under its name.
///
/// Inserting first (rather than looking first) means two uploads of the same new content wait
/// on the unique index instead of deadlocking on MySQL; the one that finds the row taken adds a
/// reference instead.
async fn attach(tx: &mut Transaction, storage: &Storage, received: Received) -> Result<Attached> {
    loop {
        let mut blob = Blob {
            id: 0,
            sha256: received.sha256.clone(),
            size: received.size as i64,
            refs: 1,
        };
        match blob.save(&mut *tx).await {
            Ok(()) => {
                let path = Storage::blob_path(&blob.sha256, blob.id);
                received.persist(storage, &path).await?;
                return Ok(Attached {
                    blob_id: blob.id,
                    new_file: Some(path),
                });
            }
            Err(e) if e.is_unique_violation() => {
                let same = || Blob::query().filter(Blob::SHA256.eq(received.sha256.as_str()));
                if same().update(&mut *tx, [Blob::REFS.increment(1)]).await? == 0 {
                    continue; // its last reference went away meanwhile: make a new generation
                }
                if let Some(existing) = same().first(&mut *tx).await? {
                    return Ok(Attached {
                        blob_id: existing.id,
                        new_file: None,
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Drops one reference inside `tx`; when it was the last, deletes the row and returns the file
/// to remove once the transaction has committed.
pub(super) async fn release(tx: &mut Transaction, blob_id: i64) -> Result<Option<String>> {
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

impl Netdisk {
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
        let mut tx = self.db().begin().await?;
        let Attached { blob_id, new_file } = attach(&mut tx, self.storage(), received).await?;
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
        let blob = Blob::get(self.db(), blob_id).await?;
        Ok(Storage::blob_path(&blob.sha256, blob.id))
    }
}
