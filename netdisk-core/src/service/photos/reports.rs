//! Reports: anyone logged in may report a photo to the moderators (once: reporting again
//! changes nothing); moderators see the reported photos, the most reported first.

use mini_orm::Model;
use serde::Serialize;

use super::{PhotoView, Photos};
use crate::error::{Result, ServiceError};
use crate::models::{Photo, Report};
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

impl Photos {
    /// Reports photo `id` to the moderators, for `reason`. Anyone logged in; once per person.
    pub async fn report(&self, caller: &Caller, id: i64, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
            return Err(ServiceError::BadRequest(format!(
                "a reason has at most {MAX_REASON_CHARS} characters, on one line"
            )));
        }
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
