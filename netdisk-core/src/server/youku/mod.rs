//! The Youku door (`../shared/PROTOCOL.md`, section 2): JSON requests tagged by `type`
//! ([`request`]), each served by one function of its service's group (`accounts`, `movies`,
//! `notices`, `files`); errors become `{"flag": false, "code", "msg"}` through [`failure`], the
//! one place that gives service errors their wire codes.

mod accounts;
mod files;
mod movies;
mod notices;
mod reply;
mod request;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Connection;
use super::door::{Door, Shutdown, loopback};
use super::frame::FrameError;
use super::framed::{self, Flow, FramedDoor, Outcome, RequestLog};
use crate::{Caller, Netdisk, NoticeSubscription, NoticeView, ServiceError};
use reply::Reply;
use request::Request;
pub use request::{Malformed, ParsedRequest, parse};

/// The Youku door: `127.0.0.1:8080` by default.
pub const DOOR: Door = Door {
    name: "youku",
    default_addr: loopback(8080),
    open: framed::open::<Youku>,
};

/// Serves one Youku connection until the client leaves, breaks the protocol, or `shutdown`
/// fires while the connection is between requests.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: Netdisk,
    connection: Connection<S>,
    shutdown: Shutdown,
) {
    framed::serve(Youku::open(netdisk), connection, shutdown).await;
}

/// The failure response for `error`: its wire code is the error's [`ServiceError::code`].
pub fn failure(error: &ServiceError) -> Value {
    json!({ "flag": false, "code": error.code(), "msg": error.to_string() })
}

/// A push frame for a notice.
pub fn notice_push(notice: &NoticeView) -> Value {
    json!({ "type": "notice", "title": notice.title, "content": notice.content, "create_time": notice.create_time })
}

/// How long a connection waits before it tries again to read the notices it must push.
const PUSH_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// One Youku connection's state.
struct Youku {
    netdisk: Netdisk,
    /// Set by `subscribe`: notices to push.
    subscription: Option<NoticeSubscription>,
}

impl FramedDoor for Youku {
    const PROTOCOL: &'static str = DOOR.name;

    fn open(netdisk: Netdisk) -> Self {
        Youku {
            netdisk,
            subscription: None,
        }
    }

    fn refuse_frame(error: &FrameError) -> (Vec<u8>, Outcome) {
        let refusal = ServiceError::BadRequest(error.to_string());
        (
            failure(&refusal).to_string().into_bytes(),
            Outcome::Word(refusal.code()),
        )
    }

    async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        connection: &mut Connection<S>,
        body: Bytes,
        log: &mut RequestLog,
    ) -> Flow {
        let outcome = match parse(&body) {
            Err(malformed) => {
                if let Some(size) = malformed.announced_upload {
                    connection.expect_raw(size);
                }
                Err(malformed.error)
            }
            Ok(ParsedRequest(request)) => {
                log.kind = request.kind();
                if let Some(size) = request.upload_size() {
                    connection.expect_raw(size);
                }
                self.handle(connection, request, log).await
            }
        };
        log.outcome = Outcome::Word(match &outcome {
            Ok(_) => "ok",
            Err(error) => error.code(),
        });
        let keep_going = match outcome {
            Ok(reply) => reply::send(self.netdisk.movies(), connection, reply)
                .await
                .is_ok(),
            Err(error) => {
                if error.is_unexpected() {
                    tracing::error!(r#type = log.kind, error = %error, source = ?std::error::Error::source(&error), "request failed");
                }
                refuse(connection, &error).await
            }
        };
        if keep_going {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    async fn next_push(&mut self) -> Option<Vec<u8>> {
        let Some(subscription) = &mut self.subscription else {
            return std::future::pending().await;
        };
        match subscription.next().await {
            Ok(notice) => Some(notice_push(&notice).to_string().into_bytes()),
            Err(error) => {
                // The database while catching up: the subscription retries on the next call.
                tracing::warn!(%error, "could not read the notices to push; retrying");
                tokio::time::sleep(PUSH_RETRY).await;
                None
            }
        }
    }
}

impl Youku {
    /// Authenticates a request that needs a login, then runs it. Raw bytes are read from and
    /// written to `connection` as the request needs.
    async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        connection: &mut Connection<S>,
        request: Request,
        log: &mut RequestLog,
    ) -> Result<Reply, ServiceError> {
        let netdisk = &self.netdisk;
        let caller: Option<Caller> = match request.session() {
            None => None,
            Some(None) => return Err(ServiceError::NotLoggedIn),
            Some(Some(token)) => Some(netdisk.accounts().authenticate(token).await?),
        };
        log.user = caller.as_ref().map(|c| c.name().to_owned());
        let me = || caller.as_ref().ok_or(ServiceError::NotLoggedIn);
        match request {
            Request::Register(r) => {
                log.user = Some(r.name.clone());
                accounts::register(netdisk, r).await
            }
            Request::Login(r) => {
                log.user = Some(r.name.clone());
                accounts::login(netdisk, r).await
            }
            Request::Logout(_) => accounts::logout(netdisk, me()?).await,
            Request::BuyVip(_) => accounts::buy_vip(netdisk, me()?).await,
            Request::CheckMovie(r) => movies::check(netdisk, me()?, &r.file_md5).await,
            Request::UploadMovie(r) => movies::upload(netdisk, me()?, connection, r).await,
            Request::GetMovieList(r) => movies::list(netdisk, me()?, r).await,
            Request::DeleteMovie(r) => movies::delete(netdisk, me()?, r).await,
            Request::DownloadMovie(r) => movies::download(netdisk, me()?, r).await,
            Request::CheckDownloadRecord(r) => movies::records(netdisk, me()?, r).await,
            Request::ReleaseNotice(r) => notices::release(netdisk, me()?, r).await,
            Request::CheckNotice(r) => notices::list(netdisk, me()?, r).await,
            Request::Subscribe(_) => {
                me()?;
                self.subscription = Some(netdisk.notices().subscribe().await?);
                notices::subscribe()
            }
            Request::UploadFile(r) => files::upload(netdisk, me()?, connection, r).await,
            Request::ListFiles(_) => files::list(netdisk, me()?).await,
            Request::DownloadFile(r) => files::download(netdisk, me()?, r).await,
            Request::DeleteFile(r) => files::delete(netdisk, me()?, r).await,
        }
    }
}

/// Sends `error`'s response. An upload over the limit closes the connection instead of reading
/// its bytes; any other refused upload's bytes are skipped so the connection stays usable.
/// Returns whether the connection goes on.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    connection: &mut Connection<S>,
    error: &ServiceError,
) -> bool {
    let too_large = matches!(error, ServiceError::TooLarge { .. });
    let in_step = too_large
        || connection.pending_raw() == 0
        || connection.discard_pending_raw().await.is_ok();
    let sent = connection.write_json(&failure(error)).await.is_ok();
    sent && in_step && !too_large
}
