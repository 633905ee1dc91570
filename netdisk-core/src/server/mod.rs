//! The network doors onto [`Netdisk`](crate::Netdisk): the framing and connection handling that
//! both protocols share. This is the only part of the crate that knows about sockets.

pub mod connection;
pub mod frame;
