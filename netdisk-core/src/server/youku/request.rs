//! The Youku requests as the client sends them (`../shared/PROTOCOL.md`, section 2), and
//! [`parse`], the one entry point of their parser. The [`Request`] enum is the door's table of
//! contents: each variant names the handler that serves it.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::ServiceError;

/// A request, tagged by `type`. Unknown fields are ignored; an unknown `type` is a
/// `bad_request`. A `session` that is missing or `null` is the same as a wrong one: the request
/// is answered `not_logged_in`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Create an account: [`super::accounts::register`].
    Register(Credentials),
    /// Log in: [`super::accounts::login`].
    Login(Credentials),
    /// End the session: [`super::accounts::logout`].
    Logout(Session),
    /// Become VIP: [`super::accounts::buy_vip`].
    BuyVip(Session),
    /// May a movie with this content be uploaded? [`super::movies::check`].
    CheckMovie(CheckMovie),
    /// Upload a movie; `file_size` raw bytes follow: [`super::movies::upload`].
    UploadMovie(UploadMovie),
    /// A page of movies: [`super::movies::list`].
    GetMovieList(GetMovieList),
    /// Soft-delete a movie: [`super::movies::delete`].
    DeleteMovie(DeleteMovie),
    /// Download a movie (from an offset): [`super::movies::download`].
    DownloadMovie(DownloadMovie),
    /// The caller's download records: [`super::movies::records`].
    CheckDownloadRecord(Page),
    /// Publish a notice: [`super::notices::release`].
    ReleaseNotice(ReleaseNotice),
    /// A page of notices: [`super::notices::list`].
    CheckNotice(Page),
    /// Receive notices as they are published: [`super::notices::subscribe`].
    Subscribe(Session),
    /// Upload a personal file; `file_size` raw bytes follow: [`super::files::upload`].
    UploadFile(UploadFile),
    /// The caller's files: [`super::files::list`].
    ListFiles(Session),
    /// Download a personal file (from an offset): [`super::files::download`].
    DownloadFile(DownloadFile),
    /// Delete a personal file: [`super::files::delete`].
    DeleteFile(DeleteFile),
}

/// `register` and `login`.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    pub name: String,
    pub password: String,
    pub user_type: String,
}

/// A request with nothing but its session. (In every request, a missing `session` reads as
/// `None`, as serde reads any missing `Option` field.)
#[derive(Debug, Deserialize)]
pub(crate) struct Session {
    pub session: Option<String>,
}

/// `check_movie`.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckMovie {
    pub session: Option<String>,
    pub file_md5: String,
}

/// `upload_movie`.
#[derive(Debug, Deserialize)]
pub(crate) struct UploadMovie {
    pub session: Option<String>,
    pub file_name: String,
    pub file_size: u64,
    pub file_md5: String,
    #[serde(deserialize_with = "flag")]
    pub is_free: bool,
}

/// `get_movie_list`.
#[derive(Debug, Deserialize)]
pub(crate) struct GetMovieList {
    pub session: Option<String>,
    pub movie_type: String,
    pub keyword: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// `delete_movie`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteMovie {
    pub session: Option<String>,
    pub delete_movie_id: i64,
}

/// `download_movie`.
#[derive(Debug, Deserialize)]
pub(crate) struct DownloadMovie {
    pub session: Option<String>,
    pub movie_id: i64,
    pub offset: Option<u64>,
}

/// A page of a list: `check_download_record`, `check_notice`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub session: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// `release_notice`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReleaseNotice {
    pub session: Option<String>,
    pub title: String,
    pub content: String,
}

/// `upload_file`.
#[derive(Debug, Deserialize)]
pub(crate) struct UploadFile {
    pub session: Option<String>,
    pub file_name: String,
    pub file_size: u64,
    pub file_md5: String,
}

/// `download_file`.
#[derive(Debug, Deserialize)]
pub(crate) struct DownloadFile {
    pub session: Option<String>,
    pub file_id: i64,
    pub offset: Option<u64>,
}

/// `delete_file`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteFile {
    pub session: Option<String>,
    pub file_id: i64,
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
            Request::Register(_) => "register",
            Request::Login(_) => "login",
            Request::Logout(_) => "logout",
            Request::BuyVip(_) => "buy_vip",
            Request::CheckMovie(_) => "check_movie",
            Request::UploadMovie(_) => "upload_movie",
            Request::GetMovieList(_) => "get_movie_list",
            Request::DeleteMovie(_) => "delete_movie",
            Request::DownloadMovie(_) => "download_movie",
            Request::CheckDownloadRecord(_) => "check_download_record",
            Request::ReleaseNotice(_) => "release_notice",
            Request::CheckNotice(_) => "check_notice",
            Request::Subscribe(_) => "subscribe",
            Request::UploadFile(_) => "upload_file",
            Request::ListFiles(_) => "list_files",
            Request::DownloadFile(_) => "download_file",
            Request::DeleteFile(_) => "delete_file",
        }
    }

    /// The raw bytes that follow this request's frame.
    pub(crate) fn upload_size(&self) -> Option<u64> {
        match self {
            Request::UploadMovie(r) => Some(r.file_size),
            Request::UploadFile(r) => Some(r.file_size),
            _ => None,
        }
    }

    /// `Some` for a request that needs a login, with the session token it carries, if any.
    pub(crate) fn session(&self) -> Option<Option<&str>> {
        let session = match self {
            Request::Register(_) | Request::Login(_) => return None,
            Request::Logout(r) | Request::BuyVip(r) | Request::Subscribe(r) => &r.session,
            Request::ListFiles(r) => &r.session,
            Request::CheckMovie(r) => &r.session,
            Request::UploadMovie(r) => &r.session,
            Request::GetMovieList(r) => &r.session,
            Request::DeleteMovie(r) => &r.session,
            Request::DownloadMovie(r) => &r.session,
            Request::CheckDownloadRecord(r) | Request::CheckNotice(r) => &r.session,
            Request::ReleaseNotice(r) => &r.session,
            Request::UploadFile(r) => &r.session,
            Request::DownloadFile(r) => &r.session,
            Request::DeleteFile(r) => &r.session,
        };
        Some(session.as_deref())
    }
}

/// A Youku request frame's body, parsed as the server parses it (see [`parse`]).
#[derive(Debug)]
pub struct ParsedRequest(pub(crate) Request);

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

/// Parses one request frame's body, as the door does: the one entry point of the Youku request
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
