//! Crash recovery of the real `server` process on its default SQLite database: it is killed with
//! SIGKILL at random moments while clients upload, and restarted on the same data directory,
//! `NETDISK_CRASH_ROUNDS` times (default 20).
//!
//! Each round an admin uploads movies over the Youku protocol and a user uploads personal files
//! over the netdisk protocol (random sizes up to 3 MiB, some empty, some files sharing another
//! upload's content), and then the server is killed at one of these moments:
//! - mid-body: after a random part of an upload's bytes;
//! - after the last byte: at once, or within the longest time an answer took so far, while the
//!   server hashes, fsyncs, renames and commits (an answer that arrives first makes the upload an
//!   answered one);
//! - as the upload's file appears in `blobs/` (polled every millisecond): between the rename and
//!   the commit, or just after;
//! - between uploads, while it is idle;
//!
//! and in some rounds once more during its start-up. A ledger on the client side records what
//! each sender knows: answered with success, all bytes sent but no answer, or cut off mid-body.
//! After every restart the test checks that:
//! - `tmp/` is empty: start-up removed the temporaries the kill left;
//! - the blob files are exactly those of the blob rows. Start-up removes a blob file that no row
//!   refers to once it is older than its grace period (10 minutes), so before each restart the
//!   test makes every blob file look an hour old: orphans must go, referenced files must stay;
//! - each blob file has its row's size, and each blob's reference count is the number of movies
//!   and files that use it;
//! - every movie and file row is an upload from the ledger, never one cut off mid-body, with the
//!   ledger's size and MD5, and the bytes on disk have that MD5;
//! - every upload answered with success is there (and one that was not answered, once found
//!   present or absent, stays so).
//!
//! At the end every movie and file is downloaded over the protocol and compared with the ledger.
//!
//! The seed is printed; `NETDISK_CRASH_SEED=<seed>` replays a run's sizes and kill moments (what
//! the server got done before each kill depends on timing). A long run:
//! `NETDISK_CRASH_ROUNDS=500 cargo test -p examples --test crash_recovery -- --nocapture`.
//! SIGKILL loses no write the kernel already accepted, so this checks the order of the server's
//! steps (write, verify, rename, commit; sweep at start-up), not fsync against a power loss.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use examples::{Client, Connection, MovieKind, Role, Timeouts, hash_password};
use md5::{Digest, Md5};
use mini_orm::Model;
use netdisk_core::models::{Blob, Movie, UserFile};
use netdisk_core::storage::Storage;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};

/// Replays a run.
const SEED_VAR: &str = "NETDISK_CRASH_SEED";
/// Number of kill-and-restart rounds.
const ROUNDS_VAR: &str = "NETDISK_CRASH_ROUNDS";
/// Both accounts' password as typed (sent as its MD5, as the original clients do).
const PASSWORD: &str = "pw";
/// The admin who uploads movies.
const ADMIN: &str = "root";
/// The user who uploads files.
const VIEWER: &str = "viewer";
/// Largest upload.
const MAX_UPLOAD: usize = 3 << 20;
/// How long the server may take to start, or to answer one request.
const LIMIT: Duration = Duration::from_secs(30);
/// How old blob files are made to look before a restart: past the start-up grace (10 minutes).
const AGED: Duration = Duration::from_secs(3600);

