//! A room's connection that keeps itself up: a [`Link`] runs one task that opens the room's
//! WebSocket with the session's bearer token, turns what the server sends into [`Event`]s, and
//! sends what the screen asks ([`Command`]s). When the socket drops it says so
//! ([`Event::Lost`]) and tries again with capped exponential back-off; on the new socket it asks
//! `earlier` pages until the history reaches the last message seen before the drop, so nothing
//! said in between is missed. When the server no longer knows the session (the handshake is
//! answered 401, or it takes the socket for a guest's), it logs in again with the remembered
//! credentials.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::api::{ApiError, Session};
use super::protocol::{Incoming, Outgoing, Person, Said};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening a socket may take.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// How long sending a close frame may take (a server that stopped reading gets none).
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// How long to wait between tries: `first`, doubling after each failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 0.5 s, doubling to 5 s.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row (0 for the first one).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// What happened on the link, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A socket is open and the server said welcome.
    Connected {
        /// The room.
        room: String,
        /// The account the server took the socket for (`None`: as a guest, read-only).
        user: Option<String>,
        /// Whether this socket may say anything.
        can_talk: bool,
        /// True when it replaces a lost socket to the same room (a reconnection).
        again: bool,
    },
    /// The newest messages of the room, oldest first. After a reconnection they overlap what
    /// was seen before; merge them by `seq`.
    History(Vec<Said>),
    /// Something said in the room.
    Message(Said),
    /// An older page, oldest first: asked by [`Link::earlier`], or by the link itself to fill
    /// the gap a reconnection left.
    Earlier(Vec<Said>),
    /// Who came and went (from servers that report presence; the first one on each socket
    /// lists everyone in the room).
    Presence {
        /// Those who came in.
        joined: Vec<Person>,
        /// The account names of those who left.
        left: Vec<String>,
    },
    /// The server (or the link, `not_connected`) refused something asked.
    Refused {
        /// The code (`too_fast`, `not_logged_in`, `bad_request`, `not_connected`, ...).
        code: String,
        /// What to tell the person.
        message: String,
    },
    /// The socket dropped, or could not be opened: the next try is in `retry_in`.
    Lost {
        /// Why.
        reason: String,
        /// When the next try is.
        retry_in: Duration,
    },
    /// The room cannot be entered (no such room, not a member), or logging in again was
    /// refused: nothing more is tried until [`Link::join`].
    Failed(String),
}

/// What the screen asks of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Say(String),
    Earlier(i64),
    Join(String),
}

/// One room's connection, kept up by a task of its own. Dropping it (or [`Link::close`]) closes
/// the socket.
pub struct Link {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<()>,
}

impl Link {
    /// Starts connecting to `room` (on the current tokio runtime).
    pub fn open(session: Arc<Session>, room: &str, backoff: Backoff) -> Link {
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let task = Task {
            session,
            backoff,
            events: events_tx,
            commands: commands_rx,
            room: room.to_owned(),
            resume: Resume::default(),
            entered: false,
            logged_in_again: false,
        };
        Link {
            commands,
            events,
            task: tokio::spawn(task.run()),
        }
    }

    /// Says `text` in the room (it comes back as an [`Event::Message`]).
    pub fn say(&self, text: &str) {
        self.send(Command::Say(text.to_owned()));
    }

    /// Asks for the page of messages before `before` (answered by an [`Event::Earlier`]).
    pub fn earlier(&self, before: i64) {
        self.send(Command::Earlier(before));
    }

    /// Leaves the room for `room`.
    pub fn join(&self, room: &str) {
        self.send(Command::Join(room.to_owned()));
    }

    fn send(&self, command: Command) {
        // Fails only when the task is gone; `next` then says so by returning `None`.
        let _ = self.commands.send(command);
    }

    /// The next event; `None` once the link's task has ended (it ends only if it panicked, or
    /// after [`Link::close`]).
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Closes the socket (a close frame to the server) and waits for the task to end.
    pub async fn close(self) {
        let Link { commands, task, .. } = self;
        drop(commands);
        let _ = task.await;
    }
}

