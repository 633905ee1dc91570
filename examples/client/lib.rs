//! A client for the Youku protocol (`../shared/PROTOCOL.md`, section 2), shared by the `admin`
//! and `user` examples: the framing ([`connection`]), one method per request ([`Client`]),
//! uploads and downloads with progress bars and resuming ([`transfer`]), tables ([`table`]),
//! and what the two programs have in common: the numbered menu ([`menu`]) and the command
//! line ([`cli`]). The `chat` example's network side (the HTTP door's chat WebSocket, not the
//! Youku protocol) is [`chat`].

pub mod api;
pub mod chat;
pub mod cli;
pub mod connection;
pub mod error;
pub mod menu;
pub mod table;
pub mod transfer;

pub use api::{Client, FileEntry, Movie, MovieKind, Notice, Record, Role, hash_password};
pub use connection::{Connection, Timeouts};
pub use error::{Error, Result};
pub use transfer::Saved;
