//! The Youku protocol as loadgen speaks it, over the client library's framed [`Connection`]:
//! accounts and sessions, the small read requests, and movie transfers straight from memory
//! (uploads) or into a discarding buffer (downloads). The library's `Client` is not used for
//! these: its transfers go through files, progress bars and MD5 checks, which would be measured
//! along with the server.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use examples::connection::frame;
use examples::{Connection, Error, Role, Timeouts, hash_password};
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Chunk size of raw transfers on the client side (the same as the server's copy buffer).
pub const CHUNK: usize = 64 * 1024;

/// The password of every account loadgen creates.
pub const PASSWORD: &str = "loadgen password";

/// Generous timeouts: under load a response may be slow, but never minutes.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(30),
    response: Duration::from_secs(120),
};

/// Opens a framed connection to `addr`.
pub async fn connect(addr: std::net::SocketAddr) -> examples::Result<Connection> {
    Connection::connect(addr, TIMEOUTS).await
}

/// Creates an account.
pub async fn register(connection: &mut Connection, name: &str, role: Role) -> examples::Result<()> {
    let request = json!({"type": "register", "name": name, "password": hash_password(PASSWORD),
                         "user_type": role.as_str()});
    connection.call(&request).await.map(drop)
}

/// Logs in; returns the session token.
pub async fn login(connection: &mut Connection, name: &str, role: Role) -> anyhow::Result<String> {
    let request = json!({"type": "login", "name": name, "password": hash_password(PASSWORD),
                         "user_type": role.as_str()});
    let answer = connection.call(&request).await?;
    answer["session"]
        .as_str()
        .map(str::to_owned)
        .context("a login answer without `session`")
}

/// The small requests of the read mix.
#[derive(Debug, Clone, Copy)]
pub enum Small {
    /// `get_movie_list` of all movies.
    Movies,
    /// `check_notice`.
    Notices,
    /// `check_download_record`.
    Records,
}

/// The read mix, in the order each connection cycles through it (from its own starting point).
pub const MIX: [Small; 3] = [Small::Movies, Small::Notices, Small::Records];

impl Small {
    /// The request for session `token`.
    pub fn request(self, token: &str) -> Value {
        match self {
            Small::Movies => {
                json!({"type": "get_movie_list", "movie_type": "all", "session": token})
            }
            Small::Notices => json!({"type": "check_notice", "session": token}),
            Small::Records => json!({"type": "check_download_record", "session": token}),
        }
    }

    /// The framed request of each kind in [`MIX`] for session `token`, by `Small as usize`.
    pub fn frames(token: &str) -> examples::Result<[Vec<u8>; MIX.len()]> {
        let [movies, notices, records] = MIX.map(|kind| frame(&kind.request(token)));
        Ok([movies?, notices?, records?])
    }
}

/// Largest frame a [`FrameReader`] accepts (the client library's limit).
const MAX_FRAME: usize = 64 << 20;

/// Initial size of a [`FrameReader`]'s buffer (it grows for a larger frame).
const READ_BUFFER: usize = 16 * 1024;

/// Reads length-prefixed frames whole into one reused buffer: one `recv` per frame as a rule
/// (against three for the client library's header-then-body reads). Shared by the read mix's
/// client ([`MixConnection`]) and the floor's echo server (`baseline::Echo`), so that both ends
/// of the floor do what they do against the real server.
pub struct FrameReader {
    buffer: Vec<u8>,
    /// How many bytes at the start of `buffer` were read.
    filled: usize,
    /// How many of them the frame returned last took (dropped at the next call).
    taken: usize,
}

impl Default for FrameReader {
    fn default() -> FrameReader {
        FrameReader {
            buffer: vec![0; READ_BUFFER],
            filled: 0,
            taken: 0,
        }
    }
}

impl FrameReader {
    /// The body of the next frame on `stream`; [`Error::Closed`] when it ends.
    pub async fn next(&mut self, stream: &mut (impl AsyncRead + Unpin)) -> examples::Result<&[u8]> {
        self.buffer.copy_within(self.taken..self.filled, 0);
        self.filled -= self.taken;
        self.taken = 0;
        loop {
            if let Some(header) = self.buffer[..self.filled].first_chunk::<4>() {
                let length = i32::from_le_bytes(*header);
                let length = usize::try_from(length)
                    .ok()
                    .filter(|n| (1..=MAX_FRAME).contains(n))
                    .ok_or_else(|| Error::Protocol(format!("frame length {length}")))?;
                let end = 4 + length;
                if self.filled >= end {
                    self.taken = end;
                    return Ok(&self.buffer[4..end]);
                }
                if self.buffer.len() < end {
                    self.buffer.resize(end, 0);
                }
            }
            match stream.read(&mut self.buffer[self.filled..]).await? {
                0 => return Err(Error::Closed),
                n => self.filled += n,
            }
        }
    }
}

