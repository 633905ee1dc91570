//! Notices: published by admins, listed newest first, and pushed live to subscribers on every
//! server process through the `notices` topic ([`crate::topics`]): the notice row and its event
//! commit in one transaction, so a notice is in the list exactly when it has been (or is being)
//! pushed, and a subscriber gets each notice once, in order, whichever process published it.

use std::sync::Arc;

use mini_orm::Model;
use serde::{Deserialize, Serialize};

use super::cache::ReadCache;
use super::{Caller, Shared, UserType, check_text, page};
use crate::error::{Result, ServiceError};
use crate::models::Notice;
use crate::topics::{Subscription, Topics, TopicsError, retrying};

/// Longest notice title, in characters.
const MAX_TITLE_CHARS: usize = 255;
/// Longest notice text, in characters.
const MAX_CONTENT_CHARS: usize = 65_536;
/// The topic notices are pushed on.
const NOTICE_TOPIC: &str = "notices";

/// A notice as clients see it (and as the `notices` topic carries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
///
/// Pages of notices are kept in memory for [`read_cache_ms`](crate::Config::read_cache_ms)
/// (see `cache.rs`): a notice published through this process is listed at once, through
/// another within that time (and pushed to subscribers at once either way).
#[derive(Clone)]
pub struct Notices {
    shared: Arc<Shared>,
    topics: Topics,
    pages: Arc<NoticePages>,
}

/// Pages of notices: (offset, limit) → the page.
type NoticePages = ReadCache<(u64, u64), Arc<Vec<NoticeView>>>;

/// The notices published from the moment it was made, in order, each once; see
/// [`Notices::subscribe`].
pub struct NoticeSubscription(Subscription);

impl NoticeSubscription {
    /// The next notice; waits until there is one. Cancel-safe. An error is the database's while
    /// catching up; calling again retries.
    pub async fn next(&mut self) -> Result<NoticeView> {
        let event = self.0.next().await?;
        event
            .payload_as()
            .map_err(|error| ServiceError::Internal(Box::new(error)))
    }
}

impl Notices {
    pub(super) fn new(shared: Arc<Shared>, topics: Topics) -> Notices {
        let pages = Arc::new(ReadCache::new(shared.config.read_cache()));
        Notices {
            shared,
            topics,
            pages,
        }
    }

    /// Publishes a notice and pushes it to every subscriber, on every server process. Admins
    /// only. Returns the notice's id.
    pub async fn publish(&self, caller: &Caller, title: &str, content: &str) -> Result<i64> {
        caller.require(UserType::Admin)?;
        check_text("a title", title, MAX_TITLE_CHARS)?;
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(ServiceError::bad_request(format!(
                "a notice has at most {MAX_CONTENT_CHARS} characters"
            )));
        }
        let notice = Notice {
            id: 0,
            title: title.to_owned(),
            content: content.to_owned(),
            create_time: self.shared.now_text(),
            user_id: caller.user_id,
        };
        let id = retrying(|| self.store(&notice)).await?;
        self.pages.clear(|_, _| true);
        Ok(id)
    }

    /// Inserts a copy of `notice` and its event in one transaction, then announces the event;
    /// returns the notice's id.
    async fn store(&self, notice: &Notice) -> std::result::Result<i64, TopicsError> {
        let mut tx = self.shared.db.begin().await?;
        let mut notice = notice.clone();
        notice.save(&mut tx).await?;
        let id = notice.id;
        let event = self
            .topics
            .append(&mut tx, NOTICE_TOPIC, &NoticeView::from(notice))
            .await?;
        tx.commit().await?;
        self.topics.announce(&event);
        Ok(id)
    }

    /// A page of notices, newest first. Any logged-in caller.
    pub async fn list(
        &self,
        _caller: &Caller,
        offset: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Arc<Vec<NoticeView>>> {
        let (offset, limit) = page(offset, limit);
        let read = async {
            let notices = Notice::query()
                .order_by(Notice::ID.desc())
                .offset(offset)
                .limit(limit)
                .all(&self.shared.db)
                .await?;
            Ok(Arc::new(
                notices.into_iter().map(NoticeView::from).collect(),
            ))
        };
        self.pages.get_or_load((offset, limit), read).await
    }

    /// Every notice published from now on, by any server process sharing the database, as it
    /// is published: each once, in the order they were published.
    pub async fn subscribe(&self) -> Result<NoticeSubscription> {
        Ok(NoticeSubscription(
            self.topics.subscribe(NOTICE_TOPIC).await?,
        ))
    }
}
