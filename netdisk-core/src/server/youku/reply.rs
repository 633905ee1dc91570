//! What a Youku handler answers: a response frame, or one followed by file bytes; and how it is
//! sent.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::connection::Connection;
use crate::{FileDownload, MovieDownload, Movies, ServiceError};

/// A handled request's answer. Response frames are JSON text, serialized by the handler.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A response frame.
    Json(Vec<u8>),
    /// A response frame, then a movie's bytes (after the wait), then the download record.
    MovieDownload {
        head: Vec<u8>,
        download: MovieDownload,
    },
    /// A response frame, then a personal file's bytes.
    FileDownload {
        head: Vec<u8>,
        download: FileDownload,
    },
}

/// A success response: `flag: true`, a message, and the fields of `fields` (a struct or a map),
/// as JSON text. Serialized straight from the service's results: no `Value` tree is built (and
/// dropped) for a listing on its way out.
pub(crate) fn ok(msg: &str, fields: impl Serialize) -> Result<Vec<u8>, ServiceError> {
    #[derive(Serialize)]
    struct Success<'a, T> {
        flag: bool,
        msg: &'a str,
        #[serde(flatten)]
        fields: T,
    }
    let success = Success {
        flag: true,
        msg,
        fields,
    };
    serde_json::to_vec(&success).map_err(|error| ServiceError::Internal(error.into()))
}

/// A success response with no fields but the message.
pub(crate) fn done(msg: &str) -> Result<Reply, ServiceError> {
    ok(msg, BTreeMap::<&str, ()>::new()).map(Reply::Json)
}

/// A success response with one field.
pub(crate) fn one<T: Serialize>(msg: &str, name: &str, value: T) -> Result<Reply, ServiceError> {
    ok(msg, BTreeMap::from([(name, value)])).map(Reply::Json)
}

/// Sends a reply. File bytes are sent only after their frame; a movie's record is written only
/// once every byte went out. An error means the connection is no longer usable.
pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    movies: &Movies,
    connection: &mut Connection<S>,
    reply: Reply,
) -> std::io::Result<()> {
    match reply {
        Reply::Json(text) => connection.write_frame(&text).await,
        Reply::MovieDownload { head, mut download } => {
            connection.write_frame(&head).await?;
            tokio::time::sleep(Duration::from_secs(download.wait_secs)).await;
            connection.send_raw(&mut download.transfer).await?;
            if let Err(error) = download.finish(movies).await {
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
