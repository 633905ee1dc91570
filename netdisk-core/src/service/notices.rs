//! Notices: published by admins, listed newest first, pushed to subscribers.
//!
//! A notice published through this process is pushed to its subscribers at once. Other processes
//! sharing the database learn of it by polling the notice table every
//! [`notice_poll_ms`](crate::Config::notice_poll_ms): the [`NoticeFeed`] remembers which ids it
//! has pushed, so each notice reaches each subscriber once, whichever way it came.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mini_orm::Model;
use serde::Serialize;
use tokio::sync::broadcast;

use super::{Caller, Shared, UserType, check_text, page};
use crate::error::{Result, ServiceError};
use crate::models::Notice;
use mini_orm::Db;

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

impl From<Notice> for NoticeView {
    fn from(notice: Notice) -> Self {
        NoticeView {
            title: notice.title,
            content: notice.content,
            create_time: notice.create_time,
        }
    }
}

/// The notice service. Cheap to clone.
#[derive(Clone)]
pub struct Notices {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    feed: NoticeFeed,
}

impl Notices {
    /// Opens the feed and starts looking for other processes' notices.
    pub(super) async fn open(shared: Arc<Shared>) -> Result<Notices> {
        let feed = NoticeFeed::open(&shared.db).await?;
        let notices = Notices {
            inner: Arc::new(Inner { shared, feed }),
        };
        notices.poll_in_background();
        Ok(notices)
    }

    /// Publishes a notice and sends it to every subscriber. Admins only.
    pub async fn publish(&self, caller: &Caller, title: &str, content: &str) -> Result<i64> {
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
            create_time: self.inner.shared.now_text(),
            user_id: caller.user_id,
        };
        notice.save(&self.inner.shared.db).await?;
        let id = notice.id;
        self.inner.feed.push(notice);
        Ok(id)
    }

    /// A page of notices, newest first. Any logged-in caller.
    pub async fn list(
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
            .all(&self.inner.shared.db)
            .await?;
        Ok(notices.into_iter().map(NoticeView::from).collect())
    }

    /// Every notice published from now on, as it is published. A receiver that falls more than
    /// 64 notices behind loses the oldest ones (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<NoticeView> {
        self.inner.feed.sender.subscribe()
    }

    /// Pushes the notices other processes published since the last look (see the module doc).
    async fn poll(&self) -> Result<()> {
        let floor = self.inner.feed.floor();
        let fresh = Notice::query()
            .filter(Notice::ID.gt(floor))
            .order_by(Notice::ID.asc())
            .all(&self.inner.shared.db)
            .await?;
        for notice in fresh {
            self.inner.feed.push(notice);
        }
        Ok(())
    }

    /// Starts the task that runs [`Notices::poll`] every `notice_poll_ms`, for as long
    /// as a clone of this service lives.
    fn poll_in_background(&self) {
        let every = Duration::from_millis(self.inner.shared.config.notice_poll_ms);
        if every.is_zero() {
            return;
        }
        let service = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let Some(inner) = service.upgrade() else {
                    return;
                };
                let outcome = Notices { inner }.poll().await;
                // One warning per outage, not one per tick.
                match outcome {
                    Err(ref error) if !failing => {
                        tracing::warn!(%error, "looking for other servers' notices failed");
                    }
                    Ok(()) if failing => tracing::info!("looking for other servers' notices again"),
                    _ => {}
                }
                failing = outcome.is_err();
            }
        });
    }
}

/// How far below the newest pushed id the poll looks again, for notices that another process
/// committed after a newer one (ids are handed out before commit).
const LOOKBACK_IDS: i64 = 64;

/// The broadcast channel of notices, and which ids it has carried.
pub(super) struct NoticeFeed {
    sender: broadcast::Sender<NoticeView>,
    pushed: Mutex<Pushed>,
}

/// The newest notice id pushed (or present at start-up), and the ids pushed within
/// [`LOOKBACK_IDS`] of it.
struct Pushed {
    newest: i64,
    recent: BTreeSet<i64>,
}

impl NoticeFeed {
    /// A feed that treats the notices already in the database as pushed.
    pub(super) async fn open(db: &Db) -> Result<NoticeFeed> {
        let existing = Notice::query()
            .order_by(Notice::ID.desc())
            .limit(LOOKBACK_IDS as u64)
            .all(db)
            .await?;
        let pushed = Pushed {
            newest: existing.first().map_or(0, |n| n.id),
            recent: existing.iter().map(|n| n.id).collect(),
        };
        Ok(NoticeFeed {
            sender: broadcast::channel(64).0,
            pushed: Mutex::new(pushed),
        })
    }

    /// Ids above this may not have been pushed yet.
    fn floor(&self) -> i64 {
        self.pushed.lock().expect("never poisoned").newest - LOOKBACK_IDS
    }

    /// Sends `notice` to every subscriber, unless it was sent before.
    fn push(&self, notice: Notice) {
        let mut pushed = self.pushed.lock().expect("never poisoned");
        if notice.id <= pushed.newest - LOOKBACK_IDS || !pushed.recent.insert(notice.id) {
            return;
        }
        pushed.newest = pushed.newest.max(notice.id);
        let floor = pushed.newest - LOOKBACK_IDS;
        pushed.recent.retain(|&id| id > floor);
        // Sent under the lock, so subscribers see notices in the order they were pushed. No
        // subscriber is not an error.
        let _ = self.sender.send(NoticeView::from(notice));
    }
}
