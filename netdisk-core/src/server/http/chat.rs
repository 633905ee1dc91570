//! Chat rooms in the browser: the room list (with the create-room form for those allowed), a
//! room's page, and its WebSocket (`/chat/{room}/ws`), whose JSON messages `docs/http-api.md`
//! describes. Guests read public rooms live; talking needs a login. The rules are the chat
//! service's; a page only hides what a person may not do.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::json;

use super::auth::{Member, Visitor};
use super::pages::{Nav, render, see};
use super::{App, ConnectionHold};
use super::{failure, same_origin};
use crate::server::chat::unless_stalled;
use crate::{
    Caller, ChatMessage, People, Permission, Person, RoomPeople, RoomSubscription, RoomView,
    ServiceError,
};

/// Messages sent on entering a room, and per "earlier" page.
const PAGE: u64 = 50;
/// A socket's read buffer: requests are small (a longer frame grows it as it needs). tungstenite
/// zeroes it at every read, which a busy room's sockets attempt after each message they send.
const READ_BUFFER: usize = 1024;
/// Most messages written to a socket at once.
const MAX_BATCH: usize = 64;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/chat", get(rooms_page))
        .route("/chat/rooms", post(create_room))
        .route("/chat/{room}", get(room_page))
        .route("/chat/{room}/ws", get(room_socket))
}

fn nav(visitor: Option<&Caller>) -> Nav {
    match visitor {
        Some(caller) => Nav::of(caller, "chat"),
        None => Nav::anonymous("chat"),
    }
}

#[derive(Template)]
#[template(path = "chat_rooms.html")]
struct RoomsPage {
    nav: Nav,
    rooms: Vec<RoomView>,
    may_create: bool,
}

async fn rooms_page(State(app): State<App>, Visitor(visitor): Visitor) -> Response {
    let chat = app.netdisk.chat();
    let may_create = match &visitor {
        Some(caller) => chat.has(caller, Permission::CreateRoom).await,
        None => Ok(false),
    };
    match (chat.rooms(visitor.as_ref()).await, may_create) {
        (Ok(rooms), Ok(may_create)) => render(&RoomsPage {
            nav: nav(visitor.as_ref()),
            rooms,
            may_create,
        }),
        (Err(error), _) | (_, Err(error)) => failure::page(error, Some(nav(visitor.as_ref()))),
    }
}

#[derive(Deserialize)]
struct NewRoom {
    name: String,
    #[serde(default)]
    description: String,
    members_only: Option<String>,
}

async fn create_room(
    State(app): State<App>,
    Member(caller): Member,
    Form(form): Form<NewRoom>,
) -> Response {
    let members_only = form.members_only.is_some();
    let made = app
        .netdisk
        .chat()
        .create_room(&caller, form.name.trim(), &form.description, members_only)
        .await;
    match made {
        Ok(room) => see(&format!("/chat/{}", encode(&room.name))),
        Err(error) => failure::page(error, Some(nav(Some(&caller)))),
    }
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Template)]
#[template(path = "chat_room.html")]
struct RoomPage {
    nav: Nav,
    room: RoomView,
    address: String,
    can_talk: bool,
}

async fn room_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(room): Path<String>,
) -> Response {
    match app.netdisk.chat().room(visitor.as_ref(), &room).await {
        Ok(room) => render(&RoomPage {
            address: encode(&room.name),
            nav: nav(visitor.as_ref()),
            can_talk: visitor.is_some(),
            room,
        }),
        Err(error) => failure::page(error, Some(nav(visitor.as_ref()))),
    }
}

/// What a client sends on the socket.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    /// Say `text` in the room.
    Say { text: String },
    /// The page of messages before `before`.
    Earlier { before: i64 },
}