/// Hex MD5.
fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// `len` bytes that differ from those of another `salt`.
fn content(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// The directory of one test run: `data/` (the server's), `server.log`, `downloads/`.
struct Work(tempfile::TempDir);

impl Work {
    /// The server's data directory.
    fn data(&self) -> PathBuf {
        self.0.path().join("data")
    }

    /// Where the server logs (every run appends).
    fn log(&self) -> PathBuf {
        self.0.path().join("server.log")
    }

    /// The end of the server's log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The names in `data/<dir>` (`tmp` or a blob shard).
    fn entries(&self, dir: &str) -> Vec<String> {
        std::fs::read_dir(self.data().join(dir))
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every file under `data/blobs`, as `blobs/<shard>/<name>`.
    fn blob_files(&self) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        for shard in self.entries("blobs") {
            for name in self.entries(&format!("blobs/{shard}")) {
                files.insert(format!("blobs/{shard}/{name}"));
            }
        }
        files
    }

    /// Makes every blob file look [`AGED`] old, past the start-up sweep's grace period.
    fn age_blobs(&self) {
        let then = SystemTime::now() - AGED;
        for rel in self.blob_files() {
            let file = std::fs::File::options()
                .write(true)
                .open(self.data().join(&rel))
                .unwrap();
            file.set_modified(then).unwrap();
        }
    }
}

/// The `server` example running on the work directory's data.
struct Server {
    process: Child,
    youku: SocketAddr,
    netdisk: SocketAddr,
    /// Kept open: the server must not get a broken pipe for printing.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Server {
    /// Spawns the server (both protocols on 127.0.0.1:0, no wait for free movies, log to
    /// `server.log`), without waiting for it.
    fn spawn(work: &Work) -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(work.log())
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command.arg("--data-dir").arg(work.data()).args([
            "--youku",
            "127.0.0.1:0",
            "--netdisk",
            "127.0.0.1:0",
            "--no-http",
            "--no-chat",
        ]);
        // The server reads its configuration from NETDISK_* variables and refuses unknown ones,
        // such as this test's own.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NETDISK_") {
                command.env_remove(key);
            }
        }
        command
            .env("NETDISK_FREE_WAIT_SECS", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// Starts the server and waits until it prints where it listens (after its start-up checks).
    async fn start(work: &Work) -> Server {
        let mut process = Server::spawn(work);
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        let address = |line: &str, prefix: &str| -> Option<SocketAddr> {
            let rest = line.strip_prefix(prefix)?;
            rest.split_whitespace()
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()
        };
        let (mut youku, mut netdisk) = (None, None);
        let _ = tokio::time::timeout(LIMIT, async {
            while let Ok(Some(line)) = stdout.next_line().await {
                youku = youku.or(address(&line, "youku door on "));
                netdisk = netdisk.or(address(&line, "netdisk door on "));
                if youku.is_some() && netdisk.is_some() {
                    return;
                }
            }
        })
        .await;
        let (Some(youku), Some(netdisk)) = (youku, netdisk) else {
            panic!(
                "the server did not say where it listens within {LIMIT:?}:\n{}",
                work.log_tail()
            );
        };
        Server {
            process,
            youku,
            netdisk,
            _stdout: stdout,
        }
    }

    /// SIGKILL, and wait until it is gone.
    async fn kill(mut self) {
        self.process.start_kill().unwrap();
        self.process.wait().await.unwrap();
    }
}

/// A netdisk-protocol connection logged in as [`VIEWER`]: `{"api", "data"}` frames, raw bytes.
struct Door {
    stream: TcpStream,
}

impl Door {
    /// Connects and logs in.
    async fn login(addr: SocketAddr) -> Door {
        let mut door = Door {
            stream: TcpStream::connect(addr).await.unwrap(),
        };
        let data = json!({"username": VIEWER, "password": hash_password(PASSWORD)});
        let answer = door.call("login", data).await;
        assert_eq!(answer["code"], 1, "netdisk login: {answer}");
        door
    }

    /// Sends one request and returns its answer.
    async fn call(&mut self, api: &str, data: Value) -> Value {
        let body = json!({"api": api, "data": data}).to_string();
        let mut frame = (body.len() as i32).to_le_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        self.stream.write_all(&frame).await.unwrap();
        self.answer().await
    }

    /// The next frame, within [`LIMIT`].
    async fn answer(&mut self) -> Value {
        let read = async {
            let mut header = [0; 4];
            self.stream.read_exact(&mut header).await?;
            let mut body = vec![0; i32::from_le_bytes(header) as usize];
            self.stream.read_exact(&mut body).await?;
            std::io::Result::Ok(body)
        };
        let body = tokio::time::timeout(LIMIT, read)
            .await
            .expect("a netdisk answer in time")
            .expect("a netdisk answer");
        serde_json::from_slice(&body).unwrap()
    }
}

