//! [`Netdisk`]: the whole service behind one handle. Every operation that needs a logged-in
//! person takes a [`Caller`], which only [`Netdisk::login`] and [`Netdisk::authenticate`] hand
//! out, so no request can skip authentication; each operation checks the caller's role itself.

mod accounts;
mod blobs;
mod files;
mod movies;
mod notices;
mod touches;
mod transfer;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mini_orm::{Db, Model};

use crate::clock::{Clock, SystemClock, format_local};
use crate::config::Config;
use crate::error::{Result, ServiceError};
use crate::models::{self, Blob, Session};
use crate::storage::Storage;

pub use accounts::{LoginOutcome, NewAccount, Profile, UserType};
pub use files::FileDownload;
pub use movies::{MovieDownload, MovieKind, MovieList, MovieQuery, MovieSummary, MovieUpload};
use notices::NoticeFeed;
pub use notices::{NoticeView, RecordView};
pub use transfer::Transfer;

/// Largest page a list returns, and its default size (the contract's `limit` default).
pub const MAX_PAGE: u64 = 1000;

/// A blob file with no row is removed at start-up only once it is this old: a younger one may
/// belong to an upload another process is committing right now.
const ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// The service: accounts and sessions, movies, notices, download records and personal files.
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Netdisk {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    storage: Storage,
    config: Config,
    clock: Arc<dyn Clock>,
    notices: NoticeFeed,
    touches: touches::Touches,
}

/// Someone with a valid session, as [`Netdisk::authenticate`] found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    user_id: i64,
    name: String,
    user_type: UserType,
    session_id: i64,
}

impl Caller {
    /// The account's id.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The account's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Admin or user.
    pub fn user_type(&self) -> UserType {
        self.user_type
    }

    fn require(&self, role: UserType) -> Result<()> {
        if self.user_type == role {
            return Ok(());
        }
        Err(ServiceError::Forbidden(match role {
            UserType::Admin => "only administrators may do this",
            UserType::User => "only users may do this",
        }))
    }
}

/// What start-up found and mended in storage.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StartupReport {
    /// Temporary files of interrupted uploads, removed.
    pub temporaries_removed: usize,
    /// Stored files that no row refers to, removed.
    pub orphans_removed: usize,
    /// Rows whose file is missing (reported, not mended: the bytes are gone).
    pub missing_files: Vec<String>,
}

impl Netdisk {
    /// Connects to `config.database_url()`, creates the schema and the storage directory, and
    /// checks storage (see [`StartupReport`]).
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
        let storage = Storage::open(&config.data_dir)
            .await
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let notices = NoticeFeed::open(&db).await?;
        let netdisk = Netdisk {
            inner: Arc::new(Inner {
                db,
                storage,
                config,
                clock,
                notices,
                touches: Default::default(),
            }),
        };
        let report = netdisk.check_storage().await?;
        netdisk.purge_expired_sessions().await?;
        netdisk.poll_notices_in_background();
        Ok((netdisk, report))
    }

    /// The database pool.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The file storage.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    fn now_text(&self) -> String {
        format_local(self.now())
    }

    async fn check_storage(&self) -> Result<StartupReport> {
        let storage = &self.inner.storage;
        let internal = |e: std::io::Error| ServiceError::Internal(Box::new(e));
        let mut report = StartupReport {
            temporaries_removed: storage.sweep_temporaries().await.map_err(internal)?,
            ..StartupReport::default()
        };
        let known: HashSet<String> = Blob::query()
            .all(self.db())
            .await?
            .iter()
            .map(|b| Storage::blob_path(&b.sha256, b.id))
            .collect();
        let on_disk: HashSet<String> = storage
            .list_blobs()
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        for orphan in on_disk.difference(&known) {
            let age = tokio::fs::metadata(storage.root().join(orphan))
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_some_and(|age| age >= ORPHAN_GRACE) {
                storage.remove_blob(orphan).await?;
                report.orphans_removed += 1;
            }
        }
        report.missing_files = known.difference(&on_disk).cloned().collect();
        report.missing_files.sort();
        for missing in &report.missing_files {
            tracing::error!(blob = %missing, "a stored file is missing: its movie or file cannot be downloaded");
        }
        Ok(report)
    }

    async fn purge_expired_sessions(&self) -> Result<()> {
        let idle_since = self.now() - self.inner.config.session_idle_secs as i64;
        Session::query()
            .filter(Session::LAST_SEEN.lt(idle_since))
            .delete(self.db())
            .await?;
        Ok(())
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
