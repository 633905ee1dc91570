//! The terminal around the chat screen: prompts before the screen opens (the password without
//! echo), the keys read on a thread of their own, and the loop that draws the state and feeds
//! it keys and the connection's events until the person quits.

use std::io::{self, BufRead, IsTerminal, Write};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Local;
use examples::chat::Link;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal;
use tokio::sync::mpsc;

use examples::chat::state::{Action, Chat, View};
use examples::chat::ui;

/// How often the screen is redrawn while a countdown is on it.
const TICK: Duration = Duration::from_millis(250);

/// Asks for a line on standard error and reads it from standard input, echoed.
pub fn prompt(label: &str) -> io::Result<String> {
    eprint!("{label}");
    io::stderr().flush()?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "standard input ended",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Asks for a secret: without echo on a terminal, as a plain line otherwise (piped input).
pub fn prompt_secret(label: &str) -> io::Result<String> {
    if !io::stdin().is_terminal() {
        return prompt(label);
    }
    eprint!("{label}");
    io::stderr().flush()?;
    terminal::enable_raw_mode()?;
    let typed = read_secret();
    terminal::disable_raw_mode()?;
    eprintln!();
    typed
}

/// Reads keys up to Enter, echoing nothing; Esc or Ctrl-C give up.
fn read_secret() -> io::Result<String> {
    let mut secret = String::new();
    loop {
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        match key.code {
            KeyCode::Enter => return Ok(secret),
            KeyCode::Esc => return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled")),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
            KeyCode::Backspace => {
                secret.pop();
            }
            KeyCode::Char(c) => secret.push(c),
            _ => {}
        }
    }
}

/// Terminal events, read on a thread of their own (crossterm's reads block); the thread ends
/// soon after the receiver is dropped.
fn terminal_events() -> mpsc::UnboundedReceiver<io::Result<Event>> {
    let (sender, events) = mpsc::unbounded_channel();
    thread::spawn(move || {
        while !sender.is_closed() {
            let next = match event::poll(TICK) {
                Ok(false) => continue,
                Ok(true) => event::read(),
                Err(error) => Err(error),
            };
            let failed = next.is_err();
            if sender.send(next).is_err() || failed {
                return;
            }
        }
    });
    events
}

/// Runs the screen until the person quits: draws `chat`, and applies keys (sending what they
/// ask on `link`) and the link's events.
pub async fn run(
    terminal: &mut DefaultTerminal,
    chat: &mut Chat,
    link: &mut Link,
) -> io::Result<()> {
    let mut events = terminal_events();
    let mut tick = tokio::time::interval(TICK);
    loop {
        let mut view = View::default();
        terminal.draw(|frame| view = ui::draw(frame, chat, Instant::now(), &Local))?;
        chat.set_view(view);
        tokio::select! {
            event = events.recv() => match event {
                Some(Ok(Event::Key(key))) => match chat.key(key) {
                    Some(Action::Quit) => return Ok(()),
                    Some(Action::Say(text)) => link.say(&text),
                    Some(Action::Earlier(before)) => link.earlier(before),
                    Some(Action::Join(room)) => link.join(&room),
                    None => {}
                },
                // A resize or anything else: drawn anew above.
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                None => return Err(io::Error::other("the terminal's key reader stopped")),
            },
            event = link.next() => match event {
                Some(event) => chat.apply(event, Instant::now()),
                None => return Err(io::Error::other("the connection's task stopped")),
            },
            _ = tick.tick(), if chat.counting_down() => {}
        }
    }
}
