//! [`Client`]: one person's connection and session, with a method per request of the contract
//! (uploads and downloads are in [`crate::transfer`]).

use md5::{Digest, Md5};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::connection::{Connection, Timeouts};
use crate::error::{Error, Result};

/// Which kind of account a client signs up and logs in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Uploads and deletes movies, publishes notices.
    Admin,
    /// Watches: buys VIP, downloads movies.
    User,
}

impl Role {
    /// The contract's `user_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

/// Which movies a list shows (the contract's `movie_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MovieKind {
    /// Every movie.
    All,
    /// Free movies only.
    Free,
    /// Charged movies only.
    Charge,
}

impl MovieKind {
    /// The contract's `movie_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MovieKind::All => "all",
            MovieKind::Free => "free",
            MovieKind::Charge => "charge",
        }
    }
}

/// One movie of a list (`[name, "free" or "charge", movie_id]` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movie {
    /// Its id.
    pub id: i64,
    /// Its name (also the name a download is saved under).
    pub name: String,
    /// Free, or charged.
    pub is_free: bool,
}

/// A download record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    /// The movie's name.
    pub movie: String,
    /// When the download completed.
    pub download_time: String,
    /// What it cost.
    pub price: i64,
}

/// A notice, from a list or pushed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Notice {
    /// Its title.
    pub title: String,
    /// Its text.
    pub content: String,
    /// When it was published.
    pub create_time: String,
}

/// A file in the personal netdisk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileEntry {
    /// Its id.
    pub file_id: i64,
    /// Its name.
    pub file_name: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// When it was uploaded.
    pub upload_time: String,
}

/// What the password is sent as: the hex MD5 of what the person typed, as the original clients
/// did.
pub fn hash_password(typed: &str) -> String {
    hex::encode(Md5::digest(typed.as_bytes()))
}

/// A connection to the server and, once logged in, the session.
///
/// The server closes connections that stay idle (60 s by default); sessions live on, so a
/// request on a connection found closed opens a new one first.
#[derive(Debug)]
pub struct Client {
    addr: String,
    role: Role,
    timeouts: Timeouts,
    /// `None` after a transfer broke off: the next request reconnects.
    connection: Option<Connection>,
    session: Option<String>,
    is_vip: bool,
    subscribed: bool,
}

impl Client {
    /// Connects to `addr` (`HOST:PORT`) as someone of `role`.
    pub async fn connect(addr: &str, role: Role, timeouts: Timeouts) -> Result<Client> {
        Ok(Client {
            addr: addr.to_owned(),
            role,
            connection: Some(Connection::connect(addr, timeouts).await?),
            timeouts,
            session: None,
            is_vip: false,
            subscribed: false,
        })
    }

    /// The role this client signs up and logs in as.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether a login succeeded (and no logout followed).
    pub fn is_logged_in(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the logged-in person is a VIP.
    pub fn is_vip(&self) -> bool {
        self.is_vip
    }

    /// Sends `request` as it is and returns the response; `flag: false` is [`Error::Server`].
    pub async fn call(&mut self, request: Value) -> Result<Value> {
        let outcome = self.open_connection().await?.call(&request).await;
        if outcome.as_ref().is_err_and(|e| e.code().is_none()) {
            // Not the server's refusal (a timeout, say): a late answer would be taken for the
            // next request's, so start afresh.
            self.drop_connection();
        }
        outcome
    }

    /// [`Client::call`] with the session added; [`Error::NotLoggedIn`] before a login.
    pub async fn call_in_session(&mut self, mut request: Value) -> Result<Value> {
        request["session"] = self.session()?.into();
        self.call(request).await
    }

    /// Creates an account of this client's role.
    pub async fn register(&mut self, name: &str, password: &str) -> Result<()> {
        self.call(self.account_request("register", name, password))
            .await?;
        Ok(())
    }

    /// Logs in; later requests carry the session.
    pub async fn login(&mut self, name: &str, password: &str) -> Result<()> {
        let answer = self
            .call(self.account_request("login", name, password))
            .await?;
        let session = answer["session"]
            .as_str()
            .ok_or_else(|| Error::Protocol("a login answer without `session`".into()))?;
        self.session = Some(session.to_owned());
        self.is_vip = answer["is_vip"].as_i64() == Some(1);
        Ok(())
    }

    /// Ends the session (on this side even when the server had ended it already).
    pub async fn logout(&mut self) -> Result<()> {
        let outcome = self.call_in_session(json!({"type": "logout"})).await;
        self.session = None;
        outcome.map(drop)
    }

    /// Asks the server to push new notices to this client (see [`Client::pushed_notices`]).
    pub async fn subscribe(&mut self) -> Result<()> {
        self.call_in_session(json!({"type": "subscribe"})).await?;
        self.subscribed = true;
        Ok(())
    }

    /// The notices pushed since the last call, including those already waiting on the socket.
    pub async fn pushed_notices(&mut self) -> Vec<Notice> {
        let Some(connection) = &mut self.connection else {
            return Vec::new();
        };
        connection.poll_open().await;
        connection
            .take_notices()
            .into_iter()
            .filter_map(|push| serde_json::from_value(push).ok())
            .collect()
    }

    /// Every movie of `kind`, newest first (all pages).
    pub async fn movies(&mut self, kind: MovieKind) -> Result<Vec<Movie>> {
        let mut movies = Vec::new();
        loop {
            let answer = self
                .call_in_session(
                    json!({"type": "get_movie_list", "movie_type": kind.as_str(),
                                        "offset": movies.len()}),
                )
                .await?;
            let page: Vec<(String, String, i64)> = field(&answer, "movie_list")?;
            let total: usize = field(&answer, "total")?;
            let done = page.is_empty();
            movies.extend(page.into_iter().map(|(name, kind, id)| Movie {
                id,
                name,
                is_free: kind == "free",
            }));
            if done || movies.len() >= total {
                return Ok(movies);
            }
        }
    }

    /// The live movie with this id.
    pub async fn find_movie(&mut self, id: i64) -> Result<Movie> {
        let movies = self.movies(MovieKind::All).await?;
        movies
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::Server {
                code: "not_found".into(),
                msg: format!("no movie with id {id}"),
            })
    }

