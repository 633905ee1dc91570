//! Lists of photos: a person's, a tag's (newest first, paged by keyset: the next page starts
//! below the last id of the one before, so photos added meanwhile neither shift a page nor show
//! twice), and Explore's random pick.

use mini_orm::Model;
use serde::Serialize;

use super::{PhotoView, Photos};
use crate::error::{Result, ServiceError};
use crate::models::{Photo, PhotoTag, Tag, User};

/// Largest page of photos.
pub const MAX_PHOTO_PAGE: u64 = 60;

/// A page of photos, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoPage {
    /// The photos.
    pub photos: Vec<PhotoView>,
    /// Where the next page starts (`before` for the next call), if there may be one.
    pub next: Option<i64>,
}

impl Photos {
    /// Person `name`'s photos, newest first: those below id `before` (all when `None`), at most
    /// `limit` (at most [`MAX_PHOTO_PAGE`]). Anyone may look.
    pub async fn by_person(
        &self,
        name: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<PhotoPage> {
        let owner = User::query()
            .filter(User::NAME.eq(name))
            .first(self.db())
            .await?
            .ok_or(ServiceError::NotFound("no such person"))?;
        let limit = limit.clamp(1, MAX_PHOTO_PAGE);
        let mut query = Photo::query()
            .filter(Photo::OWNER_ID.eq(owner.id))
            .order_by(Photo::ID.desc())
            .limit(limit);
        if let Some(before) = before {
            query = query.after(Photo::ID, before);
        }
        let photos = query.all(self.db()).await?;
        self.page(photos, limit).await
    }

    /// The photos tagged `tag`, newest first, paged as [`Photos::by_person`]. A tag nobody
    /// uses has no photos (not an error).
    pub async fn tagged(&self, tag: &str, before: Option<i64>, limit: u64) -> Result<PhotoPage> {
        let limit = limit.clamp(1, MAX_PHOTO_PAGE);
        let tag = tag.trim_start_matches('#').to_lowercase();
        let Some(tag) = Tag::query()
            .filter(Tag::NAME.eq(tag.as_str()))
            .first(self.db())
            .await?
        else {
            return Ok(PhotoPage {
                photos: Vec::new(),
                next: None,
            });
        };
        let mut links = PhotoTag::query()
            .filter(PhotoTag::TAG_ID.eq(tag.id))
            .order_by(PhotoTag::PHOTO_ID.desc())
            .limit(limit);
        if let Some(before) = before {
            links = links.after(PhotoTag::PHOTO_ID, before);
        }
        let ids: Vec<i64> = links
            .all(self.db())
            .await?
            .into_iter()
            .map(|link| link.photo_id)
            .collect();
        let photos = Photo::query()
            .filter(Photo::ID.is_in(ids))
            .order_by(Photo::ID.desc())
            .all(self.db())
            .await?;
        self.page(photos, limit).await
    }

    /// Up to `count` photos picked at random (at most [`MAX_PHOTO_PAGE`]), for Explore.
    pub async fn explore(&self, count: u64) -> Result<Vec<PhotoView>> {
        let count = count.clamp(1, MAX_PHOTO_PAGE) as usize;
        let newest = Photo::query()
            .order_by(Photo::ID.desc())
            .first(self.db())
            .await?;
        let Some(newest) = newest else {
            return Ok(Vec::new());
        };
        // Ids are drawn at random below the newest; deleted ones miss, so draw more than wanted
        // and fill up with the newest photos when too few hit (a small or sparse site).
        let drawn: Vec<i64> = (0..count * 4)
            .map(|_| rand::random_range(1..=newest.id))
            .collect();
        let mut photos = Photo::query()
            .filter(Photo::ID.is_in(drawn))
            .all(self.db())
            .await?;
        if photos.len() < count {
            let have: Vec<i64> = photos.iter().map(|p| p.id).collect();
            let newest = Photo::query()
                .filter(Photo::ID.not_in(have))
                .order_by(Photo::ID.desc())
                .limit((count - photos.len()) as u64)
                .all(self.db())
                .await?;
            photos.extend(newest);
        }
        shuffle(&mut photos);
        photos.truncate(count);
        self.views(photos).await
    }

    /// A page of `photos` asked for `limit` at a time: a full page may have a next one.
    pub(in crate::service) async fn page(
        &self,
        photos: Vec<Photo>,
        limit: u64,
    ) -> Result<PhotoPage> {
        let next = (photos.len() as u64 == limit)
            .then(|| photos.last().map(|p| p.id))
            .flatten();
        Ok(PhotoPage {
            photos: self.views(photos).await?,
            next,
        })
    }
}

/// Fisher–Yates.
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rand::random_range(0..=i));
    }
}
