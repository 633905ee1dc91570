//! The Youku protocol (`../shared/PROTOCOL.md`, section 2): requests are a serde enum tagged by
//! `type`, dispatched by one match; errors become `{"flag": false, "code", "msg"}` through
//! [`ServiceError::code`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;

use super::connection::{Connection, ReadError};
use super::session::{Exchange, Reply, log_request, send_reply};
use crate::{
    Caller, MovieKind, MovieQuery, MovieUpload, Netdisk, NewAccount, ServiceError, UserType,
};

/// A request, as the client sends it. Unknown fields are ignored; an unknown `type` is a
/// `bad_request`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Create an account.
    Register {
        name: String,
        password: String,
        user_type: String,
    },
    /// Log in.
    Login {
        name: String,
        password: String,
        user_type: String,
    },
    /// End the session.
    Logout { session: String },
    /// May a movie with this content be uploaded?
    CheckMovie { session: String, file_md5: String },
    /// Upload a movie; `file_size` raw bytes follow.
    UploadMovie {
        session: String,
        file_name: String,
        file_size: u64,
        file_md5: String,
        #[serde(deserialize_with = "flag")]
        is_free: bool,
    },
    /// A page of movies.
    GetMovieList {
        session: String,
        movie_type: String,
        keyword: Option<String>,
        offset: Option<u64>,
        limit: Option<u64>,
    },
    /// Soft-delete a movie.
    DeleteMovie {
        session: String,
        delete_movie_id: i64,
    },
    /// Publish a notice.
    ReleaseNotice {
        session: String,
        title: String,
        content: String,
    },
    /// A page of notices.
    CheckNotice {
        session: String,
        offset: Option<u64>,
        limit: Option<u64>,
    },
    /// Become VIP.
    BuyVip { session: String },
    /// Download a movie (from an offset).
    DownloadMovie {
        session: String,
        movie_id: i64,
        offset: Option<u64>,
    },
    /// The caller's download records.
    CheckDownloadRecord {
        session: String,
        offset: Option<u64>,
        limit: Option<u64>,
    },
    /// Upload a personal file; `file_size` raw bytes follow.
    UploadFile {
        session: String,
        file_name: String,
        file_size: u64,
        file_md5: String,
    },
    /// The caller's files.
    ListFiles { session: String },
    /// Download a personal file (from an offset).
    DownloadFile {
        session: String,
        file_id: i64,
        offset: Option<u64>,
    },
    /// Delete a personal file.
    DeleteFile { session: String, file_id: i64 },
    /// Receive notices as they are published.
    Subscribe { session: String },
}

/// `0`/`1` as the original clients send it, or `true`/`false`.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => Ok(b),
        Flag::Int(0) => Ok(false),
        Flag::Int(1) => Ok(true),
        Flag::Int(other) => Err(serde::de::Error::custom(format!(
            "expected 0 or 1, found {other}"
        ))),
    }
}

impl Request {
    /// The `type`, for logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Request::Register { .. } => "register",
            Request::Login { .. } => "login",
            Request::Logout { .. } => "logout",
            Request::CheckMovie { .. } => "check_movie",
            Request::UploadMovie { .. } => "upload_movie",
            Request::GetMovieList { .. } => "get_movie_list",
            Request::DeleteMovie { .. } => "delete_movie",
            Request::ReleaseNotice { .. } => "release_notice",
            Request::CheckNotice { .. } => "check_notice",
            Request::BuyVip { .. } => "buy_vip",
            Request::DownloadMovie { .. } => "download_movie",
            Request::CheckDownloadRecord { .. } => "check_download_record",
            Request::UploadFile { .. } => "upload_file",
            Request::ListFiles { .. } => "list_files",
            Request::DownloadFile { .. } => "download_file",
            Request::DeleteFile { .. } => "delete_file",
            Request::Subscribe { .. } => "subscribe",
        }
    }

    /// The raw bytes that follow this request's frame.
    pub(crate) fn upload_size(&self) -> Option<u64> {
        match self {
            Request::UploadMovie { file_size, .. } | Request::UploadFile { file_size, .. } => {
                Some(*file_size)
            }
            _ => None,
        }
    }

    fn session(&self) -> Option<&str> {
        match self {
            Request::Register { .. } | Request::Login { .. } => None,
            Request::Logout { session }
            | Request::CheckMovie { session, .. }
            | Request::UploadMovie { session, .. }
            | Request::GetMovieList { session, .. }
            | Request::DeleteMovie { session, .. }
            | Request::ReleaseNotice { session, .. }
            | Request::CheckNotice { session, .. }
            | Request::BuyVip { session }
            | Request::DownloadMovie { session, .. }
            | Request::CheckDownloadRecord { session, .. }
            | Request::UploadFile { session, .. }
            | Request::ListFiles { session }
            | Request::DownloadFile { session, .. }
            | Request::DeleteFile { session, .. }
            | Request::Subscribe { session } => Some(session),
        }
    }
}

