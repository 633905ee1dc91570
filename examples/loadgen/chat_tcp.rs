//! Mode `chat` over the C/S chat door (`../shared/PROTOCOL.md` section 4): clients that log in
//! with `0001|name|password\n`, talk with `0002|name|text\n` and hear `1002|nickname|text\n`
//! (never their own), and the floor they are compared with.
//!
//! The floor is a bare tokio TCP server on a [`Pool`] of loadgen's with the same framing: it
//! answers any `0001|name|...` line with `1001|1|name|name` (no password check), and sends each
//! `0002|name|text` line as `1002|name|text` to every other connection through a
//! `tokio::sync::broadcast` channel, one write per line as the door does. No database, no
//! sessions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::baseline::Pool;
use crate::chat_load::{Ear, Heard, Mouth, Room, find_mark};
use crate::proto::run_limited;

/// Longest line a client reads.
const MAX_LINE: usize = 8 * 1024;

/// How long connecting and logging in may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Lines the floor's channel holds for its slowest client.
const FLOOR_CAPACITY: usize = 1024;

/// The sending half of a client, logged in as `name`.
pub struct LineMouth {
    writer: OwnedWriteHalf,
    name: String,
}

/// The receiving half of a client: lines, read through a buffer of its own.
pub struct LineEar {
    reader: OwnedReadHalf,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl LineMouth {
    async fn send(&mut self, line: &str) -> anyhow::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        Ok(self.writer.write_all(&bytes).await?)
    }
}

impl Mouth for LineMouth {
    async fn say(&mut self, text: String) -> anyhow::Result<()> {
        let line = format!("0002|{}|{text}", self.name);
        self.send(&line).await
    }
}

impl LineEar {
    /// Where the next line lies in `buf` (without its `\n`); `None` when the connection closed.
    /// Cancel-safe: what was read stays in the buffer.
    async fn next_line(&mut self) -> anyhow::Result<Option<std::ops::Range<usize>>> {
        loop {
            if let Some(at) = self.buf[self.start..self.end]
                .iter()
                .position(|b| *b == b'\n')
            {
                let line = self.start..self.start + at;
                self.start += at + 1;
                return Ok(Some(line));
            }
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.end == self.buf.len() {
                ensure!(self.start > 0, "a line over {MAX_LINE} bytes");
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            let read = self.reader.read(&mut self.buf[self.end..]).await?;
            if read == 0 {
                return Ok(None);
            }
            self.end += read;
        }
    }
}

impl Ear for LineEar {
    async fn hear(&mut self) -> anyhow::Result<Option<Heard>> {
        while let Some(line) = self.next_line().await? {
            if let Some((id, said)) = find_mark(&self.buf[line]) {
                return Ok(Some(Heard::Mark(id, said)));
            }
        }
        Ok(None)
    }
}

/// Connects to `addr` and logs in as `name`.
async fn login(
    addr: SocketAddr,
    name: &str,
    password: &str,
) -> anyhow::Result<(LineMouth, LineEar)> {
    let logging_in = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let mut mouth = LineMouth {
            writer,
            name: name.to_owned(),
        };
        let mut ear = LineEar {
            reader,
            buf: vec![0; MAX_LINE],
            start: 0,
            end: 0,
        };
        mouth.send(&format!("0001|{name}|{password}")).await?;
        let line = ear
            .next_line()
            .await?
            .context("the door closed the connection at login")?;
        let answer = String::from_utf8_lossy(&ear.buf[line]).into_owned();
        if !answer.starts_with("1001|1|") {
            bail!("logging in {name} at the chat door: {answer:?}");
        }
        anyhow::Ok((mouth, ear))
    };
    tokio::time::timeout(LOGIN_TIMEOUT, logging_in)
        .await
        .context("logging in at the chat door timed out")?
}

/// Connects one client per account name in `names` (the talkers first, each talker's name its
/// own) and logs each in, `concurrency` at once; a room with `talkers` talkers.
pub async fn room(
    addr: SocketAddr,
    names: Vec<Arc<str>>,
    password: Arc<str>,
    talkers: usize,
    concurrency: usize,
) -> anyhow::Result<Room<LineMouth, LineEar>> {
    let count = names.len();
    let clients = run_limited(count, concurrency, move |i| {
        let (name, password) = (names[i].clone(), password.clone());
        async move { login(addr, &name, &password).await }
    })
    .await?;
    Ok(Room::new(clients, talkers, false))
}

/// Starts the floor on `workers` threads; its address.
pub fn floor(workers: usize) -> anyhow::Result<(Pool, SocketAddr)> {
    let pool = Pool::new(workers)?;
    let (room, _) = broadcast::channel(FLOOR_CAPACITY);
    let ids = Arc::new(AtomicU64::new(0));
    let addr = pool.listen(move |stream| {
        serve_floor(stream, room.clone(), ids.fetch_add(1, Ordering::Relaxed))
    })?;
    Ok((pool, addr))
}

/// One floor connection, number `me`: logins answered, lines said go to `room` (with `me`, so
/// that they do not come back), lines in `room` from others go out. A client that falls more
/// than the channel's capacity behind misses what it skipped.
async fn serve_floor(
    stream: TcpStream,
    room: broadcast::Sender<(u64, Arc<str>)>,
    me: u64,
) -> std::io::Result<()> {
    let mut heard = room.subscribe();
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { return Ok(()) };
                let mut fields = line.splitn(3, '|');
                match (fields.next(), fields.next(), fields.next()) {
                    (Some("0001"), Some(name), _) => {
                        let answer = format!("1001|1|{name}|{name}\n");
                        if writer.write_all(answer.as_bytes()).await.is_err() {
                            return Ok(());
                        }
                    }
                    (Some("0002"), Some(name), Some(text)) => {
                        let _ = room.send((me, format!("1002|{name}|{text}\n").into()));
                    }
                    _ => {}
                }
            }
            said = heard.recv() => match said {
                Ok((from, line)) if from != me => {
                    if writer.write_all(line.as_bytes()).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}
