//! Comments on photos, and replies to comments: written by those whose role may comment (with a
//! confirmed address), unless the photo's owner turned comments off; shown oldest first;
//! deleted by their author, the photo's owner or a moderator. A comment tells the photo's owner,
//! a reply tells the author of the comment it answers.

use mini_orm::Model;
use serde::Serialize;

use super::Social;
use super::notifications::{New, NotificationKind};
use crate::clock::format_local;
use crate::error::{Result, ServiceError};
use crate::models::{Comment, Notification, Photo, Report, User};
use crate::service::Caller;
use crate::service::accounts::Ability;
use crate::service::photos::{ReportedPhoto, SiteCounts};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A comment as a photo's page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentView {
    /// Its id.
    pub id: i64,
    /// Who wrote it (account name).
    pub author: String,
    /// What it says.
    pub body: String,
    /// The comment it answers, for a reply.
    pub replied_to: Option<i64>,
    /// The author of the comment it answers (`None` when that comment was deleted).
    pub replied_to_author: Option<String>,
    /// When, in the contract's `YYYY-MM-DD HH:MM:SS` form.
    pub created_at: String,
}

fn check_body(body: &str) -> Result<&str> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
        return Err(ServiceError::BadRequest(format!(
            "a comment has 1 to {MAX_COMMENT_CHARS} characters"
        )));
    }
    if body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(ServiceError::bad_request(
            "a comment cannot contain control characters",
        ));
    }
    Ok(body)
}

impl Social {
    async fn photo(&self, photo_id: i64) -> Result<Photo> {
        Photo::find(self.db(), photo_id)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))
    }

    /// Comments on photo `photo_id`, or replies to comment `reply_to` on it; returns the
    /// comment's id.
    pub async fn comment(
        &self,
        caller: &Caller,
        photo_id: i64,
        body: &str,
        reply_to: Option<i64>,
    ) -> Result<i64> {
        self.accounts.require(caller, Ability::Comment).await?;
        let body = check_body(body)?;
        let photo = self.photo(photo_id).await?;
        if photo.comments_closed {
            return Err(ServiceError::Forbidden(
                "its owner turned comments off for this photo",
            ));
        }
        let answered = match reply_to {
            Some(id) => {
                let answered = Comment::find(self.db(), id).await?;
                match answered {
                    Some(c) if c.photo_id == photo_id => Some(c),
                    _ => return Err(ServiceError::NotFound("no such comment on this photo")),
                }
            }
            None => None,
        };
        let mut comment = Comment {
            id: 0,
            photo_id,
            author_id: caller.user_id(),
            body: body.to_owned(),
            replied_to: reply_to,
            created_at: self.shared.now(),
        };
        comment.save(self.db()).await?;
        let id = Some(comment.id);
        if let Some(answered) = &answered {
            let reply = NotificationKind::Reply;
            let told = New::about_photo(answered.author_id, reply, caller, photo_id, id);
            self.notify(told).await?;
        }
        if answered.is_none_or(|a| a.author_id != photo.owner_id) {
            let kind = NotificationKind::Comment;
            self.notify(New::about_photo(photo.owner_id, kind, caller, photo_id, id))
                .await?;
        }
        Ok(comment.id)
    }

    /// The comments on photo `photo_id`, oldest first. Anyone may look.
    pub async fn comments(&self, photo_id: i64) -> Result<Vec<CommentView>> {
        let comments = Comment::query()
            .filter(Comment::PHOTO_ID.eq(photo_id))
            .order_by(Comment::ID.asc())
            .all(self.db())
            .await?;
        let authors: Vec<i64> = comments.iter().map(|c| c.author_id).collect();
        let users = User::query()
            .filter(User::ID.is_in(authors))
            .all(self.db())
            .await?;
        let name = |id: i64| {
            users
                .iter()
                .find(|u| u.id == id)
                .map_or_else(String::new, |u| u.name.clone())
        };
        Ok(comments
            .iter()
            .map(|c| CommentView {
                id: c.id,
                author: name(c.author_id),
                body: c.body.clone(),
                replied_to: c.replied_to,
                replied_to_author: c.replied_to.and_then(|r| {
                    comments
                        .iter()
                        .find(|other| other.id == r)
                        .map(|other| name(other.author_id))
                }),
                created_at: format_local(c.created_at),
            })
            .collect())
    }

    /// Deletes comment `id`: its author, the photo's owner or a moderator. Replies to it stay
    /// (they show that they answered a deleted comment).
    pub async fn delete_comment(&self, caller: &Caller, id: i64) -> Result<()> {
        let comment = Comment::find(self.db(), id)
            .await?
            .ok_or(ServiceError::NotFound("no such comment"))?;
        let photo = self.photo(comment.photo_id).await?;
        let mine = comment.author_id == caller.user_id() || photo.owner_id == caller.user_id();
        if !mine {
            self.accounts
                .require(caller, Ability::Moderate)
                .await
                .map_err(|_| {
                    ServiceError::Forbidden(
                        "only its author, the photo's owner or a moderator may delete a comment",
                    )
                })?;
        }
        comment.delete(self.db()).await?;
        Report::query()
            .filter(Report::TARGET.eq("comment") & Report::TARGET_ID.eq(id))
            .delete(self.db())
            .await?;
        Notification::query()
            .filter(Notification::COMMENT_ID.eq(id))
            .delete(self.db())
            .await?;
        Ok(())
    }

    /// Turns comments on photo `photo_id` on or off. Its owner only; the comments there stay.
    pub async fn set_comments_open(
        &self,
        caller: &Caller,
        photo_id: i64,
        open: bool,
    ) -> Result<()> {
        let photo = self.photo(photo_id).await?;
        if photo.owner_id != caller.user_id() {
            return Err(ServiceError::Forbidden("only its owner may change a photo"));
        }
        Photo::query()
            .filter(Photo::ID.eq(photo_id))
            .update(self.db(), [Photo::COMMENTS_CLOSED.set(!open)])
            .await?;
        Ok(())
    }
}

