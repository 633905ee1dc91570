//! One client connection: frames in and out, and the raw file bytes that follow some frames,
//! with the time limits that keep a slow or silent client from holding a connection forever.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};
use tokio_util::io::poll_read_buf;

use super::frame::{self, FrameError};

/// Size of the buffer used to copy file bytes, in both directions.
pub const COPY_BUFFER: usize = 64 * 1024;

/// Capacity of a connection's read buffer.
const READ_BUFFER: usize = 8 * 1024;

/// The time and size limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest frame body accepted.
    pub max_frame: usize,
    /// Longest wait for the first byte of the next request.
    pub idle_timeout: Duration,
    /// Longest time from a frame's first byte to its last.
    pub frame_timeout: Duration,
    /// Longest time a file transfer may go without progress.
    pub stall_timeout: Duration,
}

/// Why reading a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The header announced an impossible length.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Nothing arrived within the idle timeout, or a frame took longer than its deadline.
    #[error("timed out waiting for the client")]
    TimedOut,
    /// The stream failed or closed in the middle of a frame.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A framed connection over any byte stream (a TCP socket, or an in-memory pipe in tests).
pub struct Connection<S> {
    stream: S,
    buffer: BytesMut,
    limits: Limits,
    /// The timer of the wait for a request, created by the first wait and kept armed from one
    /// wait to the next (see [`read_before`]).
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// Raw bytes the client announced after the last frame and that were not read yet.
    pending_raw: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps `stream`.
    pub fn new(stream: S, limits: Limits) -> Self {
        Connection {
            stream,
            buffer: BytesMut::with_capacity(READ_BUFFER),
            limits,
            idle_timer: None,
            pending_raw: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The next frame's body; `Ok(None)` when the client closed the connection between frames.
    ///
    /// Cancel-safe: bytes read before a cancellation stay buffered for the next call.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, ReadError> {
        if self.buffer.is_empty() {
            // Read the next request into the front of the buffer again (the last body taken out
            // of it is gone by now, so this moves no bytes and allocates nothing): each request
            // lands in the same few cache lines instead of the next ones of a buffer that only
            // wraps around every few dozen requests, which with hundreds of connections keeps
            // every read on a cold line.
            self.buffer.reserve(READ_BUFFER);
        }
        let mut frame_deadline = None;
        loop {
            if let Some(body) = frame::decode(&mut self.buffer, self.limits.max_frame)? {
                return Ok(Some(body));
            }
            let read = if self.buffer.is_empty() {
                let deadline = Instant::now() + self.limits.idle_timeout;
                let timer = self
                    .idle_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                read_before(&mut self.stream, &mut self.buffer, timer, deadline).await
            } else {
                let deadline = *frame_deadline
                    .get_or_insert_with(|| Instant::now() + self.limits.frame_timeout);
                tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buffer))
                    .await
                    .ok()
            };
            match read {
                None => return Err(ReadError::TimedOut),
                Some(Ok(0)) if self.buffer.is_empty() => return Ok(None),
                Some(Ok(0)) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Sends one frame and flushes it; fails if the client stops reading for longer than the
    /// stall timeout. Header and body go out together in one (vectored) write as a rule,
    /// straight from `body`: no copy of the frame is kept per connection.
    pub async fn write_frame(&mut self, body: &[u8]) -> io::Result<()> {
        let header = frame::header(body.len())?;
        let write = async {
            write_header_and_body(&mut self.stream, &header, body).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.limits.stall_timeout, write)
            .await
            .unwrap_or_else(|_| Err(stalled()))
    }

    /// Sends `value` as one JSON frame (its compact JSON text, serialized straight from `value`
    /// with no intermediate string formatting); fails like [`Connection::write_frame`], or with
    /// `InvalidData` if `value` cannot be serialized.
    pub async fn write_json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        let text = serde_json::to_vec(value).map_err(io::Error::from)?;
        self.write_frame(&text).await
    }

    /// Declares that `len` raw bytes follow the last frame (an upload announced them), whether
    /// or not the request will read them: [`Connection::discard_pending_raw`] skips what is left.
    pub fn expect_raw(&mut self, len: u64) {
        self.pending_raw = len;
    }

    /// The pending raw bytes (see [`Connection::expect_raw`]) as a reader, buffered bytes first.
    /// Each read fails with `TimedOut` after the stall timeout without progress.
    pub fn raw_body(&mut self) -> RawBody<'_, S> {
        RawBody {
            connection: self,
            stall: None,
            go_ahead: None,
        }
    }

