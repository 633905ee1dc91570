//! The screen's state machine, fed hand-made events and keys.

use crate::chat::Person;

use super::*;

fn said(seq: i64, user: &str, text: &str) -> Said {
    Said {
        seq,
        user: user.into(),
        nickname: user.to_uppercase(),
        text: text.into(),
        sent_at_ms: 1_700_000_000_000 + seq * 60_000,
    }
}

fn rooms() -> Vec<Room> {
    ["lobby", "books", "secret"]
        .into_iter()
        .map(|name| Room {
            name: name.into(),
            description: format!("{name}'s room"),
            members_only: name == "secret",
        })
        .collect()
}

fn connected(room: &str, again: bool) -> Event {
    Event::Connected {
        room: room.into(),
        user: Some("alice".into()),
        can_talk: true,
        again,
    }
}

/// Alice in the lobby, connected, with messages 1..=n said by bob (no history yet for 0).
fn chat_with(n: i64) -> Chat {
    let mut chat = Chat::new("alice", rooms(), "lobby");
    chat.apply(connected("lobby", false), Instant::now());
    if n > 0 {
        let history = (1..=n).map(|seq| said(seq, "bob", &format!("m{seq}")));
        chat.apply(Event::History(history.collect()), Instant::now());
    }
    chat
}

