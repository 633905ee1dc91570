//! Accepting connections for every door, within one connection limit, and shutting down
//! gracefully: stop accepting, close idle connections, let transfers finish within a grace
//! period. Written once; a door only serves the connections it is handed.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use super::DOORS;
use super::connection::Limits;
use super::door::{Door, ServeConnection};
use crate::Netdisk;
use crate::config::{Listen, ServerConfig};

/// The running doors; dropping this does not stop them, [`Running::shutdown`] does.
pub struct Running {
    addrs: Vec<(&'static str, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    acceptors: JoinSet<()>,
    connections: TaskTracker,
    grace: Duration,
}

impl Running {
    /// Where door `name` listens, if it is on.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(door, _)| *door == name)
            .map(|(_, addr)| *addr)
    }

    /// Every door that is on, with its address, in the order of [`DOORS`].
    pub fn addrs(&self) -> &[(&'static str, SocketAddr)] {
        &self.addrs
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

/// Where each door of [`DOORS`] listens under `config`; an unknown door name is an error.
pub fn door_addrs(config: &ServerConfig) -> io::Result<Vec<(&'static Door, Listen)>> {
    if let Some(unknown) = config
        .doors
        .keys()
        .find(|name| !DOORS.iter().any(|door| door.name == name.as_str()))
    {
        let known: Vec<&str> = DOORS.iter().map(|door| door.name).collect();
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "there is no door `{unknown}` (the doors: {})",
                known.join(", ")
            ),
        ));
    }
    Ok(DOORS
        .iter()
        .map(|door| {
            let listen = config.doors.get(door.name).copied();
            (door, listen.unwrap_or(Listen::At(door.default_addr)))
        })
        .collect())
}

/// Binds every door that is on and starts serving `netdisk` on them.
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
    let mut addrs = Vec::new();
    for (door, listen) in door_addrs(config)? {
        let Listen::At(addr) = listen else { continue };
        let listener = listen_on(addr).map_err(|e| {
            io::Error::new(e.kind(), format!("door `{}` on {addr}: {e}", door.name))
        })?;
        addrs.push((door.name, listener.local_addr()?));
        let acceptor = Acceptor {
            listener,
            serve: (door.open)(netdisk.clone(), limits, shutdown.subscribe()),
            permits: permits.clone(),
            connections: connections.clone(),
        };
        acceptors.spawn(acceptor.run());
    }
    Ok(Running {
        addrs,
        shutdown,
        acceptors,
        connections,
        grace: Duration::from_secs(config.shutdown_grace_secs),
    })
}

struct Acceptor {
    listener: TcpListener,
    serve: ServeConnection,
    permits: Arc<Semaphore>,
    connections: TaskTracker,
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
            let serve = (self.serve)(stream);
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
fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(text: &str) -> Listen {
        text.parse().unwrap()
    }

    #[test]
    fn every_door_listens_at_its_default_unless_configured_otherwise() {
        let defaults = door_addrs(&ServerConfig::default()).unwrap();
        let names: Vec<&str> = defaults.iter().map(|(door, _)| door.name).collect();
        assert_eq!(names, DOORS.iter().map(|d| d.name).collect::<Vec<_>>());
        for (door, at) in &defaults {
            assert_eq!(*at, Listen::At(door.default_addr), "{}", door.name);
        }
        let first = DOORS[0].name;
        let config = ServerConfig::default().with_door(first, listen("127.0.0.1:0"));
        let config = config.with_door(DOORS[1].name, Listen::Off);
        let configured = door_addrs(&config).unwrap();
        assert_eq!(configured[0].1, listen("127.0.0.1:0"));
        assert_eq!(configured[1].1, Listen::Off);
    }

    #[test]
    fn a_door_that_does_not_exist_is_refused() {
        let config = ServerConfig::default().with_door("gopher", Listen::Off);
        let error = door_addrs(&config).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("no door `gopher`"), "{error}");
    }

    #[tokio::test]
    async fn a_door_that_is_off_is_not_started() {
        let db = mini_orm::Db::connect("sqlite::memory:").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            data_dir: dir.path().to_owned(),
            ..crate::Config::default()
        };
        let clock = Arc::new(crate::clock::SystemClock);
        let (netdisk, _) = Netdisk::open_with(db, config, clock).await.unwrap();
        let mut doors = super::super::every_door(Listen::Off);
        doors.insert(DOORS[1].name.to_owned(), listen("127.0.0.1:0"));
        let config = ServerConfig {
            doors,
            ..ServerConfig::default()
        };
        let running = start(netdisk, &config).await.unwrap();
        assert_eq!(running.addrs().len(), 1);
        assert_eq!(running.addrs()[0].0, DOORS[1].name);
        assert!(running.addr(DOORS[0].name).is_none());
        assert!(running.shutdown().await);
    }
}