/// A reported comment, as moderators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedComment {
    /// The comment.
    pub comment: CommentView,
    /// The photo it is on.
    pub photo_id: i64,
    /// How many people reported it.
    pub reports: u64,
    /// Their reasons, the newest first.
    pub reasons: Vec<String>,
}

/// The moderators' dashboard: the counts, and the reported photos and comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reports {
    /// How many people, photos, comments and reports there are.
    pub counts: SiteCounts,
    /// The reported photos, the most reported first.
    pub photos: Vec<ReportedPhoto>,
    /// The reported comments, the most reported first.
    pub comments: Vec<ReportedComment>,
}

impl Social {
    /// The moderators' dashboard. Moderators only.
    pub async fn reports(&self, caller: &Caller) -> Result<Reports> {
        let (counts, photos, comments) = tokio::try_join!(
            self.photos.counts(caller),
            self.photos.reported(caller),
            self.reported_comments(caller)
        )?;
        Ok(Reports {
            counts,
            photos,
            comments,
        })
    }

    /// Reports comment `id` to the moderators, for `reason`. Anyone logged in; once per person.
    pub async fn report_comment(&self, caller: &Caller, id: i64, reason: &str) -> Result<()> {
        let reason = crate::service::photos::check_reason(reason)?;
        if Comment::find(self.db(), id).await?.is_none() {
            return Err(ServiceError::NotFound("no such comment"));
        }
        let mut report = Report {
            id: 0,
            reporter_id: caller.user_id(),
            target: "comment".to_owned(),
            target_id: id,
            reason: reason.to_owned(),
            created_at: self.shared.now(),
        };
        report.insert_if_absent(self.db()).await?;
        Ok(())
    }

    /// The reported comments, the most reported first. Moderators only.
    pub async fn reported_comments(&self, caller: &Caller) -> Result<Vec<ReportedComment>> {
        self.accounts.require(caller, Ability::Moderate).await?;
        let reports = Report::query()
            .filter(Report::TARGET.eq("comment"))
            .order_by(Report::ID.desc())
            .all(self.db())
            .await?;
        let mut reported = Vec::new();
        let mut ids: Vec<i64> = reports.iter().map(|r| r.target_id).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let Some(comment) = Comment::find(self.db(), id).await? else {
                continue;
            };
            let views = self.comments(comment.photo_id).await?;
            let Some(view) = views.into_iter().find(|v| v.id == id) else {
                continue;
            };
            let reasons: Vec<String> = reports
                .iter()
                .filter(|r| r.target_id == id)
                .map(|r| r.reason.clone())
                .collect();
            reported.push(ReportedComment {
                comment: view,
                photo_id: comment.photo_id,
                reports: reasons.len() as u64,
                reasons,
            });
        }
        reported.sort_by(|a, b| {
            b.reports
                .cmp(&a.reports)
                .then(b.comment.id.cmp(&a.comment.id))
        });
        Ok(reported)
    }
}
