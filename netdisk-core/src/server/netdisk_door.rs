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
use super::session::{Exchange, log_request, send_json};
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

fn parse<T: DeserializeOwned>(data: Value) -> Option<T> {
    serde_json::from_value(data).ok()
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
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            frame = connection.read_frame() => frame,
        };
        let started = Instant::now();
        let body = match frame {
            Ok(Some(body)) => body,
            Err(ReadError::Frame(error)) => {
                let _ =
                    send_json(&mut connection, &answer(0, &error.to_string(), Value::Null)).await;
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let mut exchange = Exchange {
            user: caller.as_ref().map(|c| c.name().to_owned()),
        };
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
            log_request(PROTOCOL, "-", &exchange, "bad_request", started);
            if send_json(
                &mut connection,
                &answer(0, "expected {\"api\": NAME, \"data\": {...}}", Value::Null),
            )
            .await
            .is_err()
            {
                break;
            }
            continue;
        };
        let api = envelope.api.clone();
        let outcome = handle(&netdisk, &mut connection, &mut caller, envelope).await;
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
        let _ = netdisk.logout(&caller).await;
    }
}

/// Handles one request, answering on `connection`; returns the final code and what to do next.
/// An `Err` is an I/O failure: the connection is gone.
async fn handle<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: &mut Option<Caller>,
    envelope: Envelope,
) -> std::io::Result<(i64, Next)> {
    let (code, msg, data) = match envelope.api.as_str() {
        "register" => match parse::<Register>(envelope.data) {
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
                match netdisk.register(account).await {
                    Ok(profile) => (1, "registered".to_owned(), json!(profile)),
                    Err(ServiceError::BadRequest(msg)) => (2, msg, Value::Null),
                    Err(ServiceError::Conflict(msg)) => (3, msg.to_owned(), Value::Null),
                    Err(error) => (4, error.to_string(), Value::Null),
                }
            }
        },
        "login" => match parse::<Login>(envelope.data) {
            None => (
                3,
                "bad parameters: username and password are strings".to_owned(),
                Value::Null,
            ),
            Some(l) => match netdisk.login(&l.username, &l.password, None).await {
                Ok(outcome) => {
                    if let Some(previous) = caller.replace(outcome.caller) {
                        let _ = netdisk.logout(&previous).await;
                    }
                    (1, "logged in".to_owned(), json!(outcome.profile))
                }
                Err(ServiceError::BadRequest(msg)) => (3, msg, Value::Null),
                Err(error) => (2, error.to_string(), Value::Null),
            },
        },
        "upload" => return upload(netdisk, connection, caller.as_ref(), envelope.data).await,
        "check" => match (parse::<Check>(envelope.data), caller.as_ref()) {
            (Some(c), Some(me)) if c.username == me.name() => match netdisk.list_files(me).await {
                Ok(files) if files.is_empty() => (2, "no files".to_owned(), Value::Null),
                Ok(files) => {
                    let list: Vec<Value> = files
                        .iter()
                        .map(|f| json!({ "name": f.name, "size": f.size }))
                        .collect();
                    (1, "your files".to_owned(), Value::Array(list))
                }
                Err(error) => (4, error.to_string(), Value::Null),
            },
            _ => (
                3,
                "bad parameters, or not the account this connection logged in as".to_owned(),
                Value::Null,
            ),
        },
        "download" => return download(netdisk, connection, caller.as_ref(), envelope.data).await,
        _ => (0, format!("unknown api `{}`", envelope.api), Value::Null),
    };
    send_json(connection, &answer(code, &msg, data)).await?;
    Ok((code, Next::Continue))
}

async fn upload<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: Option<&Caller>,
    data: Value,
) -> std::io::Result<(i64, Next)> {
    let (Some(request), Some(me)) = (parse::<Upload>(data), caller) else {
        send_json(
            connection,
            &answer(3, "bad parameters, or not logged in", Value::Null),
        )
        .await?;
        return Ok((3, Next::Continue));
    };
    if request.username != me.name() {
        send_json(
            connection,
            &answer(
                3,
                "not the account this connection logged in as",
                Value::Null,
            ),
        )
        .await?;
        return Ok((3, Next::Continue));
    }
    if netdisk.find_file(me, &request.file_name).await.is_ok() {
        send_json(
            connection,
            &answer(2, "you have a file with this name already", Value::Null),
        )
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
        send_json(connection, &answer(3, &msg, Value::Null)).await?;
        return Ok((3, Next::Continue));
    }
    send_json(connection, &answer(GO_AHEAD, "send the bytes", Value::Null)).await?;
    connection.expect_raw(request.file_size);
    let mut body = connection.raw_body();
    let stored = netdisk
        .upload_file(me, &request.file_name, request.file_size, None, &mut body)
        .await;
    match stored {
        Ok(_) => {
            send_json(connection, &answer(1, "uploaded", Value::Null)).await?;
            Ok((1, Next::Continue))
        }
        Err(error) => {
            // The bytes were announced and the client is sending them: skip what is left, or
            // give up on the connection if it broke.
            let in_step =
                connection.pending_raw() == 0 || connection.discard_pending_raw().await.is_ok();
            let code = if matches!(error, ServiceError::Conflict(_)) {
                2
            } else {
                3
            };
            send_json(connection, &answer(code, &error.to_string(), Value::Null)).await?;
            Ok((code, if in_step { Next::Continue } else { Next::Close }))
        }
    }
}

async fn download<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    connection: &mut Connection<S>,
    caller: Option<&Caller>,
    data: Value,
) -> std::io::Result<(i64, Next)> {
    let refuse = async |connection: &mut Connection<S>, code: i64, msg: &str| {
        send_json(connection, &answer(code, msg, Value::Null))
            .await
            .map(|()| (code, Next::Continue))
    };
    let Some(request) = parse::<Download>(data) else {
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
    let Ok(file) = netdisk.find_file(me, &request.file_name).await else {
        return refuse(connection, 4, "no such file").await;
    };
    if file.size as u64 != request.file_size {
        return refuse(connection, 2, "file_size does not match the stored file").await;
    }
    let mut download = match netdisk.download_file(me, file.id, 0).await {
        Ok(download) => download,
        Err(error) => return refuse(connection, 4, &error.to_string()).await,
    };
    send_json(
        connection,
        &answer(GO_AHEAD, "the bytes follow", Value::Null),
    )
    .await?;
    connection.send_raw(&mut download.transfer).await?;
    match connection.read_frame().await {
        Ok(Some(_acknowledgement)) => {
            send_json(connection, &answer(1, "downloaded", Value::Null)).await?;
            Ok((1, Next::Continue))
        }
        _ => Ok((1, Next::Close)),
    }
}
