//! One client connection: frames in and out, and the raw file bytes that follow some frames,
//! with the time limits that keep a slow or silent client from holding a connection forever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};
use tokio_util::io::poll_read_buf;

use super::frame::{self, FrameError};

/// Size of the buffer used to copy file bytes, in both directions.
pub const COPY_BUFFER: usize = 64 * 1024;

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
    stream: BufWriter<S>,
    buffer: BytesMut,
    limits: Limits,
    /// Raw bytes the client announced after the last frame and that were not read yet.
    pending_raw: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps `stream`.
    pub fn new(stream: S, limits: Limits) -> Self {
        Connection {
            stream: BufWriter::new(stream),
            buffer: BytesMut::with_capacity(8 * 1024),
            limits,
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
        let mut frame_deadline = None;
        loop {
            if let Some(body) = frame::decode(&mut self.buffer, self.limits.max_frame)? {
                return Ok(Some(body));
            }
            let deadline = match (self.buffer.is_empty(), frame_deadline) {
                (true, _) => Instant::now() + self.limits.idle_timeout,
                (false, Some(deadline)) => deadline,
                (false, None) => *frame_deadline.insert(Instant::now() + self.limits.frame_timeout),
            };
            let read =
                tokio::time::timeout_at(deadline, self.stream.get_mut().read_buf(&mut self.buffer));
            match read.await {
                Err(_) => return Err(ReadError::TimedOut),
                Ok(Ok(0)) if self.buffer.is_empty() => return Ok(None),
                Ok(Ok(0)) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Sends one frame and flushes it; fails if the client stops reading for longer than the
    /// stall timeout.
    pub async fn write_frame(&mut self, body: &[u8]) -> io::Result<()> {
        let framed = frame::encode(body);
        let write = async {
            self.stream.write_all(&framed).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.limits.stall_timeout, write)
            .await
            .unwrap_or_else(|_| Err(stalled()))
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
            match poll_read_buf(
                Pin::new(connection.stream.get_mut()),
                cx,
                &mut connection.buffer,
            ) {
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
