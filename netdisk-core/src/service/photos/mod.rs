//! The photo site (Albumy): photos uploaded, checked by their content, stored by content and
//! served with their variants; descriptions and tags (`tags`); a person's photos and Explore
//! (`lists`); reports to the moderators (`reports`); search (`search`).
//!
//! An upload is checked and made smaller on the photo workers: a fixed number of threads at a
//! lowered priority (`workers`), so at most that many pictures are decoded (and held in
//! memory) at once, and a burst of uploads waits its turn instead of taking the cores from
//! other requests. The upload's request waits for its own picture, and answers with the photo
//! and its variants made, or with why the picture was refused; nothing of a refused picture is
//! stored. A photo whose variants went missing (the server stopped between storing the photo
//! and its variants) gets them again when the server starts.
//!
//! Who may do what is the accounts' [`Role`](crate::Role): uploading needs
//! [`Ability::Upload`] (and a confirmed e-mail address); a photo is edited by its owner only,
//! and deleted by its owner or a moderator.

mod lists;
pub mod picture;
mod reports;
mod search;
mod tags;

use std::sync::Arc;

use bytes::Bytes;
use mini_orm::Model;
use serde::Serialize;

pub use lists::{MAX_PHOTO_PAGE, PhotoPage};
use picture::{Checked, Format, PictureLimits, Variant, VariantKind};
pub(in crate::service) use reports::check_reason;
pub use reports::{ReportedPhoto, SiteCounts};
pub use search::{SEARCH_PAGE, TagFound};
pub use tags::{MAX_TAG_CHARS, MAX_TAGS_PER_PHOTO, parse_tags};

use super::accounts::{Ability, Accounts};
use super::content::Content;
use super::{Caller, Shared};
use crate::StoredContent;
use crate::clock::format_local;
use crate::error::{Result, ServiceError};
use crate::models::{Collect, Comment, Notification, Photo, PhotoTag, PhotoVariant, Report, User};
use crate::storage::Storage;
use crate::workers::{Workers, cores_but_one};

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// One of a photo's pictures, as a page or a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PictureRef {
    /// `original`, `small` or `medium`.
    pub kind: &'static str,
    /// Hex SHA-256 of its bytes: its address never changes meaning.
    pub sha256: String,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
}

/// A photo as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoView {
    /// The photo's id.
    pub id: i64,
    /// Who uploaded it (account name).
    pub owner: String,
    /// What its owner says of it.
    pub description: String,
    /// Its tags, in the order they were added.
    pub tags: Vec<String>,
    /// `jpeg`, `png` or `webp`.
    pub format: String,
    /// Size of the picture as served, in bytes.
    pub size: i64,
    /// When it was uploaded, in the contract's `YYYY-MM-DD HH:MM:SS` form.
    pub uploaded_at: String,
    /// Whether comments may be written (its owner may turn them off).
    pub comments_open: bool,
    /// The picture as uploaded (without its metadata).
    pub original: PictureRef,
    /// 400 pixels wide at most; the original until it is made.
    pub small: PictureRef,
    /// 800 pixels wide at most; the original until it is made.
    pub medium: PictureRef,
}

impl PhotoView {
    fn new(photo: Photo, owner: String, variants: &[PhotoVariant]) -> PhotoView {
        let original = PictureRef {
            kind: "original",
            sha256: photo.sha256.clone(),
            width: photo.width,
            height: photo.height,
        };
        let variant = |kind: VariantKind| {
            variants
                .iter()
                .find(|v| v.photo_id == photo.id && v.kind == kind.as_str())
                .map_or_else(
                    || original.clone(),
                    |v| PictureRef {
                        kind: kind.as_str(),
                        sha256: v.sha256.clone(),
                        width: v.width,
                        height: v.height,
                    },
                )
        };
        PhotoView {
            small: variant(VariantKind::Small),
            medium: variant(VariantKind::Medium),
            tags: tags::split(&photo.tag_names),
            id: photo.id,
            owner,
            description: photo.description,
            format: photo.format,
            size: photo.size,
            uploaded_at: format_local(photo.created_at),
            comments_open: !photo.comments_closed,
            original,
        }
    }
}

