//! The terminal chat client, the project's answer to the original Python GUI chat client: log
//! in on the server's HTTP door, pick a room, and talk, with the room's history, live messages,
//! the people in the room (from servers that report presence) and an input line. It speaks the
//! chat WebSocket of `docs/http-api.md` and reconnects by itself when the connection drops,
//! saying so on screen. Start the server first (`cargo run -p examples --bin server`).
//!
//! ```text
//! cargo run -p examples --example chat -- --user alice                 # asks for the password
//! cargo run -p examples --example chat -- --user alice --password pw --room books
//! NETDISK_NAME=alice NETDISK_PASSWORD=pw cargo run -p examples --example chat -- --server http://127.0.0.1:5000
//! ```
//!
//! Keys: Enter says the line, PageUp/PageDown scroll (PageUp at the top loads earlier
//! messages), Tab and Shift-Tab go to the next and previous room, `/join ROOM` to any room,
//! `/help` lists them, Esc or Ctrl-C quits (the terminal is restored, also after a panic). A
//! refused login or an unknown room is a one-line error and exit code 1.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use examples::chat::{ApiError, Backoff, Credentials, Link, Session};
use reqwest::Url;

#[path = "chat/terminal.rs"]
mod terminal;

/// How long leaving (closing the socket, logging out) may take.
const LEAVE_LIMIT: Duration = Duration::from_secs(2);

/// The terminal chat client: rooms, history, live messages, reconnection.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The server's HTTP door.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    server: Url,
    /// Account name (asked for when missing).
    #[arg(long, alias = "name", env = "NETDISK_NAME")]
    user: Option<String>,
    /// Password, as typed (asked for without echo when missing).
    #[arg(long, env = "NETDISK_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The room to enter first.
    #[arg(long, default_value = netdisk_core::LOBBY)]
    room: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    examples::cli::exit_code(outcome)
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.server.scheme() != "http" {
        bail!("--server must be an http:// address (this client has no TLS)");
    }
    let credentials = credentials(&args)?;
    let session = Session::login(&args.server, credentials)
        .await
        .map_err(|error| match error {
            ApiError::Refused { .. } => anyhow::anyhow!("login refused: {error}"),
            ApiError::Transport(_) => {
                anyhow::anyhow!("cannot reach {}: {error}", args.server)
            }
        })?;
    let session = Arc::new(session);
    let entered = enter(&session, &args.room).await;
    let outcome = match entered {
        Ok(rooms) => {
            let mut link = Link::open(session.clone(), &args.room, Backoff::default());
            let mut chat = examples::chat::state::Chat::new(session.name(), rooms, &args.room);
            let mut screen = ratatui::try_init().context("cannot set up the terminal")?;
            let shown = terminal::run(&mut screen, &mut chat, &mut link).await;
            ratatui::restore();
            let _ = tokio::time::timeout(LEAVE_LIMIT, link.close()).await;
            shown.context("the screen failed")
        }
        Err(error) => Err(error),
    };
    // Ends the session on the server; it would expire by itself anyway.
    let _ = tokio::time::timeout(LEAVE_LIMIT, session.logout()).await;
    outcome
}

/// The rooms one may enter, when `room` is one of them.
async fn enter(session: &Session, room: &str) -> anyhow::Result<Vec<examples::chat::Room>> {
    let rooms = session.rooms().await.context("cannot list the rooms")?;
    if !rooms.iter().any(|r| r.name == room) {
        let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
        bail!(
            "no room {room:?} that you may enter (yours: {})",
            names.join(", ")
        );
    }
    Ok(rooms)
}

/// `--user` and `--password`, asked for when missing.
fn credentials(args: &Args) -> anyhow::Result<Credentials> {
    let name = match &args.user {
        Some(name) => name.clone(),
        None => terminal::prompt("name: ")?,
    };
    let password = match &args.password {
        Some(password) => password.clone(),
        None => terminal::prompt_secret(&format!("password for {name}: "))?,
    };
    Ok(Credentials { name, password })
}
