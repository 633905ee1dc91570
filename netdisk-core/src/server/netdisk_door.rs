//! The netdisk door (`../shared/PROTOCOL.md`, section 3) of the "cmd netdisk" client:
//! `{"api", "data"}` requests, `{"code", "msg", "data"}` answers. The connection is the session:
//! `login` binds it to one account, and `upload`, `check` and `download` act only on that
//! account's files (the same personal files as the Youku door's). Each api's refusals get their
//! numbers in one place, [`code`].
//!
//! Where the contract is silent: an unknown `api`, or a frame that is not `{"api", "data"}`, is
//! answered `{"code": 0}` with a message; a locked account's login is code 2 with a message that
//! says so; the acknowledgement a download waits for is any JSON value.

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Connection;
use super::door::{Door, Shutdown, loopback};
use super::frame::FrameError;
use super::framed::{self, Flow, FramedDoor, Outcome, RequestLog};
use crate::{Caller, Netdisk, NewAccount, ServiceError, UserType};

/// The netdisk door: `127.0.0.1:1111` by default.
pub const DOOR: Door = Door {
    name: "netdisk",
    default_addr: loopback(1111),
    open: framed::open::<NetdiskDoor>,
};

/// The answer before raw bytes, in both directions.
const GO_AHEAD: i64 = 99999;
/// The answer to a frame that is no request at all.
const NOT_A_REQUEST: i64 = 0;

#[derive(Deserialize)]
struct Envelope {
    api: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct Register {
    username: String,
    password: String,
    real_name: String,
    phone: String,
    address: String,
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct Upload {
    username: String,
    file_name: String,
    file_size: u64,
}

#[derive(Deserialize)]
struct Check {
    username: String,
}

#[derive(Deserialize)]
struct Download {
    username: String,
    file_name: String,
    file_size: u64,
}

fn answer(code: i64, msg: &str, data: Value) -> Value {
    json!({ "code": code, "msg": msg, "data": data })
}

fn from_data<T: DeserializeOwned>(data: Value) -> Option<T> {
    serde_json::from_value(data).ok()
}

/// The apis of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Register,
    Login,
    Upload,
    Check,
    Download,
}

/// The code of `api`'s answer when it is refused with `error` (the contract's numbers differ
/// from api to api).
fn code(api: Api, error: &ServiceError) -> i64 {
    use ServiceError::{BadRequest, Conflict, Forbidden, NotLoggedIn};
    match (api, error) {
        (Api::Register, BadRequest(_)) => 2,
        (Api::Register, Conflict(_)) => 3,
        (Api::Register, _) => 4,
        (Api::Login, BadRequest(_)) => 3,
        (Api::Login, _) => 2,
        (Api::Upload, Conflict(_)) => 2,
        (Api::Upload, _) => 3,
        (Api::Check, BadRequest(_) | NotLoggedIn | Forbidden(_)) => 3,
        (Api::Check, _) => 4,
        (Api::Download, BadRequest(_)) => 2,
        (Api::Download, NotLoggedIn | Forbidden(_)) => 3,
        (Api::Download, _) => 4,
    }
}

/// A netdisk request frame's body, parsed as the server parses it (see [`parse`]).
pub struct Request {
    api: String,
    params: Params,
}

/// A request's `data` read as its `api` expects: `None` when a field is missing or of the wrong
/// type (the api's "bad parameters" code).
enum Params {
    Register(Option<Register>),
    Login(Option<Login>),
    Upload(Option<Upload>),
    Check(Option<Check>),
    Download(Option<Download>),
    Unknown,
}

impl Request {
    /// The `api` named.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// Whether the `api` is one the server knows and `data` has the fields it needs, of the
    /// right types.
    pub fn well_formed(&self) -> bool {
        match &self.params {
            Params::Register(data) => data.is_some(),
            Params::Login(data) => data.is_some(),
            Params::Upload(data) => data.is_some(),
            Params::Check(data) => data.is_some(),
            Params::Download(data) => data.is_some(),
            Params::Unknown => false,
        }
    }
}

/// Parses one request frame's body, as the door does: `None` when it is not
/// `{"api": NAME, "data": ...}`. The one entry point of the netdisk request parser, public so
/// that it can be fuzzed from outside the crate (`fuzz/`, target `netdisk_request`). Never
/// panics, whatever the bytes.
pub fn parse(body: &[u8]) -> Option<Request> {
    let Envelope { api, data } = serde_json::from_slice(body).ok()?;
    let params = match api.as_str() {
        "register" => Params::Register(from_data(data)),
        "login" => Params::Login(from_data(data)),
        "upload" => Params::Upload(from_data(data)),
        "check" => Params::Check(from_data(data)),
        "download" => Params::Download(from_data(data)),
        _ => Params::Unknown,
    };
    Some(Request { api, params })
}

/// Serves one netdisk connection until the client leaves, breaks the protocol, or `shutdown`
/// fires while the connection is between requests. The connection's session ends with it.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: Netdisk,
    connection: Connection<S>,
    shutdown: Shutdown,
) {
    framed::serve(NetdiskDoor::open(netdisk), connection, shutdown).await;
}

