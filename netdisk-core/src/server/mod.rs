//! The network doors onto [`Netdisk`](crate::Netdisk): the framing and connection handling that
//! both protocols share, the two protocols, and the listener that runs them. This is the only
//! part of the crate that knows about sockets.

pub mod connection;
pub mod frame;
mod listener;
pub mod netdisk_door;
mod session;
pub mod youku;

pub use listener::{Running, start};