/// What an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A movie, by the admin over the Youku protocol.
    Movie,
    /// A personal file, by the viewer over the netdisk protocol.
    File,
}

/// What the client knows about an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Answered with success, or found stored after a restart: must be there, intact.
    Stored,
    /// All bytes sent but the server was killed before answering: may or may not be there.
    Unanswered,
    /// Cut off mid-body, or unanswered and found missing after a restart: must never appear.
    Absent,
}

/// One upload in the ledger; its bytes are `content(size, salt)`.
#[derive(Debug)]
struct Entry {
    kind: Kind,
    size: usize,
    salt: u64,
    md5: String,
    state: State,
}

/// Counts for the final report.
#[derive(Debug, Default)]
struct Figures {
    uploads: usize,
    answered: usize,
    unanswered_stored: usize,
    unanswered_lost: usize,
    kills_mid_body: usize,
    kills_after_last_byte: usize,
    kills_at_rename: usize,
    kills_between: usize,
    kills_during_start_up: usize,
    temporaries_left: usize,
    orphans_removed: usize,
}

/// The client side: the ledger of uploads, the checks against it, the counts.
struct Ledger {
    rng: StdRng,
    /// By name (ordered, so that a seed replays the same choices).
    entries: BTreeMap<String, Entry>,
    /// The MD5 of each blob file already hashed (blob files never change).
    hashed: HashMap<String, String>,
    /// The longest time from an upload's last byte to its answer so far: kills "after the last
    /// byte" fall within it, to land while the server hashes, fsyncs, renames or commits.
    slowest_answer: Duration,
    figures: Figures,
}

/// The two uploaders of a round.
struct Uploaders {
    admin: Connection,
    session: String,
    door: Door,
}

impl Uploaders {
    /// Logs the admin in over the Youku protocol and the viewer over the netdisk protocol.
    async fn connect(server: &Server) -> Uploaders {
        let mut admin = Connection::connect(server.youku, timeouts()).await.unwrap();
        let login = json!({"type": "login", "name": ADMIN, "password": hash_password(PASSWORD),
                           "user_type": "admin"});
        let answer = admin.call(&login).await.expect("the admin logs in");
        Uploaders {
            admin,
            session: answer["session"].as_str().unwrap().to_owned(),
            door: Door::login(server.netdisk).await,
        }
    }

    /// Announces an upload (for the netdisk protocol, up to its go-ahead).
    async fn announce(&mut self, upload: &Upload) {
        let (name, bytes) = (&upload.name, &upload.bytes);
        match upload.kind {
            Kind::Movie => {
                let request = json!({"type": "upload_movie", "session": self.session,
                                     "file_name": name, "file_size": bytes.len(),
                                     "file_md5": md5_hex(bytes), "is_free": 1});
                self.admin.send(&request).await.unwrap();
            }
            Kind::File => {
                let data = json!({"username": VIEWER, "file_name": name, "file_size": bytes.len()});
                let go = self.door.call("upload", data).await;
                assert_eq!(go["code"], 99999, "upload {name}: {go}");
            }
        }
    }

    /// Sends raw bytes of the announced upload.
    async fn send(&mut self, kind: Kind, bytes: &[u8]) {
        match kind {
            Kind::Movie => self.admin.write_raw(bytes).await.unwrap(),
            Kind::File => self.door.stream.write_all(bytes).await.unwrap(),
        }
    }

    /// Waits for the answer after the bytes and asserts it is a success.
    async fn answered(&mut self, upload: &Upload) {
        let name = &upload.name;
        match upload.kind {
            Kind::Movie => {
                let answer = self.admin.response().await;
                assert!(answer.is_ok(), "upload of {name}: {answer:?}");
            }
            Kind::File => {
                let answer = self.door.answer().await;
                assert_eq!(answer["code"], 1, "upload of {name}: {answer}");
            }
        }
    }
}

