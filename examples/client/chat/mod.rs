//! The terminal chat client (the `chat` example) as a library, so that its tests run with the
//! crate's: the HTTP calls around a session ([`api`]), the WebSocket's messages ([`protocol`]),
//! a room's connection that reconnects by itself ([`connection`]), what the screen shows as a
//! pure state machine ([`state`]) and its drawing ([`ui`]). The terminal's key loop is the
//! example's own (`examples/chat/terminal.rs`).

pub mod api;
pub mod connection;
pub mod protocol;
pub mod state;
pub mod ui;

pub use api::{ApiError, Credentials, Room, Session};
pub use connection::{Backoff, Event, Link};
pub use protocol::{Incoming, Outgoing, Person, Said};