/// What the link keeps of a room across sockets: the newest `seq` seen, and how far down a
/// gap left by a reconnection is being filled.
#[derive(Debug, Default)]
struct Resume {
    newest: Option<i64>,
    filling_down_to: Option<i64>,
}

impl Resume {
    /// Notes a socket's history; returns the `before` of the `earlier` page to ask when the
    /// history does not reach back to the message after the newest seen before.
    fn on_history(&mut self, messages: &[Said]) -> Option<i64> {
        let oldest = messages.first().map(|m| m.seq);
        self.filling_down_to = match (self.newest, oldest) {
            (Some(newest), Some(oldest)) if oldest > newest + 1 => Some(newest + 1),
            _ => None,
        };
        self.note(messages);
        self.filling_down_to.and(oldest)
    }

    /// Notes an `earlier` page; returns the `before` of the next page while a gap is still open.
    fn on_earlier(&mut self, messages: &[Said]) -> Option<i64> {
        let target = self.filling_down_to?;
        match messages.first() {
            Some(oldest) if oldest.seq > target => Some(oldest.seq),
            _ => {
                self.filling_down_to = None;
                None
            }
        }
    }

    /// Notes messages seen.
    fn note(&mut self, messages: &[Said]) {
        if let Some(seq) = messages.iter().map(|m| m.seq).max() {
            self.newest = Some(self.newest.map_or(seq, |newest| newest.max(seq)));
        }
    }
}

/// How one socket (or one try at opening one) ended.
enum Outcome {
    /// The screen is gone.
    Quit,
    /// The screen asked for another room.
    Join(String),
    /// The server does not know the session any more.
    LoginAgain,
    /// Worth trying again after a wait.
    Lost(String),
    /// Not worth trying again.
    Refused(String),
}

/// What to do once a wait is over.
enum Next {
    /// Open the same room again.
    Retry,
    /// Open this room instead.
    Join(String),
    /// End: the screen is gone.
    Quit,
}

/// The link's task.
struct Task {
    session: Arc<Session>,
    backoff: Backoff,
    events: mpsc::UnboundedSender<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
    room: String,
    resume: Resume,
    /// Whether a socket to this room was open before (the next one is a reconnection).
    entered: bool,
    /// Whether the last thing done was logging in again (so a guest's welcome is taken as it
    /// is rather than logging in again and again).
    logged_in_again: bool,
}

impl Task {
    async fn run(mut self) {
        let mut failures = 0;
        loop {
            let outcome = match self.open().await {
                Ok(mut socket) => {
                    let outcome = self.serve(&mut socket, &mut failures).await;
                    // The server may be gone already: a close frame is a courtesy.
                    let _ = tokio::time::timeout(CLOSE_LIMIT, socket.close(None)).await;
                    outcome
                }
                Err(outcome) => outcome,
            };
            let next = match outcome {
                Outcome::Quit => Next::Quit,
                Outcome::Join(room) => Next::Join(room),
                Outcome::LoginAgain => match self.session.login_again().await {
                    Ok(()) => {
                        self.logged_in_again = true;
                        Next::Retry
                    }
                    Err(error @ ApiError::Refused { .. }) => {
                        self.emit(Event::Failed(format!(
                            "logging in again was refused: {error}"
                        )));
                        self.idle(None).await
                    }
                    Err(error) => self.wait_after(error.to_string(), &mut failures).await,
                },
                Outcome::Lost(reason) => self.wait_after(reason, &mut failures).await,
                Outcome::Refused(reason) => {
                    self.emit(Event::Failed(reason));
                    self.idle(None).await
                }
            };
            match next {
                Next::Quit => return,
                Next::Join(room) => {
                    self.room = room;
                    self.resume = Resume::default();
                    self.entered = false;
                    failures = 0;
                }
                Next::Retry => {}
            }
        }
    }