    /// Soft-deletes a movie (admins).
    pub async fn delete_movie(&mut self, id: i64) -> Result<()> {
        self.call_in_session(json!({"type": "delete_movie", "delete_movie_id": id}))
            .await?;
        Ok(())
    }

    /// Publishes a notice (admins); returns its id.
    pub async fn release_notice(&mut self, title: &str, content: &str) -> Result<i64> {
        let answer = self
            .call_in_session(json!({"type": "release_notice", "title": title, "content": content}))
            .await?;
        field(&answer, "notice_id")
    }

    /// The notices, newest first.
    pub async fn notices(&mut self) -> Result<Vec<Notice>> {
        let answer = self
            .call_in_session(json!({"type": "check_notice"}))
            .await?;
        field(&answer, "notice_list")
    }

    /// Becomes a VIP (users); returns whether the server says so.
    pub async fn buy_vip(&mut self) -> Result<bool> {
        let answer = self.call_in_session(json!({"type": "buy_vip"})).await?;
        self.is_vip = answer["is_vip"].as_i64() == Some(1);
        Ok(self.is_vip)
    }

    /// This user's download records, newest first.
    pub async fn records(&mut self) -> Result<Vec<Record>> {
        let answer = self
            .call_in_session(json!({"type": "check_download_record"}))
            .await?;
        field(&answer, "record_list")
    }

    /// The files in this person's netdisk.
    pub async fn files(&mut self) -> Result<Vec<FileEntry>> {
        let answer = self.call_in_session(json!({"type": "list_files"})).await?;
        field(&answer, "file_list")
    }

    /// One of this person's files.
    pub async fn find_file(&mut self, id: i64) -> Result<FileEntry> {
        let files = self.files().await?;
        files
            .into_iter()
            .find(|f| f.file_id == id)
            .ok_or_else(|| Error::Server {
                code: "not_found".into(),
                msg: format!("no file with id {id}"),
            })
    }

    /// Deletes one of this person's files.
    pub async fn delete_file(&mut self, id: i64) -> Result<()> {
        self.call_in_session(json!({"type": "delete_file", "file_id": id}))
            .await?;
        Ok(())
    }

    /// A `register` or `login` request: the password goes as its hex MD5.
    fn account_request(&self, kind: &str, name: &str, password: &str) -> Value {
        json!({"type": kind, "name": name, "password": hash_password(password),
               "user_type": self.role.as_str()})
    }

    /// The connection, reopened first when the server closed it (idle timeout): the session
    /// survives, and so does the subscription.
    pub(crate) async fn open_connection(&mut self) -> Result<&mut Connection> {
        let mut pushed = Vec::new();
        if let Some(connection) = &mut self.connection {
            if connection.poll_open().await {
                return Ok(self.connection.as_mut().expect("checked above"));
            }
            pushed = connection.take_notices();
        }
        self.connection = None;
        let mut connection = Connection::connect(self.addr.as_str(), self.timeouts).await?;
        connection.set_aside(pushed);
        if let (true, Some(session)) = (self.subscribed, &self.session) {
            connection
                .call(&json!({"type": "subscribe", "session": session}))
                .await?;
        }
        Ok(self.connection.insert(connection))
    }

    /// The connection as it is, without looking for pushed notices: raw bytes may be waiting.
    pub(crate) fn connection_in_step(&mut self) -> Result<&mut Connection> {
        self.connection.as_mut().ok_or(Error::Closed)
    }

    /// Drops the connection (a transfer broke off mid-stream, so it is out of step); the next
    /// request opens a new one.
    pub(crate) fn drop_connection(&mut self) {
        self.connection = None;
    }

    /// The session token, or [`Error::NotLoggedIn`].
    pub(crate) fn session(&self) -> Result<String> {
        self.session.clone().ok_or(Error::NotLoggedIn)
    }
}

/// A response field as `T`.
pub(crate) fn field<T: DeserializeOwned>(answer: &Value, name: &str) -> Result<T> {
    let value = answer.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| Error::Protocol(format!("field `{name}`: {e}")))
}
