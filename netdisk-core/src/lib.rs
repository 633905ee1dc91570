//! # netdisk-core
//!
//! The video site ("Youku clone") and personal netdisk as a library that runs without any
//! network: a Rust program can depend on it to run the whole service, and the protocol servers
//! are thin doors onto it.
//!
//! - [`Netdisk`] opens the services on one database, storage and clock and hands each out:
//!   [`Accounts`] (accounts and sessions), [`Movies`] (movies and download records),
//!   [`Notices`], [`Files`] (the personal netdisk), [`Uploads`] (resumable uploads), [`Chat`]
//!   (chat rooms), [`Photos`] (the photo site) and [`Social`] (its follows, collections,
//!   comments, feed and notifications). Operations that need a logged-in person
//!   take a [`Caller`], which only [`Accounts::login`] and [`Accounts::authenticate`] produce.
//!   No service sees a socket: uploads are readers, downloads are [`Transfer`]s.
//! - [`server`] holds the doors: [`server::DOORS`] lists them (Youku, netdisk, and HTTP: the
//!   site in a browser and a JSON API, [`server::http`]), and the listener serves every door
//!   under one connection limit and one shutdown.
//! - [`topics`] is publish/subscribe across server processes: events are stored first, sent
//!   in-process or through Redis, and caught up from the database by sequence number.
//! - [`storage`] keeps file bytes: streamed, hashed, verified, fsynced, renamed into place, and
//!   shared by identical content.
//! - [`mail`] sends the site's mail (account e-mail confirmation, password resets): into an
//!   outbox folder, or to an SMTP server.
//! - [`models`] are the tables, one file per service; [`config`] the settings; [`clock`] the
//!   time source; [`error`] the answers.
//!
//! Layers, from the top: `server` → `service` → `topics`, `storage`, `mail`, `models` → `config`,
//! `clock`, `error`. A lower one never imports a higher one.

pub mod clock;
pub mod config;
pub mod error;
pub mod mail;
pub mod models;
mod password;
mod priority;
pub mod server;
mod service;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topics;
mod workers;

pub use config::Config;
pub use error::{Result, ServiceError};
pub use service::photos::picture;
pub use service::{
    Ability, AccountSummary, Accounts, Appended, Caller, Chat, ChatMessage, Collected, CommentView,
    EmailStatus, FileDownload, Files, Here, LOBBY, LoginOutcome, MAX_COMMENT_CHARS, MAX_PAGE,
    MAX_PHOTO_PAGE, MAX_TAG_CHARS, MAX_TAGS_PER_PHOTO, MovieDownload, MovieKind, MovieList,
    MovieQuery, MovieSummary, MovieUpload, Movies, Netdisk, NewAccount, NewUpload,
    NoticeSubscription, NoticeView, Notices, NotificationKind, NotificationSubscription,
    NotificationView, People, PeopleNow, Permission, Person, PersonCard, PhotoPage, PhotoView,
    Photos, PictureFormat, PictureLimits, PictureRef, Profile, RecordView, ReportedComment,
    ReportedPhoto, Reports, Role, RoomPeople, RoomSubscription, RoomView, SEARCH_PAGE, SiteCounts,
    Social, StartupReport, StoredContent, TagFound, Transfer, UploadKind, UploadProgress, Uploads,
    UserType, VariantKind, Viewing, ViewingContent, parse_tags,
};
