//! The photo site's social side: following people (here), collecting photos (`collects`),
//! comments and replies (`comments`), the home feed of the people one follows (`feed`), and the
//! notifications all of these send (`notifications`), stored and pushed live to every open page
//! of their reader, on any server process, through topics.
//!
//! Following and collecting need the role's ability and a confirmed e-mail address, as
//! commenting does ([`Accounts::require`](super::Accounts::require)); following is idempotent
//! and never oneself. A notification is written after the action it tells of, in a transaction
//! of its own with its event: should the process die between the two, the action stays and
//! only its notification is lost.

mod collects;
mod comments;
mod feed;
mod notifications;

use std::sync::Arc;

use mini_orm::Model;
use serde::Serialize;

pub use collects::Collected;
pub use comments::{CommentView, MAX_COMMENT_CHARS, ReportedComment, Reports};
pub use notifications::{NotificationKind, NotificationSubscription, NotificationView};

use super::accounts::{Ability, Accounts};
use super::photos::Photos;
use super::{Caller, Shared};
use crate::error::{Result, ServiceError};
use crate::models::{Follow, Photo, User};
use crate::topics::Topics;

/// Largest page of people (followers, following).
pub const MAX_PEOPLE_PAGE: u64 = 100;

/// What the hover card shows of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonCard {
    /// Account name.
    pub name: String,
    /// How many photos they uploaded.
    pub photos: u64,
    /// How many people follow them.
    pub followers: u64,
    /// How many people they follow.
    pub following: u64,
    /// Whether the one looking follows them.
    pub followed_by_you: bool,
    /// Whether the one looking is them.
    pub is_you: bool,
}

/// The social service. Cheap to clone.
#[derive(Clone)]
pub struct Social {
    shared: Arc<Shared>,
    accounts: Accounts,
    photos: Photos,
    topics: Topics,
}

impl Social {
    pub(super) fn new(
        shared: Arc<Shared>,
        accounts: Accounts,
        photos: Photos,
        topics: Topics,
    ) -> Social {
        Social {
            shared,
            accounts,
            photos,
            topics,
        }
    }

    fn db(&self) -> &mini_orm::Db {
        &self.shared.db
    }

    /// The account named `name`.
    async fn person(&self, name: &str) -> Result<User> {
        User::query()
            .filter(User::NAME.eq(name))
            .first(self.db())
            .await?
            .ok_or(ServiceError::NotFound("no such person"))
    }

    /// The caller follows `name` (again: nothing changes); `name` is told, the first time.
    pub async fn follow(&self, caller: &Caller, name: &str) -> Result<()> {
        self.accounts.require(caller, Ability::Follow).await?;
        let followed = self.person(name).await?;
        if followed.id == caller.user_id() {
            return Err(ServiceError::bad_request("you cannot follow yourself"));
        }
        let mut follow = Follow {
            id: 0,
            follower_id: caller.user_id(),
            followed_id: followed.id,
            created_at: self.shared.now(),
        };
        if follow.insert_if_absent(self.db()).await? {
            let told = notifications::New::follow(followed.id, caller);
            self.notify(told).await?;
        }
        Ok(())
    }

    /// The caller stops following `name` (not following: nothing changes).
    pub async fn unfollow(&self, caller: &Caller, name: &str) -> Result<()> {
        let followed = self.person(name).await?;
        Follow::query()
            .filter(Follow::FOLLOWER_ID.eq(caller.user_id()) & Follow::FOLLOWED_ID.eq(followed.id))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// The names of those who follow `name`, the latest first, at most `limit`.
    pub async fn followers(&self, name: &str, limit: u64) -> Result<Vec<String>> {
        let person = self.person(name).await?;
        let follows = Follow::query()
            .filter(Follow::FOLLOWED_ID.eq(person.id))
            .order_by(Follow::ID.desc())
            .limit(limit.clamp(1, MAX_PEOPLE_PAGE))
            .all(self.db())
            .await?;
        self.names(follows.iter().map(|f| f.follower_id).collect())
            .await
    }

    /// The names of those `name` follows, the latest first, at most `limit`.
    pub async fn following(&self, name: &str, limit: u64) -> Result<Vec<String>> {
        let person = self.person(name).await?;
        let follows = Follow::query()
            .filter(Follow::FOLLOWER_ID.eq(person.id))
            .order_by(Follow::ID.desc())
            .limit(limit.clamp(1, MAX_PEOPLE_PAGE))
            .all(self.db())
            .await?;
        self.names(follows.iter().map(|f| f.followed_id).collect())
            .await
    }

    /// The names of accounts `ids`, in that order.
    async fn names(&self, ids: Vec<i64>) -> Result<Vec<String>> {
        let users = User::query()
            .filter(User::ID.is_in(ids.clone()))
            .all(self.db())
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| users.iter().find(|u| u.id == *id).map(|u| u.name.clone()))
            .collect())
    }

    /// `name`'s hover card, as `viewer` (if logged in) sees it.
    pub async fn card(&self, viewer: Option<&Caller>, name: &str) -> Result<PersonCard> {
        let person = self.person(name).await?;
        let db = self.db();
        let photos = Photo::query()
            .filter(Photo::OWNER_ID.eq(person.id))
            .count(db)
            .await?;
        let followers = Follow::query()
            .filter(Follow::FOLLOWED_ID.eq(person.id))
            .count(db)
            .await?;
        let following = Follow::query()
            .filter(Follow::FOLLOWER_ID.eq(person.id))
            .count(db)
            .await?;
        let followed_by_you = match viewer {
            Some(viewer) => {
                let mine = Follow::FOLLOWER_ID.eq(viewer.user_id());
                let theirs = Follow::FOLLOWED_ID.eq(person.id);
                Follow::query().filter(mine & theirs).exists(db).await?
            }
            None => false,
        };
        Ok(PersonCard {
            is_you: viewer.is_some_and(|v| v.user_id() == person.id),
            name: person.name,
            photos,
            followers,
            following,
            followed_by_you,
        })
    }
}
