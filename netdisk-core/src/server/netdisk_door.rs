//! The netdisk protocol (`../shared/PROTOCOL.md`, section 3) of the "cmd netdisk" client:
//! `{"api", "data"}` requests, `{"code", "msg", "data"}` answers. The connection is the session:
//! `login` binds it to one account, and `upload`, `check` and `download` act only on that
//! account's files (the same personal files as the Youku door's).
//!
//! Where the contract is silent: an unknown `api`, or a frame that is not `{"api", "data"}`, is
//! answered `{"code": 0}` with a message; a locked account's login is code 2 with a message that
//! says so; the acknowledgement a download waits for is any JSON value.

use std::time::Instant;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::{Connection, ReadError};
use super::session::{Exchange, log_request};
use crate::{Caller, Netdisk, NewAccount, ServiceError, UserType};

const PROTOCOL: &str = "netdisk";
/// The answer before raw bytes, in both directions.
const GO_AHEAD: i64 = 99999;

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

/// Parses one request frame's body, as [`serve`] does: `None` when it is not
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

/// What a handled request asks of the loop after its answer.
enum Next {
    Continue,
    Close,
}

/// Serves one netdisk connection until the client leaves, breaks the protocol, or `shutdown`
/// fires while the connection is between requests.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: Netdisk,
    mut connection: Connection<S>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut caller: Option<Caller> = None;
    // One wait for shutdown for the whole connection, not a new one per request: registering
    // and removing a waiter takes a lock shared with other connections.
    let mut stop = std::pin::pin!(shutdown.changed());
    loop {
        let frame = tokio::select! {
            biased;
            _ = &mut stop => break,
            frame = connection.read_frame() => frame,
        };
        let started = Instant::now();
        let body = match frame {
            Ok(Some(body)) => body,
            Err(ReadError::Frame(error)) => {
                let _ = connection
                    .write_json(&answer(0, &error.to_string(), Value::Null))
                    .await;
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let mut exchange = Exchange {
            user: caller.as_ref().map(|c| c.name().to_owned()),
        };
        let Some(request) = parse(&body) else {
            log_request(PROTOCOL, "-", &exchange, "bad_request", started);
            if connection
                .write_json(&answer(
                    0,
                    "expected {\"api\": NAME, \"data\": {...}}",
                    Value::Null,
                ))
                .await
                .is_err()
            {
                break;
            }
            continue;
        };
        let api = request.api.clone();
        let outcome = handle(&netdisk, &mut connection, &mut caller, request).await;
        exchange.user = caller
            .as_ref()
            .map(|c| c.name().to_owned())
            .or(exchange.user);
        let next = match outcome {
            Ok((code, next)) => {
                log_request(PROTOCOL, &api, &exchange, &code.to_string(), started);
                next
            }
            Err(error) => {
                log_request(PROTOCOL, &api, &exchange, "io_error", started);
                tracing::debug!(%error, "netdisk connection ended");
                Next::Close
            }
        };
        if let Next::Close = next {
            break;
        }
    }
    if let Some(caller) = caller {
        let _ = netdisk.accounts().logout(&caller).await;
    }
}

/// Handles one request, answering on `connection`; returns the final code and what to do next.
/// An `Err` is an I/O failure: the connection is gone.
async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: &mut Option<Caller>,
    request: Request,
) -> std::io::Result<(i64, Next)> {
    let (code, msg, data) = match request.params {
        Params::Register(data) => match data {
            None => (
                2,
                "bad parameters: username, password, real_name, phone and address are strings"
                    .to_owned(),
                Value::Null,
            ),
            Some(r) => {
                let account = NewAccount {
                    name: &r.username,
                    password: &r.password,
                    user_type: UserType::User,
                    real_name: Some(&r.real_name),
                    phone: Some(&r.phone),
                    address: Some(&r.address),
                };
                match netdisk.accounts().register(account).await {
                    Ok(profile) => (1, "registered".to_owned(), json!(profile)),
                    Err(ServiceError::BadRequest(msg)) => (2, msg, Value::Null),
                    Err(ServiceError::Conflict(msg)) => (3, msg.to_owned(), Value::Null),
                    Err(error) => (4, error.to_string(), Value::Null),
                }
            }
        },
        Params::Login(data) => match data {
            None => (
                3,
                "bad parameters: username and password are strings".to_owned(),
                Value::Null,
            ),
            Some(l) => match netdisk
                .accounts()
                .login(&l.username, &l.password, None)
                .await
            {
                Ok(outcome) => {
                    if let Some(previous) = caller.replace(outcome.caller) {
                        let _ = netdisk.accounts().logout(&previous).await;
                    }
                    (1, "logged in".to_owned(), json!(outcome.profile))
                }
                Err(ServiceError::BadRequest(msg)) => (3, msg, Value::Null),
                Err(error) => (2, error.to_string(), Value::Null),
            },
        },
        Params::Upload(data) => return upload(netdisk, connection, caller.as_ref(), data).await,
        Params::Check(data) => match (data, caller.as_ref()) {
            (Some(c), Some(me)) if c.username == me.name() => {
                match netdisk.files().list(me).await {
                    Ok(files) if files.is_empty() => (2, "no files".to_owned(), Value::Null),
                    Ok(files) => {
                        let list: Vec<Value> = files
                            .iter()
                            .map(|f| json!({ "name": f.name, "size": f.size }))
                            .collect();
                        (1, "your files".to_owned(), Value::Array(list))
                    }
                    Err(error) => (4, error.to_string(), Value::Null),
                }
            }
            _ => (
                3,
                "bad parameters, or not the account this connection logged in as".to_owned(),
                Value::Null,
            ),
        },
        Params::Download(data) => {
            return download(netdisk, connection, caller.as_ref(), data).await;
        }
        Params::Unknown => (0, format!("unknown api `{}`", request.api), Value::Null),
    };
    connection.write_json(&answer(code, &msg, data)).await?;
    Ok((code, Next::Continue))
}