/// Patient timeouts for the clients (the machine may be busy).
fn timeouts() -> Timeouts {
    Timeouts {
        connect: LIMIT,
        response: LIMIT,
    }
}

/// An upload about to be made.
struct Upload {
    kind: Kind,
    name: String,
    salt: u64,
    bytes: Vec<u8>,
}

impl Ledger {
    /// A new upload: its kind, a name nobody used, and its bytes (at least `min_len` of them).
    fn next(&mut self, label: &str, min_len: usize) -> Upload {
        let kind = if self.rng.random_bool(0.5) {
            Kind::Movie
        } else {
            Kind::File
        };
        let stored: Vec<&Entry> = self
            .entries
            .values()
            .filter(|e| e.state == State::Stored && e.size >= min_len)
            .collect();
        // Some files share content with an earlier upload (one blob, two references); a movie
        // never does: the server refuses a second live movie with the same content.
        let (size, salt) = if kind == Kind::File && !stored.is_empty() && self.rng.random_bool(0.2)
        {
            let twin = stored[self.rng.random_range(0..stored.len())];
            (twin.size, twin.salt)
        } else {
            let size = match self.rng.random_range(0..10) {
                0 => 0,
                1..=3 => self.rng.random_range(1..64 * 1024),
                _ => self.rng.random_range(64 * 1024..=MAX_UPLOAD),
            };
            // Movies are never empty, nor so short that two could have the same bytes.
            let least = if kind == Kind::Movie { 64 } else { min_len };
            (size.max(least), self.rng.random())
        };
        Upload {
            kind,
            name: format!("{kind:?} {label}"),
            salt,
            bytes: content(size, salt),
        }
    }

    /// Adds `upload` to the ledger.
    fn record(&mut self, upload: &Upload, state: State) {
        self.figures.uploads += 1;
        let entry = Entry {
            kind: upload.kind,
            size: upload.bytes.len(),
            salt: upload.salt,
            md5: md5_hex(&upload.bytes),
            state,
        };
        assert!(self.entries.insert(upload.name.clone(), entry).is_none());
    }

