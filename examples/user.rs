//! The user client of the video site: with no subcommand, the original project's numbered menu
//! (register, log in, buy VIP, list and download movies, records, notices, the personal
//! netdisk); with one, the same operation for scripts. Start the server first
//! (`cargo run -p examples --bin server`).
//!
//! ```text
//! cargo run -p examples --example user                     # the menu, server on 127.0.0.1:8080
//! cargo run -p examples --example user -- --server 127.0.0.1:8080 --name alice --password pw register
//! cargo run -p examples --example user -- --name alice --password pw movies --kind free
//! cargo run -p examples --example user -- --name alice --password pw download 3 --out dir
//! cargo run -p examples --example user -- --name alice --password pw buy-vip
//! NETDISK_NAME=alice NETDISK_PASSWORD=pw cargo run -p examples --example user -- records
//! ```
//! Downloads go to `<out>/<name>.part` first and resume from it; the file gets its name only
//! once its MD5 matches. A free movie makes a non-VIP wait before its bytes start; a charged
//! one prints its price. A refused request prints the server's message and exits non-zero.

use std::process::ExitCode;

use clap::Parser;
use examples::cli::{self, Connect, SharedCommand};
use examples::menu::{Console, Item, Shared};
use examples::{Client, MovieKind, Role, table};
use tokio::io::AsyncBufRead;

/// The video site's user client: a numbered menu, or one subcommand.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    connect: Connect,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Shared(SharedCommand),
    #[command(flatten)]
    User(UserCommand),
}

/// What only users do.
#[derive(clap::Subcommand)]
enum UserCommand {
    /// Become a VIP: no wait for free movies, a lower price for charged ones.
    BuyVip,
    /// Download a movie into --out (resumes an interrupted download).
    Download {
        /// The movie's id (see `movies`).
        id: i64,
    },
    /// Your download records, newest first.
    Records,
}

#[derive(Clone, Copy)]
enum Action {
    Shared(Shared),
    BuyVip,
    ListMovies,
    Download(MovieKind),
    Records,
    Notices,
}

#[rustfmt::skip]
const MENU: &[Item<Action>] = &[
    Item::new("1",  "register",                Action::Shared(Shared::Register)),
    Item::new("2",  "login",                   Action::Shared(Shared::Login)),
    Item::new("3",  "buy VIP",                 Action::BuyVip),
    Item::new("4",  "list movies",             Action::ListMovies),
    Item::new("5",  "download free movie",     Action::Download(MovieKind::Free)),
    Item::new("6",  "download charged movie",  Action::Download(MovieKind::Charge)),
    Item::new("7",  "download records",        Action::Records),
    Item::new("8",  "notices",                 Action::Notices),
    Item::new("9",  "netdisk: upload file",    Action::Shared(Shared::UploadFile)),
    Item::new("10", "netdisk: list files",     Action::Shared(Shared::ListFiles)),
    Item::new("11", "netdisk: download file",  Action::Shared(Shared::DownloadFile)),
    Item::new("12", "netdisk: delete file",    Action::Shared(Shared::DeleteFile)),
];

async fn act<R: AsyncBufRead + Unpin>(
    console: &mut Console<R>,
    action: Action,
) -> anyhow::Result<()> {
    let client = &mut console.client;
    match action {
        Action::Shared(shared) => console.shared(shared).await?,
        Action::BuyVip if client.is_logged_in() && client.is_vip() => {
            println!("you are a VIP already")
        }
        Action::BuyVip => {
            if console.yes("buy VIP? [y/N] ").await? {
                console.client.buy_vip().await?;
                println!("you are a VIP now");
            }
        }
        Action::ListMovies => println!("{}", table::movies(&client.movies(MovieKind::All).await?)),
        Action::Download(kind) => {
            if let Some(movie) = console.choose_movie(kind).await? {
                println!(
                    "{}",
                    console.client.download_movie(&movie, &console.out).await?
                );
            }
        }
        Action::Records => println!("{}", table::records(&client.records().await?)),
        Action::Notices => println!("{}", table::notices(&client.notices().await?)),
    }
    Ok(())
}

async fn user_command(
    client: &mut Client,
    command: UserCommand,
    connect: &Connect,
) -> anyhow::Result<()> {
    match command {
        UserCommand::BuyVip => {
            client.buy_vip().await?;
            println!("you are a VIP now");
        }
        UserCommand::Download { id } => {
            let movie = client.find_movie(id).await?;
            println!("{}", client.download_movie(&movie, &connect.out).await?);
        }
        UserCommand::Records => println!("{}", table::records(&client.records().await?)),
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut client = args.connect.client(Role::User).await?;
    match args.command {
        None => {
            let mut console = Console::stdin(client, args.connect.out);
            console.run("Youku user", MENU, act).await
        }
        Some(Command::Shared(command)) => command.run(&mut client, &args.connect).await,
        Some(Command::User(command)) => {
            args.connect.login(&mut client).await?;
            user_command(&mut client, command, &args.connect).await
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    cli::exit_code(run(Args::parse()).await)
}
