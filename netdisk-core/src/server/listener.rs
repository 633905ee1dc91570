//! Accepting connections for both protocols, within a connection limit, and shutting down
//! gracefully: stop accepting, close idle connections, let transfers finish within a grace
//! period.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use super::connection::{Connection, Limits};
use super::{netdisk_door, youku};
use crate::Netdisk;
use crate::config::ServerConfig;

/// The running servers; dropping this does not stop them, [`Running::shutdown`] does.
pub struct Running {
    youku: Option<SocketAddr>,
    netdisk: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    acceptors: JoinSet<()>,
    connections: TaskTracker,
    grace: Duration,
}

impl Running {
    /// Where the Youku protocol listens, if it is on.
    pub fn youku_addr(&self) -> Option<SocketAddr> {
        self.youku
    }

    /// Where the netdisk protocol listens, if it is on.
    pub fn netdisk_addr(&self) -> Option<SocketAddr> {
        self.netdisk
    }

    /// Stops accepting, closes connections that are between requests, and waits for requests
    /// and transfers in flight, at most the grace period. Returns whether all finished in time.
    pub async fn shutdown(mut self) -> bool {
        let _ = self.shutdown.send(true);
        self.acceptors.abort_all();
        while self.acceptors.join_next().await.is_some() {}
        self.connections.close();
        tokio::time::timeout(self.grace, self.connections.wait())
            .await
            .is_ok()
    }
}

/// Binds the configured addresses and starts serving `netdisk` on them.
pub async fn start(netdisk: Netdisk, config: &ServerConfig) -> io::Result<Running> {
    let limits = Limits {
        max_frame: config.max_frame_bytes,
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        frame_timeout: Duration::from_secs(config.frame_timeout_secs),
        stall_timeout: Duration::from_secs(config.stall_timeout_secs),
    };
    let (shutdown, _) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut acceptors = JoinSet::new();
    let mut bind =
        async |addr: Option<SocketAddr>, serve: Protocol| -> io::Result<Option<SocketAddr>> {
            let Some(addr) = addr else { return Ok(None) };
            let listener = listen(addr)?;
            let local = listener.local_addr()?;
            let acceptor = Acceptor {
                listener,
                netdisk: netdisk.clone(),
                limits,
                permits: permits.clone(),
                shutdown: shutdown.subscribe(),
                connections: connections.clone(),
                protocol: serve,
            };
            acceptors.spawn(acceptor.run());
            Ok(Some(local))
        };
    let youku = bind(config.youku_addr, Protocol::Youku).await?;
    let netdisk_addr = bind(config.netdisk_addr, Protocol::Netdisk).await?;
    Ok(Running {
        youku,
        netdisk: netdisk_addr,
        shutdown,
        acceptors,
        connections,
        grace: Duration::from_secs(config.shutdown_grace_secs),
    })
}

#[derive(Clone, Copy)]
enum Protocol {
    Youku,
    Netdisk,
}

struct Acceptor {
    listener: TcpListener,
    netdisk: Netdisk,
    limits: Limits,
    permits: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    connections: TaskTracker,
    protocol: Protocol,
}

impl Acceptor {
    async fn run(self) {
        loop {
            // Accept, then wait for room: a connection over the limit waits here (and the ones
            // behind it in the kernel's backlog), while an idle acceptor holds no slot.
            let stream = self.accept().await;
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                return;
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
            let connection = Connection::new(stream, self.limits);
            let netdisk = self.netdisk.clone();
            let shutdown = self.shutdown.clone();
            let serve: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match self.protocol {
                Protocol::Youku => Box::pin(youku::serve(netdisk, connection, shutdown)),
                Protocol::Netdisk => Box::pin(netdisk_door::serve(netdisk, connection, shutdown)),
            };
            self.connections.spawn(async move {
                serve.await;
                drop(permit);
            });
        }
    }

    /// The next connection; accept errors (out of file descriptors, say) are retried with
    /// back-off instead of ending the server.
    async fn accept(&self) -> TcpStream {
        let mut backoff = Duration::from_millis(10);
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => return stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// Connections the kernel completes and queues for each listener before the server accepts them
/// (tokio's default is 128). A connection beyond `max_connections` waits in this queue; past it,
/// the kernel drops handshakes and clients retry.
const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server can bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