    /// Says that the socket is down and waits before the next try.
    async fn wait_after(&mut self, reason: String, failures: &mut u32) -> Next {
        let retry_in = self.backoff.delay(*failures);
        *failures = failures.saturating_add(1);
        self.emit(Event::Lost { reason, retry_in });
        self.idle(Some(retry_in)).await
    }

    /// Waits `for_how_long` (until the screen asks for a room when `None`) while not
    /// connected, answering the screen meanwhile.
    async fn idle(&mut self, for_how_long: Option<Duration>) -> Next {
        let sleep = tokio::time::sleep(for_how_long.unwrap_or_default());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep, if for_how_long.is_some() => return Next::Retry,
                command = self.commands.recv() => match command {
                    None => return Next::Quit,
                    Some(Command::Join(room)) => return Next::Join(room),
                    Some(Command::Say(_)) => self.emit(Event::Refused {
                        code: "not_connected".into(),
                        message: "not connected: nothing was sent".into(),
                    }),
                    Some(Command::Earlier(_)) => {}
                },
            }
        }
    }

    /// Opens the room's socket with the session's token.
    async fn open(&mut self) -> Result<Socket, Outcome> {
        let url = self.session.socket_url(&self.room);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| Outcome::Refused(format!("bad address {url}: {e}")))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.session.token()))
            .map_err(|_| Outcome::Refused("the session token is not a header value".into()))?;
        request.headers_mut().insert(header::AUTHORIZATION, bearer);
        let opened =
            tokio::time::timeout(HANDSHAKE_LIMIT, tokio_tungstenite::connect_async(request)).await;
        match opened {
            Err(_) => Err(Outcome::Lost("the server did not answer in time".into())),
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(WsError::Http(response))) => {
                let status = response.status();
                let body = response.body().as_deref().unwrap_or_default();
                Err(self.refused_handshake(status, &String::from_utf8_lossy(body)))
            }
            Ok(Err(error)) => Err(Outcome::Lost(error.to_string())),
        }
    }

    /// What to do about a handshake answered `status` with `body`.
    fn refused_handshake(&self, status: StatusCode, body: &str) -> Outcome {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the server answered {status}"));
        let refused = || Outcome::Refused(format!("room {:?}: {message}", self.room));
        match status {
            StatusCode::UNAUTHORIZED if !self.logged_in_again => Outcome::LoginAgain,
            // A members-only room refuses a guest: the session may have ended since we were in.
            StatusCode::FORBIDDEN if self.entered && !self.logged_in_again => Outcome::LoginAgain,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => refused(),
            _ if status.is_client_error() => refused(),
            _ => Outcome::Lost(message),
        }
    }

    /// Serves one open socket until it ends.
    async fn serve(&mut self, socket: &mut Socket, failures: &mut u32) -> Outcome {
        loop {
            tokio::select! {
                frame = socket.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            let reason = frame.map(|f| f.reason.to_string()).filter(|r| !r.is_empty());
                            return Outcome::Lost(reason.unwrap_or_else(|| "the server closed the connection".into()));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => return Outcome::Lost(error.to_string()),
                        None => return Outcome::Lost("the server closed the connection".into()),
                    };
                    let Some(incoming) = Incoming::parse(&text) else { continue };
                    if let Some(outcome) = self.receive(socket, incoming, failures).await {
                        return outcome;
                    }
                }
                command = self.commands.recv() => {
                    let request = match command {
                        None => return Outcome::Quit,
                        Some(Command::Join(room)) => return Outcome::Join(room),
                        Some(Command::Say(text)) => Outgoing::Say { text },
                        Some(Command::Earlier(before)) => Outgoing::Earlier { before },
                    };
                    if let Err(error) = send(socket, &request).await {
                        return Outcome::Lost(error.to_string());
                    }
                }
            }
        }
    }

    /// Handles one message from the server; an outcome when the socket is done with.
    async fn receive(
        &mut self,
        socket: &mut Socket,
        incoming: Incoming,
        failures: &mut u32,
    ) -> Option<Outcome> {
        let (event, ask) = match incoming {
            Incoming::Welcome { user: None, .. } if !self.logged_in_again => {
                return Some(Outcome::LoginAgain);
            }
            Incoming::Welcome {
                room,
                user,
                can_talk,
            } => {
                *failures = 0;
                self.logged_in_again = false;
                let again = std::mem::replace(&mut self.entered, true);
                let connected = Event::Connected {
                    room,
                    user,
                    can_talk,
                    again,
                };
                (connected, None)
            }
            Incoming::History { messages } => {
                let ask = self.resume.on_history(&messages);
                (Event::History(messages), ask)
            }
            Incoming::Message { message } => {
                self.resume.note(std::slice::from_ref(&message));
                (Event::Message(message), None)
            }
            Incoming::Earlier { messages } => {
                let ask = self.resume.on_earlier(&messages);
                (Event::Earlier(messages), ask)
            }
            Incoming::Presence { joined, left } => (Event::Presence { joined, left }, None),
            Incoming::Error { error, message } => (
                Event::Refused {
                    code: error,
                    message,
                },
                None,
            ),
        };
        self.emit(event);
        let before = ask?;
        let sent = send(socket, &Outgoing::Earlier { before }).await;
        sent.err().map(|error| Outcome::Lost(error.to_string()))
    }

    fn emit(&self, event: Event) {
        // The screen may be gone; the task then ends at its next look at the commands.
        let _ = self.events.send(event);
    }
}

