//! The doors onto the services: a [`Door`] is a protocol the server can put on the wire, and
//! [`DOORS`] is the one list of them. The listener accepts connections for every door under
//! one connection limit and shuts them down together; the framed doors share their request
//! loop and log line ([`framed`]). This is the only part of the crate that knows about sockets.
//!
//! Adding a door: a folder or file of its own with a `DOOR` value, and a line in [`DOORS`]. The
//! configuration (`[server.doors]`) and the server's `--<door> ADDR` / `--no-<door>` flags
//! follow from the list.

pub mod chat;
pub mod connection;
mod door;
pub mod frame;
pub mod framed;
pub mod http;
mod listener;
pub mod netdisk_door;
pub mod youku;

pub use door::{Door, ServeConnection, Served, Shutdown, loopback};
pub use listener::{Running, door_addrs, start};

/// Every door, in the order they start.
pub const DOORS: &[Door] = &[youku::DOOR, netdisk_door::DOOR, chat::DOOR, http::DOOR];

/// The `[server.doors]` setting that puts every door at `listen`: `Listen::At` with port 0
/// puts each on a free port of its own (what tests and embedders want).
pub fn every_door(
    listen: crate::config::Listen,
) -> std::collections::BTreeMap<String, crate::config::Listen> {
    DOORS
        .iter()
        .map(|door| (door.name.to_owned(), listen))
        .collect()
}