/// A success response: `flag: true`, a message, and the fields of `fields` (a struct or a map),
/// as JSON text. Serialized straight from the service's results: no `Value` tree is built (and
/// dropped) for a listing on its way out.
fn ok(msg: &str, fields: impl Serialize) -> Result<Vec<u8>, ServiceError> {
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

/// The fields of a `get_movie_list` answer: each movie as `[name, "free" or "charge", id]`.
#[derive(Serialize)]
struct MovieList<'a> {
    movie_list: Vec<(&'a str, &'static str, i64)>,
    total: u64,
}

/// The failure response for `error`.
pub fn failure(error: &ServiceError) -> Value {
    json!({ "flag": false, "code": error.code(), "msg": error.to_string() })
}

/// A push frame for a notice.
pub fn notice_push(notice: &crate::NoticeView) -> Value {
    json!({ "type": "notice", "title": notice.title, "content": notice.content, "create_time": notice.create_time })
}

fn user_type(text: &str) -> Result<UserType, ServiceError> {
    UserType::parse(text)
        .ok_or_else(|| ServiceError::BadRequest("user_type must be \"admin\" or \"user\"".into()))
}

/// Runs one request. Raw bytes are read from and written to `connection` as the request needs;
/// `subscription` is set by `subscribe`.
pub(crate) async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    request: Request,
    exchange: &mut Exchange,
    subscription: &mut Option<broadcast::Receiver<crate::NoticeView>>,
) -> Result<Reply, ServiceError> {
    let caller: Option<Caller> = match request.session() {
        Some(token) => Some(netdisk.accounts().authenticate(token).await?),
        None => None,
    };
    if let Some(caller) = &caller {
        exchange.user = Some(caller.name().to_owned());
    }
    let caller = || caller.as_ref().ok_or(ServiceError::NotLoggedIn);
    let reply = match request {
        Request::Register {
            name,
            password,
            user_type: kind,
        } => {
            exchange.user = Some(name.clone());
            let account = NewAccount {
                name: &name,
                password: &password,
                user_type: user_type(&kind)?,
                real_name: None,
                phone: None,
                address: None,
            };
            netdisk.accounts().register(account).await?;
            Reply::json(ok("registered", json!({}))?)
        }
        Request::Login {
            name,
            password,
            user_type: kind,
        } => {
            exchange.user = Some(name.clone());
            let outcome = netdisk
                .accounts()
                .login(&name, &password, Some(user_type(&kind)?))
                .await?;
            Reply::json(ok(
                "logged in",
                json!({ "session": outcome.token, "is_vip": i32::from(outcome.profile.is_vip), "user_type": outcome.profile.user_type }),
            )?)
        }
        Request::Logout { .. } => {
            netdisk.accounts().logout(caller()?).await?;
            Reply::json(ok("logged out", json!({}))?)
        }
        Request::CheckMovie { file_md5, .. } => {
            netdisk.movies().check(caller()?, &file_md5).await?;
            Reply::json(ok(
                "no movie has this content: upload may go ahead",
                json!({}),
            )?)
        }
        Request::UploadMovie {
            file_name,
            file_size,
            file_md5,
            is_free,
            ..
        } => {
            let upload = MovieUpload {
                name: &file_name,
                size: file_size,
                md5: &file_md5,
                is_free,
            };
            let id = netdisk
                .movies()
                .upload(caller()?, upload, &mut connection.raw_body())
                .await?;
            Reply::json(ok("uploaded", json!({ "movie_id": id }))?)
        }
        Request::GetMovieList {
            movie_type,
            keyword,
            offset,
            limit,
            ..
        } => {
            let kind = match movie_type.as_str() {
                "all" => MovieKind::All,
                "free" => MovieKind::Free,
                "charge" => MovieKind::Charged,
                _ => {
                    return Err(ServiceError::BadRequest(
                        "movie_type must be \"all\", \"free\" or \"charge\"".into(),
                    ));
                }
            };
            let query = MovieQuery {
                kind: Some(kind),
                keyword: keyword.as_deref(),
                offset,
                limit,
            };
            let list = netdisk.movies().list(caller()?, query).await?;
            let movies = MovieList {
                movie_list: list
                    .movies
                    .iter()
                    .map(|m| {
                        (
                            m.name.as_str(),
                            if m.is_free { "free" } else { "charge" },
                            m.id,
                        )
                    })
                    .collect(),
                total: list.total,
            };
            Reply::json(ok("movies", movies)?)
        }
        Request::DeleteMovie {
            delete_movie_id, ..
        } => {
            netdisk.movies().delete(caller()?, delete_movie_id).await?;
            Reply::json(ok("deleted", json!({}))?)
        }
        Request::ReleaseNotice { title, content, .. } => {
            let id = netdisk
                .notices()
                .publish(caller()?, &title, &content)
                .await?;
            Reply::json(ok("published", json!({ "notice_id": id }))?)
        }
        Request::CheckNotice { offset, limit, .. } => {
            let notices = netdisk.notices().list(caller()?, offset, limit).await?;
            Reply::json(ok("notices", BTreeMap::from([("notice_list", &notices)]))?)
        }
        Request::BuyVip { .. } => {
            let is_vip = netdisk.accounts().buy_vip(caller()?).await?;
            Reply::json(ok("you are a VIP", json!({ "is_vip": i32::from(is_vip) }))?)
        }
        Request::DownloadMovie {
            movie_id, offset, ..
        } => {
            let download = netdisk
                .movies()
                .download(caller()?, movie_id, offset.unwrap_or(0))
                .await?;
            let head = ok(
                "download follows",
                json!({
                    "file_name": download.movie.name,
                    "file_size": download.transfer.len(),
                    "file_md5": download.movie.file_md5,
                    "wait_time": download.wait_secs,
                    "price": download.price,
                }),
            )?;
            Reply::MovieDownload { head, download }
        }
        Request::CheckDownloadRecord { offset, limit, .. } => {
            let records = netdisk.movies().records(caller()?, offset, limit).await?;
            Reply::json(ok("records", BTreeMap::from([("record_list", &records)]))?)
        }
        Request::UploadFile {
            file_name,
            file_size,
            file_md5,
            ..
        } => {
            let id = netdisk
                .files()
                .upload(
                    caller()?,
                    &file_name,
                    file_size,
                    Some(&file_md5),
                    &mut connection.raw_body(),
                )
                .await?;
            Reply::json(ok("uploaded", json!({ "file_id": id }))?)
        }
        Request::ListFiles { .. } => {
            let files: Vec<Value> = netdisk
                .files()
                .list(caller()?)
                .await?
                .into_iter()
                .map(|f| json!({ "file_id": f.id, "file_name": f.name, "file_size": f.size, "upload_time": f.upload_time }))
                .collect();
            Reply::json(ok("files", json!({ "file_list": files }))?)
        }
        Request::DownloadFile {
            file_id, offset, ..
        } => {
            let download = netdisk
                .files()
                .download(caller()?, file_id, offset.unwrap_or(0))
                .await?;
            let head = ok(
                "download follows",
                json!({ "file_name": download.file.name, "file_size": download.transfer.len(), "file_md5": download.file.md5 }),
            )?;
            Reply::FileDownload { head, download }
        }
        Request::DeleteFile { file_id, .. } => {
            netdisk.files().delete(caller()?, file_id).await?;
            Reply::json(ok("deleted", json!({}))?)
        }
        Request::Subscribe { .. } => {
            caller()?;
            *subscription = Some(netdisk.notices().subscribe());
            Reply::json(ok("subscribed: notices will be pushed", json!({}))?)
        }
    };
    Ok(reply)
}

