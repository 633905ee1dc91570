//! What the framed doors (Youku and netdisk) share around their requests: the loop that reads a
//! frame, races it against shutdown and pushes, answers an impossible frame header, and writes
//! the one log line per request. A door supplies only what differs ([`FramedDoor`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::connection::{Connection, Limits, ReadError};
use super::door::{ServeConnection, Served, Shutdown};
use super::frame::FrameError;
use crate::Netdisk;

/// What a handled request asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next request.
    Continue,
    /// Close the connection (the client broke the protocol, or the stream failed).
    Close,
}

/// A protocol spoken in length-prefixed frames over one connection.
pub trait FramedDoor: Send + Sized + 'static {
    /// Its name in the log.
    const PROTOCOL: &'static str;

    /// A new connection's state.
    fn open(netdisk: Netdisk) -> Self;

    /// The answer to a frame header announcing an impossible length, and its outcome in the log;
    /// the connection closes after it.
    fn refuse_frame(error: &FrameError) -> (Vec<u8>, Outcome);

    /// Handles one frame's body, answering on `connection`, and fills in `log`.
    fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        connection: &mut Connection<S>,
        body: Bytes,
        log: &mut RequestLog,
    ) -> impl Future<Output = Flow> + Send;

    /// A frame to send unasked (a push), raced against the next request; `None` when a wake-up
    /// had nothing to send. By default nothing ever comes.
    fn next_push(&mut self) -> impl Future<Output = Option<Vec<u8>>> + Send {
        std::future::pending()
    }

    /// Called once when the connection ends, however it ends.
    fn close(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A framed door's [`Door::open`](super::Door::open): `D` on each accepted TCP connection.
pub fn open<D: FramedDoor>(
    netdisk: Netdisk,
    limits: Limits,
    shutdown: Shutdown,
) -> ServeConnection {
    Arc::new(move |stream: TcpStream| -> Served {
        Box::pin(serve(
            D::open(netdisk.clone()),
            Connection::new(stream, limits),
            shutdown.clone(),
        ))
    })
}

/// Serves `door` on `connection` until the client leaves, breaks the protocol, a push cannot be
/// written, or `shutdown` fires while the connection is between requests.
pub async fn serve<S, D>(mut door: D, mut connection: Connection<S>, mut shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    D: FramedDoor,
{
    // One wait for shutdown for the whole connection, not a new one per request: registering
    // and removing a waiter takes a lock shared with other connections.
    let mut stop = std::pin::pin!(shutdown.changed());
    loop {
        let frame = tokio::select! {
            biased;
            _ = &mut stop => break,
            push = door.next_push() => match push {
                Some(push) if connection.write_frame(&push).await.is_err() => break,
                _ => continue,
            },
            frame = connection.read_frame() => frame,
        };
        let mut log = RequestLog::new(D::PROTOCOL);
        let body = match frame {
            Ok(Some(body)) => body,
            Err(ReadError::Frame(error)) => {
                let (answer, outcome) = D::refuse_frame(&error);
                let _ = connection.write_frame(&answer).await;
                log.outcome = outcome;
                log.write();
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let flow = door.handle(&mut connection, body, &mut log).await;
        log.write();
        if flow == Flow::Close {
            break;
        }
    }
    door.close().await;
}

/// How a request ended, as its log line says: the door's own code for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A code that is a word (`ok`, `not_found`, ...).
    Word(&'static str),
    /// A code that is a number.
    Number(i64),
}

/// The one log line of a request: protocol, type, user, outcome and duration. Never a password
/// or a token. It is written once the answer has gone out (file bytes included), so the duration
/// is the whole exchange's.
#[derive(Debug)]
pub struct RequestLog {
    protocol: &'static str,
    started: Instant,
    /// The request's type (`-` until it is known).
    pub kind: &'static str,
    /// The account it acted as, once known.
    pub user: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
}

impl RequestLog {
    /// A request of `protocol` starting now.
    pub fn new(protocol: &'static str) -> Self {
        RequestLog {
            protocol,
            started: Instant::now(),
            kind: "-",
            user: None,
            outcome: Outcome::Word("-"),
        }
    }

    /// Writes the line.
    pub fn write(&self) {
        let micros = self.started.elapsed().as_micros() as u64;
        let user = self.user.as_deref().unwrap_or("-");
        let (protocol, kind) = (self.protocol, self.kind);
        match self.outcome {
            Outcome::Word(outcome) => {
                tracing::info!(protocol, r#type = kind, user, outcome, micros, "request");
            }
            Outcome::Number(outcome) => {
                tracing::info!(protocol, r#type = kind, user, outcome, micros, "request");
            }
        }
    }
}
