//! Uploads and downloads in constant memory, with progress bars (bytes, speed, ETA).
//!
//! An upload hashes the file first (the request announces its MD5), then streams it after the
//! request frame. A download writes `<dir>/<name>.part`, resumes from the length of an existing
//! `.part`, checks the MD5 of the whole file against the announced one and only then renames it
//! to `<dir>/<name>`; on a mismatch the `.part` is removed and nothing is saved.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use serde_json::{Value, json};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::{Client, FileEntry, Movie, field};
use crate::connection::Connection;
use crate::error::{Error, Result};

/// Chunk size for reading and writing file bytes.
const CHUNK: usize = 64 * 1024;

/// How long an upload that broke off waits for the server's refusal.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Where the file now is.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Bytes that were already there from an interrupted download.
    pub resumed_from: u64,
}

impl std::fmt::Display for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "saved {} ({} bytes, MD5 checked",
            self.path.display(),
            self.size
        )?;
        if self.resumed_from > 0 {
            write!(f, ", resumed from byte {}", self.resumed_from)?;
        }
        f.write_str(")")
    }
}

/// A local file about to be uploaded: its name, size and MD5.
#[derive(Debug)]
struct Local {
    path: PathBuf,
    name: String,
    size: u64,
    md5: String,
}

impl Local {
    /// Reads `path` once to hash it.
    async fn inspect(path: &Path) -> Result<Local> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path")
            })?;
        let file = File::open(path).await?;
        let size = file.metadata().await?.len();
        let mut hasher = Md5::new();
        feed(file, size, "hashing", &mut hasher).await?;
        Ok(Local {
            path: path.to_owned(),
            name,
            size,
            md5: hex::encode(hasher.finalize()),
        })
    }
}

impl Client {
    /// Uploads a movie (admins): hashes it, asks the server whether that content is new
    /// (`check_movie`), then sends it. Returns the movie's id.
    pub async fn upload_movie(&mut self, path: &Path, is_free: bool) -> Result<i64> {
        let local = Local::inspect(path).await?;
        self.call_in_session(json!({"type": "check_movie", "file_md5": local.md5}))
            .await?;
        let request = json!({"type": "upload_movie", "is_free": i32::from(is_free)});
        let answer = self.upload(request, &local).await?;
        field(&answer, "movie_id")
    }

    /// Uploads a file to this person's netdisk. Returns the file's id.
    pub async fn upload_file(&mut self, path: &Path) -> Result<i64> {
        let local = Local::inspect(path).await?;
        let answer = self.upload(json!({"type": "upload_file"}), &local).await?;
        field(&answer, "file_id")
    }

    /// Downloads a movie (users) into `dir`, resuming an interrupted download. Prints the price
    /// of a charged movie and the wait the server imposes.
    pub async fn download_movie(&mut self, movie: &Movie, dir: &Path) -> Result<Saved> {
        let kind = if movie.is_free { "free" } else { "charge" };
        let request = json!({"type": "download_movie", "movie_id": movie.id, "movie_type": kind});
        self.download(request, &movie.name, dir).await
    }

    /// Downloads one of this person's files into `dir`, resuming an interrupted download.
    pub async fn download_file(&mut self, file: &FileEntry, dir: &Path) -> Result<Saved> {
        let request = json!({"type": "download_file", "file_id": file.file_id});
        self.download(request, &file.file_name, dir).await
    }

    async fn upload(&mut self, mut request: Value, local: &Local) -> Result<Value> {
        request["session"] = self.session()?.into();
        request["file_name"] = local.name.clone().into();
        request["file_size"] = local.size.into();
        request["file_md5"] = local.md5.clone().into();
        let connection = self.open_connection().await?;
        let outcome = send_file(connection, &request, local).await;
        let outcome = match outcome {
            Ok(()) => connection.response().await,
            // A server that refuses before reading (too large) answers at once and closes:
            // its answer, already here, says more than the broken pipe.
            Err(error) => match tokio::time::timeout(REFUSAL_WAIT, connection.response()).await {
                Ok(Err(refusal @ Error::Server { .. })) => Err(refusal),
                _ => Err(error),
            },
        };
        if outcome.as_ref().is_err_and(|e| e.code().is_none()) {
            self.drop_connection();
        }
        outcome
    }

