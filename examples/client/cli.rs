//! The command line both programs share: where the server is, who logs in, where downloads go,
//! and the subcommands both have (accounts, lists, the personal netdisk).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::api::{Client, MovieKind, Role};
use crate::connection::Timeouts;
use crate::table;

/// Options every subcommand and the menu share.
#[derive(Debug, clap::Args)]
pub struct Connect {
    /// The server's Youku protocol address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub server: String,
    /// Account name (subcommands log in with it).
    #[arg(long, env = "NETDISK_NAME")]
    pub name: Option<String>,
    /// Password, as typed: it is sent as its hex MD5.
    #[arg(long, env = "NETDISK_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Directory downloads are saved into (menu and download subcommands).
    #[arg(long, global = true, default_value = "downloads")]
    pub out: PathBuf,
    /// Seconds to wait for the server to connect, to answer, or to move file bytes.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

impl Connect {
    /// Connects as someone of `role`.
    pub async fn client(&self, role: Role) -> anyhow::Result<Client> {
        let wait = Duration::from_secs(self.timeout);
        let timeouts = Timeouts {
            connect: wait,
            response: wait,
        };
        Client::connect(&self.server, role, timeouts)
            .await
            .with_context(|| format!("cannot reach the server at {}", self.server))
    }

    /// `--name` and `--password` (or `NETDISK_NAME` and `NETDISK_PASSWORD`).
    pub fn credentials(&self) -> anyhow::Result<(&str, &str)> {
        match (&self.name, &self.password) {
            (Some(name), Some(password)) => Ok((name, password)),
            _ => anyhow::bail!(
                "this needs --name and --password (or NETDISK_NAME and NETDISK_PASSWORD)"
            ),
        }
    }

    /// Logs `client` in with the credentials.
    pub async fn login(&self, client: &mut Client) -> anyhow::Result<()> {
        let (name, password) = self.credentials()?;
        client.login(name, password).await?;
        Ok(())
    }
}

/// Subcommands both programs have.
#[derive(Debug, clap::Subcommand)]
pub enum SharedCommand {
    /// Create the account given by --name and --password.
    Register,
    /// List movies.
    Movies {
        /// Which movies.
        #[arg(long, value_enum, default_value_t = MovieKind::All)]
        kind: MovieKind,
    },
    /// List notices, newest first.
    Notices,
    /// List the files in your netdisk.
    Files,
    /// Upload a file to your netdisk.
    UploadFile {
        /// The file.
        path: PathBuf,
    },
    /// Download a file from your netdisk into --out (resumes an interrupted download).
    DownloadFile {
        /// The file's id (see `files`).
        id: i64,
    },
    /// Delete a file from your netdisk.
    DeleteFile {
        /// The file's id (see `files`).
        id: i64,
    },
}

impl SharedCommand {
    /// Runs the subcommand, logging in first unless it is `register`.
    pub async fn run(self, client: &mut Client, connect: &Connect) -> anyhow::Result<()> {
        if !matches!(self, SharedCommand::Register) {
            connect.login(client).await?;
        }
        match self {
            SharedCommand::Register => {
                let (name, password) = connect.credentials()?;
                client.register(name, password).await?;
                println!("registered {name}");
            }
            SharedCommand::Movies { kind } => {
                println!("{}", table::movies(&client.movies(kind).await?))
            }
            SharedCommand::Notices => println!("{}", table::notices(&client.notices().await?)),
            SharedCommand::Files => println!("{}", table::files(&client.files().await?)),
            SharedCommand::UploadFile { path } => {
                let id = client.upload_file(&path).await?;
                println!("file {id} uploaded: {}", path.display());
            }
            SharedCommand::DownloadFile { id } => {
                let file = client.find_file(id).await?;
                println!("{}", client.download_file(&file, &connect.out).await?);
            }
            SharedCommand::DeleteFile { id } => {
                client.delete_file(id).await?;
                println!("file {id} deleted");
            }
        }
        Ok(())
    }
}

/// The exit code for a program's outcome; an error goes to stderr as `error: <message>` (the
/// server's own message when the server refused).
pub fn exit_code(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
