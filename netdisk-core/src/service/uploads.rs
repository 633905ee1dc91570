//! Resumable uploads: a movie or a personal file sent in chunks, over as many requests (and
//! connections, and server restarts) as it takes. Each chunk names the offset it starts at, is
//! synced to disk before it counts, and is kept whole or not at all; the upload's progress is
//! a row, so any server process sharing the database can take the next chunk. When the last
//! byte arrives the staged bytes go through the same upload as a one-piece one
//! ([`Movies::upload`], [`Files::upload`]): role, name, size, duplicate and whole-content MD5
//! checks, and nothing shows until all of it is stored. An upload that fails those checks, is
//! cancelled, or receives nothing for [`upload_expiry_secs`](crate::Config::upload_expiry_secs)
//! leaves nothing behind.

use std::sync::Arc;

use mini_orm::Model;
use serde::Serialize;

use super::{Caller, Files, MovieUpload, Movies, Shared, check_md5};
use crate::error::{Result, ServiceError};
use crate::models::StagedUpload;

/// How long a request writing a chunk holds the upload against other requests, at most.
const WRITE_LEASE_SECS: i64 = 60;

/// What an upload will become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// A movie (admins only), free or charged.
    Movie {
        /// Whether it will be free.
        is_free: bool,
    },
    /// A file in the caller's netdisk.
    File,
}

/// An upload about to start.
#[derive(Debug, Clone, Copy)]
pub struct NewUpload<'a> {
    /// What it will become.
    pub kind: UploadKind,
    /// The movie's or the file's name.
    pub name: &'a str,
    /// Bytes in all.
    pub size: u64,
    /// The hex MD5 of the whole content: required for movies, optional for files.
    pub md5: Option<&'a str>,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadProgress {
    /// Names the upload; only its owner's session can use it.
    pub token: String,
    /// Bytes received so far: where the next chunk starts.
    pub received: u64,
    /// Bytes in all.
    pub size: u64,
}

/// What a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// More is expected.
    Partial(UploadProgress),
    /// That was the last byte: the movie's or the file's id.
    Complete(i64),
}

/// The resumable upload service. Cheap to clone.
#[derive(Clone)]
pub struct Uploads {
    shared: Arc<Shared>,
    movies: Movies,
    files: Files,
}

impl Uploads {
    pub(super) fn new(shared: Arc<Shared>, movies: Movies, files: Files) -> Self {
        Uploads {
            shared,
            movies,
            files,
        }
    }

    /// Starts an upload. Everything that can be checked before the bytes is checked here (the
    /// role, the name, the size limit, a duplicate movie, a file name taken), so that nobody
    /// sends gigabytes to be refused at the end.
    pub async fn begin(&self, caller: &Caller, upload: NewUpload<'_>) -> Result<UploadProgress> {
        let md5 = upload.md5.filter(|md5| !md5.is_empty());
        match upload.kind {
            UploadKind::Movie { is_free } => {
                let md5 = md5.ok_or_else(|| ServiceError::bad_request("a movie needs its MD5"))?;
                self.movies
                    .check_upload(
                        caller,
                        MovieUpload {
                            name: upload.name,
                            size: upload.size,
                            md5,
                            is_free,
                        },
                    )
                    .await?;
            }
            UploadKind::File => {
                if let Some(md5) = md5 {
                    check_md5(md5)?;
                }
                self.files
                    .check_upload(caller, upload.name, upload.size)
                    .await?;
            }
        }
        self.remove_expired().await?;
        let now = self.shared.now();
        let (kind, is_free) = match upload.kind {
            UploadKind::Movie { is_free } => ("movie", is_free),
            UploadKind::File => ("file", false),
        };
        let mut staged = StagedUpload {
            id: 0,
            token: hex::encode(rand::random::<[u8; 16]>()),
            user_id: caller.user_id,
            kind: kind.to_owned(),
            name: upload.name.to_owned(),
            is_free,
            size: upload.size as i64,
            md5: md5.unwrap_or_default().to_ascii_lowercase(),
            received: 0,
            busy_until: 0,
            touched_at: now,
        };
        staged.save(&self.shared.db).await?;
        Ok(progress(&staged))
    }

    /// Where one of the caller's uploads stands.
    pub async fn status(&self, caller: &Caller, token: &str) -> Result<UploadProgress> {
        Ok(progress(&self.own(caller, token).await?))
    }

