//! [`Door`]: all the listener knows of a protocol. A door is a value: its name, its default
//! address, and a function that opens it on the services, giving what serves each accepted
//! connection. The listener does the rest (accepting under the connection limit, shutdown and
//! its grace period) once for every door.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::connection::Limits;
use crate::Netdisk;

/// Fires (changes) when the server shuts down: a door closes a connection that is between
/// requests, and lets one in the middle of a request finish.
pub type Shutdown = watch::Receiver<bool>;

/// A connection being served, as a door's [`Door::serve`] returns it.
pub type Served = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves one accepted connection until the client leaves, breaks the protocol, or
/// [`Shutdown`] fires while the connection is between requests.
pub type ServeConnection = Arc<dyn Fn(TcpStream) -> Served + Send + Sync>;

/// A protocol the server can put on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Door {
    /// Its name: the configuration's `[server.doors]` key, the server's `--<name> ADDR` and
    /// `--no-<name>` flags, and the `protocol` of its log lines.
    pub name: &'static str,
    /// Where it listens unless configured otherwise.
    pub default_addr: SocketAddr,
    /// Opens the door on the services, once per listener: what it builds here (an HTTP
    /// router, say) serves every connection the listener accepts, until [`Shutdown`] fires.
    pub open: fn(Netdisk, Limits, Shutdown) -> ServeConnection,
}

/// `127.0.0.1:port`, for doors' default addresses.
pub const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}