    /// Like [`Connection::raw_body`], for a client that waits for a go-ahead frame before it
    /// sends the bytes: `go_ahead` is sent (framed) just before the first byte is read, and
    /// only then, so a request refused before its bytes are read never gets it.
    /// [`RawBody::went_ahead`] tells whether it was sent.
    pub fn raw_body_after(&mut self, go_ahead: &[u8]) -> RawBody<'_, S> {
        RawBody {
            connection: self,
            stall: None,
            go_ahead: Some(GoAhead {
                framed: frame::encode(go_ahead),
                written: 0,
            }),
        }
    }

    /// Raw bytes announced but not read (an upload refused before, or failed during, reading).
    pub fn pending_raw(&self) -> u64 {
        self.pending_raw
    }

    /// Reads and drops the pending raw bytes, keeping the connection in step with the client.
    pub async fn discard_pending_raw(&mut self) -> io::Result<()> {
        let len = self.pending_raw;
        let copied = tokio::io::copy(&mut self.raw_body(), &mut tokio::io::sink()).await?;
        if copied < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Copies all of `source` to the client in constant memory, failing if the client stops
    /// reading for longer than the stall timeout.
    pub async fn send_raw(&mut self, source: &mut (impl AsyncRead + Unpin)) -> io::Result<u64> {
        let mut chunk = vec![0; COPY_BUFFER];
        let mut sent = 0;
        loop {
            let n = source.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            let stall = self.limits.stall_timeout;
            tokio::time::timeout(stall, self.stream.write_all(&chunk[..n]))
                .await
                .map_err(|_| stalled())??;
            sent += n as u64;
        }
        self.stream.flush().await?;
        Ok(sent)
    }
}

/// The raw bytes after a frame; see [`Connection::raw_body`].
pub struct RawBody<'c, S> {
    connection: &'c mut Connection<S>,
    stall: Option<Pin<Box<Sleep>>>,
    /// The go-ahead still to send before the first read ([`Connection::raw_body_after`]).
    go_ahead: Option<GoAhead>,
}

/// A go-ahead frame being sent.
struct GoAhead {
    framed: Vec<u8>,
    written: usize,
}

impl<S> RawBody<'_, S> {
    /// Whether the go-ahead of [`Connection::raw_body_after`] was sent (always true for
    /// [`Connection::raw_body`], which has none).
    pub fn went_ahead(&self) -> bool {
        self.go_ahead.is_none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawBody<'_, S> {
    /// Sends the go-ahead, if one is due, failing after the stall timeout without progress.
    fn poll_go_ahead(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(go_ahead) = &mut self.go_ahead else {
            return Poll::Ready(Ok(()));
        };
        let stream = &mut self.connection.stream;
        let progress = loop {
            if go_ahead.written == go_ahead.framed.len() {
                break Pin::new(&mut *stream).poll_flush(cx);
            }
            let rest = &go_ahead.framed[go_ahead.written..];
            match Pin::new(&mut *stream).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => break Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => go_ahead.written += n,
                other => break other.map_ok(drop),
            }
        };
        match progress {
            Poll::Ready(Ok(())) => {
                self.go_ahead = None;
                self.stall = None;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let stall = self.connection.limits.stall_timeout;
                let timer = self.stall.get_or_insert_with(|| Box::pin(sleep(stall)));
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Err(stalled()))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RawBody<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.connection.pending_raw == 0 || out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_go_ahead(cx))?;
        if this.connection.buffer.is_empty() {
            // Read into the connection's buffer, never straight into `out`: bytes past this body
            // belong to the next frame and must stay buffered.
            let stall = this.connection.limits.stall_timeout;
            let timer = this.stall.get_or_insert_with(|| Box::pin(sleep(stall)));
            let connection = &mut *this.connection;
            connection.buffer.reserve(COPY_BUFFER);
            match poll_read_buf(Pin::new(&mut connection.stream), cx, &mut connection.buffer) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(_)) => this.stall = None,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    ready!(timer.as_mut().poll(cx));
                    return Poll::Ready(Err(stalled()));
                }
            }
        }
        let connection = &mut *this.connection;
        let limit = usize::try_from(connection.pending_raw).unwrap_or(usize::MAX);
        let n = out.remaining().min(limit).min(connection.buffer.len());
        out.put_slice(&connection.buffer[..n]);
        connection.buffer.advance(n);
        connection.pending_raw -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Reads into `buffer`; `None` if nothing arrived by `deadline`.