    /// One round: a few complete uploads, then a kill at a random moment.
    async fn round(&mut self, work: &Work, round: usize, server: Server) {
        let mut up = Uploaders::connect(&server).await;
        let complete = self.rng.random_range(0..=3);
        for i in 0..complete {
            let upload = self.next(&format!("r{round} u{i}"), 0);
            up.announce(&upload).await;
            up.send(upload.kind, &upload.bytes).await;
            let sent = Instant::now();
            up.answered(&upload).await;
            self.slowest_answer = self.slowest_answer.max(sent.elapsed());
            self.figures.answered += 1;
            self.record(&upload, State::Stored);
        }
        let label = format!("r{round} u{complete}");
        let moment = match self.rng.random_range(0..4) {
            0 => {
                self.figures.kills_between += 1;
                format!("between uploads, after {complete}")
            }
            1 => {
                let upload = self.next(&label, 1);
                let size = upload.bytes.len();
                let sent = self.rng.random_range(0..size);
                up.announce(&upload).await;
                up.send(upload.kind, &upload.bytes[..sent]).await;
                // Give the server a moment to write some of it, or none.
                let pause = self.rng.random_range(0..3_000);
                tokio::time::sleep(Duration::from_micros(pause)).await;
                self.figures.kills_mid_body += 1;
                self.record(&upload, State::Absent);
                format!("mid-body: {}, {sent} of {size} bytes sent", upload.name)
            }
            2 => {
                let upload = self.next(&label, 0);
                let blobs = work.blob_files().len();
                up.announce(&upload).await;
                up.send(upload.kind, &upload.bytes).await;
                // Poll for the new blob file: the kill then lands between the rename into
                // blobs/ and the commit, or just after it. (A file sharing stored content makes
                // no new blob file; its answer comes first.)
                let renamed = async {
                    while work.blob_files().len() == blobs {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                };
                let state = tokio::select! {
                    () = up.answered(&upload) => {
                        self.figures.answered += 1;
                        State::Stored
                    }
                    () = renamed => State::Unanswered,
                };
                self.figures.kills_at_rename += 1;
                self.record(&upload, state);
                format!("as {} reached blobs/: {state:?}", upload.name)
            }
            _ => {
                let upload = self.next(&label, 0);
                up.announce(&upload).await;
                up.send(upload.kind, &upload.bytes).await;
                let delay = if self.rng.random_bool(0.25) {
                    Duration::ZERO
                } else {
                    self.slowest_answer.mul_f64(self.rng.random_range(0.0..1.2))
                };
                let state = match tokio::time::timeout(delay, up.answered(&upload)).await {
                    Ok(()) => {
                        self.figures.answered += 1;
                        State::Stored
                    }
                    Err(_) => State::Unanswered,
                };
                self.figures.kills_after_last_byte += 1;
                self.record(&upload, state);
                format!(
                    "after the last byte of {} ({} bytes), {delay:?} later: {state:?}",
                    upload.name,
                    upload.bytes.len()
                )
            }
        };
        server.kill().await;
        println!("round {round}: {complete} uploads, then killed {moment}");
    }

    /// The checks after a restart (see the module documentation).
    async fn verify(&mut self, work: &Work) {
        let temporaries = work.entries("tmp");
        assert!(
            temporaries.is_empty(),
            "start-up left temporaries: {temporaries:?}"
        );

        let url = format!("sqlite://{}", work.data().join("netdisk.db").display());
        let db = mini_orm::Db::connect(&url).await.unwrap();
        let blobs = Blob::query().all(&db).await.unwrap();
        let movies = Movie::query().all(&db).await.unwrap();
        let files = UserFile::query().all(&db).await.unwrap();
        db.close().await.unwrap();

        let paths: HashMap<i64, String> = blobs
            .iter()
            .map(|b| (b.id, Storage::blob_path(&b.sha256, b.id)))
            .collect();
        let on_disk = work.blob_files();
        let known: BTreeSet<String> = paths.values().cloned().collect();
        assert_eq!(
            on_disk, known,
            "blob files (left) and blob rows (right) differ: an orphan survived start-up, or a \
             stored file is missing"
        );
        for blob in &blobs {
            let len = std::fs::metadata(work.data().join(&paths[&blob.id]))
                .unwrap()
                .len();
            assert_eq!(len, blob.size as u64, "size of blob {}", blob.id);
            let users = movies.iter().filter(|m| m.blob_id == blob.id).count()
                + files.iter().filter(|f| f.blob_id == blob.id).count();
            assert_eq!(
                blob.refs, users as i64,
                "reference count of blob {}",
                blob.id
            );
        }

        let rows = movies
            .iter()
            .map(|m| (Kind::Movie, &m.name, m.size, &m.file_md5, m.blob_id))
            .chain(
                files
                    .iter()
                    .map(|f| (Kind::File, &f.name, f.size, &f.md5, f.blob_id)),
            );
        let mut present = BTreeSet::new();
        for (kind, name, size, md5, blob_id) in rows {
            let entry = self
                .entries
                .get_mut(name.as_str())
                .unwrap_or_else(|| panic!("a row nobody uploaded: {name:?}"));
            assert_eq!(entry.kind, kind, "{name}");
            match entry.state {
                State::Stored => {}
                State::Unanswered => {
                    entry.state = State::Stored;
                    self.figures.unanswered_stored += 1;
                }
                State::Absent => panic!("{name} is stored although its upload never completed"),
            }
            assert_eq!((size as usize, md5), (entry.size, &entry.md5), "{name}");
            let path = paths
                .get(&blob_id)
                .unwrap_or_else(|| panic!("{name} refers to blob {blob_id}, which has no row"));
            let on_disk = self
                .hashed
                .entry(path.clone())
                .or_insert_with(|| md5_hex(&std::fs::read(work.data().join(path)).unwrap()));
            assert_eq!(on_disk, &entry.md5, "the bytes of {name} on disk ({path})");
            present.insert(name.clone());
        }
        for (name, entry) in &mut self.entries {
            if present.contains(name) {
                continue;
            }
            match entry.state {
                State::Stored => panic!("{name} was stored (answered, or seen) but is gone"),
                State::Unanswered => {
                    entry.state = State::Absent;
                    self.figures.unanswered_lost += 1;
                }
                State::Absent => {}
            }
        }
    }

    /// Downloads every movie and file over the protocol and compares them with the ledger.
    async fn download_everything(&self, server: &Server, dir: &Path) {
        let addr = server.youku.to_string();
        let mut viewer = Client::connect(&addr, Role::User, timeouts())
            .await
            .unwrap();
        viewer.login(VIEWER, PASSWORD).await.unwrap();
        let stored = |kind: Kind| -> BTreeSet<&str> {
            self.entries
                .iter()
                .filter(|(_, e)| e.kind == kind && e.state == State::Stored)
                .map(|(name, _)| name.as_str())
                .collect()
        };
        let check = |name: &str, saved: &Path| {
            let bytes = std::fs::read(saved).unwrap();
            assert_eq!(
                md5_hex(&bytes),
                self.entries[name].md5,
                "download of {name}"
            );
            std::fs::remove_file(saved).unwrap();
        };
        let movies = viewer.movies(MovieKind::All).await.unwrap();
        let names: BTreeSet<&str> = movies.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, stored(Kind::Movie), "the movie list");
        for movie in &movies {
            let saved = viewer.download_movie(movie, dir).await.unwrap();
            check(&movie.name, &saved.path);
        }
        let files = viewer.files().await.unwrap();
        let names: BTreeSet<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, stored(Kind::File), "the file list");
        for file in &files {
            let saved = viewer.download_file(file, dir).await.unwrap();
            check(&file.file_name, &saved.path);
        }
    }
}