/// A connection that runs the read mix for one session at as little cost to loadgen as the
/// protocol allows, so that on a shared machine the server gets the CPU: each request frame is
/// encoded once, answers are read whole into a reused buffer ([`FrameReader`]) and checked — a
/// JSON object whose `flag` is true, or a refusal's `code` and `msg` — without building a JSON
/// tree. Notices pushed between answers are skipped. It sets no timer of its own: the caller
/// bounds the whole run (see `small::run_mix`).
pub struct MixConnection {
    stream: TcpStream,
    /// The framed request of each [`Small`] kind, by `Small as usize`.
    requests: [Vec<u8>; MIX.len()],
    reader: FrameReader,
}

/// The fields of an answer that tell its outcome (the rest is skipped, not stored).
#[derive(Deserialize)]
struct Verdict<'a> {
    flag: Option<bool>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    msg: Option<Cow<'a, str>>,
}

/// What one answer frame says: `Ok(true)` for success, `Ok(false)` for a pushed notice.
fn verdict(body: &[u8]) -> examples::Result<bool> {
    let verdict: Verdict = serde_json::from_slice(body)
        .map_err(|e| Error::Protocol(format!("not a JSON object: {e}")))?;
    match verdict.flag {
        Some(true) => Ok(true),
        Some(false) => Err(Error::Server {
            code: verdict.code.unwrap_or_default().into_owned(),
            msg: verdict.msg.unwrap_or_default().into_owned(),
        }),
        None if verdict.kind.as_deref() == Some("notice") => Ok(false),
        None => Err(Error::Protocol("an answer without `flag`".into())),
    }
}

impl MixConnection {
    /// Connects (within the connect timeout) for the session `token` (no new login).
    pub async fn open(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<MixConnection> {
        let stream = tokio::time::timeout(TIMEOUTS.connect, TcpStream::connect(addr))
            .await
            .context("connecting to the server timed out")??;
        stream.set_nodelay(true)?;
        Ok(MixConnection {
            stream,
            requests: Small::frames(token)?,
            reader: FrameReader::default(),
        })
    }

    /// Sends one small request and waits for its answer.
    pub async fn small(&mut self, request: Small) -> examples::Result<()> {
        self.stream
            .write_all(&self.requests[request as usize])
            .await?;
        while !verdict(self.reader.next(&mut self.stream).await?)? {}
        Ok(())
    }
}

/// Bytes to upload: one generated buffer whose last 8 bytes vary, so that many distinct movies
/// (the server refuses a second upload of the same content) share one buffer. The MD5 of all but
/// those 8 bytes is computed once; each variant's MD5 then costs nothing.
pub struct Content {
    bytes: Arc<Vec<u8>>,
    prefix_md5: Md5,
}

/// How many bytes at the end of [`Content`] differ between variants.
const SUFFIX: usize = 8;

impl Content {
    /// `size` pseudo-random bytes from `seed` (incompressible, so no layer can shortcut them).
    pub fn generate(size: usize, seed: u64) -> Content {
        assert!(size >= SUFFIX, "content of at least {SUFFIX} bytes");
        let mut bytes = vec![0u8; size];
        let mut state = seed | 1;
        for chunk in bytes.chunks_mut(8) {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        let mut prefix_md5 = Md5::new();
        prefix_md5.update(&bytes[..size - SUFFIX]);
        Content {
            bytes: Arc::new(bytes),
            prefix_md5,
        }
    }

    /// The length of every variant.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Variant `n`: its hex MD5 and its last 8 bytes.
    pub fn variant(&self, n: u64) -> (String, [u8; SUFFIX]) {
        let suffix = n.to_le_bytes();
        let mut md5 = self.prefix_md5.clone();
        md5.update(suffix);
        (hex::encode(md5.finalize()), suffix)
    }

    /// The whole of variant `n` (to write the file that the baseline serves).
    pub fn variant_bytes(&self, n: u64) -> Vec<u8> {
        let mut bytes = self.bytes.to_vec();
        let len = bytes.len();
        bytes[len - SUFFIX..].copy_from_slice(&self.variant(n).1);
        bytes
    }

    /// The shared buffer (the fixed part is all but its last 8 bytes).
    pub fn shared(&self) -> Arc<Vec<u8>> {
        self.bytes.clone()
    }
}

/// Writes variant `n` of `content` as raw bytes, in [`CHUNK`]-sized writes.
pub async fn send_variant(
    connection: &mut Connection,
    content: &Content,
    n: u64,
) -> examples::Result<()> {
    let (_, suffix) = content.variant(n);
    let bytes = content.shared();
    for chunk in bytes[..bytes.len() - SUFFIX].chunks(CHUNK) {
        connection.write_raw(chunk).await?;
    }
    connection.write_raw(&suffix).await
}

/// Reads `len` raw bytes and drops them (no hashing, no disk), [`CHUNK`] at a time.
pub async fn receive_discard(connection: &mut Connection, len: u64) -> examples::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = connection
            .read_raw(&mut buf[..want], TIMEOUTS.response)
            .await?;
        left -= n as u64;
    }
    Ok(())
}

