//! Notices (published by admins, listed newest first, broadcast to subscribers at once) and the
//! caller's own download records.

use std::collections::HashMap;

use mini_orm::Model;
use serde::Serialize;
use tokio::sync::broadcast;

use super::{Caller, Netdisk, UserType, check_text, page};
use crate::error::{Result, ServiceError};
use crate::models::{DownloadRecord, Movie, Notice};

/// Longest notice title, in characters.
const MAX_TITLE_CHARS: usize = 255;
/// Longest notice text, in characters.
const MAX_CONTENT_CHARS: usize = 65_536;

/// A notice as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    /// The title.
    pub title: String,
    /// The text.
    pub content: String,
    /// When it was published.
    pub create_time: String,
}

/// A download record as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordView {
    /// The movie's name.
    pub movie: String,
    /// When the download completed.
    pub download_time: String,
    /// What it cost.
    pub price: i64,
}

impl From<Notice> for NoticeView {
    fn from(notice: Notice) -> Self {
        NoticeView {
            title: notice.title,
            content: notice.content,
            create_time: notice.create_time,
        }
    }
}

impl Netdisk {
    /// Publishes a notice and sends it to every subscriber. Admins only.
    pub async fn publish_notice(&self, caller: &Caller, title: &str, content: &str) -> Result<i64> {
        caller.require(UserType::Admin)?;
        check_text("a title", title, MAX_TITLE_CHARS)?;
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(ServiceError::bad_request(format!(
                "a notice has at most {MAX_CONTENT_CHARS} characters"
            )));
        }
        let mut notice = Notice {
            id: 0,
            title: title.to_owned(),
            content: content.to_owned(),
            create_time: self.now_text(),
            user_id: caller.user_id,
        };
        notice.save(self.db()).await?;
        let id = notice.id;
        // No subscriber is not an error.
        let _ = self.inner.notices.send(NoticeView::from(notice));
        Ok(id)
    }

    /// A page of notices, newest first. Any logged-in caller.
    pub async fn list_notices(
        &self,
        _caller: &Caller,
        offset: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Vec<NoticeView>> {
        let (offset, limit) = page(offset, limit);
        let notices = Notice::query()
            .order_by(Notice::ID.desc())
            .offset(offset)
            .limit(limit)
            .all(self.db())
            .await?;
        Ok(notices.into_iter().map(NoticeView::from).collect())
    }

    /// Every notice published from now on, as it is published. A receiver that falls more than
    /// 64 notices behind loses the oldest ones (`RecvError::Lagged`).
    pub fn subscribe_notices(&self) -> broadcast::Receiver<NoticeView> {
        self.inner.notices.subscribe()
    }

    /// The caller's own download records, newest first. Users only.
    pub async fn download_records(
        &self,
        caller: &Caller,
        offset: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Vec<RecordView>> {
        caller.require(UserType::User)?;
        let (offset, limit) = page(offset, limit);
        let records = DownloadRecord::query()
            .filter(DownloadRecord::USER_ID.eq(caller.user_id))
            .order_by(DownloadRecord::ID.desc())
            .offset(offset)
            .limit(limit)
            .all(self.db())
            .await?;
        let movie_ids: Vec<i64> = records.iter().map(|r| r.movie_id).collect();
        let names: HashMap<i64, String> = Movie::query()
            .filter(Movie::ID.is_in(movie_ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| (m.id, m.name))
            .collect();
        Ok(records
            .into_iter()
            .map(|r| RecordView {
                movie: names.get(&r.movie_id).cloned().unwrap_or_default(),
                download_time: r.download_time,
                price: r.price,
            })
            .collect())
    }
}
