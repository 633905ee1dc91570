//! Stored bytes from the file to the socket without passing through this process: a range
//! answer's body goes out with `sendfile(2)`, as nginx sends files, while hyper still writes
//! the head, keeps the connection alive and counts the body's length.
//!
//! hyper only writes bytes a body hands it, so a file body ([`body`]) hands it *placeholders*:
//! slices of [`PLACEHOLDER`], a block of zeros that no one reads, as many bytes as the
//! range holds; and, when hyper first asks for a frame, it queues its file region on the
//! connection ([`Regions`]). The connection's socket ([`Socket`]) recognises placeholder slices
//! by their address among what hyper writes, and instead of writing them it sends the same
//! number of bytes from the oldest queued region with `sendfile`. Responses on a connection are
//! written in order, so the regions are used in the order their bodies were polled.
//!
//! This needs hyper to pass body slices to the socket as they are, never copied into a buffer
//! of its own: vectored writes (`http1::Builder::writev(true)`, set by the door), under which
//! hyper queues each body frame and writes it with `writev`. Placeholder bytes arriving with no
//! region queued end the connection with an error: zeros are never sent as content.
//!
//! A head followed by file bytes is written with `MSG_MORE`, so that the kernel sends it in one
//! segment with the first of them (what nginx's `tcp_nopush` does), not a small packet of its
//! own that wakes the reader for nothing. A `sendfile` that comes up short (the socket's
//! buffer is full) waits for the socket to drain before the next, as nginx does, rather than
//! sending slivers as fast as the reader frees room.
//!
//! On a page-cache miss, `sendfile` reads the disk on the runtime's thread, as nginx's
//! `sendfile on` does without `aio threads`; each call sends at most one placeholder frame
//! (2 MiB, nginx's `sendfile_max_chunk`).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The bytes body frames are made of: never read, only recognised by address. Allocated
/// zeroed once and never touched (`calloc` of 2 MiB maps fresh pages, which take no memory
/// until used), where a static array would add its 2 MiB to the binary.
static PLACEHOLDER: LazyLock<Box<[u8]>> = LazyLock::new(|| vec![0; 2 << 20].into_boxed_slice());

/// Whether `slice` lies within [`PLACEHOLDER`].
fn is_placeholder(slice: &[u8]) -> bool {
    let block = PLACEHOLDER.as_ptr_range();
    let range = slice.as_ptr_range();
    !slice.is_empty() && block.start <= range.start && range.end <= block.end
}

/// Part of a file still to be sent.
struct Region {
    file: File,
    offset: u64,
    remaining: u64,
}

/// The file regions a connection's answers still owe, oldest first: a request extension, so
/// that a handler's body can queue its region on its own connection.
#[derive(Clone, Default)]
pub(super) struct Regions(Arc<Mutex<VecDeque<Region>>>);

impl Regions {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Region>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The bytes `start..start + len` of `file`, as a body that `regions`' connection sends with
/// `sendfile`.
pub(super) fn body(regions: &Regions, file: File, start: u64, len: u64) -> Body {
    Body::new(RegionBody {
        region: Some(Region {
            file,
            offset: start,
            remaining: len,
        }),
        regions: regions.clone(),
        left: len,
    })
}

/// Placeholder frames for one region, which it queues when first polled.
struct RegionBody {
    /// Until the first poll: the region the placeholders stand for.
    region: Option<Region>,
    regions: Regions,
    /// Placeholder bytes not yet handed to hyper.
    left: u64,
}

impl hyper::body::Body for RegionBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(region) = this.region.take() {
            this.regions.queue().push_back(region);
        }
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let len = this.left.min(PLACEHOLDER.len() as u64) as usize;
        this.left -= len as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &PLACEHOLDER[..len],
        )))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// A connection's socket as hyper sees it: reads and head bytes pass through; placeholder
/// bytes become the connection's queued file regions, sent with `sendfile`.
pub(super) struct Socket {
    stream: TcpStream,
    regions: Regions,
}