/// One netdisk connection's state: the account it logged in as.
struct NetdiskDoor {
    netdisk: Netdisk,
    caller: Option<Caller>,
}

/// An api's final answer.
struct Answer {
    code: i64,
    msg: String,
    data: Value,
    flow: Flow,
}

impl Answer {
    fn new(code: i64, msg: impl Into<String>, data: Value) -> Answer {
        Answer {
            code,
            msg: msg.into(),
            data,
            flow: Flow::Continue,
        }
    }

    fn refused(api: Api, error: &ServiceError) -> Answer {
        if error.is_unexpected() {
            tracing::error!(?api, %error, source = ?std::error::Error::source(error), "request failed");
        }
        Answer::new(code(api, error), error.to_string(), Value::Null)
    }
}

/// Turns an api's outcome into its answer.
fn settle(api: Api, outcome: Result<Answer, ServiceError>) -> Answer {
    outcome.unwrap_or_else(|error| Answer::refused(api, &error))
}

impl FramedDoor for NetdiskDoor {
    const PROTOCOL: &'static str = DOOR.name;

    fn open(netdisk: Netdisk) -> Self {
        NetdiskDoor {
            netdisk,
            caller: None,
        }
    }

    fn refuse_frame(error: &FrameError) -> (Vec<u8>, Outcome) {
        let refusal = answer(NOT_A_REQUEST, &error.to_string(), Value::Null);
        (
            refusal.to_string().into_bytes(),
            Outcome::Number(NOT_A_REQUEST),
        )
    }

    async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        connection: &mut Connection<S>,
        body: Bytes,
        log: &mut RequestLog,
    ) -> Flow {
        log.user = self.caller.as_ref().map(|c| c.name().to_owned());
        let handled = match parse(&body) {
            None => Ok(Answer::new(
                NOT_A_REQUEST,
                "expected {\"api\": NAME, \"data\": {...}}",
                Value::Null,
            )),
            Some(request) => {
                log.kind = api_name(&request.params);
                self.handle(connection, request).await
            }
        };
        if let Some(caller) = &self.caller {
            log.user = Some(caller.name().to_owned());
        }
        let answer = match handled {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!(%error, "netdisk connection ended");
                log.outcome = Outcome::Word("io_error");
                return Flow::Close;
            }
        };
        log.outcome = Outcome::Number(answer.code);
        let reply = self::answer(answer.code, &answer.msg, answer.data);
        match connection.write_json(&reply).await {
            Ok(()) => answer.flow,
            Err(_) => Flow::Close,
        }
    }

    async fn close(self) {
        if let Some(caller) = self.caller {
            let _ = self.netdisk.accounts().logout(&caller).await;
        }
    }
}

/// The `api` of a request, for the log (`-` when unknown: the name is the client's text).
fn api_name(params: &Params) -> &'static str {
    match params {
        Params::Register(_) => "register",
        Params::Login(_) => "login",
        Params::Upload(_) => "upload",
        Params::Check(_) => "check",
        Params::Download(_) => "download",
        Params::Unknown => "-",
    }
}