/// A Youku request frame's body, parsed as the server parses it (see [`parse`]).
#[derive(Debug)]
pub struct ParsedRequest(Request);

impl ParsedRequest {
    /// The request's `type`.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// How many raw bytes follow the frame (uploads only).
    pub fn upload_size(&self) -> Option<u64> {
        self.0.upload_size()
    }
}

/// A request frame the server cannot parse (see [`parse`]).
#[derive(Debug)]
pub struct Malformed {
    /// The refusal to answer with (a [`ServiceError::BadRequest`]).
    pub error: ServiceError,
    /// The raw bytes that follow the frame all the same: a malformed upload request that still
    /// announces a usable `file_size` has its bytes skipped so the connection stays in step.
    pub announced_upload: Option<u64>,
}

/// Parses one request frame's body, as [`serve`] does: the one entry point of the Youku request
/// parser, public so that it can be fuzzed from outside the crate (`fuzz/`, target
/// `youku_request`). Never panics, whatever the bytes.
pub fn parse(body: &[u8]) -> Result<ParsedRequest, Malformed> {
    serde_json::from_slice::<Request>(body)
        .map(ParsedRequest)
        .map_err(|error| Malformed {
            error: ServiceError::BadRequest(format!("bad request: {error}")),
            announced_upload: announced_upload(body),
        })
}

