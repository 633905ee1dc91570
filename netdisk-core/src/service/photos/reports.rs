//! Reports: anyone logged in may report a photo (or, in `social`, a comment) to the moderators
//! (once: reporting again changes nothing); moderators see the reported photos, the most
//! reported first.

use mini_orm::Model;
use serde::Serialize;

use super::{PhotoView, Photos};
use crate::error::{Result, ServiceError};
use crate::models::{Comment, Photo, Report, User};
use crate::service::Caller;
use crate::service::accounts::Ability;

/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 255;

/// A reported photo, as moderators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedPhoto {
    /// The photo.
    pub photo: PhotoView,
    /// How many people reported it.
    pub reports: u64,
    /// Their reasons, the newest first.
    pub reasons: Vec<String>,
}

/// What the moderators' dashboard counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteCounts {
    /// Accounts.
    pub people: u64,
    /// Photos.
    pub photos: u64,
    /// Comments.
    pub comments: u64,
    /// Reports of photos.
    pub photo_reports: u64,
    /// Reports of comments.
    pub comment_reports: u64,
}

/// `reason` trimmed, or why it is refused.
pub(in crate::service) fn check_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(ServiceError::BadRequest(format!(
            "a reason has at most {MAX_REASON_CHARS} characters, on one line"
        )));
    }
    Ok(reason)
}

impl Photos {
    /// Reports photo `id` to the moderators, for `reason`. Anyone logged in; once per person.
    pub async fn report(&self, caller: &Caller, id: i64, reason: &str) -> Result<()> {
        let reason = check_reason(reason)?;
        if !Photo::query()
            .filter(Photo::ID.eq(id))
            .exists(self.db())
            .await?
        {
            return Err(ServiceError::NotFound("no such photo"));
        }
        let mut report = Report {
            id: 0,
            reporter_id: caller.user_id(),
            target: "photo".to_owned(),
            target_id: id,
            reason: reason.to_owned(),
            created_at: self.shared.now(),
        };
        report.insert_if_absent(self.db()).await?;
        Ok(())
    }

    /// How many people, photos, comments and reports there are. Moderators only.
    pub async fn counts(&self, caller: &Caller) -> Result<SiteCounts> {
        self.accounts.require(caller, Ability::Moderate).await?;
        let db = self.db();
        let reports = |target: &'static str| Report::query().filter(Report::TARGET.eq(target));
        Ok(SiteCounts {
            people: User::query().count(db).await?,
            photos: Photo::query().count(db).await?,
            comments: Comment::query().count(db).await?,
            photo_reports: reports("photo").count(db).await?,
            comment_reports: reports("comment").count(db).await?,
        })
    }

    /// The reported photos, the most reported first. Moderators only.
    pub async fn reported(&self, caller: &Caller) -> Result<Vec<ReportedPhoto>> {
        self.accounts.require(caller, Ability::Moderate).await?;
        let reports = Report::query()
            .filter(Report::TARGET.eq("photo"))
            .order_by(Report::ID.desc())
            .all(self.db())
            .await?;
        let mut ids: Vec<i64> = reports.iter().map(|r| r.target_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let photos = Photo::query()
            .filter(Photo::ID.is_in(ids))
            .all(self.db())
            .await?;
        let mut reported: Vec<ReportedPhoto> = self
            .views(photos)
            .await?
            .into_iter()
            .map(|photo| {
                let reasons: Vec<String> = reports
                    .iter()
                    .filter(|r| r.target_id == photo.id)
                    .map(|r| r.reason.clone())
                    .collect();
                ReportedPhoto {
                    reports: reasons.len() as u64,
                    reasons,
                    photo,
                }
            })
            .collect();
        reported.sort_by(|a, b| b.reports.cmp(&a.reports).then(b.photo.id.cmp(&a.photo.id)));
        Ok(reported)
    }
}
