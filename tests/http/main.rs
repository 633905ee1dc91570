//! The HTTP door over real sockets, on SQLite and MariaDB: accounts and the session cookie,
//! the movie pages and the viewing rules, ranged content, resumable uploads, notices pushed
//! over Server-Sent Events, and what a hostile client or another user may not do; e-mail
//! confirmation and password resets by mailed links (from the outbox, and through a real SMTP
//! server); the photo site's uploads, pictures, pages and API, and its social side.

#[path = "../support/faults.rs"]
mod faults;
#[path = "../support/scenarios.rs"]
mod scenarios;
#[path = "../support/mod.rs"]
mod support;

mod accounts;
mod admin;
mod api;
mod chat;
mod content;
mod email;
mod hostile;
mod movies;
mod notices;
mod photos;
mod smtp;
mod social;
mod uploads;
mod web;

type Result = mini_orm::Result<()>;

/// A fixed start for the tests that move a clock: 2025-01-01T00:00:00Z.
const EPOCH: i64 = 1_735_689_600;