    /// Appends `chunk`, which starts at byte `offset` of the upload. An offset other than the
    /// bytes received so far, or a chunk another request is writing at the same moment, is a
    /// [`ServiceError::Conflict`] (ask [`Uploads::status`] where to go on); a chunk past the
    /// declared size is a [`ServiceError::BadRequest`]. The last chunk completes the upload.
    /// An empty chunk at the end finishes an upload whose finishing failed for a reason that
    /// may pass (the database was down).
    pub async fn append(
        &self,
        caller: &Caller,
        token: &str,
        offset: u64,
        chunk: &[u8],
    ) -> Result<Appended> {
        let staged = self.own(caller, token).await?;
        if offset != staged.received as u64 {
            return Err(ServiceError::Conflict(
                "the chunk does not start where the upload stands; ask where it stands",
            ));
        }
        let end = offset + chunk.len() as u64;
        if end > staged.size as u64 {
            return Err(ServiceError::bad_request(
                "the chunk goes past the upload's declared size",
            ));
        }
        let now = self.shared.now();
        let by_id = || StagedUpload::query().filter(StagedUpload::ID.eq(staged.id));
        let claimed = by_id()
            .filter(StagedUpload::BUSY_UNTIL.lt(now) & StagedUpload::RECEIVED.eq(offset as i64))
            .update(
                &self.shared.db,
                [StagedUpload::BUSY_UNTIL.set(now + WRITE_LEASE_SECS)],
            )
            .await?;
        if claimed == 0 {
            return Err(ServiceError::Conflict(
                "another request is writing this upload; ask where it stands",
            ));
        }
        let written = self
            .shared
            .storage
            .append_staged(staged.id, offset, chunk)
            .await;
        let received = if written.is_ok() { end } else { offset };
        by_id()
            .update(
                &self.shared.db,
                [
                    StagedUpload::RECEIVED.set(received as i64),
                    StagedUpload::TOUCHED_AT.set(now),
                    StagedUpload::BUSY_UNTIL.set(0),
                ],
            )
            .await?;
        written.map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let staged = StagedUpload {
            received: end as i64,
            ..staged
        };
        if end < staged.size as u64 {
            return Ok(Appended::Partial(progress(&staged)));
        }
        self.finish(caller, &staged).await.map(Appended::Complete)
    }

    /// Cancels one of the caller's uploads, removing what it received.
    pub async fn cancel(&self, caller: &Caller, token: &str) -> Result<()> {
        let staged = self.own(caller, token).await?;
        self.remove(&staged).await
    }

    /// Makes the movie or the file out of a complete upload's bytes.
    async fn finish(&self, caller: &Caller, staged: &StagedUpload) -> Result<i64> {
        let mut bytes = self
            .shared
            .storage
            .open_staged(staged.id)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let size = staged.size as u64;
        let md5 = Some(staged.md5.as_str()).filter(|md5| !md5.is_empty());
        let stored = if staged.kind == "movie" {
            let upload = MovieUpload {
                name: &staged.name,
                size,
                md5: md5.unwrap_or_default(),
                is_free: staged.is_free,
            };
            self.movies.upload(caller, upload, &mut bytes).await
        } else {
            self.files
                .upload(caller, &staged.name, size, md5, &mut bytes)
                .await
        };
        match stored {
            // Worth another try with the same bytes: keep them.
            Err(e) if e.is_unexpected() => Err(e),
            _ => {
                self.remove(staged).await?;
                stored
            }
        }
    }

    /// One of the caller's uploads by token; anyone else's is [`ServiceError::NotFound`].
    async fn own(&self, caller: &Caller, token: &str) -> Result<StagedUpload> {
        const NO_UPLOAD: ServiceError = ServiceError::NotFound("no such upload");
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NO_UPLOAD);
        }
        StagedUpload::query()
            .filter(StagedUpload::TOKEN.eq(token) & StagedUpload::USER_ID.eq(caller.user_id))
            .first(&self.shared.db)
            .await?
            .ok_or(NO_UPLOAD)
    }

    /// Removes an upload's row, then its bytes.
    async fn remove(&self, staged: &StagedUpload) -> Result<()> {
        staged.delete(&self.shared.db).await?;
        self.shared
            .storage
            .remove_staged(staged.id)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))
    }

    /// Removes staged bytes that no upload owns any more (a crash between removing an upload's
    /// row and its file); run at start-up. Returns how many were removed.
    pub(super) async fn remove_orphans(&self) -> Result<usize> {
        let internal = |e: std::io::Error| ServiceError::Internal(Box::new(e));
        let on_disk = self.shared.storage.staged_ids().await.map_err(internal)?;
        if on_disk.is_empty() {
            return Ok(0);
        }
        let owned: Vec<i64> = StagedUpload::query()
            .filter(StagedUpload::ID.is_in(on_disk.clone()))
            .all(&self.shared.db)
            .await?
            .into_iter()
            .map(|staged| staged.id)
            .collect();
        let mut removed = 0;
        for id in on_disk.into_iter().filter(|id| !owned.contains(id)) {
            self.shared
                .storage
                .remove_staged(id)
                .await
                .map_err(internal)?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(removed, "removed staged upload bytes that no upload owned");
        }
        Ok(removed)
    }

    /// Removes every upload that received nothing for the configured expiry.
    async fn remove_expired(&self) -> Result<()> {
        let expiry = self.shared.config.upload_expiry_secs as i64;
        let expired = StagedUpload::query()
            .filter(StagedUpload::TOUCHED_AT.lt(self.shared.now() - expiry))
            .all(&self.shared.db)
            .await?;
        for staged in expired {
            self.remove(&staged).await?;
        }
        Ok(())
    }
}

fn progress(staged: &StagedUpload) -> UploadProgress {
    UploadProgress {
        token: staged.token.clone(),
        received: staged.received as u64,
        size: staged.size as u64,
    }
}
