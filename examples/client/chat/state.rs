//! The chat screen's state, without I/O or drawing: the room's messages ordered and
//! deduplicated by `seq`, the people in the room, the input line, the scroll position and the
//! connection's status. Events from the connection ([`Chat::apply`]) and keys ([`Chat::key`])
//! change it; a key may return an [`Action`] for the connection. Messages, nicknames and
//! refusals from the network are cleaned of control characters on the way in ([`clean`]);
//! room names stay exact (they are addresses) and are cleaned where they are drawn.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Event, Room, Said};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The help line `/help` shows.
const HELP: &str = "Enter sends · PgUp/PgDn scroll (PgUp at the top loads earlier) · Tab next room · /join ROOM · Esc quits";

/// What the connection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Opening the room's first socket.
    Connecting,
    /// A socket is open.
    Connected,
    /// The socket dropped; the next try is at `retry_at`.
    Lost {
        /// When the next try is.
        retry_at: Instant,
        /// Why it dropped.
        reason: String,
    },
    /// The room cannot be entered; waiting for another one.
    Failed(String),
}

/// A line of news under the messages: how the last thing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What to say.
    pub text: String,
    /// A refusal or a failure, rather than good news.
    pub is_error: bool,
}

/// What a key asks of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Say this.
    Say(String),
    /// Load the page before this `seq`.
    Earlier(i64),
    /// Go to this room.
    Join(String),
    /// Leave the program.
    Quit,
}

/// What the last drawing of the messages showed, for scrolling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    /// Lines of messages on screen.
    pub height: usize,
    /// How far up (in lines from the bottom) the messages scroll: the oldest is at the top.
    pub max_scroll: usize,
}

/// The chat screen's state.
#[derive(Debug)]
pub struct Chat {
    me: String,
    rooms: Vec<Room>,
    room: String,
    messages: BTreeMap<i64, Said>,
    people: BTreeMap<String, String>,
    presence_seen: bool,
    input: String,
    scroll: usize,
    view: View,
    status: Status,
    user: Option<String>,
    can_talk: bool,
    awaiting_welcome: bool,
    earlier_asked: bool,
    start_reached: bool,
    notice: Option<Notice>,
}

impl Chat {
    /// The screen of account `me`, entering `room`, with the rooms it may enter.
    pub fn new(me: &str, rooms: Vec<Room>, room: &str) -> Chat {
        Chat {
            me: me.to_owned(),
            rooms,
            room: room.to_owned(),
            messages: BTreeMap::new(),
            people: BTreeMap::new(),
            presence_seen: false,
            input: String::new(),
            scroll: 0,
            view: View::default(),
            status: Status::Connecting,
            user: None,
            can_talk: false,
            awaiting_welcome: true,
            earlier_asked: false,
            start_reached: false,
            notice: None,
        }
    }

    /// The account this screen logs in as.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The rooms one may enter, the lobby first.
    pub fn rooms(&self) -> &[Room] {
        &self.rooms
    }

