//! The home feed: the photos of the people the caller follows, and the caller's own, newest
//! first, paged by keyset (the next page starts below the last photo id of the one before).

use mini_orm::Model;

use super::Social;
use crate::error::Result;
use crate::models::{Follow, Photo};
use crate::service::Caller;
use crate::service::photos::{MAX_PHOTO_PAGE, PhotoPage};

impl Social {
    /// The caller's home feed: below photo id `before` (from the newest when `None`), at most
    /// `limit` photos.
    pub async fn home(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: u64,
    ) -> Result<PhotoPage> {
        let limit = limit.clamp(1, MAX_PHOTO_PAGE);
        let followed = Follow::query()
            .filter(Follow::FOLLOWER_ID.eq(caller.user_id()))
            .values(Follow::FOLLOWED_ID);
        let mine = Photo::OWNER_ID.eq(caller.user_id());
        let mut query = Photo::query()
            .filter(Photo::OWNER_ID.in_query(followed) | mine)
            .order_by(Photo::ID.desc())
            .limit(limit);
        if let Some(before) = before {
            query = query.after(Photo::ID, before);
        }
        let photos = query.all(self.db()).await?;
        self.photos.page(photos, limit).await
    }
}
