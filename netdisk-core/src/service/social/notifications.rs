//! Notifications: stored (an unread count, one or all marked read) and, as each is written,
//! published as the next event of its reader's topic (`notifications.<user id>`), so every
//! page its reader has open, on any server process, gets it at once (where Albumy polls every
//! 30 seconds).

use mini_orm::Model;
use serde::{Deserialize, Serialize};

use super::Social;
use crate::clock::format_local;
use crate::error::{Result, ServiceError};
use crate::models::{Notification, User};
use crate::service::Caller;
use crate::topics::{Subscription, TopicsError, retrying};

/// Largest page of notifications.
pub const MAX_NOTIFICATION_PAGE: u64 = 100;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// Someone followed the reader.
    Follow,
    /// Someone commented on the reader's photo.
    Comment,
    /// Someone replied to the reader's comment.
    Reply,
    /// Someone collected the reader's photo.
    Collect,
}

impl NotificationKind {
    fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Follow => "follow",
            NotificationKind::Comment => "comment",
            NotificationKind::Reply => "reply",
            NotificationKind::Collect => "collect",
        }
    }

    fn parse(text: &str) -> NotificationKind {
        match text {
            "comment" => NotificationKind::Comment,
            "reply" => NotificationKind::Reply,
            "collect" => NotificationKind::Collect,
            _ => NotificationKind::Follow,
        }
    }
}

/// A notification as its reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    /// Its id (to mark it read).
    pub id: i64,
    /// What happened.
    pub kind: NotificationKind,
    /// Who did it (account name).
    pub actor: String,
    /// The photo it is about, if any.
    pub photo_id: Option<i64>,
    /// The comment it is about, if any.
    pub comment_id: Option<i64>,
    /// Whether its reader marked it read.
    pub read: bool,
    /// When, in the contract's `YYYY-MM-DD HH:MM:SS` form.
    pub created_at: String,
    /// What happened, in words: "bob followed you".
    pub text: String,
}

impl NotificationView {
    fn new(row: &Notification, actor: String) -> NotificationView {
        let kind = NotificationKind::parse(&row.kind);
        let text = match kind {
            NotificationKind::Follow => format!("{actor} followed you"),
            NotificationKind::Comment => format!("{actor} commented on your photo"),
            NotificationKind::Reply => format!("{actor} replied to your comment"),
            NotificationKind::Collect => format!("{actor} collected your photo"),
        };
        NotificationView {
            id: row.id,
            kind,
            actor,
            photo_id: row.photo_id,
            comment_id: row.comment_id,
            read: row.is_read,
            created_at: format_local(row.created_at),
            text,
        }
    }
}

/// A notification to write: for whom, what, by whom, about what.
pub(super) struct New<'a> {
    reader: i64,
    kind: NotificationKind,
    actor: &'a Caller,
    photo_id: Option<i64>,
    comment_id: Option<i64>,
}

impl<'a> New<'a> {
    pub(super) fn follow(reader: i64, actor: &'a Caller) -> Self {
        New {
            reader,
            kind: NotificationKind::Follow,
            actor,
            photo_id: None,
            comment_id: None,
        }
    }

    pub(super) fn about_photo(
        reader: i64,
        kind: NotificationKind,
        actor: &'a Caller,
        photo_id: i64,
        comment_id: Option<i64>,
    ) -> Self {
        New {
            reader,
            kind,
            actor,
            photo_id: Some(photo_id),
            comment_id,
        }
    }
}

/// The topic of `user_id`'s notifications.
fn topic(user_id: i64) -> String {
    format!("notifications.{user_id}")
}

/// The notifications of one reader written from the moment it was made, in order, each once;
/// see [`Social::live_notifications`].
pub struct NotificationSubscription(Subscription);

impl NotificationSubscription {
    /// The next notification; waits until there is one. Cancel-safe; an error is the
    /// database's while catching up, and calling again retries.
    pub async fn next(&mut self) -> Result<NotificationView> {
        let event = self.0.next().await?;
        event
            .payload_as()
            .map_err(|error| ServiceError::Internal(Box::new(error)))
    }
}

impl Social {
    /// Writes `new` with its event and announces it; nothing when someone acts on their own
    /// photo or comment.
    pub(super) async fn notify(&self, new: New<'_>) -> Result<()> {
        if new.reader == new.actor.user_id() {
            return Ok(());
        }
        Ok(retrying(|| self.write(&new)).await?)
    }

    async fn write(&self, new: &New<'_>) -> std::result::Result<(), TopicsError> {
        let mut row = Notification {
            id: 0,
            user_id: new.reader,
            kind: new.kind.as_str().to_owned(),
            actor_id: new.actor.user_id(),
            photo_id: new.photo_id,
            comment_id: new.comment_id,
            is_read: false,
            created_at: self.shared.now(),
        };
        let mut tx = self.db().begin().await?;
        row.save(&mut tx).await?;
        let view = NotificationView::new(&row, new.actor.name().to_owned());
        let event = self
            .topics
            .append(&mut tx, &topic(new.reader), &view)
            .await?;
        tx.commit().await?;
        self.topics.announce(&event);
        Ok(())
    }

    /// The caller's notifications, newest first: those below id `before` (all when `None`), at
    /// most `limit`.
    pub async fn notifications(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<NotificationView>> {
        let mut query = Notification::query()
            .filter(Notification::USER_ID.eq(caller.user_id()))
            .order_by(Notification::ID.desc())
            .limit(limit.clamp(1, MAX_NOTIFICATION_PAGE));
        if let Some(before) = before {
            query = query.after(Notification::ID, before);
        }
        let rows = query.all(self.db()).await?;
        let actors: Vec<i64> = rows.iter().map(|r| r.actor_id).collect();
        let users = User::query()
            .filter(User::ID.is_in(actors))
            .all(self.db())
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let actor = users
                    .iter()
                    .find(|u| u.id == row.actor_id)
                    .map_or_else(String::new, |u| u.name.clone());
                NotificationView::new(row, actor)
            })
            .collect())
    }

    /// How many of the caller's notifications are unread.
    pub async fn unread(&self, caller: &Caller) -> Result<u64> {
        let mine = Notification::USER_ID.eq(caller.user_id());
        let unread = Notification::IS_READ.eq(false);
        Ok(Notification::query()
            .filter(mine & unread)
            .count(self.db())
            .await?)
    }

    /// Marks the caller's notification `id` read ([`ServiceError::NotFound`] for another's).
    pub async fn mark_read(&self, caller: &Caller, id: i64) -> Result<()> {
        let this = Notification::ID.eq(id) & Notification::USER_ID.eq(caller.user_id());
        let marked = Notification::query()
            .filter(this)
            .update(self.db(), [Notification::IS_READ.set(true)])
            .await?;
        if marked == 0 {
            return Err(ServiceError::NotFound("no such notification"));
        }
        Ok(())
    }

    /// Marks all of the caller's notifications read; returns how many were unread.
    pub async fn mark_all_read(&self, caller: &Caller) -> Result<u64> {
        let mine = Notification::USER_ID.eq(caller.user_id());
        let unread = Notification::IS_READ.eq(false);
        Ok(Notification::query()
            .filter(mine & unread)
            .update(self.db(), [Notification::IS_READ.set(true)])
            .await?)
    }

    /// The caller's notifications written from now on, by any server process, as they are
    /// written: each once, in order.
    pub async fn live_notifications(&self, caller: &Caller) -> Result<NotificationSubscription> {
        let topic = topic(caller.user_id());
        Ok(NotificationSubscription(
            self.topics.subscribe(&topic).await?,
        ))
    }
}