    /// The current room's name.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// The room's messages in `seq` order, each once, cleaned.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &Said> {
        self.messages.values()
    }

    /// The nicknames of the people in the room (cleaned, sorted), with whether each is this
    /// account; `None` until the server reports presence.
    pub fn people(&self) -> Option<Vec<(&str, bool)>> {
        if !self.presence_seen {
            return None;
        }
        let mut people: Vec<(&str, bool)> = self
            .people
            .iter()
            .map(|(user, nickname)| (nickname.as_str(), *user == self.me))
            .collect();
        people.sort_by_cached_key(|(nickname, _)| nickname.to_lowercase());
        Some(people)
    }

    /// The input line.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// How far up the messages are scrolled, in lines from the bottom.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// The connection's status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The account the server took the socket for (`None` for a guest, or before welcome).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The latest news, if any.
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Whether an `earlier` page was asked and has not come yet.
    pub fn loading_earlier(&self) -> bool {
        self.earlier_asked
    }

    /// Whether the room's first message is here (or the room is empty).
    pub fn start_reached(&self) -> bool {
        self.start_reached
    }

    /// Whether a countdown is on screen (the screen then redraws as time passes).
    pub fn counting_down(&self) -> bool {
        matches!(self.status, Status::Lost { .. })
    }

    /// Takes note of what the last drawing showed.
    pub fn set_view(&mut self, view: View) {
        self.view = view;
        self.scroll = self.scroll.min(view.max_scroll);
    }

    /// Applies what the connection reported at `now`.
    pub fn apply(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected {
                room,
                user,
                can_talk,
                again,
            } => {
                if room != self.room {
                    return;
                }
                self.awaiting_welcome = false;
                self.status = Status::Connected;
                self.user = user.map(|u| clean(&u));
                self.can_talk = can_talk;
                // A new socket's first presence lists everyone anew.
                self.people.clear();
                self.presence_seen = false;
                self.earlier_asked = false;
                let text = match (again, can_talk) {
                    (true, _) => "reconnected".to_owned(),
                    (false, true) => format!("entered #{}", clean(&room)),
                    (false, false) => "read-only: the server took this socket for a guest's".into(),
                };
                self.notice = Some(Notice {
                    text,
                    is_error: !can_talk,
                });
            }
            // Until the new room's welcome, anything else is the old room's.
            _ if self.awaiting_welcome
                && !matches!(event, Event::Lost { .. } | Event::Failed(_)) => {}
            Event::History(messages) => {
                if messages.is_empty() {
                    self.start_reached = true;
                }
                self.merge(&messages);
            }
            Event::Message(message) => self.merge(std::slice::from_ref(&message)),
            Event::Earlier(messages) => {
                self.earlier_asked = false;
                if messages.is_empty() {
                    self.start_reached = true;
                }
                self.merge(&messages);
            }
            Event::Presence { joined, left } => {
                self.presence_seen = true;
                for user in left {
                    self.people.remove(&user);
                }
                for person in joined {
                    self.people.insert(person.user, clean(&person.nickname));
                }
            }
            Event::Refused { code, message } => {
                self.notice = Some(Notice {
                    text: format!("{}: {}", clean(&code), clean(&message)),
                    is_error: true,
                });
            }
            Event::Lost { reason, retry_in } => {
                self.status = Status::Lost {
                    retry_at: now + retry_in,
                    reason: clean(&reason),
                };
                self.earlier_asked = false;
                self.notice = None;
            }
            Event::Failed(reason) => {
                self.status = Status::Failed(clean(&reason));
                self.earlier_asked = false;
            }
        }
    }

    fn merge(&mut self, messages: &[Said]) {
        for message in messages {
            if message.seq <= 1 {
                self.start_reached = true;
            }
            self.messages.entry(message.seq).or_insert_with(|| Said {
                seq: message.seq,
                user: clean(&message.user),
                nickname: clean(&message.nickname),
                text: clean(&message.text),
                sent_at_ms: message.sent_at_ms,
            });
        }
    }

    /// Handles a key; what it asks of the connection, if anything.
    pub fn key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => Some(Action::Quit),
            KeyCode::Char('c') if ctrl => Some(Action::Quit),
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                None
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                self.input.push(c);
                None
            }
            KeyCode::Backspace => {
                self.input.pop();
                None
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Tab => self.next_room(1),
            KeyCode::BackTab => self.next_room(self.rooms.len().saturating_sub(1)),
            KeyCode::PageUp => self.page_up(),
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(self.page());
                None
            }
            _ => None,
        }
    }

    fn page(&self) -> usize {
        self.view.height.saturating_sub(1).max(1)
    }

    fn page_up(&mut self) -> Option<Action> {
        if self.scroll < self.view.max_scroll {
            self.scroll = (self.scroll + self.page()).min(self.view.max_scroll);
            return None;
        }
        if self.start_reached || self.earlier_asked || self.status != Status::Connected {
            return None;
        }
        let oldest = *self.messages.keys().next()?;
        self.earlier_asked = true;
        Some(Action::Earlier(oldest))
    }

    fn next_room(&mut self, step: usize) -> Option<Action> {
        if self.rooms.is_empty() {
            return None;
        }
        let here = self.rooms.iter().position(|r| r.name == self.room);
        let next = here.map_or(0, |i| (i + step) % self.rooms.len());
        let name = self.rooms[next].name.clone();
        (name != self.room).then(|| self.join(&name))
    }

    /// Enters `room`: what was shown of the old one goes.
    fn join(&mut self, room: &str) -> Action {
        self.room = room.to_owned();
        self.messages.clear();
        self.people.clear();
        self.presence_seen = false;
        self.scroll = 0;
        self.status = Status::Connecting;
        self.user = None;
        self.can_talk = false;
        self.awaiting_welcome = true;
        self.earlier_asked = false;
        self.start_reached = false;
        self.notice = None;
        Action::Join(room.to_owned())
    }

    fn submit(&mut self) -> Option<Action> {
        let line = self.input.trim().to_owned();
        if line.is_empty() {
            return None;
        }
        let text = match line.strip_prefix('/') {
            Some(command) if !command.starts_with('/') => return self.command(command),
            // `//text` says `/text`.
            Some(text) => text.to_owned(),
            None => line,
        };
        if self.status != Status::Connected {
            self.tell("not connected: the line is kept, press Enter again once connected");
            return None;
        }
        if !self.can_talk {
            self.tell("this socket is read-only: nothing can be said");
            return None;
        }
        self.input.clear();
        self.scroll = 0;
        Some(Action::Say(text))
    }

    fn command(&mut self, command: &str) -> Option<Action> {
        let (name, argument) = command.split_once(' ').unwrap_or((command, ""));
        let argument = argument.trim();
        match name {
            "quit" => Some(Action::Quit),
            "join" if !argument.is_empty() => {
                self.input.clear();
                Some(self.join(argument))
            }
            "join" => {
                self.tell("usage: /join ROOM");
                None
            }
            "help" => {
                self.input.clear();
                self.notice = Some(Notice {
                    text: HELP.to_owned(),
                    is_error: false,
                });
                None
            }
            _ => {
                self.tell(&format!(
                    "unknown command /{name} (try /help; //text says /text)"
                ));
                None
            }
        }
    }

    fn tell(&mut self, text: &str) {
        self.notice = Some(Notice {
            text: text.to_owned(),
            is_error: true,
        });
    }

    /// The time left before the next try, when the connection is down.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        match &self.status {
            Status::Lost { retry_at, .. } => Some(retry_at.saturating_duration_since(now)),
            _ => None,
        }
    }
}

/// `text` safe to put on a terminal: line breaks and tabs become spaces, and every other
/// control character (C0, DEL, C1: the start of any escape sequence) and every bidirectional
/// override becomes U+FFFD, so that a message cannot move the cursor, change colours or
/// reorder what is around it.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
