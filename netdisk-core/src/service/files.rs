//! The personal netdisk: each person's private files, reachable only by their owner.

use std::sync::Arc;

use mini_orm::Model;
use tokio::io::AsyncRead;

use super::content::Content;
use super::{Caller, Shared, StoredContent, Transfer, check_md5, check_text};
use crate::error::{Result, ServiceError};
use crate::models::UserFile;

/// The answer when the owner already has a file with the name.
const NAME_TAKEN: &str = "you have a file with this name already";

/// Longest file name, in characters.
const MAX_FILE_NAME_CHARS: usize = 255;

/// A personal file about to be sent.
#[derive(Debug)]
pub struct FileDownload {
    /// The file's row.
    pub file: UserFile,
    /// The bytes from the requested offset.
    pub transfer: Transfer,
}

/// The personal netdisk service. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    shared: Arc<Shared>,
    content: Content,
}

impl Files {
    pub(super) fn new(shared: Arc<Shared>, content: Content) -> Self {
        Files { shared, content }
    }

    /// Stores a file of `size` bytes from `reader` in the caller's netdisk and returns its id.
    /// `md5`, when given, is checked against the bytes. A name the caller already uses is a
    /// [`ServiceError::Conflict`] (checked before reading, and again by the unique index).
    pub async fn upload<R: AsyncRead + Unpin>(
        &self,
        caller: &Caller,
        name: &str,
        size: u64,
        md5: Option<&str>,
        reader: &mut R,
    ) -> Result<i64> {
        if let Some(md5) = md5 {
            check_md5(md5)?;
        }
        self.check_upload(caller, name, size).await?;
        let limit = self.shared.config.max_file_bytes;
        let received = self
            .shared
            .storage
            .receive(reader, size, md5, limit)
            .await?;
        let mut file = UserFile {
            id: 0,
            owner_id: caller.user_id,
            name: name.to_owned(),
            size: received.size as i64,
            md5: received.md5.clone(),
            blob_id: 0,
            upload_time: self.shared.now_text(),
        };
        self.content
            .insert_with_content(received, &mut file, |f, id| f.blob_id = id, NAME_TAKEN)
            .await?;
        Ok(file.id)
    }

    /// The checks of [`Files::upload`] that need no bytes: name, size limit, a name the caller
    /// uses already.
    pub async fn check_upload(&self, caller: &Caller, name: &str, size: u64) -> Result<()> {
        check_text("a file name", name, MAX_FILE_NAME_CHARS)?;
        let limit = self.shared.config.max_file_bytes;
        if size > limit {
            return Err(ServiceError::TooLarge { size, limit });
        }
        if self.find(caller, name).await.is_ok() {
            return Err(ServiceError::Conflict(NAME_TAKEN));
        }
        Ok(())
    }

    /// The caller's files, newest first.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<UserFile>> {
        Ok(UserFile::query()
            .filter(UserFile::OWNER_ID.eq(caller.user_id))
            .order_by(UserFile::ID.desc())
            .all(&self.shared.db)
            .await?)
    }

    /// One of the caller's files by name; anyone else's is [`ServiceError::NotFound`].
    pub async fn find(&self, caller: &Caller, name: &str) -> Result<UserFile> {
        UserFile::query()
            .filter(UserFile::OWNER_ID.eq(caller.user_id) & UserFile::NAME.eq(name))
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such file"))
    }

    async fn own_file(&self, caller: &Caller, file_id: i64) -> Result<UserFile> {
        UserFile::query()
            .filter(UserFile::ID.eq(file_id) & UserFile::OWNER_ID.eq(caller.user_id))
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such file"))
    }

    /// Starts a download of one of the caller's files from `offset`.
    pub async fn download(
        &self,
        caller: &Caller,
        file_id: i64,
        offset: u64,
    ) -> Result<FileDownload> {
        let file = self.own_file(caller, file_id).await?;
        if offset > file.size as u64 {
            return Err(ServiceError::bad_request(
                "offset is past the end of the file",
            ));
        }
        let (content, remaining) = self
            .shared
            .storage
            .open_blob(&self.content.blob_path(file.blob_id).await?, offset)
            .await?;
        Ok(FileDownload {
            file,
            transfer: Transfer::new(content, remaining),
        })
    }

    /// One of the caller's files and its bytes, for downloads that read ranges.
    pub async fn content(
        &self,
        caller: &Caller,
        file_id: i64,
    ) -> Result<(UserFile, StoredContent)> {
        let file = self.own_file(caller, file_id).await?;
        let path = self.content.blob_path(file.blob_id).await?;
        let content = StoredContent::new(
            self.shared.storage.clone(),
            path,
            file.size as u64,
            file.md5.clone(),
        );
        Ok((file, content))
    }

    /// Deletes one of the caller's files; its bytes go once no other file or movie shares them.
    pub async fn delete(&self, caller: &Caller, file_id: i64) -> Result<()> {
        let file = self.own_file(caller, file_id).await?;
        self.content
            .delete_with_reference(&file, file.blob_id)
            .await
    }
}