/// A logged-in connection.
pub struct Session {
    /// The connection.
    pub connection: Connection,
    /// Its session token.
    pub token: String,
}

impl Session {
    /// Connects and logs in as `name`.
    pub async fn login(
        addr: std::net::SocketAddr,
        name: &str,
        role: Role,
    ) -> anyhow::Result<Session> {
        let mut connection = connect(addr).await?;
        let token = login(&mut connection, name, role).await?;
        Ok(Session { connection, token })
    }

    /// Connects and reuses a session token obtained earlier (no new login).
    pub async fn resume(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<Session> {
        Ok(Session {
            connection: connect(addr).await?,
            token: token.to_owned(),
        })
    }

    /// Sends one small request and waits for its answer.
    pub async fn small(&mut self, request: Small) -> examples::Result<()> {
        self.connection
            .call(&request.request(&self.token))
            .await
            .map(drop)
    }

    /// Publishes a notice (admins).
    pub async fn publish_notice(&mut self, title: &str) -> anyhow::Result<()> {
        let request = json!({"type": "release_notice", "title": title,
                             "content": "published by loadgen", "session": self.token});
        self.connection.call(&request).await?;
        Ok(())
    }

    /// Uploads variant `n` of `content` as a charged movie named `name` (admins); returns its
    /// id. The time this takes runs until the server's answer, so it includes the server's
    /// hashing, `fsync` and database insert.
    pub async fn upload_movie(
        &mut self,
        name: &str,
        content: &Content,
        n: u64,
    ) -> anyhow::Result<i64> {
        let (md5, _) = content.variant(n);
        let request = json!({"type": "upload_movie", "file_name": name, "file_size": content.len(),
                             "file_md5": md5, "is_free": 0, "session": self.token});
        self.connection.send(&request).await?;
        let sent = send_variant(&mut self.connection, content, n).await;
        let answer = match sent {
            Ok(()) => self.connection.response().await?,
            // A refusal arrives before the bytes are read: it says more than the broken pipe.
            Err(error) => match self.connection.response().await {
                Err(refusal @ Error::Server { .. }) => return Err(refusal.into()),
                _ => return Err(error.into()),
            },
        };
        answer["movie_id"]
            .as_i64()
            .context("an upload answer without `movie_id`")
    }

    /// Soft-deletes a movie (admins).
    pub async fn delete_movie(&mut self, movie_id: i64) -> anyhow::Result<()> {
        let request =
            json!({"type": "delete_movie", "delete_movie_id": movie_id, "session": self.token});
        self.connection.call(&request).await?;
        Ok(())
    }

    /// Downloads a movie and discards its bytes; returns how many arrived.
    pub async fn download_movie(&mut self, movie_id: i64) -> anyhow::Result<u64> {
        let request =
            json!({"type": "download_movie", "movie_id": movie_id, "session": self.token});
        let head = self.connection.call(&request).await?;
        let size = head["file_size"]
            .as_u64()
            .context("a download answer without `file_size`")?;
        let wait = head["wait_time"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            wait == 0,
            "the server imposes a {wait} s wait on this download"
        );
        receive_discard(&mut self.connection, size).await?;
        Ok(size)
    }
}

/// Runs `job(0..count)` with at most `concurrency` jobs in flight; results in index order. The
/// first error ends the run.
pub async fn run_limited<T, F, Fut>(
    count: usize,
    concurrency: usize,
    job: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (next, job) = (next.clone(), job.clone());
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return anyhow::Ok(done);
                }
                done.push((index, job(index).await?));
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        all.extend(worker.await??);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, value)| value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_differ_only_at_the_end_and_hash_as_a_whole() {
        let content = Content::generate(100_000, 7);
        for n in [0, 1, 42] {
            let bytes = content.variant_bytes(n);
            assert_eq!(content.variant(n).0, hex::encode(Md5::digest(&bytes)));
            assert_eq!(
                bytes[..100_000 - SUFFIX],
                content.shared()[..100_000 - SUFFIX]
            );
        }
        assert_ne!(content.variant(1).0, content.variant(2).0);
    }
}