/// The photo service. Cheap to clone.
#[derive(Clone)]
pub struct Photos {
    shared: Arc<Shared>,
    accounts: Accounts,
    content: Content,
    workers: Arc<Workers<()>>,
}

impl Photos {
    /// The service, with its workers started; photos whose variants are missing get them in
    /// the background.
    pub(super) fn open(shared: Arc<Shared>, accounts: Accounts, content: Content) -> Photos {
        let threads = match shared.config.photo_threads {
            0 => cores_but_one(),
            threads => threads,
        };
        let photos = Photos {
            workers: Arc::new(Workers::start("photo processing", "photo", threads, || ())),
            shared,
            accounts,
            content,
        };
        let remaking = photos.clone();
        tokio::spawn(async move {
            if let Err(error) = remaking.remake_missing_variants().await {
                tracing::error!(%error, "could not make the missing variants of photos");
            }
        });
        photos
    }

    fn db(&self) -> &mini_orm::Db {
        &self.shared.db
    }

    /// The limits an upload is checked against (from the configuration).
    pub fn limits(&self) -> PictureLimits {
        let config = &self.shared.config;
        PictureLimits {
            max_bytes: config.photo_max_bytes,
            max_side: config.photo_max_side,
            max_pixels: config.photo_max_pixels,
        }
    }

    /// Uploads a photo: `upload` is checked by its content on the photo workers (see
    /// [`picture::check`]), then stored with its variants. Needs [`Ability::Upload`] and a
    /// confirmed e-mail address. Nothing is stored of a picture that is refused.
    pub async fn upload(&self, caller: &Caller, upload: Bytes, description: &str) -> Result<i64> {
        self.accounts.require(caller, Ability::Upload).await?;
        check_description(description)?;
        let limits = self.limits();
        if upload.len() as u64 > limits.max_bytes {
            return Err(ServiceError::TooLarge {
                size: upload.len() as u64,
                limit: limits.max_bytes,
            });
        }
        let checked: Checked = self
            .workers
            .run(move |_| picture::check(upload, &limits))
            .await?;
        let mut photo = Photo {
            id: 0,
            owner_id: caller.user_id(),
            description: description.trim().to_owned(),
            tag_names: String::new(),
            blob_id: 0,
            sha256: String::new(),
            format: checked.format.as_str().to_owned(),
            size: checked.served.len() as i64,
            width: i64::from(checked.width),
            height: i64::from(checked.height),
            created_at: self.shared.now(),
            comments_closed: false,
        };
        let received = self.receive(checked.served).await?;
        photo.sha256 = received.sha256.clone();
        self.content
            .insert_with_content(received, &mut photo, |p, id| p.blob_id = id, "")
            .await?;
        self.store_variants(photo.id, checked.variants).await?;
        Ok(photo.id)
    }

    /// Stores `bytes` as a temporary file, hashed, ready to become stored content.
    async fn receive(&self, bytes: Bytes) -> Result<crate::storage::Received> {
        let size = bytes.len() as u64;
        let received = self
            .shared
            .storage
            .receive(&mut &bytes[..], size, None, size)
            .await?;
        Ok(received)
    }

