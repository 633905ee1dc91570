//! Starts every door ([`server::DOORS`]: Youku on 127.0.0.1:8080, netdisk on 127.0.0.1:1111)
//! on one set of services, on embedded SQLite in ./netdisk-data unless told otherwise. Each door
//! has the flags `--<door> ADDR` and `--no-<door>`, made from the list of doors.
//!
//! ```text
//! cargo run -p examples --bin server
//! cargo run -p examples --bin server -- --db mysql://root@127.0.0.1:3306/test --youku 0.0.0.0:8080 --no-netdisk
//! cargo run -p examples --bin server -- --config netdisk.toml      # plus NETDISK_* variables
//! cargo run -p examples --bin server -- --smtp smtp://127.0.0.1:25  # mail for real
//! ```
//!
//! A binary, not an example: cargo builds examples with the package's dev-dependencies (the
//! ORM's test harness among them), binaries without.
//! Ctrl-C or SIGTERM stops accepting, closes idle connections and lets transfers in flight
//! finish (up to the configured grace period).
//!
//! The log (one line per request at the default level `info`) and the lines below go to
//! standard output through a thread of their own (`server/log.rs`): a request's worker appends
//! its line to a shared buffer, and the thread writes the lines out in batches.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

#[path = "server/log.rs"]
mod log;

use clap::{Arg, ArgAction, ArgMatches, Args as _, Command, FromArgMatches, value_parser};
use netdisk_core::config::Listen;
use netdisk_core::{Config, Netdisk, server};
use tracing_subscriber::fmt::MakeWriter;

// The server's options besides the doors' (those come from the list of doors: `command`).
/// The video site and netdisk server: every door on one set of services.
#[derive(clap::Args)]
struct Args {
    /// A TOML configuration file (see the README); NETDISK_* environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH, sqlite::memory: or mysql://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(long)]
    db: Option<String>,
    /// Where files (and the default SQLite database) are stored.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How server processes sharing the database hear each other's events (notices, ...):
    /// `in-process` (the default) or a Redis URL such as redis://127.0.0.1:6379.
    #[arg(long, value_name = "URL")]
    pubsub: Option<String>,
    /// Send the site's mail (e-mail confirmation, password resets) through this SMTP server,
    /// smtp://[USER:PASSWORD@]HOST[:PORT], without TLS. Default: into <data-dir>/outbox/ as
    /// .eml files, with each link logged.
    #[arg(long, value_name = "URL")]
    smtp: Option<String>,
    /// Connections served at once.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Allow admin sign-up after the first admin.
    #[arg(long)]
    admin_signup_open: bool,
}

impl Args {
    fn apply(self, config: &mut Config) {
        if let Some(db) = self.db {
            config.database_url = Some(db);
        }
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        if let Some(pubsub) = self.pubsub {
            config.pubsub = pubsub;
        }
        if let Some(smtp) = self.smtp {
            config.smtp_url = Some(smtp);
        }
        if let Some(n) = self.max_connections {
            config.server.max_connections = n;
        }
        config.admin_signup_open |= self.admin_signup_open;
    }
}

/// The command line: [`Args`], plus `--<door> ADDR` and `--no-<door>` for every door.
fn command() -> Command {
    // The about line is `Args`' doc comment.
    let command = Args::augment_args(Command::new("server").version(env!("CARGO_PKG_VERSION")));
    server::DOORS.iter().fold(command, |command, door| {
        let name = door.name;
        command
            .arg(
                Arg::new(name)
                    .long(name)
                    .value_name("ADDR")
                    .value_parser(value_parser!(SocketAddr))
                    .help(format!(
                        "Address of the {name} door (default {})",
                        door.default_addr
                    )),
            )
            .arg(
                Arg::new(format!("no-{name}"))
                    .long(format!("no-{name}"))
                    .action(ArgAction::SetTrue)
                    .conflicts_with(name)
                    .help(format!("Do not start the {name} door")),
            )
    })
}

/// Applies the doors' flags in `matches` to `config`.
fn door_flags(matches: &ArgMatches, config: &mut Config) {
    for door in server::DOORS {
        let name = door.name;
        if let Some(addr) = matches.get_one::<SocketAddr>(name) {
            config
                .server
                .doors
                .insert(name.to_owned(), Listen::At(*addr));
        }
        if matches.get_flag(&format!("no-{name}")) {
            config.server.doors.insert(name.to_owned(), Listen::Off);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stdout = std::io::stdout();
    let ansi = stdout.is_terminal();
    // Whatever is left is written out when `main` returns.
    let (log, _flushed) = log::batched(stdout)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(ansi)
        .with_writer(log.clone())
        .init();
    let matches = command().get_matches();
    let args = Args::from_arg_matches(&matches)?;
    let mut config = Config::load(args.config.as_deref())?;
    args.apply(&mut config);
    door_flags(&matches, &mut config);
    let (netdisk, report) = Netdisk::open(config.clone()).await?;
    tracing::info!(database = %config.database_url(), data_dir = %config.data_dir.display(), ?report, "service ready");
    let running = server::start(netdisk, &config.server).await?;
    // Through the log's writer, each line in one piece, so that lines keep their place among
    // the log's.
    let say =
        |line: std::fmt::Arguments| log.make_writer().write_all(format!("{line}\n").as_bytes());
    for (door, addr) in running.addrs() {
        say(format_args!("{door} door on {addr}"))?;
    }
    if let Some(addr) = running.addr(server::youku::DOOR.name) {
        say(format_args!(
            "try it:   cargo run -p examples --example user -- --server {addr} --name alice --password pw register"
        ))?;
    }
    say(format_args!("Ctrl-C to stop."))?;
    wait_for_signal().await?;
    say(format_args!(
        "shutting down: finishing transfers in flight..."
    ))?;
    if !running.shutdown().await {
        say(format_args!(
            "some transfers did not finish within the grace period"
        ))?;
    }
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