/// When a malformed upload request still announces a usable `file_size`, the bytes that follow
/// can be skipped and the connection kept.
fn announced_upload(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("type")?.as_str()? {
        "upload_movie" | "upload_file" => value.get("file_size")?.as_u64(),
        _ => None,
    }
}

/// Serves one Youku connection until the client leaves, breaks the protocol, or `shutdown`
/// fires while the connection is between requests.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: Netdisk,
    mut connection: Connection<S>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut subscription: Option<broadcast::Receiver<crate::NoticeView>> = None;
    // One wait for shutdown for the whole connection, not a new one per request: registering
    // and removing a waiter takes a lock shared with other connections.
    let mut stop = std::pin::pin!(shutdown.changed());
    loop {
        let frame = tokio::select! {
            biased;
            _ = &mut stop => return,
            notice = next_notice(&mut subscription) => {
                match notice {
                    Some(notice) if connection.write_json(&notice_push(&notice)).await.is_ok() => continue,
                    Some(_) => return,
                    None => continue,
                }
            }
            frame = connection.read_frame() => frame,
        };
        let started = std::time::Instant::now();
        let body = match frame {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(ReadError::Frame(error)) => {
                let refusal = ServiceError::BadRequest(error.to_string());
                let _ = connection.write_json(&failure(&refusal)).await;
                log_request(PROTOCOL, "-", &Exchange::default(), refusal.code(), started);
                return;
            }
            Err(_) => return,
        };
        let mut exchange = Exchange::default();
        let (kind, outcome) = match parse(&body) {
            Err(malformed) => {
                if let Some(size) = malformed.announced_upload {
                    connection.expect_raw(size);
                }
                ("-", Err(malformed.error))
            }
            Ok(ParsedRequest(request)) => {
                let kind = request.kind();
                if let Some(size) = request.upload_size() {
                    connection.expect_raw(size);
                }
                (
                    kind,
                    handle(
                        &netdisk,
                        &mut connection,
                        request,
                        &mut exchange,
                        &mut subscription,
                    )
                    .await,
                )
            }
        };
        let code = match &outcome {
            Ok(_) => "ok",
            Err(error) => error.code(),
        };
        log_request(PROTOCOL, kind, &exchange, code, started);
        let keep_going = match outcome {
            Ok(reply) => send_reply(&netdisk, &mut connection, reply).await.is_ok(),
            Err(error) => {
                if error.is_unexpected() {
                    tracing::error!(r#type = kind, error = %error, source = ?std::error::Error::source(&error), "request failed");
                }
                refuse(&mut connection, &error).await
            }
        };
        if !keep_going {
            return;
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

async fn next_notice(
    subscription: &mut Option<broadcast::Receiver<crate::NoticeView>>,
) -> Option<crate::NoticeView> {
    match subscription {
        Some(receiver) => match receiver.recv().await {
            Ok(notice) => Some(notice),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => {
                *subscription = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

const PROTOCOL: &str = "youku";