/// Registers the admin and the viewer on a fresh server.
async fn register(server: &Server) {
    let addr = server.youku.to_string();
    for (role, name) in [(Role::Admin, ADMIN), (Role::User, VIEWER)] {
        let mut client = Client::connect(&addr, role, timeouts()).await.unwrap();
        client.register(name, PASSWORD).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_the_server_keeps_every_answered_upload_and_no_partial_one() {
    let seed = std::env::var(SEED_VAR).map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |text| text.parse().expect("a number in NETDISK_CRASH_SEED"),
    );
    let rounds: usize = std::env::var(ROUNDS_VAR).map_or(20, |text| {
        text.parse().expect("a number in NETDISK_CRASH_ROUNDS")
    });
    println!("seed {seed} (set {SEED_VAR}={seed} to replay this run), {rounds} rounds");
    let work = Work(tempfile::tempdir().unwrap());
    let mut ledger = Ledger {
        rng: StdRng::seed_from_u64(seed),
        entries: BTreeMap::new(),
        hashed: HashMap::new(),
        slowest_answer: Duration::from_millis(50),
        figures: Figures::default(),
    };
    let started = Instant::now();

    let mut server = Server::start(&work).await;
    register(&server).await;
    for round in 0..rounds {
        ledger.round(&work, round, server).await;
        ledger.figures.temporaries_left += work.entries("tmp").len();
        work.age_blobs();
        let blob_files = work.blob_files().len();
        if ledger.rng.random_bool(0.25) {
            // Killed again while it starts up (sweeping, perhaps).
            let mut process = Server::spawn(&work);
            let pause = ledger.rng.random_range(0..150);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            process.start_kill().unwrap();
            process.wait().await.unwrap();
            ledger.figures.kills_during_start_up += 1;
        }
        server = Server::start(&work).await;
        ledger.verify(&work).await;
        ledger.figures.orphans_removed += blob_files - work.blob_files().len();
    }
    let downloads = tempfile::tempdir().unwrap();
    ledger.download_everything(&server, downloads.path()).await;
    server.kill().await;
    println!("{:#?}", ledger.figures);
    println!("{rounds} rounds in {:?}", started.elapsed());
}
