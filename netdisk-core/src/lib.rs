//! # netdisk-core
//!
//! The video site ("Youku clone") and personal netdisk as a library that runs without any
//! network: a Rust program can depend on it to run the whole service, and the protocol servers
//! are thin doors onto it.
//!
//! - [`Netdisk`] is the service: accounts and sessions, movies, notices, download records and
//!   personal files. Operations that need a logged-in person take a [`Caller`], which only
//!   [`Netdisk::login`] and [`Netdisk::authenticate`] produce.
//! - [`storage`] keeps file bytes: streamed, hashed, verified, fsynced, renamed into place, and
//!   shared by identical content.
//! - [`models`] are the tables; [`config`] the settings; [`clock`] the time source; [`error`]
//!   the answers, each with the contract's `code`.

pub mod clock;
pub mod config;
pub mod error;
pub mod models;
mod password;
mod priority;
pub mod server;
mod service;
pub mod storage;
pub mod topics;

pub use config::Config;
pub use error::{Result, ServiceError};
pub use service::{
    Caller, FileDownload, LoginOutcome, MAX_PAGE, MovieDownload, MovieKind, MovieList, MovieQuery,
    MovieSummary, MovieUpload, Netdisk, NewAccount, NoticeView, Profile, RecordView, StartupReport,
    Transfer, UserType,
};