impl NetdiskDoor {
    /// Runs one request and returns its final answer, for the caller to send. An `Err` is an
    /// I/O failure in the middle of a transfer: the connection is gone.
    async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        connection: &mut Connection<S>,
        request: Request,
    ) -> std::io::Result<Answer> {
        Ok(match request.params {
            Params::Register(data) => settle(Api::Register, self.register(data).await),
            Params::Login(data) => settle(Api::Login, self.login(data).await),
            Params::Check(data) => settle(Api::Check, self.check(data).await),
            Params::Upload(data) => return self.upload(connection, data).await,
            Params::Download(data) => return self.download(connection, data).await,
            Params::Unknown => Answer::new(
                NOT_A_REQUEST,
                format!("unknown api `{}`", request.api),
                Value::Null,
            ),
        })
    }

    /// The caller, when `username` is the account this connection logged in as.
    fn me(&self, username: &str) -> Result<&Caller, ServiceError> {
        self.caller
            .as_ref()
            .filter(|me| me.name() == username)
            .ok_or(ServiceError::Forbidden(
                "not the account this connection logged in as",
            ))
    }

    async fn register(&self, data: Option<Register>) -> Result<Answer, ServiceError> {
        let r = data.ok_or_else(|| {
            ServiceError::bad_request(
                "bad parameters: username, password, real_name, phone and address are strings",
            )
        })?;
        let account = NewAccount {
            name: &r.username,
            password: &r.password,
            user_type: UserType::User,
            real_name: Some(&r.real_name),
            phone: Some(&r.phone),
            address: Some(&r.address),
        };
        let profile = self.netdisk.accounts().register(account).await?;
        Ok(Answer::new(1, "registered", json!(profile)))
    }

    async fn login(&mut self, data: Option<Login>) -> Result<Answer, ServiceError> {
        let l = data.ok_or_else(|| {
            ServiceError::bad_request("bad parameters: username and password are strings")
        })?;
        let accounts = self.netdisk.accounts();
        let outcome = accounts.login(&l.username, &l.password, None).await?;
        if let Some(previous) = self.caller.replace(outcome.caller) {
            let _ = accounts.logout(&previous).await;
        }
        Ok(Answer::new(1, "logged in", json!(outcome.profile)))
    }

    async fn check(&self, data: Option<Check>) -> Result<Answer, ServiceError> {
        let c = data.ok_or_else(|| ServiceError::bad_request("bad parameters"))?;
        let files = self.netdisk.files().list(self.me(&c.username)?).await?;
        if files.is_empty() {
            return Ok(Answer::new(2, "no files", Value::Null));
        }
        let list = files
            .iter()
            .map(|f| json!({ "name": f.name, "size": f.size }))
            .collect();
        Ok(Answer::new(1, "your files", Value::Array(list)))
    }

    async fn upload<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        connection: &mut Connection<S>,
        data: Option<Upload>,
    ) -> std::io::Result<Answer> {
        let refused = |error| Ok(Answer::refused(Api::Upload, &error));
        let Some(request) = data else {
            return refused(ServiceError::bad_request("bad parameters"));
        };
        let me = match self.me(&request.username) {
            Ok(me) => me,
            Err(error) => return refused(error),
        };
        // The go-ahead goes out only when the service starts reading the bytes, that is once
        // every check that needs no bytes (the file name's, the size limit, a name taken) has
        // passed: a refusal is answered with its code instead of `99999`, and the client sends
        // nothing.
        let go_ahead = answer(GO_AHEAD, "send the bytes", Value::Null).to_string();
        connection.expect_raw(request.file_size);
        let mut body = connection.raw_body_after(go_ahead.as_bytes());
        let stored = self
            .netdisk
            .files()
            .upload(me, &request.file_name, request.file_size, None, &mut body)
            .await;
        let went_ahead = body.went_ahead();
        match stored {
            Ok(_) => {
                if !went_ahead {
                    // Nothing was read (an empty file): the client still waits for the go-ahead.
                    connection.write_frame(go_ahead.as_bytes()).await?;
                }
                Ok(Answer::new(1, "uploaded", Value::Null))
            }
            Err(error) => {
                // After the go-ahead the client is sending the bytes: skip what is left, or give
                // up on the connection if it broke. Before it, the client sends none.
                let in_step = if went_ahead {
                    connection.pending_raw() == 0 || connection.discard_pending_raw().await.is_ok()
                } else {
                    connection.expect_raw(0);
                    true
                };
                let mut answer = Answer::refused(Api::Upload, &error);
                if !in_step {
                    answer.flow = Flow::Close;
                }
                Ok(answer)
            }
        }
    }

    async fn download<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        connection: &mut Connection<S>,
        data: Option<Download>,
    ) -> std::io::Result<Answer> {
        let prepared = async {
            let request = data.ok_or_else(|| {
                ServiceError::bad_request(
                    "bad parameters: username, file_name (strings) and file_size (a number)",
                )
            })?;
            let me = self.me(&request.username)?;
            let files = self.netdisk.files();
            let file = files.find(me, &request.file_name).await?;
            if file.size as u64 != request.file_size {
                return Err(ServiceError::bad_request(
                    "file_size does not match the stored file",
                ));
            }
            files.download(me, file.id, 0).await
        };
        let mut download = match prepared.await {
            Ok(download) => download,
            Err(error) => return Ok(Answer::refused(Api::Download, &error)),
        };
        connection
            .write_json(&answer(GO_AHEAD, "the bytes follow", Value::Null))
            .await?;
        connection.send_raw(&mut download.transfer).await?;
        match connection.read_frame().await {
            Ok(Some(_acknowledgement)) => Ok(Answer::new(1, "downloaded", Value::Null)),
            _ => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mini_orm::testing::{TestBackend, TestDb};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    use super::*;
    use crate::server::connection::Limits;
    use crate::server::frame;

    /// Sends one request frame and reads one answer frame.
    async fn call(client: &mut DuplexStream, request: Value) -> Value {
        client
            .write_all(&frame::encode(request.to_string().as_bytes()))
            .await
            .unwrap();
        recv(client).await
    }

    /// Reads one answer frame.
    async fn recv(client: &mut DuplexStream) -> Value {
        let mut header = [0; 4];
        client.read_exact(&mut header).await.unwrap();
        let mut body = vec![0; i32::from_le_bytes(header) as usize];
        client.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn upload_refusals_come_before_the_go_ahead_and_an_empty_file_still_gets_it() {
        let t = TestDb::open(TestBackend::SqliteMemory).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            data_dir: dir.path().to_owned(),
            ..crate::Config::default()
        };
        let clock = Arc::new(crate::clock::SystemClock);
        let (netdisk, _) = Netdisk::open_with(t.db.clone(), config, clock)
            .await
            .unwrap();
        let limits = Limits {
            max_frame: 1 << 20,
            idle_timeout: Duration::from_secs(60),
            frame_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
        };
        let (mut client, server) = duplex(1 << 16);
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(serve(netdisk, Connection::new(server, limits), shutdown));
        let profile = json!({"username": "ann", "password": "pw", "real_name": "", "phone": "", "address": ""});
        assert_eq!(
            call(&mut client, json!({"api": "register", "data": profile})).await["code"],
            1
        );
        let login = json!({"api": "login", "data": {"username": "ann", "password": "pw"}});
        assert_eq!(call(&mut client, login).await["code"], 1);

        for bad_name in ["", "a\u{0}b", &"x".repeat(256)] {
            let upload = json!({"api": "upload", "data": {"username": "ann", "file_name": bad_name, "file_size": 5}});
            let answer = call(&mut client, upload).await;
            assert_eq!(answer["code"], 3, "refused without a go-ahead: {answer}");
        }
        let upload = json!({"api": "upload", "data": {"username": "ann", "file_name": "empty", "file_size": 0}});
        assert_eq!(call(&mut client, upload).await["code"], GO_AHEAD);
        assert_eq!(recv(&mut client).await["code"], 1);
        let check = json!({"api": "check", "data": {"username": "ann"}});
        let files = call(&mut client, check).await;
        assert_eq!(files["data"], json!([{"name": "empty", "size": 0}]));
        t.finish().await;
    }
}