impl Socket {
    /// `stream`, sending the regions its answers queue on `regions`.
    pub(super) fn new(stream: TcpStream, regions: Regions) -> Socket {
        Socket { stream, regions }
    }

    /// Sends up to `want` bytes of the oldest queued region.
    fn poll_send_region(&self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            let mut regions = self.regions.queue();
            let Some(region) = regions.front_mut() else {
                return Poll::Ready(Err(io::Error::other(
                    "a file body's bytes reached the socket with no file region queued",
                )));
            };
            let count = (want as u64).min(region.remaining) as usize;
            let mut sent = 0;
            let outcome = self.stream.try_io(Interest::WRITABLE, || {
                sent = send(&self.stream, &region.file, &mut region.offset, count)?;
                match sent {
                    0 => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stored file ended early",
                    )),
                    // A short send: the socket's buffer is full. As nginx does, the next send
                    // waits for it to drain (readiness cleared as of before this send, so a
                    // drain since then still wakes us) instead of sending slivers.
                    n if n < count => Err(io::ErrorKind::WouldBlock.into()),
                    _ => Ok(()),
                }
            });
            if sent > 0 {
                region.remaining -= sent as u64;
                if region.remaining == 0 {
                    regions.pop_front();
                }
                return Poll::Ready(Ok(sent));
            }
            // Nothing sent: wait for the socket, or give up on an error.
            if let Err(e) = outcome
                && e.kind() != io::ErrorKind::WouldBlock
            {
                return Poll::Ready(Err(e));
            }
        }
    }
}

/// Writes `bufs`, ordinary bytes that file bytes follow.
fn poll_write_before_region(
    socket: &TcpStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(socket.poll_write_ready(cx))?;
        match socket.try_io(Interest::WRITABLE, || write_before_region(socket, bufs)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            written => return Poll::Ready(written),
        }
    }
}

/// Writes `bufs` with `MSG_MORE`: kept back until the file bytes that follow come.
#[cfg(target_os = "linux")]
fn write_before_region(socket: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendFlags};
    let mut control = SendAncillaryBuffer::default();
    let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
    Ok(rustix::net::sendmsg(socket, bufs, &mut control, flags)?)
}

/// Writes `bufs`.
#[cfg(not(target_os = "linux"))]
fn write_before_region(socket: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    socket.try_write_vectored(bufs)
}

/// Sends `count` bytes of `file` from `offset` (advanced by what was sent) to `socket`.
#[cfg(target_os = "linux")]
fn send(socket: &TcpStream, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
    Ok(rustix::fs::sendfile(socket, file, Some(offset), count)?)
}

/// Sends `count` bytes of `file` from `offset` (advanced by what was sent) to `socket`: where
/// there is no `sendfile`, through a buffer.
#[cfg(not(target_os = "linux"))]
fn send(socket: &TcpStream, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; count.min(128 * 1024)];
    let read = file.read_at(&mut buf, *offset)?;
    let sent = socket.try_write(&buf[..read])?;
    *offset += sent as u64;
    Ok(sent)
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the leading ordinary slices, or sends the leading run of placeholder slices from
    /// the oldest region: one or the other per call, as a partial write.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let bufs = match bufs.iter().position(|buf| !buf.is_empty()) {
            Some(first) => &bufs[first..],
            None => return Poll::Ready(Ok(0)),
        };
        let placeholders: usize = bufs
            .iter()
            .take_while(|buf| is_placeholder(buf))
            .map(|buf| buf.len())
            .sum();
        if placeholders > 0 {
            return this.poll_send_region(cx, placeholders);
        }
        match bufs.iter().position(|buf| is_placeholder(buf)) {
            Some(ordinary) => poll_write_before_region(&this.stream, cx, &bufs[..ordinary]),
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slices_of_the_block_are_placeholders() {
        assert!(is_placeholder(&PLACEHOLDER[..10]));
        assert!(is_placeholder(&PLACEHOLDER[PLACEHOLDER.len() - 1..]));
        assert!(!is_placeholder(&PLACEHOLDER[..0]));
        let copy = PLACEHOLDER[..10].to_vec();
        assert!(!is_placeholder(&copy));
    }
}
