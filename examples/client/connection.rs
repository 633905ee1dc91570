//! The framing over TCP: `struct.pack('i', n)` (an `i32`, little-endian) then `n` bytes of JSON;
//! raw file bytes follow some frames unframed. Every wait is bounded by a timeout, and notice
//! frames that a subscribed connection receives between responses are set aside, not mistaken
//! for answers.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::timeout;

use crate::error::{Error, Result};

/// Largest response frame accepted (the longest list the server sends is far smaller).
const MAX_FRAME: usize = 64 << 20;

/// How long to wait for the server.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To open the connection.
    pub connect: Duration,
    /// For each response frame, and for each chunk of raw bytes in either direction.
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            response: Duration::from_secs(30),
        }
    }
}

/// One framed connection to a Youku protocol server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    timeouts: Timeouts,
    notices: Vec<Value>,
}

/// `request` framed as the contract says: its JSON text's length as a little-endian `i32`, then
/// the text.
pub fn frame(request: &Value) -> Result<Vec<u8>> {
    let body = request.to_string();
    let length = i32::try_from(body.len())
        .map_err(|_| Error::Protocol("request too large to frame".into()))?;
    let mut framed = Vec::with_capacity(4 + body.len());
    framed.extend_from_slice(&length.to_le_bytes());
    framed.extend_from_slice(body.as_bytes());
    Ok(framed)
}

impl Connection {
    /// Connects to `addr` (`HOST:PORT`) within the connect timeout.
    pub async fn connect(addr: impl ToSocketAddrs, timeouts: Timeouts) -> Result<Connection> {
        let stream = timeout(timeouts.connect, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout("connecting to the server"))??;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            timeouts,
            notices: Vec::new(),
        })
    }

    /// The timeouts this connection uses.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Sends one request frame.
    pub async fn send(&mut self, request: &Value) -> Result<()> {
        self.write_raw(&frame(request)?).await
    }

    /// The next response frame, setting aside any notice pushed before it. A response with
    /// `flag: false` is [`Error::Server`].
    pub async fn response(&mut self) -> Result<Value> {
        let wait = self.timeouts.response;
        loop {
            let frame = timeout(wait, self.read_frame())
                .await
                .map_err(|_| Error::Timeout("waiting for the server's answer"))??;
            if is_notice(&frame) {
                self.notices.push(frame);
                continue;
            }
            return check(frame);
        }
    }

    /// Sends `request` and returns its response (see [`Connection::response`]).
    pub async fn call(&mut self, request: &Value) -> Result<Value> {
        self.send(request).await?;
        self.response().await
    }

    /// Writes raw bytes (a file's content after its request frame).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        timeout(self.timeouts.response, self.stream.write_all(bytes))
            .await
            .map_err(|_| Error::Timeout("sending to the server"))??;
        Ok(())
    }

    /// Reads some raw bytes into `buf` (at least one), waiting at most `wait`.
    pub async fn read_raw(&mut self, buf: &mut [u8], wait: Duration) -> Result<usize> {
        let read = timeout(wait, self.stream.read(buf))
            .await
            .map_err(|_| Error::Timeout("receiving file bytes"))??;
        if read == 0 && !buf.is_empty() {
            return Err(Error::Closed);
        }
        Ok(read)
    }

    /// Notices pushed so far (`{"type":"notice","title","content","create_time"}`), oldest
    /// first; taking them empties the list.
    pub fn take_notices(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.notices)
    }

    /// Puts notices back (those a closed connection had received, kept for a new one).
    pub fn set_aside(&mut self, notices: Vec<Value>) {
        self.notices.extend(notices);
    }

    /// Reads the notices already waiting on the socket, without waiting for more, and tells
    /// whether the connection is still open (the server closes idle connections).
    pub async fn poll_open(&mut self) -> bool {
        loop {
            let mut byte = [0; 1];
            match timeout(Duration::ZERO, self.stream.peek(&mut byte)).await {
                Err(_) => return true,
                Ok(Ok(0) | Err(_)) => return false,
                // Between requests the server only sends notices; anything else means the
                // connection is out of step.
                Ok(Ok(_)) => match timeout(self.timeouts.response, self.read_frame()).await {
                    Ok(Ok(frame)) if is_notice(&frame) => self.notices.push(frame),
                    _ => return false,
                },
            }
        }
    }

    async fn read_frame(&mut self) -> Result<Value> {
        let mut header = [0; 4];
        self.stream.read_exact(&mut header).await?;
        let length = i32::from_le_bytes(header);
        let length = usize::try_from(length)
            .ok()
            .filter(|n| (1..=MAX_FRAME).contains(n))
            .ok_or_else(|| Error::Protocol(format!("frame length {length}")))?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Protocol(format!("not JSON: {e}")))
    }
}

fn is_notice(frame: &Value) -> bool {
    frame.get("type").and_then(Value::as_str) == Some("notice")
}

/// `flag: true` passes; `flag: false` becomes [`Error::Server`] with its `code` and `msg`.
fn check(response: Value) -> Result<Value> {
    match response.get("flag").and_then(Value::as_bool) {
        Some(true) => Ok(response),
        Some(false) => {
            let text = |field| {
                response
                    .get(field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Err(Error::Server {
                code: text("code"),
                msg: text("msg"),
            })
        }
        None => Err(Error::Protocol(format!("no `flag` in {response}"))),
    }
}