fn press(chat: &mut Chat, code: KeyCode) -> Option<Action> {
    chat.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_line(chat: &mut Chat, text: &str) -> Option<Action> {
    for c in text.chars() {
        assert_eq!(press(chat, KeyCode::Char(c)), None);
    }
    press(chat, KeyCode::Enter)
}

fn seqs(chat: &Chat) -> Vec<i64> {
    chat.messages().map(|m| m.seq).collect()
}

#[test]
fn messages_are_kept_in_seq_order_each_once() {
    let mut chat = chat_with(3);
    let now = Instant::now();
    chat.apply(Event::Message(said(5, "bob", "five")), now);
    chat.apply(Event::Message(said(4, "bob", "four")), now);
    chat.apply(Event::Message(said(4, "bob", "four again")), now);
    chat.apply(
        Event::History((2..=5).map(|s| said(s, "bob", "x")).collect()),
        now,
    );
    assert_eq!(seqs(&chat), [1, 2, 3, 4, 5]);
    let four = chat.messages().find(|m| m.seq == 4).unwrap();
    assert_eq!(four.text, "four", "the first copy stays");
}

#[test]
fn a_reconnection_says_so_and_merges_the_new_history_without_duplicates() {
    let mut chat = chat_with(10);
    let now = Instant::now();
    chat.apply(
        Event::Lost {
            reason: "Connection refused".into(),
            retry_in: Duration::from_millis(1500),
        },
        now,
    );
    assert!(matches!(chat.status(), Status::Lost { .. }));
    assert_eq!(
        chat.retry_in(now + Duration::from_millis(500)),
        Some(Duration::from_secs(1))
    );
    assert!(chat.counting_down());
    chat.apply(connected("lobby", true), now);
    assert_eq!(chat.status(), &Status::Connected);
    assert_eq!(chat.notice().unwrap().text, "reconnected");
    chat.apply(
        Event::History((5..=12).map(|s| said(s, "bob", "x")).collect()),
        now,
    );
    assert_eq!(seqs(&chat), (1..=12).collect::<Vec<_>>());
}

#[test]
fn presence_keeps_people_by_account_and_shows_nicknames() {
    let mut chat = chat_with(0);
    assert_eq!(chat.people(), None, "no presence from this server yet");
    let person = |user: &str, nickname: &str| Person {
        user: user.into(),
        nickname: nickname.into(),
    };
    let now = Instant::now();
    chat.apply(
        Event::Presence {
            joined: vec![person("alice", "Alice"), person("bob", "bobby")],
            left: vec![],
        },
        now,
    );
    assert_eq!(chat.people().unwrap(), [("Alice", true), ("bobby", false)]);
    chat.apply(
        Event::Presence {
            joined: vec![person("carol", "\u{1b}[31mCarol"), person("bob", "Bob")],
            left: vec!["alice".into(), "nobody".into()],
        },
        now,
    );
    assert_eq!(
        chat.people().unwrap(),
        [("Bob", false), ("\u{FFFD}[31mCarol", false)],
        "bob renamed, alice gone, carol's escape defused"
    );
    chat.apply(connected("lobby", true), now);
    assert_eq!(chat.people(), None, "a new socket lists everyone anew");
}

#[test]
fn network_text_is_cleaned_of_control_characters() {
    assert_eq!(
        clean("a\u{1b}[2Jb\u{7}c\u{9b}d"),
        "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d"
    );
    assert_eq!(clean("two\nlines\tand\r"), "two lines and ");
    assert_eq!(clean("evil\u{202E}txt.exe"), "evil\u{FFFD}txt.exe");
    assert_eq!(clean("你好 🙂 é"), "你好 🙂 é");
    let mut chat = chat_with(0);
    let mut hostile = said(1, "eve\u{1b}]0;x\u{7}", "\u{1b}[H\u{1b}[2Jgotcha");
    hostile.nickname = "\u{1b}[5mEVE".into();
    chat.apply(Event::Message(hostile), Instant::now());
    let shown = chat.messages().next().unwrap();
    for text in [&shown.user, &shown.nickname, &shown.text] {
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}

#[test]
fn enter_says_the_line_only_when_connected() {
    let mut chat = Chat::new("alice", rooms(), "lobby");
    assert_eq!(type_line(&mut chat, "hello"), None);
    assert_eq!(chat.input(), "hello", "kept while connecting");
    assert!(chat.notice().unwrap().is_error);
    chat.apply(connected("lobby", false), Instant::now());
    assert_eq!(
        press(&mut chat, KeyCode::Enter),
        Some(Action::Say("hello".into()))
    );
    assert_eq!(chat.input(), "");
    assert_eq!(
        type_line(&mut chat, "   "),
        None,
        "blank lines are not sent"
    );
    assert_eq!(
        type_line(&mut chat, "//slash"),
        Some(Action::Say("/slash".into()))
    );
    press(&mut chat, KeyCode::Char('x'));
    press(&mut chat, KeyCode::Backspace);
    assert_eq!(chat.input(), "");
}

#[test]
fn a_guest_socket_cannot_talk() {
    let mut chat = Chat::new("alice", rooms(), "lobby");
    let guest = Event::Connected {
        room: "lobby".into(),
        user: None,
        can_talk: false,
        again: false,
    };
    chat.apply(guest, Instant::now());
    assert_eq!(type_line(&mut chat, "hi"), None);
    assert!(chat.notice().unwrap().text.contains("read-only"));
}

#[test]
fn escape_ctrl_c_and_slash_quit_leave() {
    let mut chat = chat_with(0);
    assert_eq!(press(&mut chat, KeyCode::Esc), Some(Action::Quit));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(chat.key(ctrl_c), Some(Action::Quit));
    assert_eq!(chat.input(), "", "Ctrl-C types nothing");
    assert_eq!(type_line(&mut chat, "/quit"), Some(Action::Quit));
}

#[test]
fn tab_and_join_switch_rooms_and_drop_the_old_rooms_news() {
    let mut chat = chat_with(5);
    assert_eq!(
        press(&mut chat, KeyCode::Tab),
        Some(Action::Join("books".into()))
    );
    assert_eq!(chat.room(), "books");
    assert_eq!(seqs(&chat), Vec::<i64>::new());
    assert_eq!(chat.status(), &Status::Connecting);
    let now = Instant::now();
    chat.apply(Event::Message(said(6, "bob", "late, from the lobby")), now);
    assert_eq!(
        seqs(&chat),
        Vec::<i64>::new(),
        "the old room's news is dropped"
    );
    chat.apply(connected("books", false), now);
    chat.apply(Event::History(vec![said(1, "bob", "books 1")]), now);
    assert_eq!(seqs(&chat), [1]);
    assert_eq!(
        press(&mut chat, KeyCode::BackTab),
        Some(Action::Join("lobby".into()))
    );
    assert_eq!(
        type_line(&mut chat, "/join  secret "),
        Some(Action::Join("secret".into()))
    );
    assert_eq!(type_line(&mut chat, "/join"), None);
    assert_eq!(chat.notice().unwrap().text, "usage: /join ROOM");
    assert_eq!(chat.input(), "/join", "kept to be mended");
    chat.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(type_line(&mut chat, "/frobnicate"), None);
    assert!(
        chat.notice()
            .unwrap()
            .text
            .contains("unknown command /frobnicate")
    );
}

#[test]
fn page_up_scrolls_then_asks_for_earlier_once_at_the_top() {
    let mut chat = chat_with(0);
    let now = Instant::now();
    chat.apply(
        Event::History((51..=100).map(|s| said(s, "bob", "x")).collect()),
        now,
    );
    chat.set_view(View {
        height: 10,
        max_scroll: 40,
    });
    assert_eq!(press(&mut chat, KeyCode::PageUp), None);
    assert_eq!(chat.scroll(), 9);
    for _ in 0..4 {
        press(&mut chat, KeyCode::PageUp);
    }
    assert_eq!(chat.scroll(), 40, "stops at the top");
    assert_eq!(press(&mut chat, KeyCode::PageUp), Some(Action::Earlier(51)));
    assert!(chat.loading_earlier());
    assert_eq!(press(&mut chat, KeyCode::PageUp), None, "asked once");
    chat.apply(
        Event::Earlier((1..=50).map(|s| said(s, "bob", "x")).collect()),
        now,
    );
    assert!(!chat.loading_earlier());
    assert!(chat.start_reached(), "seq 1 is the room's first message");
    assert_eq!(seqs(&chat).len(), 100);
    chat.set_view(View {
        height: 10,
        max_scroll: 90,
    });
    assert_eq!(chat.scroll(), 40, "the view stays where it was");
    assert_eq!(press(&mut chat, KeyCode::PageDown), None);
    assert_eq!(chat.scroll(), 31);
    chat.set_view(View {
        height: 10,
        max_scroll: 5,
    });
    assert_eq!(chat.scroll(), 5, "clamped to what the screen can scroll");
}

#[test]
fn an_empty_earlier_page_means_the_start_was_reached() {
    let mut chat = chat_with(0);
    let now = Instant::now();
    chat.apply(Event::History(vec![said(70, "bob", "x")]), now);
    assert_eq!(press(&mut chat, KeyCode::PageUp), Some(Action::Earlier(70)));
    chat.apply(Event::Earlier(vec![]), now);
    assert!(chat.start_reached());
    assert_eq!(press(&mut chat, KeyCode::PageUp), None);
}

#[test]
fn refusals_and_failures_are_shown() {
    let mut chat = chat_with(0);
    let now = Instant::now();
    chat.apply(
        Event::Refused {
            code: "too_fast".into(),
            message: "slow down".into(),
        },
        now,
    );
    assert_eq!(
        chat.notice(),
        Some(&Notice {
            text: "too_fast: slow down".into(),
            is_error: true
        })
    );
    chat.apply(Event::Failed("room \"x\": no such room".into()), now);
    assert_eq!(
        chat.status(),
        &Status::Failed("room \"x\": no such room".into())
    );
}
