//! The services, each a handle of its own over what they share (the database, storage, the
//! configuration and the clock), all of its methods in one file or folder:
//!
//! - [`Accounts`]: registration, login with lockout, sessions, VIP, e-mail addresses and the
//!   links mailed to them (through [`Mailer`](crate::mail::Mailer));
//! - [`Movies`]: upload, list, delete, download with the wait and price policy, download records;
//! - [`Notices`]: publish, list, and live push to subscribers;
//! - [`Files`]: each person's private netdisk;
//! - [`Uploads`]: movies and files sent in chunks, resumable;
//! - [`Chat`]: chat rooms, permissions, nicknames, messages and presence;
//! - [`Photos`]: the photo site: photos checked by content and stored with their variants,
//!   tags, lists, reports;
//! - [`Social`]: follows, collections, comments, the home feed and notifications.
//!
//! [`Netdisk`] opens them together and hands each out. Every operation that needs a logged-in
//! person takes a [`Caller`], which only [`Accounts::login`] and [`Accounts::authenticate`]
//! hand out, so no request can skip authentication; each operation checks the caller's role
//! itself. No service sees a socket: uploads are readers, downloads are [`Transfer`]s.

mod accounts;
mod cache;
mod caller;
mod chat;
mod content;
mod files;
mod movies;
mod notices;
pub(crate) mod photos;
mod social;
mod transfer;
mod uploads;

use std::sync::Arc;

use mini_orm::Db;

use crate::clock::{Clock, SystemClock, format_local};
use crate::config::Config;
use crate::error::{Result, ServiceError};
use crate::mail::Mailer;
use crate::models;
use crate::storage::Storage;
use crate::topics::{Options, Pubsub, Topics};

pub use accounts::{
    Ability, AccountSummary, Accounts, EmailStatus, LoginOutcome, NewAccount, Profile, Role,
    UserType,
};
pub use caller::Caller;
pub use chat::{
    Chat, ChatMessage, Here, LOBBY, People, PeopleNow, Permission, Person, RoomPeople,
    RoomSubscription, RoomView,
};
use content::Content;
pub use content::StartupReport;
pub use files::{FileDownload, Files};
pub use movies::{
    MovieDownload, MovieKind, MovieList, MovieQuery, MovieSummary, MovieUpload, Movies, RecordView,
    Viewing, ViewingContent,
};
pub use notices::{NoticeSubscription, NoticeView, Notices};
pub use photos::picture::{Format as PictureFormat, PictureLimits, VariantKind};
pub use photos::{
    MAX_PHOTO_PAGE, MAX_TAG_CHARS, MAX_TAGS_PER_PHOTO, PhotoPage, PhotoView, Photos, PictureRef,
    ReportedPhoto, SEARCH_PAGE, SiteCounts, TagFound, parse_tags,
};
pub(crate) use social::MAX_PEOPLE_PAGE;
pub use social::{
    Collected, CommentView, MAX_COMMENT_CHARS, NotificationKind, NotificationSubscription,
    NotificationView, PersonCard, ReportedComment, Reports, Social,
};
pub use transfer::{StoredContent, Transfer};
pub use uploads::{Appended, NewUpload, UploadKind, UploadProgress, Uploads};

/// Largest page a list returns, and its default size (the contract's `limit` default).
pub const MAX_PAGE: u64 = 1000;

/// What every service works with. One per process, shared by all the handles.
pub(crate) struct Shared {
    db: Db,
    storage: Storage,
    config: Config,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
}

impl Shared {
    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn now_text(&self) -> String {
        format_local(self.now())
    }
}

/// Every service, opened together on one database, storage and clock. Cheap to clone; clones
/// share everything.
#[derive(Clone)]
pub struct Netdisk {
    shared: Arc<Shared>,
    accounts: Accounts,
    movies: Movies,
    notices: Notices,
    files: Files,
    uploads: Uploads,
    chat: Chat,
    photos: Photos,
    social: Social,
    topics: Topics,
}

impl Netdisk {
    /// Connects to `config.database_url()`, creates the schema and the storage directory, opens
    /// the mailer (see [`Mailer::open`]), and checks storage (see [`StartupReport`]).
    pub async fn open(config: Config) -> Result<(Netdisk, StartupReport)> {
        // The default SQLite database lives inside the data directory.
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let db = Db::connect(&config.database_url()).await?;
        Netdisk::open_with(db, config, Arc::new(SystemClock)).await
    }

    /// [`Netdisk::open`] on a database already connected, with a given clock (for tests).
    pub async fn open_with(
        db: Db,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<(Netdisk, StartupReport)> {
        models::create_schema(&db).await?;
        let pubsub: Pubsub = config.pubsub.parse()?;
        let options = Options {
            check_every: std::time::Duration::from_millis(config.pubsub_check_ms),
            ..Options::default()
        };
        let topics = Topics::open_with(db.clone(), pubsub, options).await?;
        let storage = Storage::open(&config.data_dir)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let mailer = Mailer::open(&config).await?;
        let shared = Arc::new(Shared {
            db,
            storage,
            config,
            clock,
            mailer,
        });
        let content = Content::new(shared.clone());
        let report = content.check_storage().await?;
        let accounts = Accounts::open(shared.clone()).await?;
        let movies = Movies::new(shared.clone(), accounts.clone(), content.clone());
        let files = Files::new(shared.clone(), content.clone());
        let photos = Photos::open(shared.clone(), accounts.clone(), content);
        let social = Social::new(
            shared.clone(),
            accounts.clone(),
            photos.clone(),
            topics.clone(),
        );
        let chat = Chat::open(shared.clone(), topics.clone()).await?;
        let uploads = Uploads::new(shared.clone(), movies.clone(), files.clone());
        uploads.remove_orphans().await?;
        let netdisk = Netdisk {
            chat,
            photos,
            social,
            uploads,
            movies,
            files,
            notices: Notices::new(shared.clone(), topics.clone()),
            topics,
            accounts,
            shared,
        };
        Ok((netdisk, report))
    }

    /// Accounts and sessions.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Movies and download records.
    pub fn movies(&self) -> &Movies {
        &self.movies
    }

    /// Notices.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// Personal files.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Chat rooms.
    pub fn chat(&self) -> &Chat {
        &self.chat
    }

    /// The photo site: photos, their variants, tags and reports.
    pub fn photos(&self) -> &Photos {
        &self.photos
    }

    /// The photo site's social side: follows, collections, comments, feed, notifications.
    pub fn social(&self) -> &Social {
        &self.social
    }

    /// Resumable uploads of movies and personal files.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Publish/subscribe between the services and every server process on the database.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The database pool.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The file storage.
    pub fn storage(&self) -> &Storage {
        &self.shared.storage
    }
}

/// Checks a name or title given by a client: `1..=max` characters, no control characters.
/// Everything else (SQL, shell or path syntax) is just text.
fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    let len = text.chars().count();
    if len == 0 || len > max {
        return Err(ServiceError::bad_request(format!(
            "{what} must have 1 to {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(ServiceError::bad_request(format!(
            "{what} cannot contain control characters"
        )));
    }
    Ok(())
}

/// Checks an MD5 given by a client: 32 hex digits.
fn check_md5(md5: &str) -> Result<()> {
    if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ServiceError::bad_request("file_md5 must be 32 hex digits"))
    }
}

fn page(offset: Option<u64>, limit: Option<u64>) -> (u64, u64) {
    (offset.unwrap_or(0), limit.unwrap_or(MAX_PAGE).min(MAX_PAGE))
}
