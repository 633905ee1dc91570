//! The admin client of the video site: with no subcommand, the original project's numbered menu
//! (register, log in, upload and delete movies, publish notices, the personal netdisk); with
//! one, the same operation for scripts. Start the server first (`cargo run -p examples --bin server`).
//!
//! ```text
//! cargo run -p examples --example admin                    # the menu, server on 127.0.0.1:8080
//! cargo run -p examples --example admin -- --name root --password pw register
//! cargo run -p examples --example admin -- --name root --password pw upload-movie film.mp4 --free
//! cargo run -p examples --example admin -- --name root --password pw delete-movie 3
//! cargo run -p examples --example admin -- --name root --password pw notice "title" "content"
//! NETDISK_NAME=root NETDISK_PASSWORD=pw cargo run -p examples --example admin -- files
//! ```
//! Passwords are sent as the hex MD5 of what was typed, as the original clients did. A refused
//! request prints the server's message (on stderr) and exits non-zero.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::cli::{self, Connect, SharedCommand};
use examples::menu::{Console, Item, Shared};
use examples::{Client, MovieKind, Role};
use tokio::io::AsyncBufRead;

/// The video site's admin client: a numbered menu, or one subcommand.
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
    Admin(AdminCommand),
}

/// What only admins do.
#[derive(clap::Subcommand)]
enum AdminCommand {
    /// Upload a movie (its MD5 is checked with the server first).
    UploadMovie {
        /// The movie file.
        path: PathBuf,
        /// Make it free (default: charged).
        #[arg(long)]
        free: bool,
    },
    /// Delete a movie (it disappears from lists and downloads).
    DeleteMovie {
        /// The movie's id (see `movies`).
        id: i64,
    },
    /// Publish a notice.
    Notice {
        /// Its title.
        title: String,
        /// Its text.
        content: String,
    },
}

#[derive(Clone, Copy)]
enum Action {
    Shared(Shared),
    UploadMovie,
    DeleteMovie,
    ReleaseNotice,
}

#[rustfmt::skip]
const MENU: &[Item<Action>] = &[
    Item::new("1",  "register",                Action::Shared(Shared::Register)),
    Item::new("2",  "login",                   Action::Shared(Shared::Login)),
    Item::new("3",  "upload movie",            Action::UploadMovie),
    Item::new("4",  "delete movie",            Action::DeleteMovie),
    Item::new("5",  "release notice",          Action::ReleaseNotice),
    Item::new("6",  "netdisk: upload file",    Action::Shared(Shared::UploadFile)),
    Item::new("7",  "netdisk: list files",     Action::Shared(Shared::ListFiles)),
    Item::new("8",  "netdisk: download file",  Action::Shared(Shared::DownloadFile)),
    Item::new("9",  "netdisk: delete file",    Action::Shared(Shared::DeleteFile)),
];

async fn act<R: AsyncBufRead + Unpin>(
    console: &mut Console<R>,
    action: Action,
) -> anyhow::Result<()> {
    match action {
        Action::Shared(shared) => console.shared(shared).await?,
        Action::UploadMovie => {
            let path = console.line("path of the movie to upload: ").await?;
            let free = console.yes("free? [y/N] ").await?;
            let id = console.client.upload_movie(path.as_ref(), free).await?;
            println!("movie {id} uploaded: {path}");
        }
        Action::DeleteMovie => {
            if let Some(movie) = console.choose_movie(MovieKind::All).await? {
                console.client.delete_movie(movie.id).await?;
                println!("movie {} deleted: {}", movie.id, movie.name);
            }
        }
        Action::ReleaseNotice => {
            let title = console.line("title: ").await?;
            let content = console.line("content: ").await?;
            let id = console.client.release_notice(&title, &content).await?;
            println!("notice {id} published");
        }
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut client = args.connect.client(Role::Admin).await?;
    match args.command {
        None => {
            let mut console = Console::stdin(client, args.connect.out);
            console.run("Youku admin", MENU, act).await
        }
        Some(Command::Shared(command)) => command.run(&mut client, &args.connect).await,
        Some(Command::Admin(command)) => {
            args.connect.login(&mut client).await?;
            admin_command(&mut client, command).await
        }
    }
}

async fn admin_command(client: &mut Client, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::UploadMovie { path, free } => {
            let id = client.upload_movie(&path, free).await?;
            println!("movie {id} uploaded: {}", path.display());
        }
        AdminCommand::DeleteMovie { id } => {
            client.delete_movie(id).await?;
            println!("movie {id} deleted");
        }
        AdminCommand::Notice { title, content } => {
            let id = client.release_notice(&title, &content).await?;
            println!("notice {id} published");
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    cli::exit_code(run(Args::parse()).await)
}
