//! Collecting photos (Albumy's favourites): a member collects a photo once (again changes
//! nothing), its owner is told, and a person's collection pages newest first.

use mini_orm::Model;
use serde::Serialize;

use super::Social;
use super::notifications::{New, NotificationKind};
use crate::error::{Result, ServiceError};
use crate::models::{Collect, Photo};
use crate::service::Caller;
use crate::service::accounts::Ability;
use crate::service::photos::{MAX_PHOTO_PAGE, PhotoPage};

/// What a photo's page shows of its collectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// How many people collected it.
    pub count: u64,
    /// Whether the one looking did.
    pub by_you: bool,
}

impl Social {
    /// The caller collects photo `photo_id`; its owner is told, the first time.
    pub async fn collect(&self, caller: &Caller, photo_id: i64) -> Result<()> {
        self.accounts.require(caller, Ability::Collect).await?;
        let photo = Photo::find(self.db(), photo_id)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))?;
        let mut collect = Collect {
            id: 0,
            user_id: caller.user_id(),
            photo_id,
            created_at: self.shared.now(),
        };
        if collect.insert_if_absent(self.db()).await? {
            let kind = NotificationKind::Collect;
            self.notify(New::about_photo(
                photo.owner_id,
                kind,
                caller,
                photo_id,
                None,
            ))
            .await?;
        }
        Ok(())
    }

    /// The caller takes photo `photo_id` out of their collection (not in it: nothing changes).
    pub async fn uncollect(&self, caller: &Caller, photo_id: i64) -> Result<()> {
        Collect::query()
            .filter(Collect::USER_ID.eq(caller.user_id()) & Collect::PHOTO_ID.eq(photo_id))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// How many collected photo `photo_id`, and whether `viewer` did.
    pub async fn collected(&self, viewer: Option<&Caller>, photo_id: i64) -> Result<Collected> {
        let this = || Collect::query().filter(Collect::PHOTO_ID.eq(photo_id));
        let count = this().count(self.db()).await?;
        let by_you = match viewer {
            Some(viewer) => {
                let mine = Collect::USER_ID.eq(viewer.user_id());
                this().filter(mine).exists(self.db()).await?
            }
            None => false,
        };
        Ok(Collected { count, by_you })
    }

    /// Person `name`'s collection, the latest collected first: those collected before
    /// collection entry `before` (the page's `next`), at most `limit`.
    pub async fn collection(
        &self,
        name: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<PhotoPage> {
        let person = self.person(name).await?;
        let limit = limit.clamp(1, MAX_PHOTO_PAGE);
        let mut query = Collect::query()
            .filter(Collect::USER_ID.eq(person.id))
            .order_by(Collect::ID.desc())
            .limit(limit);
        if let Some(before) = before {
            query = query.after(Collect::ID, before);
        }
        let collects = query.all(self.db()).await?;
        let ids: Vec<i64> = collects.iter().map(|c| c.photo_id).collect();
        let photos = Photo::query()
            .filter(Photo::ID.is_in(ids.clone()))
            .all(self.db())
            .await?;
        let in_order = ids
            .iter()
            .filter_map(|id| photos.iter().find(|p| p.id == *id).cloned())
            .collect();
        let next = (collects.len() as u64 == limit)
            .then(|| collects.last().map(|c| c.id))
            .flatten();
        Ok(PhotoPage {
            photos: self.photos.views(in_order).await?,
            next,
        })
    }
}
