//! The C/S chat door (default 127.0.0.1:8090): the chat protocol of `../shared/PROTOCOL.md`
//! section 4, byte for byte. `0001|username|password` logs in (`1001|1|nickname|username`, or
//! `1001|0||` for any failure); `0002|username|text` says `text` in the lobby, as the
//! logged-in user only; everyone else logged in here, or in the lobby through any other door or
//! server process, gets `1002|nickname|text`, the sender never its own message back.
//!
//! Messages end as `framing` says; answers go out in the client's style (with `\n` to a client
//! whose messages end with one, otherwise one message per write). A connection must log in
//! within `frame_timeout_secs`; a refused message (not logged in, another user's name, too
//! long, not UTF-8, too fast) sends nothing out and the connection carries on. A client that
//! stops reading is dropped once a write waits `stall_timeout_secs`: the room never waits for
//! it. A logged-in connection is listed among the lobby's people (what the browser and the
//! terminal client show) while it is open. The connection's session ends with it.

pub mod framing;

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use super::connection::Limits;
use super::door::{Door, ServeConnection, Served, Shutdown, loopback};
use crate::{Caller, ChatMessage, Here, LOBBY, Netdisk, RoomSubscription};
use framing::{Framer, Piece};

/// The C/S chat door.
pub const DOOR: Door = Door {
    name: "chat",
    default_addr: loopback(8090),
    open,
};

/// Most lobby messages written to a newline client at once.
const MAX_BATCH: usize = 64;

/// How long no byte may follow for a terminator-less message to be complete.
const BURST_PAUSE: Duration = Duration::from_millis(50);

fn open(netdisk: Netdisk, limits: Limits, shutdown: Shutdown) -> ServeConnection {
    Arc::new(move |stream: TcpStream| -> Served {
        let connection = ChatConnection::new(netdisk.clone(), stream, limits);
        Box::pin(connection.serve(shutdown.clone()))
    })
}

/// One chat client's connection.
struct ChatConnection {
    netdisk: Netdisk,
    reader: tokio::net::tcp::OwnedReadHalf,
    writer: OwnedWriteHalf,
    limits: Limits,
    framer: Framer,
    /// Answer with `\n` after each message.
    newline: bool,
    caller: Option<Caller>,
    lobby: Option<RoomSubscription>,
    /// Lists the logged-in caller among the lobby's people while the connection is open.
    here: Option<Here>,
    /// What is being written, kept from one write to the next.
    outgoing: Vec<u8>,
}

/// What ended a wait.
enum Woke {
    Read(std::io::Result<usize>),
    Paused,
    Heard(crate::Result<Arc<Line>>),
    Stop,
}

/// A lobby message as this door passes it on, rendered once per message and process (see
/// `next_rendered`).
struct Line {
    /// Who said it (who does not get it back).
    user: String,
    /// `1002|nickname|text`, without terminator.
    text: String,
}

/// How [`Line`]s are kept with their messages.
const FORM: &str = "chat-door";

fn render_line(message: &ChatMessage) -> Arc<Line> {
    Arc::new(Line {
        user: message.user.clone(),
        text: format!("1002|{}|{}", message.nickname, message.text),
    })
}

impl ChatConnection {
    fn new(netdisk: Netdisk, stream: TcpStream, limits: Limits) -> ChatConnection {
        let max = netdisk.config().chat_max_message_bytes;
        let (reader, writer) = stream.into_split();
        ChatConnection {
            netdisk,
            reader,
            writer,
            limits,
            framer: Framer::new(max),
            newline: false,
            caller: None,
            lobby: None,
            here: None,
            outgoing: Vec::new(),
        }
    }

    async fn serve(mut self, mut shutdown: Shutdown) {
        // Made once, not at each wake-up: a busy lobby wakes every connection per message.
        let login_deadline = tokio::time::sleep(self.limits.frame_timeout);
        tokio::pin!(login_deadline);
        let stopping = async move {
            let _ = shutdown.changed().await;
        };
        tokio::pin!(stopping);
        let mut buf = vec![0u8; 4096];
        loop {
            let woke = tokio::select! {
                () = &mut stopping => Woke::Stop,
                () = &mut login_deadline, if self.caller.is_none() => Woke::Stop,
                read = self.reader.read(&mut buf) => Woke::Read(read),
                // Made only when polled: a branch's future is made at every wake-up even when
                // its condition is false, and a timer is a clock read.
                () = async { tokio::time::sleep(BURST_PAUSE).await }, if self.framer.waits_for_pause() => Woke::Paused,
                heard = next(&mut self.lobby) => Woke::Heard(heard),
            };
            let pieces = match woke {
                Woke::Stop | Woke::Read(Ok(0) | Err(_)) => break,
                Woke::Read(Ok(n)) => self.framer.push(&buf[..n]),
                Woke::Paused => self.framer.pause().into_iter().collect(),
                Woke::Heard(Ok(line)) => {
                    if !self.pass_on(line).await {
                        break;
                    }
                    continue;
                }
                Woke::Heard(Err(error)) => {
                    tracing::warn!(%error, "the lobby could not be followed; closing");
                    break;
                }
            };
            for piece in pieces {
                if !self.handle(piece).await {
                    return self.close().await;
                }
            }
        }
        self.close().await
    }