    /// Stores the variants of photo `photo_id`; a variant stored meanwhile (by another server
    /// making the missing ones) is kept.
    async fn store_variants(&self, photo_id: i64, variants: Vec<Variant>) -> Result<()> {
        for variant in variants {
            let received = self.receive(variant.bytes).await?;
            let mut row = PhotoVariant {
                id: 0,
                photo_id,
                kind: variant.kind.as_str().to_owned(),
                blob_id: 0,
                sha256: received.sha256.clone(),
                width: i64::from(variant.width),
                height: i64::from(variant.height),
            };
            let stored = self
                .content
                .insert_with_content(received, &mut row, |v, id| v.blob_id = id, "made already")
                .await;
            match stored {
                Ok(()) | Err(ServiceError::Conflict(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Makes the variants of every photo that lacks one; returns how many photos got theirs.
    /// Run in the background when the server starts.
    pub async fn remake_missing_variants(&self) -> Result<usize> {
        let mut lacking: Vec<i64> = Vec::new();
        for kind in VariantKind::ALL {
            let made = PhotoVariant::query()
                .filter(PhotoVariant::KIND.eq(kind.as_str()))
                .values(PhotoVariant::PHOTO_ID);
            let ids = Photo::query()
                .filter(Photo::ID.not_in_query(made))
                .all(self.db())
                .await?;
            lacking.extend(ids.into_iter().map(|photo| photo.id));
        }
        lacking.sort_unstable();
        lacking.dedup();
        let mut remade = 0;
        for photo_id in lacking {
            match self.remake_variants(photo_id).await {
                Ok(()) => remade += 1,
                Err(error) => tracing::warn!(photo_id, %error, "could not make a photo's variants"),
            }
        }
        if remade > 0 {
            tracing::info!(remade, "made the missing variants of photos");
        }
        Ok(remade)
    }

    async fn remake_variants(&self, photo_id: i64) -> Result<()> {
        let Some(photo) = Photo::find(self.db(), photo_id).await? else {
            return Ok(()); // deleted meanwhile
        };
        let path = self.content.blob_path(photo.blob_id).await?;
        let (mut file, _) = self.shared.storage.open_blob(&path, 0).await?;
        let mut served = Vec::with_capacity(photo.size.max(0) as usize);
        tokio::io::AsyncReadExt::read_to_end(&mut file, &mut served)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let limits = self.limits();
        let variants = self
            .workers
            .run(move |_| picture::variants_of(&served, &limits))
            .await?;
        self.store_variants(photo_id, variants).await
    }

    /// Photo `id` as pages show it. Anyone may look.
    pub async fn photo(&self, id: i64) -> Result<PhotoView> {
        let photo = Photo::find(self.db(), id)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))?;
        let mut views = self.views(vec![photo]).await?;
        views.pop().ok_or(ServiceError::NotFound("no such photo"))
    }

    /// The views of `photos`, in their order (their owners and variants in two queries).
    pub(in crate::service) async fn views(&self, photos: Vec<Photo>) -> Result<Vec<PhotoView>> {
        let ids: Vec<i64> = photos.iter().map(|p| p.id).collect();
        let owner_ids: Vec<i64> = photos.iter().map(|p| p.owner_id).collect();
        let variants = PhotoVariant::query()
            .filter(PhotoVariant::PHOTO_ID.is_in(ids))
            .all(self.db())
            .await?;
        let owners = User::query()
            .filter(User::ID.is_in(owner_ids))
            .all(self.db())
            .await?;
        Ok(photos
            .into_iter()
            .map(|photo| {
                let owner = owners
                    .iter()
                    .find(|u| u.id == photo.owner_id)
                    .map_or_else(String::new, |u| u.name.clone());
                PhotoView::new(photo, owner, &variants)
            })
            .collect())
    }

    /// One of photo `id`'s pictures (`original`, `small` or `medium`), if its hash is `sha256`
    /// (an address that names a picture the photo no longer has, or never had, is not found),
    /// with its format. Anyone may look.
    pub async fn picture(
        &self,
        id: i64,
        kind: &str,
        sha256: &str,
    ) -> Result<(StoredContent, Format)> {
        const NOT_FOUND: ServiceError = ServiceError::NotFound("no such picture");
        let photo = Photo::find(self.db(), id).await?.ok_or(NOT_FOUND)?;
        let (blob_id, format) = if kind == "original" {
            let format = Format::parse(&photo.format).ok_or(NOT_FOUND)?;
            (photo.blob_id, format)
        } else {
            let kind = VariantKind::parse(kind).ok_or(NOT_FOUND)?;
            let variant = PhotoVariant::query()
                .filter(PhotoVariant::PHOTO_ID.eq(id) & PhotoVariant::KIND.eq(kind.as_str()))
                .first(self.db())
                .await?
                .ok_or(NOT_FOUND)?;
            if variant.sha256 != sha256 {
                return Err(NOT_FOUND);
            }
            (variant.blob_id, Format::Jpeg)
        };
        if kind == "original" && photo.sha256 != sha256 {
            return Err(NOT_FOUND);
        }
        let blob = crate::models::Blob::get(self.db(), blob_id).await?;
        let path = Storage::blob_path(&blob.sha256, blob.id);
        let content = StoredContent::new(
            self.shared.storage.clone(),
            path,
            blob.size as u64,
            blob.sha256,
        );
        Ok((content, format))
    }

    /// Sets photo `id`'s description. Its owner only.
    pub async fn describe(&self, caller: &Caller, id: i64, description: &str) -> Result<()> {
        check_description(description)?;
        let mut photo = self.owned(caller, id).await?;
        photo.description = description.trim().to_owned();
        photo.update(self.db()).await?;
        Ok(())
    }

    /// Photo `id`, if the caller owns it; [`ServiceError::Forbidden`] when someone else does.
    async fn owned(&self, caller: &Caller, id: i64) -> Result<Photo> {
        let photo = Photo::find(self.db(), id)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))?;
        if photo.owner_id != caller.user_id() {
            return Err(ServiceError::Forbidden("only its owner may change a photo"));
        }
        Ok(photo)
    }

    /// Deletes photo `id` with its variants, tags, reports, comments, collections and
    /// notifications; the stored bytes go once no
    /// photo, movie or file uses them. Its owner or a moderator.
    pub async fn delete(&self, caller: &Caller, id: i64) -> Result<()> {
        let photo = Photo::find(self.db(), id)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))?;
        if photo.owner_id != caller.user_id() {
            self.accounts
                .require(caller, Ability::Moderate)
                .await
                .map_err(|_| {
                    ServiceError::Forbidden("only its owner or a moderator may delete a photo")
                })?;
        }
        let variants = PhotoVariant::query()
            .filter(PhotoVariant::PHOTO_ID.eq(id))
            .all(self.db())
            .await?;
        for variant in &variants {
            self.content
                .delete_with_reference(variant, variant.blob_id)
                .await?;
        }
        PhotoTag::query()
            .filter(PhotoTag::PHOTO_ID.eq(id))
            .delete(self.db())
            .await?;
        Report::query()
            .filter(Report::TARGET.eq("photo") & Report::TARGET_ID.eq(id))
            .delete(self.db())
            .await?;
        let on_it = Comment::query().filter(Comment::PHOTO_ID.eq(id));
        Report::query()
            .filter(
                Report::TARGET.eq("comment")
                    & Report::TARGET_ID.in_query(on_it.values(Comment::ID)),
            )
            .delete(self.db())
            .await?;
        Comment::query()
            .filter(Comment::PHOTO_ID.eq(id))
            .delete(self.db())
            .await?;
        Collect::query()
            .filter(Collect::PHOTO_ID.eq(id))
            .delete(self.db())
            .await?;
        Notification::query()
            .filter(Notification::PHOTO_ID.eq(id))
            .delete(self.db())
            .await?;
        self.content
            .delete_with_reference(&photo, photo.blob_id)
            .await
    }
}

/// A description may be empty, and may hold line breaks (no other control characters).
fn check_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ServiceError::BadRequest(format!(
            "a description has at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(ServiceError::bad_request(
            "a description cannot contain control characters",
        ));
    }
    Ok(())
}
