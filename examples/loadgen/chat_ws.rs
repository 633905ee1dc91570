//! Mode `chat` over WebSocket: clients of a room's socket (`GET /chat/{room}/ws`, the JSON
//! messages of `docs/http-api.md`), the floor they are compared with, and the idle sockets of
//! the memory target (the same clients, many more of them, one talking).
//!
//! The floor is a bare tokio-tungstenite server on a [`Pool`] of loadgen's: it accepts any
//! WebSocket and broadcasts every text frame it receives, as it is, to every connected client
//! (the talker included, as the server does) through a `tokio::sync::broadcast` channel. No
//! database, no login, no JSON; its one setting is a small read buffer (see [`config`]). The same clients talk to it with the same frames
//! (`{"type":"say","text":"chat#..."}`), so they hear frames of about 40 bytes where the server
//! sends about 140; at these rates the bytes are not what costs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::baseline::Pool;
use crate::chat_load::{Ear, Heard, Mouth, Room, find_mark};
use crate::proto::run_limited;

/// The sockets' settings, loadgen's clients' and the floor's: a 4 KiB read buffer instead of
/// tungstenite's 128 KiB, which it zero-fills before every read (every time a socket is polled:
/// 100 000 times a second here) and which 10 000 sockets would hold resident. A longer frame (a
/// history page) grows the buffer as it needs.
fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// A client's socket.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The room every client enters (public: the server's `lobby`).
pub const ROOM_PATH: &str = "/chat/lobby/ws";

/// Sockets opened at once.
const CONNECT_CONCURRENCY: usize = 32;

/// How long a handshake, and the server's first messages, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Messages the floor's channel holds for its slowest client (the server's topics hold 256).
const FLOOR_CAPACITY: usize = 1024;

/// The sending half of a client.
pub struct WsMouth(SplitSink<Socket, Message>);

/// The receiving half of a client.
pub struct WsEar(SplitStream<Socket>);

impl Mouth for WsMouth {
    async fn say(&mut self, text: String) -> anyhow::Result<()> {
        let frame = format!(r#"{{"type":"say","text":"{text}"}}"#);
        Ok(self.0.send(Message::text(frame)).await?)
    }
}

impl Ear for WsEar {
    async fn hear(&mut self) -> anyhow::Result<Option<Heard>> {
        loop {
            let text = match self.0.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(error.into()),
            };
            if let Some((id, said)) = find_mark(text.as_bytes()) {
                return Ok(Some(Heard::Mark(id, said)));
            }
            if text.as_str().contains(r#""type":"error""#) {
                return Ok(Some(Heard::Refused(text.as_str().to_owned())));
            }
        }
    }
}

/// Opens a socket to `ws://addr{ROOM_PATH}` with `token` as its bearer token. Against the
/// server (`greeted`), waits for its `welcome` and `history`: from then on the socket hears
/// everything said in the room.
async fn connect(addr: SocketAddr, token: &str, greeted: bool) -> anyhow::Result<(WsMouth, WsEar)> {
    let mut request = format!("ws://{addr}{ROOM_PATH}").into_client_request()?;
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let opening = async {
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config()), true).await?;
        let (sink, mut stream) = socket.split();
        if greeted {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str().contains(r#""history""#) => {
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => bail!("the server closed the socket before its history"),
                }
            }
        }
        anyhow::Ok((WsMouth(sink), WsEar(stream)))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, opening)
        .await
        .context("opening a socket timed out")?
}

/// Opens one socket per token (the talkers' first) into a room with `talkers` talkers;
/// `greeted` against the server (see [`connect`]).
pub async fn room(
    addr: SocketAddr,
    tokens: Vec<Arc<str>>,
    talkers: usize,
    greeted: bool,
) -> anyhow::Result<Room<WsMouth, WsEar>> {
    let count = tokens.len();
    let clients = run_limited(count, CONNECT_CONCURRENCY, move |i| {
        let token = tokens[i].clone();
        async move { connect(addr, &token, greeted).await }
    })
    .await?;
    Ok(Room::new(clients, talkers, true))
}

/// Starts the floor on `workers` threads; its address.
pub fn floor(workers: usize) -> anyhow::Result<(Pool, SocketAddr)> {
    let pool = Pool::new(workers)?;
    let (room, _) = broadcast::channel(FLOOR_CAPACITY);
    let addr = pool.listen(move |stream| serve_floor(stream, room.clone()))?;
    Ok((pool, addr))
}

/// One floor connection: every text frame goes to `room`, everything in `room` goes out.
/// A client that falls more than the channel's capacity behind misses what it skipped (and
/// loadgen counts it lost). Ends quietly when the client goes.
async fn serve_floor(stream: TcpStream, room: broadcast::Sender<Utf8Bytes>) -> std::io::Result<()> {
    let mut heard = room.subscribe();
    let Ok(socket) = tokio_tungstenite::accept_async_with_config(stream, Some(config())).await
    else {
        return Ok(());
    };
    let (mut sink, mut source) = socket.split();
    loop {
        tokio::select! {
            frame = source.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let _ = room.send(text);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Ok(()),
            },
            said = heard.recv() => match said {
                Ok(text) => {
                    if sink.send(Message::Text(text)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}
