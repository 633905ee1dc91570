//! The screen drawn into ratatui's `TestBackend`, read back as text.

use std::time::{Duration, Instant};

use crate::chat::{Event, Person, Room};
use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

/// 2023-11-14 22:13:20 UTC.
const SOME_TIME_MS: i64 = 1_700_000_000_000;

fn said(seq: i64, user: &str, text: &str) -> Said {
    Said {
        seq,
        user: user.into(),
        nickname: format!("{user}-nick"),
        text: text.into(),
        sent_at_ms: SOME_TIME_MS + seq * 60_000,
    }
}

fn chat() -> Chat {
    let rooms = ["lobby", "books"].map(|name| Room {
        name: name.into(),
        description: format!("about {name}"),
        members_only: false,
    });
    let mut chat = Chat::new("alice", rooms.to_vec(), "lobby");
    let connected = Event::Connected {
        room: "lobby".into(),
        user: Some("alice".into()),
        can_talk: true,
        again: false,
    };
    chat.apply(connected, Instant::now());
    chat
}

/// The screen's rows as text, and what the drawing reported.
fn screen(chat: &Chat, width: u16, height: u16, now: Instant) -> (Vec<String>, View) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut view = View::default();
    terminal
        .draw(|frame| view = draw(frame, chat, now, &Utc))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let rows = (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect();
    (rows, view)
}

fn shows(rows: &[String], text: &str) -> bool {
    rows.iter().any(|row| row.contains(text))
}

#[test]
fn the_screen_shows_rooms_messages_people_status_and_input() {
    let mut chat = chat();
    let now = Instant::now();
    chat.apply(Event::History(vec![said(1, "bob", "hello there")]), now);
    chat.apply(Event::Message(said(2, "alice", "hi bob")), now);
    let bob = Person {
        user: "bob".into(),
        nickname: "Bobby Tables".into(),
    };
    chat.apply(
        Event::Presence {
            joined: vec![bob],
            left: vec![],
        },
        now,
    );
    for c in "typing".chars() {
        chat.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let (rows, _) = screen(&chat, 80, 12, now);
    let text = rows.join("\n");
    assert!(
        rows[0].contains("#lobby") && rows[0].contains("#books"),
        "{text}"
    );
    assert!(shows(&rows, "#lobby — about lobby"), "{text}");
    assert!(shows(&rows, "22:14 bob-nick: hello there"), "{text}");
    assert!(shows(&rows, "22:15 alice-nick: hi bob"), "{text}");
    assert!(
        shows(&rows, "people (1)") && shows(&rows, "Bobby Tables"),
        "{text}"
    );
    assert!(shows(&rows, "— the start of #lobby —"), "{text}");
    assert!(
        rows[10].starts_with("connected as alice · entered #lobby"),
        "{text}"
    );
    assert!(rows[11].starts_with("> typing"), "{text}");
}

#[test]
fn a_lost_connection_counts_down_then_says_reconnected() {
    let mut chat = chat();
    let now = Instant::now();
    let lost = Event::Lost {
        reason: "Connection refused".into(),
        retry_in: Duration::from_millis(2000),
    };
    chat.apply(lost, now);
    let (rows, _) = screen(&chat, 100, 8, now + Duration::from_millis(300));
    let status = &rows[6];
    assert!(
        status.starts_with("connection lost — reconnecting in 2s (Connection refused)"),
        "{status}"
    );
    let (rows, _) = screen(&chat, 100, 8, now + Duration::from_secs(3));
    assert!(
        rows[6].starts_with("connection lost — reconnecting…"),
        "{}",
        rows[6]
    );
    let back = Event::Connected {
        room: "lobby".into(),
        user: Some("alice".into()),
        can_talk: true,
        again: true,
    };
    chat.apply(back, now);
    let (rows, _) = screen(&chat, 100, 8, now);
    assert!(
        rows[6].starts_with("connected as alice · reconnected"),
        "{}",
        rows[6]
    );
}

#[test]
fn a_hostile_message_is_shown_as_inert_text() {
    let mut chat = chat();
    let hostile = said(1, "eve", "\u{1b}[2J\u{1b}[31mred\u{7}");
    chat.apply(Event::History(vec![hostile]), Instant::now());
    let (rows, _) = screen(&chat, 60, 6, Instant::now());
    let text = rows.join("\n");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(
        shows(&rows, "eve-nick: \u{FFFD}[2J\u{FFFD}[31mred\u{FFFD}"),
        "{text}"
    );
}

#[test]
fn long_messages_wrap_at_spaces_within_the_width() {
    let lines = message_lines(
        &said(1, "bob", "the quick brown fox jumps over the lazy dog"),
        "alice",
        20,
        &Utc,
    );
    let texts: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "22:14 bob-nick: the ",
            "quick brown fox ",
            "jumps over the lazy ",
            "dog"
        ]
    );
    let wide = message_lines(&said(2, "li", "你好你好你好"), "alice", 8, &Utc);
    let texts: Vec<String> = wide.iter().map(ToString::to_string).collect();
    assert_eq!(texts, ["22:15 ", "li-nick:", " 你好你", "好你好"]);
    assert!(wide.iter().all(|line| line.width() <= 8));
}

#[test]
fn the_view_scrolls_by_the_states_lines_from_the_bottom() {
    let mut chat = chat();
    let now = Instant::now();
    let history = (1..=30).map(|seq| said(seq, "bob", &format!("message {seq}")));
    chat.apply(Event::History(history.collect()), now);
    // 12 rows: tabs, 2 borders, status and input leave 7 lines of messages.
    let (rows, view) = screen(&chat, 80, 12, now);
    assert_eq!(
        view,
        View {
            height: 7,
            max_scroll: 31 - 7
        }
    );
    assert!(shows(&rows, "message 30") && shows(&rows, "message 24"));
    assert!(!shows(&rows, "message 23 "));
    chat.set_view(view);
    chat.key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
    let (rows, _) = screen(&chat, 80, 12, now);
    assert!(shows(&rows, "message 18") && shows(&rows, "message 24"));
    assert!(!shows(&rows, "message 25") && !shows(&rows, "message 17 "));
    assert!(shows(&rows, "↓ newer: PgDn"));
}

#[test]
fn without_presence_the_people_column_says_it_is_not_known() {
    let (rows, _) = screen(&chat(), 80, 10, Instant::now());
    assert!(shows(&rows, "(who is here is not"), "{}", rows.join("\n"));
}

#[test]
fn a_long_input_shows_its_end_with_the_cursor_after_it() {
    let mut chat = chat();
    for c in "abcdefghijklmnopqrstuvwxyz".chars() {
        chat.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let mut terminal = Terminal::new(TestBackend::new(12, 8)).unwrap();
    terminal
        .draw(|frame| {
            draw(frame, &chat, Instant::now(), &Utc);
        })
        .unwrap();
    let buffer = terminal.backend().buffer();
    let input: String = (0..12).map(|x| buffer[(x, 7)].symbol()).collect();
    assert_eq!(input, "> rstuvwxyz ");
    terminal.backend_mut().assert_cursor_position((11, 7));
}