/// `GET /chat/{room}/ws`: the room, live. Refused (403) when the handshake comes from another
/// site's page; a room the visitor may not enter is refused before the upgrade.
async fn room_socket(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(room): Path<String>,
    hold: Option<Extension<ConnectionHold>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers always send `Origin` on a handshake: when present it must name this host.
    if same_origin::origin_names_host(&headers) == Some(false) {
        return (
            StatusCode::FORBIDDEN,
            "refused: a chat socket opens from this site's pages only",
        )
            .into_response();
    }
    // A stale cookie makes a guest (the page shows a guest's view); a bearer token that is
    // no session is an error the client must hear (it logs in again).
    if visitor.is_none() && headers.contains_key(axum::http::header::AUTHORIZATION) {
        return failure::api(ServiceError::NotLoggedIn);
    }
    let chat = app.netdisk.chat();
    let entered = match chat.room(visitor.as_ref(), &room).await {
        Ok(room) => room,
        Err(error) => return failure::api(error),
    };
    let following = tokio::try_join!(
        chat.listen(visitor.as_ref(), &entered.name),
        chat.people(visitor.as_ref(), &entered.name),
    );
    let (listening, people) = match following {
        Ok(following) => following,
        Err(error) => return failure::api(error),
    };
    let max = app.netdisk.config().chat_max_message_bytes + 1024;
    upgrade
        // tungstenite's default 128 KiB read buffer is zeroed at each read and kept per socket:
        // most of the CPU of a busy room and of the memory of idle sockets (`loadgen chat`).
        .read_buffer_size(READ_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            // The connection's slot stays taken while the socket is open.
            let _hold = hold;
            let room = Room {
                view: entered,
                listening,
                people,
            };
            talk(app, visitor, room, socket).await
        })
}

/// A room a socket follows.
struct Room {
    view: RoomView,
    listening: RoomSubscription,
    people: RoomPeople,
}

/// Serves one socket: the newest messages and who is here, then everything said and everyone
/// who comes and goes, and what the client says. A logged-in visitor is listed in the room
/// while the socket is open. It is pinged every `chat_ping_secs`; silent (pings unanswered)
/// for two and a half times that, it is closed, so a client that vanished leaves within
/// seconds.
async fn talk(app: App, visitor: Option<Caller>, room: Room, mut socket: WebSocket) {
    let chat = app.netdisk.chat().clone();
    let Room {
        view: room,
        mut listening,
        mut people,
    } = room;
    let _here = match &visitor {
        Some(caller) => match chat.arrive(caller, &room.name).await {
            Ok(here) => Some(here),
            Err(_) => return,
        },
        None => None,
    };
    let welcome = json!({
        "type": "welcome",
        "room": room.name,
        "user": visitor.as_ref().map(Caller::name),
        "can_talk": visitor.is_some(),
    });
    let newest = chat.history(visitor.as_ref(), &room.name, None, PAGE).await;
    let Ok(mut newest) = newest else { return };
    newest.reverse();
    let history = json!({ "type": "history", "messages": newest });
    if !send(&app, &mut socket, &welcome).await || !send(&app, &mut socket, &history).await {
        return;
    }
    let mut shown = Arc::new(People::new());
    let mut shown_version = 0;
    let now = people.now();
    if now.version > 0 {
        (shown, shown_version) = (now.people.clone(), now.version);
        if !send(
            &app,
            &mut socket,
            &presence(now.people.values().cloned().collect(), Vec::new()),
        )
        .await
        {
            return;
        }
    }
    // The waits on shared channels (shutdown, the room's people) live across iterations: made
    // anew at each message, a thousand sockets would register and unregister with the same
    // channels a hundred times a second.
    let mut shutdown = app.shutdown.clone();
    let stopping = async move {
        let _ = shutdown.changed().await;
    };
    tokio::pin!(stopping);
    let changes = futures_util::stream::unfold(people, |mut people| async move {
        let now = people.changed().await;
        Some((now, people))
    });
    tokio::pin!(changes);
    let ping_every = Duration::from_secs(app.netdisk.config().chat_ping_secs.max(1));
    let silence_limit = ping_every * 5 / 2;
    let mut ping = tokio::time::interval(ping_every);
    let mut last_heard = tokio::time::Instant::now();
    let mut frames = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            () = &mut stopping => {
                let bye = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("the server is shutting down") };
                let _ = socket.send(Message::Close(Some(bye))).await;
                return;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > silence_limit {
                    return;
                }
                let sent = unless_stalled(app.limits.stall_timeout, socket.send(Message::Ping(Default::default())));
                if !matches!(sent.await, Some(Ok(()))) {
                    return;
                }
            }
            Some(now) = changes.next() => {
                let (joined, left) = if now.version == shown_version + 1 {
                    (now.joined.clone(), now.left.clone())
                } else {
                    now.since(&shown)
                };
                (shown, shown_version) = (now.people.clone(), now.version);
                if !send(&app, &mut socket, &presence(joined, left)).await {
                    return;
                }
            }
            heard = listening.next_rendered("ws", said) => match heard {
                Ok(frame) => {
                    // This message and any others already here go out in one write: a busy
                    // room costs a write per batch, not per message.
                    frames.push(frame);
                    while frames.len() < MAX_BATCH {
                        match listening.try_next_rendered("ws", said) {
                            Some(Ok(frame)) => frames.push(frame),
                            // An error is met again, and handled, by the next wait.
                            Some(Err(_)) | None => break,
                        }
                    }
                    if !send_frames(&app, &mut socket, &mut frames).await {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "a chat room could not be followed; closing the socket");
                    return;
                }
            },
            received = socket.recv() => {
                last_heard = tokio::time::Instant::now();
                let text = match received {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let refused = ServiceError::BadRequest("messages are JSON text".into());
                        if !send(&app, &mut socket, &error(&refused)).await { return; }
                        continue;
                    }
                    _ => return,
                };
                let answer = answer(&chat, visitor.as_ref(), &room.name, text.as_str()).await;
                if let Some(answer) = answer
                    && !send(&app, &mut socket, &answer).await
                {
                    return;
                }
            }
        }
    }
}

