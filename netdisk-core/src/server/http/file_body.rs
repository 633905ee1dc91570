//! A response body that streams a range of a file: each chunk read with one positioned read
//! (`pread`) on a blocking thread straight into the buffer hyper sends, the next chunk's read
//! started as soon as one is handed over, so reading and sending overlap. At most two chunks
//! per response are in memory; nothing is copied twice.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::stream;
use tokio::task::JoinHandle;

/// Size of each chunk.
const CHUNK: u64 = 128 * 1024;

/// The bytes `start..start + len` of `file`, as a body.
pub(super) fn body(file: File, start: u64, len: u64) -> Body {
    let file = Arc::new(file);
    let end = start + len;
    let first = read(&file, start, end);
    let chunks = stream::unfold(
        (file, start, end, first),
        |(file, at, end, reading)| async move {
            let reading = reading?;
            let chunk = match reading.await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(error)) => return Some((Err(error), (file, end, end, None))),
                Err(joined) => {
                    return Some((Err(io::Error::other(joined)), (file, end, end, None)));
                }
            };
            let next = at + chunk.len() as u64;
            let ahead = read(&file, next, end);
            Some((Ok(chunk), (file, next, end, ahead)))
        },
    );
    Body::from_stream(chunks)
}

/// Starts reading the chunk at `at`, unless the range is done.
fn read(file: &Arc<File>, at: u64, end: u64) -> Option<JoinHandle<io::Result<Bytes>>> {
    if at >= end {
        return None;
    }
    let file = file.clone();
    let len = CHUNK.min(end - at) as usize;
    // Allocated here, on the runtime's thread, where hyper frees it: with glibc's malloc a
    // buffer allocated on a blocking thread keeps that thread's arena large afterwards.
    let mut buf = vec![0u8; len];
    Some(tokio::task::spawn_blocking(move || {
        let mut filled = 0;
        while filled < len {
            match file.read_at(&mut buf[filled..], at + filled as u64) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stored file ended early",
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Bytes::from(buf))
    }))
}
