//! The service's tables, as `mini_orm` models: one file per service, beside the service that
//! writes them (`accounts`: users, sessions, e-mail addresses and mailed links; `movies`: movies and download records;
//! `notices`; `files`: the personal netdisk; `content`: stored bytes shared by movies and files;
//! `uploads`: resumable uploads in progress; `chat`: rooms, memberships, permissions,
//! nicknames and presence; `photos`: photos, their variants, tags and reports;
//! `social`: follows, collections, comments and notifications).
//!
//! Times are text in the contract's `"YYYY-MM-DD HH:MM:SS"` form (server local time), which is
//! what the protocol returns and sorts correctly as text.

mod accounts;
mod chat;
mod content;
mod files;
mod movies;
mod notices;
mod photos;
mod social;
mod uploads;

use mini_orm::{Db, Result};

pub use accounts::{AccountEmail, AccountLock, AccountRole, EmailToken, Session, User};
pub use chat::{ChatPresence, ChatProcess, ChatRoom, Nickname, RoomMember, UserPermission};
pub use content::Blob;
pub use files::UserFile;
pub use movies::{DownloadRecord, Movie, MovieViewing};
pub use notices::Notice;
pub use photos::{Photo, PhotoTag, PhotoVariant, Report, Tag};
pub use social::{Collect, Comment, Follow, Notification};
pub use uploads::StagedUpload;

/// Creates every table and index that is missing (idempotent; run at start-up).
pub async fn create_schema(db: &Db) -> Result<()> {
    db.create_table::<User>().await?;
    db.create_table::<Movie>().await?;
    db.create_table::<Notice>().await?;
    db.create_table::<DownloadRecord>().await?;
    db.create_table::<Session>().await?;
    db.create_table::<Blob>().await?;
    db.create_table::<UserFile>().await?;
    db.create_table::<MovieViewing>().await?;
    db.create_table::<StagedUpload>().await?;
    db.create_table::<AccountLock>().await?;
    db.create_table::<ChatRoom>().await?;
    db.create_table::<RoomMember>().await?;
    db.create_table::<UserPermission>().await?;
    db.create_table::<Nickname>().await?;
    db.create_table::<ChatProcess>().await?;
    db.create_table::<ChatPresence>().await?;
    db.create_table::<AccountEmail>().await?;
    db.create_table::<EmailToken>().await?;
    db.create_table::<AccountRole>().await?;
    db.create_table::<Photo>().await?;
    db.create_table::<PhotoVariant>().await?;
    db.create_table::<Tag>().await?;
    db.create_table::<PhotoTag>().await?;
    db.create_table::<Report>().await?;
    db.create_table::<Follow>().await?;
    db.create_table::<Collect>().await?;
    db.create_table::<Comment>().await?;
    db.create_table::<Notification>().await?;
    Ok(())
}
