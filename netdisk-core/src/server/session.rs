//! What both protocols do around a request: the reply kinds, sending file bytes after a
//! response frame, and the one log line per request.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Connection;
use crate::{FileDownload, MovieDownload, Netdisk};

/// What the log line of a request says besides its type.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The account the request acted as, once known (never a password or token).
    pub user: Option<String>,
}

/// A handled request's answer. Response frames are JSON text, serialized by the handler.
#[derive(Debug)]
pub enum Reply {
    /// A response frame.
    Json(Vec<u8>),
    /// A response frame, then a movie's bytes (after the wait), then the download record.
    MovieDownload {
        /// The response frame.
        head: Vec<u8>,
        /// The transfer.
        download: MovieDownload,
    },
    /// A response frame, then a personal file's bytes.
    FileDownload {
        /// The response frame.
        head: Vec<u8>,
        /// The transfer.
        download: FileDownload,
    },
}

impl Reply {
    /// A plain response frame, from its JSON text.
    pub fn json(text: Vec<u8>) -> Reply {
        Reply::Json(text)
    }
}

/// Sends a reply. File bytes are sent only after their frame; a movie's record is written only
/// once every byte went out. An error means the connection is no longer usable.
pub async fn send_reply<S: AsyncRead + AsyncWrite + Unpin>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    reply: Reply,
) -> std::io::Result<()> {
    match reply {
        Reply::Json(text) => connection.write_frame(&text).await,
        Reply::MovieDownload { head, mut download } => {
            connection.write_frame(&head).await?;
            tokio::time::sleep(Duration::from_secs(download.wait_secs)).await;
            connection.send_raw(&mut download.transfer).await?;
            if let Err(error) = download.finish(netdisk.movies()).await {
                tracing::error!(%error, "a download completed but its record could not be written");
            }
            Ok(())
        }
        Reply::FileDownload { head, mut download } => {
            connection.write_frame(&head).await?;
            connection.send_raw(&mut download.transfer).await.map(drop)
        }
    }
}

/// The one log line of a request: protocol, type, user, outcome and duration.
pub fn log_request(
    protocol: &'static str,
    kind: &str,
    exchange: &Exchange,
    outcome: &str,
    started: Instant,
) {
    let micros = started.elapsed().as_micros() as u64;
    let user = exchange.user.as_deref().unwrap_or("-");
    tracing::info!(protocol, r#type = kind, user, outcome, micros, "request");
}