    async fn download(&mut self, mut request: Value, name: &str, dir: &Path) -> Result<Saved> {
        let path = dir.join(safe_file_name(name));
        let mut part = path.clone().into_os_string();
        part.push(".part");
        let part = PathBuf::from(part);
        let offset = match tokio::fs::metadata(&part).await {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        tokio::fs::create_dir_all(dir).await?;
        let mut hasher = Md5::new();
        if offset > 0 {
            println!("resuming {} from byte {offset}", part.display());
            hash_prefix(&part, offset, &mut hasher).await?;
        }
        request["session"] = self.session()?.into();
        request["offset"] = offset.into();
        let head = match self.call(request).await {
            Ok(head) => head,
            Err(Error::Server { code, msg }) if offset > 0 && code == "bad_request" => {
                let msg = format!(
                    "{msg} (resuming from the {offset} bytes of {}: remove it to start over)",
                    part.display()
                );
                return Err(Error::Server { code, msg });
            }
            Err(error) => return Err(error),
        };
        let received = self
            .receive_to_part(&part, &head, offset, &mut hasher)
            .await;
        if received.is_err() {
            // Out of step; what arrived stays in the `.part` for a resume.
            self.drop_connection();
        }
        let (size, expected) = received?;
        let actual = hex::encode(hasher.finalize());
        if !actual.eq_ignore_ascii_case(&expected) {
            tokio::fs::remove_file(&part).await?;
            return Err(Error::Integrity {
                path: part,
                expected,
                actual,
            });
        }
        tokio::fs::rename(&part, &path).await?;
        Ok(Saved {
            path,
            size: offset + size,
            resumed_from: offset,
        })
    }

    /// Appends the raw bytes that follow `head` to `part`, durably. Returns their number and
    /// the MD5 the server announced for the whole file.
    async fn receive_to_part(
        &mut self,
        part: &Path,
        head: &Value,
        offset: u64,
        hasher: &mut Md5,
    ) -> Result<(u64, String)> {
        let size: u64 = field(head, "file_size")?;
        let expected: String = field(head, "file_md5")?;
        announce(head);
        let wait = Duration::from_secs(head["wait_time"].as_u64().unwrap_or(0));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .await?;
        let connection = self.connection_in_step()?;
        let received = receive(connection, &mut file, hasher, offset, size, wait).await;
        file.flush().await?;
        received?;
        file.sync_all().await?;
        Ok((size, expected))
    }
}

/// Sends the request frame, then the file's bytes.
async fn send_file(connection: &mut Connection, request: &Value, local: &Local) -> Result<()> {
    connection.send(request).await?;
    let mut file = File::open(&local.path).await?.take(local.size);
    let bar = bar(local.size, 0, "uploading");
    let mut buf = vec![0; CHUNK];
    let mut sent = 0;
    while sent < local.size {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            let shrank = format!("{} shrank while it was being uploaded", local.name);
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, shrank).into());
        }
        connection.write_raw(&buf[..n]).await?;
        sent += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Receives `size` raw bytes into `file`; the first may come only after `wait`.
async fn receive(
    connection: &mut Connection,
    file: &mut File,
    hasher: &mut Md5,
    offset: u64,
    size: u64,
    wait: Duration,
) -> Result<()> {
    let bar = bar(offset + size, offset, "downloading");
    let mut buf = vec![0; CHUNK];
    let mut left = size;
    let mut patience = connection.timeouts().response + wait;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = connection.read_raw(&mut buf[..want], patience).await?;
        file.write_all(&buf[..n]).await?;
        hasher.update(&buf[..n]);
        left -= n as u64;
        bar.inc(n as u64);
        patience = connection.timeouts().response;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Feeds the first `len` bytes of `path` (an interrupted download) to `hasher`.
async fn hash_prefix(path: &Path, len: u64, hasher: &mut Md5) -> Result<()> {
    feed(File::open(path).await?, len, "checking", hasher).await
}

/// Feeds the first `len` bytes of `source` to `hasher`, with a progress bar labelled `label`.
async fn feed(source: File, len: u64, label: &'static str, hasher: &mut Md5) -> Result<()> {
    let mut source = source.take(len);
    let bar = bar(len, 0, label);
    let mut buf = vec![0; CHUNK];
    loop {
        let n = source.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Says what the download's answer means for this person: its price and the server's wait.
fn announce(head: &Value) {
    if let Some(price) = head["price"].as_i64().filter(|p| *p > 0) {
        println!("price for you: {price}");
    }
    if let Some(wait) = head["wait_time"].as_u64().filter(|w| *w > 0) {
        println!(
            "the server makes non-VIP users wait {wait} seconds before a free movie starts \
             (buy VIP to skip it); waiting..."
        );
    }
}

/// A name from the server made safe to use as one file name in the download directory: no
/// separators, no control characters, never `.` or `..`.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match cleaned.trim() {
        "" | "." | ".." => "download".to_owned(),
        _ => cleaned,
    }
}

/// A byte progress bar with speed and ETA (drawn on stderr, only when it is a terminal).
fn bar(len: u64, position: u64, label: &'static str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:>11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .expect("a valid progress template")
    .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_message(label)
        .with_position(position)
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn names_from_the_server_never_leave_the_download_directory() {
        assert_eq!(safe_file_name("film.mp4"), "film.mp4");
        assert_eq!(safe_file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe_file_name("a\\b\nc"), "a_b_c");
        assert_eq!(safe_file_name(".."), "download");
        assert_eq!(safe_file_name(" "), "download");
    }
}