async fn send(socket: &mut Socket, request: &Outgoing) -> Result<(), WsError> {
    socket.send(Message::text(request.to_json())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seqs: std::ops::RangeInclusive<i64>) -> Vec<Said> {
        seqs.map(|seq| Said {
            seq,
            user: "bob".into(),
            nickname: "Bob".into(),
            text: format!("m{seq}"),
            sent_at_ms: 0,
        })
        .collect()
    }

    #[test]
    fn backoff_doubles_from_half_a_second_to_five() {
        let backoff = Backoff::default();
        let delays: Vec<u128> = (0..6).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn a_first_history_asks_for_nothing() {
        let mut resume = Resume::default();
        assert_eq!(resume.on_history(&page(51..=100)), None);
        assert_eq!(resume.newest, Some(100));
    }

    #[test]
    fn a_history_that_overlaps_or_touches_what_was_seen_asks_for_nothing() {
        let mut resume = Resume::default();
        resume.on_history(&page(1..=10));
        resume.note(&page(11..=11));
        assert_eq!(resume.on_history(&page(5..=20)), None, "overlaps");
        assert_eq!(
            resume.on_history(&page(21..=30)),
            None,
            "starts right after"
        );
        assert_eq!(resume.on_history(&[]), None, "an empty room");
        assert_eq!(resume.newest, Some(30));
    }

    #[test]
    fn a_gap_after_a_reconnection_is_filled_page_by_page_down_to_the_last_seen() {
        let mut resume = Resume::default();
        resume.on_history(&page(1..=40));
        // 150 messages were said while the socket was down: the new history is 141..=190.
        assert_eq!(resume.on_history(&page(141..=190)), Some(141));
        assert_eq!(resume.on_earlier(&page(91..=140)), Some(91));
        assert_eq!(resume.on_earlier(&page(41..=90)), None, "reached 41");
        assert_eq!(
            resume.on_earlier(&page(1..=40)),
            None,
            "a page asked by the screen"
        );
        assert_eq!(resume.newest, Some(190));
    }

    #[test]
    fn gap_filling_stops_at_the_start_of_the_room() {
        let mut resume = Resume::default();
        resume.on_history(&page(1..=40));
        assert_eq!(resume.on_history(&page(100..=149)), Some(100));
        assert_eq!(resume.on_earlier(&[]), None);
        assert_eq!(resume.filling_down_to, None);
    }
}
