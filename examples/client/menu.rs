//! The numbered menu of the original clients: prompts on stdout, answers read line by line
//! (so it can be driven by piped stdin; a password is a plain line too), errors printed with
//! the server's message before the menu shows again, end of input a clean exit.

use std::path::PathBuf;

use anyhow::Context as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader, Lines, Stdin};

use crate::api::{Client, FileEntry, Movie, MovieKind, Role};
use crate::table;

/// Input ended: the menu stops without an error.
#[derive(Debug)]
pub struct EndOfInput;

impl std::fmt::Display for EndOfInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("end of input")
    }
}

impl std::error::Error for EndOfInput {}

/// One line of a menu: what to type, what it does, and the action it stands for.
#[derive(Debug, Clone, Copy)]
pub struct Item<A> {
    /// What to type (`"1"`, `"2"`, ...).
    pub key: &'static str,
    /// What it does.
    pub label: &'static str,
    /// The action.
    pub action: A,
}

impl<A> Item<A> {
    /// The entry `key` for `action`, shown as `label`.
    pub const fn new(key: &'static str, label: &'static str, action: A) -> Self {
        Item { key, label, action }
    }
}

/// What the admin and user menus both offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// Create an account.
    Register,
    /// Log in.
    Login,
    /// Upload a file to the personal netdisk.
    UploadFile,
    /// List the personal netdisk.
    ListFiles,
    /// Download a file from the personal netdisk.
    DownloadFile,
    /// Delete a file from the personal netdisk.
    DeleteFile,
}

/// A person at the menu: the client, where answers come from, and where downloads go.
#[derive(Debug)]
pub struct Console<R> {
    /// The connection and session.
    pub client: Client,
    /// Where answers are read from.
    pub input: Lines<R>,
    /// Where downloads are saved.
    pub out: PathBuf,
}

impl Console<BufReader<Stdin>> {
    /// A console reading standard input.
    pub fn stdin(client: Client, out: PathBuf) -> Self {
        Console::new(client, BufReader::new(tokio::io::stdin()), out)
    }
}

impl<R: AsyncBufRead + Unpin> Console<R> {
    /// A console reading `input`.
    pub fn new(client: Client, input: R, out: PathBuf) -> Self {
        Console {
            client,
            input: input.lines(),
            out,
        }
    }

    /// Shows the menu and runs what is chosen, until `q` or the end of input; then logs out.
    pub async fn run<A: Copy>(
        &mut self,
        title: &str,
        items: &[Item<A>],
        mut act: impl AsyncFnMut(&mut Self, A) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        loop {
            for notice in self.client.pushed_notices().await {
                println!(
                    "[new notice {}] {}: {}",
                    notice.create_time, notice.title, notice.content
                );
            }
            println!("\n===== {title} =====");
            for item in items {
                println!("{:>4}  {}", item.key, item.label);
            }
            println!("{:>4}  quit", "q");
            let choice = match self.line("choose: ").await {
                Ok(choice) => choice,
                Err(error) => {
                    if !error.is::<EndOfInput>() {
                        eprintln!("error: {error:#}");
                    }
                    break;
                }
            };
            if choice == "q" {
                break;
            }
            let Some(item) = items.iter().find(|item| item.key == choice) else {
                eprintln!("error: no menu entry {choice:?}");
                continue;
            };
            if let Err(error) = act(self, item.action).await {
                if error.is::<EndOfInput>() {
                    break;
                }
                eprintln!("error: {error:#}");
            }
        }
        if self.client.is_logged_in() {
            let _ = self.client.logout().await;
        }
        println!("bye");
        Ok(())
    }

    /// Runs one of the entries both menus have.
    pub async fn shared(&mut self, action: Shared) -> anyhow::Result<()> {
        match action {
            Shared::Register => {
                let (name, password) = self.credentials().await?;
                self.client.register(&name, &password).await?;
                println!("registered {name}; now log in");
            }
            Shared::Login => {
                let (name, password) = self.credentials().await?;
                self.client.login(&name, &password).await?;
                let vip = if self.client.is_vip() { " (VIP)" } else { "" };
                println!("logged in as {name}{vip}");
                if self.client.role() == Role::User {
                    // New notices are shown above the menu as they arrive.
                    self.client.subscribe().await?;
                }
            }
            Shared::UploadFile => {
                let path = self.line("path of the file to upload: ").await?;
                let id = self.client.upload_file(path.as_ref()).await?;
                println!("file {id} uploaded: {path}");
            }
            Shared::ListFiles => {
                let files = self.client.files().await?;
                println!("{}", table::files(&files));
            }
            Shared::DownloadFile => {
                if let Some(file) = self.choose_file().await? {
                    let saved = self.client.download_file(&file, &self.out).await?;
                    println!("{saved}");
                }
            }
            Shared::DeleteFile => {
                if let Some(file) = self.choose_file().await? {
                    self.client.delete_file(file.file_id).await?;
                    println!("file {} deleted: {}", file.file_id, file.file_name);
                }
            }
        }
        Ok(())
    }

    /// Lists the movies of `kind` and asks for one by its number; `None` when there are none.
    pub async fn choose_movie(&mut self, kind: MovieKind) -> anyhow::Result<Option<Movie>> {
        let mut movies = self.client.movies(kind).await?;
        if movies.is_empty() {
            println!("no movies ({})", kind.as_str());
            return Ok(None);
        }
        println!("{}", table::movies(&movies));
        let n = self
            .number("number (#) of the movie: ", movies.len())
            .await?;
        Ok(Some(movies.swap_remove(n)))
    }

    /// Lists the personal files and asks for one by its number; `None` when there are none.
    pub async fn choose_file(&mut self) -> anyhow::Result<Option<FileEntry>> {
        let mut files = self.client.files().await?;
        if files.is_empty() {
            println!("no files");
            return Ok(None);
        }
        println!("{}", table::files(&files));
        let n = self.number("number (#) of the file: ", files.len()).await?;
        Ok(Some(files.swap_remove(n)))
    }

    /// Prints `prompt` and reads one line, trimmed; [`EndOfInput`] when input ended.
    pub async fn line(&mut self, prompt: &str) -> anyhow::Result<String> {
        use std::io::Write as _;
        print!("{prompt}");
        std::io::stdout().flush().context("writing to stdout")?;
        match self.input.next_line().await.context("reading input")? {
            Some(line) => Ok(line.trim().to_owned()),
            None => {
                println!();
                Err(EndOfInput.into())
            }
        }
    }

    /// Asks a yes/no question; anything but `y`/`yes` is no.
    pub async fn yes(&mut self, prompt: &str) -> anyhow::Result<bool> {
        let answer = self.line(prompt).await?.to_ascii_lowercase();
        Ok(answer == "y" || answer == "yes")
    }

    /// Asks for a number from 1 to `count`; returns it as an index (from 0).
    pub async fn number(&mut self, prompt: &str, count: usize) -> anyhow::Result<usize> {
        let answer = self.line(prompt).await?;
        match answer.parse::<usize>() {
            Ok(n) if (1..=count).contains(&n) => Ok(n - 1),
            _ => anyhow::bail!("{answer:?} is not a number from 1 to {count}"),
        }
    }

    async fn credentials(&mut self) -> anyhow::Result<(String, String)> {
        let name = self.line("name: ").await?;
        let password = self.line("password: ").await?;
        Ok((name, password))
    }
}