    /// Handles one piece; false when the connection must close.
    async fn handle(&mut self, piece: Piece) -> bool {
        let text = match piece {
            Piece::Message { text, newline } => {
                self.newline = newline;
                text
            }
            Piece::TooLarge | Piece::NotUtf8 => {
                log_refusal("-", &format!("{piece:?}"), self.caller.as_ref());
                return true;
            }
        };
        let mut fields = text.splitn(3, '|');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("0001"), Some(name), Some(password)) => self.login(name, password).await,
            (Some("0002"), Some(name), Some(said)) => {
                self.say(name, said).await;
                true
            }
            (code, _, _) => {
                log_refusal(code.unwrap_or("-"), "unknown message", self.caller.as_ref());
                true
            }
        }
    }

    async fn login(&mut self, name: &str, password: &str) -> bool {
        if let Some(previous) = self.caller.take() {
            let _ = self.netdisk.accounts().logout(&previous).await;
            self.lobby = None;
            self.here = None;
        }
        let logged_in = match self.netdisk.accounts().login(name, password, None).await {
            Ok(outcome) => {
                let chat = self.netdisk.chat();
                let joined = tokio::try_join!(
                    chat.nickname(&outcome.caller),
                    chat.listen(Some(&outcome.caller), LOBBY),
                    chat.arrive(&outcome.caller, LOBBY),
                );
                match joined {
                    Ok((nickname, lobby, here)) => Some((outcome.caller, nickname, lobby, here)),
                    Err(error) => {
                        tracing::warn!(%error, "chat login could not complete");
                        None
                    }
                }
            }
            Err(_) => None,
        };
        let answer = match logged_in {
            Some((caller, nickname, lobby, here)) => {
                let answer = format!("1001|1|{nickname}|{}", caller.name());
                self.caller = Some(caller);
                self.lobby = Some(lobby);
                self.here = Some(here);
                answer
            }
            None => "1001|0||".to_owned(),
        };
        tracing::info!(
            protocol = "chat",
            r#type = "login",
            user = name,
            outcome = self.caller.is_some(),
            "request"
        );
        self.send(&answer).await
    }

    async fn say(&mut self, name: &str, text: &str) {
        let Some(caller) = self.caller.as_ref().filter(|c| c.name() == name) else {
            log_refusal("0002", "not logged in as this user", self.caller.as_ref());
            return;
        };
        if let Err(error) = self.netdisk.chat().say(caller, LOBBY, text).await {
            log_refusal("0002", &error.to_string(), Some(caller));
        }
    }

    /// Passes `first` on unless the client said it. A client whose messages end with `\n`
    /// also gets whatever else the lobby already has in the same write (a busy room costs a
    /// write per batch, not per message); a client without terminators gets one message per
    /// write, as it reads them. False when the client is gone or stopped reading.
    async fn pass_on(&mut self, first: Arc<Line>) -> bool {
        let mut lines = std::mem::take(&mut self.outgoing);
        lines.clear();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(line) = next {
            let mine = self.caller.as_ref().is_some_and(|c| c.name() == line.user);
            if !mine {
                lines.extend_from_slice(line.text.as_bytes());
                if self.newline {
                    lines.push(b'\n');
                }
            }
            taken += 1;
            // An error here is met again, and handled, by the serving loop's next wait.
            next = match &mut self.lobby {
                Some(lobby) if self.newline && taken < MAX_BATCH => lobby
                    .try_next_rendered(FORM, render_line)
                    .and_then(Result::ok),
                _ => None,
            };
        }
        let sent = lines.is_empty() || self.send_raw(&lines).await;
        self.outgoing = lines;
        sent
    }

    /// Writes one message in the client's style; false when the client is gone or stopped
    /// reading for longer than the stall timeout.
    async fn send(&mut self, message: &str) -> bool {
        let mut bytes = message.as_bytes().to_vec();
        if self.newline {
            bytes.push(b'\n');
        }
        self.send_raw(&bytes).await
    }

    /// Writes `bytes` as they are, on the terms of [`ChatConnection::send`].
    async fn send_raw(&mut self, bytes: &[u8]) -> bool {
        let written = unless_stalled(self.limits.stall_timeout, self.writer.write_all(bytes));
        matches!(written.await, Some(Ok(())))
    }

    async fn close(self) {
        if let Some(caller) = &self.caller {
            let _ = self.netdisk.accounts().logout(caller).await;
        }
    }
}

/// The next message of the lobby, or never when not logged in.
async fn next(lobby: &mut Option<RoomSubscription>) -> crate::Result<Arc<Line>> {
    match lobby {
        Some(lobby) => lobby.next_rendered(FORM, render_line).await,
        None => std::future::pending().await,
    }
}

/// Runs `sending` (a write to a chat client, on either door) to its end; `None` when it has not
/// ended within `limit`: the client stopped reading. The timer is made only when the first poll
/// does not end it: most writes end at once, and a timer per write and client (a clock read, a
/// hold on the runtime) was a good part of what a busy room costs.
pub(crate) async fn unless_stalled<T>(
    limit: Duration,
    sending: impl Future<Output = T>,
) -> Option<T> {
    let mut sending = std::pin::pin!(sending);
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(done) => Some(done),
        Poll::Pending => tokio::time::timeout(limit, sending).await.ok(),
    }
}

fn log_refusal(kind: &str, why: &str, caller: Option<&Caller>) {
    let user = caller.map_or("-", Caller::name);
    tracing::info!(
        protocol = "chat",
        r#type = kind,
        user,
        outcome = why,
        "refused"
    );
}