/// The answer to one request: nothing for a message said (it comes back like everyone's),
/// a page for "earlier", an error for a refusal.
async fn answer(
    chat: &crate::Chat,
    visitor: Option<&Caller>,
    room: &str,
    text: &str,
) -> Option<serde_json::Value> {
    let request: Request = match serde_json::from_str(text) {
        Ok(request) => request,
        Err(e) => {
            return Some(error(&ServiceError::BadRequest(format!(
                "not a request: {e}"
            ))));
        }
    };
    match request {
        Request::Say { text } => {
            let Some(caller) = visitor else {
                return Some(error(&ServiceError::NotLoggedIn));
            };
            chat.say(caller, room, &text).await.err().map(|e| error(&e))
        }
        Request::Earlier { before } => {
            match chat.history(visitor, room, Some(before), PAGE).await {
                Ok(mut page) => {
                    page.reverse();
                    Some(json!({ "type": "earlier", "messages": page }))
                }
                Err(e) => Some(error(&e)),
            }
        }
    }
}

/// Who arrived (or changed their nickname) and who left.
fn presence(joined: Vec<Person>, left: Vec<String>) -> serde_json::Value {
    json!({ "type": "presence", "joined": joined, "left": left })
}

/// A message's frame (rendered once per message and process: see `next_rendered`).
fn said(message: &ChatMessage) -> Utf8Bytes {
    json!({ "type": "message", "message": message })
        .to_string()
        .into()
}

fn error(error: &ServiceError) -> serde_json::Value {
    json!({ "type": "error", "error": error.code(), "message": error.to_string() })
}

/// Sends one JSON message; false when the client is gone or has not read for
/// `stall_timeout_secs` (it is dropped: the room never waits for it).
async fn send(app: &App, socket: &mut WebSocket, value: &serde_json::Value) -> bool {
    let sent = socket.send(Message::Text(value.to_string().into()));
    matches!(
        unless_stalled(app.limits.stall_timeout, sent).await,
        Some(Ok(()))
    )
}

/// Sends rendered text frames (taking them all from `frames`) with one flush, on the terms of
/// [`send`].
async fn send_frames(app: &App, socket: &mut WebSocket, frames: &mut Vec<Utf8Bytes>) -> bool {
    let sent = async {
        for frame in frames.drain(..) {
            socket.feed(Message::Text(frame)).await?;
        }
        socket.flush().await
    };
    matches!(
        unless_stalled(app.limits.stall_timeout, sent).await,
        Some(Ok(()))
    )
}