///
/// `timer` is the connection's long-lived idle timer: it stays armed from one wait to the next
/// and is moved to `deadline` only when it goes off before it (at most once per idle timeout),
/// so that waiting for the next request neither registers nor cancels a timer. (Each of those
/// takes a lock and touches the neighbouring entries of the timer wheel, which belong to other
/// connections: with hundreds of connections, cold cache lines on every request.)
async fn read_before<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    timer: &mut Pin<Box<Sleep>>,
    deadline: Instant,
) -> Option<io::Result<usize>> {
    let read = stream.read_buf(buffer);
    tokio::pin!(read);
    loop {
        tokio::select! {
            biased;
            result = &mut read => return Some(result),
            () = timer.as_mut() => {
                if timer.deadline() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// Writes all of `header`, then all of `body`: one vectored write when the stream takes both at
/// once.
async fn write_header_and_body<S: AsyncWrite + Unpin>(
    stream: &mut S,
    header: &[u8],
    body: &[u8],
) -> io::Result<()> {
    let mut written = 0;
    while written < header.len() {
        let parts = [IoSlice::new(&header[written..]), IoSlice::new(body)];
        match stream.write_vectored(&parts).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => written += n,
        }
    }
    stream.write_all(&body[written - header.len()..]).await
}

fn stalled() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the transfer stalled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    const LIMITS: Limits = Limits {
        max_frame: 1024,
        idle_timeout: Duration::from_secs(60),
        frame_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(5),
    };

    #[tokio::test]
    async fn frames_then_a_clean_close() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        client.write_all(&frame::encode(b"one")).await.unwrap();
        client.write_all(&frame::encode(b"two")).await.unwrap();
        drop(client);
        assert_eq!(connection.read_frame().await.unwrap().unwrap(), &b"one"[..]);
        assert_eq!(connection.read_frame().await.unwrap().unwrap(), &b"two"[..]);
        assert!(connection.read_frame().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_close_inside_a_frame_is_an_error() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        client
            .write_all(&frame::encode(b"truncated")[..6])
            .await
            .unwrap();
        drop(client);
        assert!(
            matches!(connection.read_frame().await, Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof)
        );
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_without_waiting_for_the_body() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        client
            .write_all(&100_000_000i32.to_le_bytes())
            .await
            .unwrap();
        assert!(matches!(
            connection.read_frame().await,
            Err(ReadError::Frame(FrameError::TooLong { .. }))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_after_the_idle_timeout() {
        let (_client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        let started = Instant::now();
        assert!(matches!(
            connection.read_frame().await,
            Err(ReadError::TimedOut)
        ));
        assert_eq!(started.elapsed(), LIMITS.idle_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_timeout_counts_from_the_last_request() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        let started = Instant::now();
        client.write_all(&frame::encode(b"first")).await.unwrap();
        assert_eq!(
            connection.read_frame().await.unwrap().unwrap(),
            &b"first"[..]
        );
        // The next request arrives late in the first wait's idle period: the connection's idle
        // timer, armed for the first wait, must move on rather than cut this wait short.
        let pause = LIMITS.idle_timeout - Duration::from_secs(5);
        let late = async {
            tokio::time::sleep(pause).await;
            client.write_all(&frame::encode(b"late")).await.unwrap();
            client
        };
        // (The client stays open: a close would end the wait early.)
        let (read, _client) = tokio::join!(connection.read_frame(), late);
        assert_eq!(read.unwrap().unwrap(), &b"late"[..]);
        assert_eq!(started.elapsed(), pause);
        assert!(matches!(
            connection.read_frame().await,
            Err(ReadError::TimedOut)
        ));
        assert_eq!(started.elapsed(), pause + LIMITS.idle_timeout);
    }

    #[tokio::test]
    async fn a_frame_written_in_pieces_arrives_whole() {
        // A pipe that takes at most 3 bytes at a time: the header and body go out over many
        // partial (vectored) writes.
        let (mut client, server) = duplex(3);
        let mut connection = Connection::new(server, LIMITS);
        let body = b"a body longer than the pipe".to_vec();
        let reader = async {
            let mut got = vec![0; frame::HEADER_LEN + body.len()];
            client.read_exact(&mut got).await.unwrap();
            got
        };
        let (written, got) = tokio::join!(connection.write_frame(&body), reader);
        written.unwrap();
        assert_eq!(got, frame::encode(&body));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_client_is_cut_off_at_the_frame_deadline() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        let trickle = tokio::spawn(async move {
            for byte in frame::encode(&[b'x'; 100]) {
                if client.write_all(&[byte]).await.is_err() {
                    break;
                }
                sleep(Duration::from_secs(1)).await;
            }
        });
        let started = Instant::now();
        assert!(matches!(
            connection.read_frame().await,
            Err(ReadError::TimedOut)
        ));
        assert!(started.elapsed() <= LIMITS.frame_timeout + Duration::from_secs(1));
        trickle.abort();
    }

    #[tokio::test]
    async fn raw_bytes_come_from_the_buffer_first_and_stop_at_their_length() {
        let (mut client, server) = duplex(1 << 20);
        let mut connection = Connection::new(server, LIMITS);
        let mut sent = frame::encode(b"upload");
        sent.extend_from_slice(b"0123456789");
        sent.extend(frame::encode(b"next"));
        client.write_all(&sent).await.unwrap();
        assert_eq!(
            connection.read_frame().await.unwrap().unwrap(),
            &b"upload"[..]
        );
        let mut body = Vec::new();
        connection.expect_raw(10);
        connection.raw_body().read_to_end(&mut body).await.unwrap();
        assert_eq!(body, b"0123456789");
        assert_eq!(
            connection.read_frame().await.unwrap().unwrap(),
            &b"next"[..]
        );
    }

    #[tokio::test]
    async fn discarding_a_refused_upload_keeps_the_connection_in_step() {
        let (mut client, server) = duplex(1 << 20);
        let mut connection = Connection::new(server, LIMITS);
        let big = vec![7u8; 300_000];
        let writer = tokio::spawn(async move {
            client.write_all(&frame::encode(b"upload")).await.unwrap();
            client.write_all(&big).await.unwrap();
            client.write_all(&frame::encode(b"after")).await.unwrap();
            client
        });
        connection.read_frame().await.unwrap();
        let mut first = [0; 1000];
        connection.expect_raw(300_000);
        connection.raw_body().read_exact(&mut first).await.unwrap();
        assert_eq!(connection.pending_raw(), 299_000);
        connection.discard_pending_raw().await.unwrap();
        assert_eq!(connection.pending_raw(), 0);
        assert_eq!(
            connection.read_frame().await.unwrap().unwrap(),
            &b"after"[..]
        );
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn the_go_ahead_is_sent_only_when_the_bytes_are_first_read() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        connection.expect_raw(4);
        let unread = connection.raw_body_after(b"go");
        assert!(!unread.went_ahead(), "nothing read, nothing sent");
        drop(unread);
        let mut body = connection.raw_body_after(b"go");
        let read = async {
            let mut bytes = [0; 4];
            body.read_exact(&mut bytes).await.unwrap();
            bytes
        };
        let client_side = async {
            let mut go_ahead = [0; 6];
            client.read_exact(&mut go_ahead).await.unwrap();
            assert_eq!(go_ahead, &frame::encode(b"go")[..]);
            client.write_all(b"data").await.unwrap();
        };
        let (bytes, ()) = tokio::join!(read, client_side);
        assert_eq!(&bytes, b"data");
        assert!(body.went_ahead());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_upload_times_out() {
        let (mut client, server) = duplex(4096);
        let mut connection = Connection::new(server, LIMITS);
        client.write_all(b"half").await.unwrap();
        let mut body = Vec::new();
        connection.expect_raw(10);
        let error = connection
            .raw_body()
            .read_to_end(&mut body)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(body, b"half");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_a_download_times_out() {
        let (_client, server) = duplex(1024);
        let mut connection = Connection::new(server, LIMITS);
        let mut source: &[u8] = &[0; 1 << 20];
        let error = connection.send_raw(&mut source).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
