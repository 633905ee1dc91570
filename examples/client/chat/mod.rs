//! The chat client's network side, for the `chat` example (a terminal chat client) and its
//! tests: the HTTP calls around a session ([`api`]), the WebSocket's messages ([`protocol`]),
//! and a room's connection that reconnects by itself ([`connection`]). The screen is the
//! example's own (`examples/chat/`).

pub mod api;
pub mod connection;
pub mod protocol;

pub use api::{ApiError, Credentials, Room, Session};
pub use connection::{Backoff, Event, Link};
pub use protocol::{Incoming, Outgoing, Person, Said};