async fn upload<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: Option<&Caller>,
    request: Option<Upload>,
) -> std::io::Result<(i64, Next)> {
    let (Some(request), Some(me)) = (request, caller) else {
        connection
            .write_json(&answer(3, "bad parameters, or not logged in", Value::Null))
            .await?;
        return Ok((3, Next::Continue));
    };
    if request.username != me.name() {
        connection
            .write_json(&answer(
                3,
                "not the account this connection logged in as",
                Value::Null,
            ))
            .await?;
        return Ok((3, Next::Continue));
    }
    if netdisk.files().find(me, &request.file_name).await.is_ok() {
        connection
            .write_json(&answer(
                2,
                "you have a file with this name already",
                Value::Null,
            ))
            .await?;
        return Ok((2, Next::Continue));
    }
    let limit = netdisk.config().max_file_bytes;
    if request.file_size > limit {
        let msg = ServiceError::TooLarge {
            size: request.file_size,
            limit,
        }
        .to_string();
        connection.write_json(&answer(3, &msg, Value::Null)).await?;
        return Ok((3, Next::Continue));
    }
    // The go-ahead goes out only when the service starts reading the bytes, that is once every
    // check that needs no bytes (the file name's, say) has passed: a refusal is answered with
    // its code instead of `99999`, and the client sends nothing.
    let go_ahead = answer(GO_AHEAD, "send the bytes", Value::Null).to_string();
    connection.expect_raw(request.file_size);
    let mut body = connection.raw_body_after(go_ahead.as_bytes());
    let stored = netdisk
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
            connection
                .write_json(&answer(1, "uploaded", Value::Null))
                .await?;
            Ok((1, Next::Continue))
        }
        Err(error) => {
            // After the go-ahead the client is sending the bytes: skip what is left, or give up
            // on the connection if it broke. Before it, the client sends none.
            let in_step = if went_ahead {
                connection.pending_raw() == 0 || connection.discard_pending_raw().await.is_ok()
            } else {
                connection.expect_raw(0);
                true
            };
            let code = if matches!(error, ServiceError::Conflict(_)) {
                2
            } else {
                3
            };
            connection
                .write_json(&answer(code, &error.to_string(), Value::Null))
                .await?;
            Ok((code, if in_step { Next::Continue } else { Next::Close }))
        }
    }
}

async fn download<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: Option<&Caller>,
    request: Option<Download>,
) -> std::io::Result<(i64, Next)> {
    let refuse = async |connection: &mut Connection<S>, code: i64, msg: &str| {
        connection
            .write_json(&answer(code, msg, Value::Null))
            .await
            .map(|()| (code, Next::Continue))
    };
    let Some(request) = request else {
        return refuse(
            connection,
            2,
            "bad parameters: username, file_name (strings) and file_size (a number)",
        )
        .await;
    };
    let Some(me) = caller.filter(|me| me.name() == request.username) else {
        return refuse(
            connection,
            3,
            "not the account this connection logged in as",
        )
        .await;
    };
    let Ok(file) = netdisk.files().find(me, &request.file_name).await else {
        return refuse(connection, 4, "no such file").await;
    };
    if file.size as u64 != request.file_size {
        return refuse(connection, 2, "file_size does not match the stored file").await;
    }
    let mut download = match netdisk.files().download(me, file.id, 0).await {
        Ok(download) => download,
        Err(error) => return refuse(connection, 4, &error.to_string()).await,
    };
    connection
        .write_json(&answer(GO_AHEAD, "the bytes follow", Value::Null))
        .await?;
    connection.send_raw(&mut download.transfer).await?;
    match connection.read_frame().await {
        Ok(Some(_acknowledgement)) => {
            connection
                .write_json(&answer(1, "downloaded", Value::Null))
                .await?;
            Ok((1, Next::Continue))
        }
        _ => Ok((1, Next::Close)),
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
