//! Reference-counted content: identical bytes are stored once, and a file is removed only when
//! its last reference goes, inside the same transaction that removes the reference.

use mini_orm::{Model, Transaction};

use super::Netdisk;
use crate::error::{Result, ServiceError};
use crate::models::Blob;
use crate::storage::{Received, Storage};

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
pub(super) async fn retry_after_deadlock(error: mini_orm::Error, attempt: &mut u32) -> Result<()> {
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
pub(super) async fn release(
    tx: &mut Transaction,
    blob_id: i64,
) -> mini_orm::Result<Option<String>> {
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
        let mut attempt = 1;
        let (mut tx, reserved) = loop {
            let mut tx = self.db().begin().await?;
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
        let blob = Blob::get(self.db(), blob_id).await?;
        Ok(Storage::blob_path(&blob.sha256, blob.id))
    }
}
