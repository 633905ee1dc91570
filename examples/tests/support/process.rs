//! A `server` PROCESS (the compiled binary) on a given database and data directory, with the
//! doors a test asks for on free loopback ports, and everything it prints kept for failure
//! messages.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long a server process may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Every door, by its flag's name.
const DOORS: [&str; 4] = ["youku", "netdisk", "chat", "http"];

/// One running `server` process.
pub struct ServerProcess {
    child: Child,
    addrs: HashMap<String, String>,
    output: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the server on database `db` (its embedded SQLite in `data_dir` when `None`) and
    /// data directory `data_dir` with `doors` open, each at its address (`127.0.0.1:0` for a
    /// free port; the other doors off), and extra environment `env`; waits until it listens.
    pub async fn start(
        db: Option<&str>,
        data_dir: &Path,
        doors: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command.arg("--data-dir").arg(data_dir);
        if let Some(db) = db {
            command.args(["--db", db]);
        }
        for door in DOORS {
            match doors.iter().find(|(name, _)| *name == door) {
                Some((_, addr)) => command.args([format!("--{door}"), (*addr).to_owned()]),
                None => command.arg(format!("--no-{door}")),
            };
        }
        let mut child = command
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let wanted: Vec<String> = doors.iter().map(|(door, _)| (*door).to_owned()).collect();
        let stdout = child.stdout.take().unwrap();
        tokio::spawn(collect(stdout, output.clone(), Some((wanted, found))));
        tokio::spawn(collect(child.stderr.take().unwrap(), output.clone(), None));
        let addrs = match tokio::time::timeout(START_LIMIT, listening).await {
            Ok(Ok(addrs)) => addrs,
            _ => panic!(
                "the server did not start listening:\n{}",
                output.lock().unwrap()
            ),
        };
        ServerProcess {
            child,
            addrs,
            output,
        }
    }

    /// `HOST:PORT` of door `door`.
    pub fn addr(&self, door: &str) -> &str {
        &self.addrs[door]
    }

    /// Everything the process printed, for failure messages.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Stops the process.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Where the addresses of the doors go once they are all known.
type Listening = tokio::sync::oneshot::Sender<HashMap<String, String>>;

/// Appends every line of `stream` to `output`; once the lines announcing each wanted door
/// (`<door> door on ADDR`) have come, sends their addresses to `found`.
async fn collect(
    stream: impl AsyncRead + Unpin,
    output: Arc<Mutex<String>>,
    mut found: Option<(Vec<String>, Listening)>,
) {
    let mut lines = BufReader::new(stream).lines();
    let mut addrs = HashMap::new();
    while let Ok(Some(line)) = lines.next_line().await {
        for door in DOORS {
            let addr = line
                .strip_prefix(&format!("{door} door on "))
                .and_then(|rest| rest.split_whitespace().next())
                .map(|addr| addr.trim_end_matches(':').to_owned());
            if let Some(addr) = addr {
                addrs.insert(door.to_owned(), addr);
            }
        }
        if found
            .as_ref()
            .is_some_and(|(wanted, _)| wanted.iter().all(|door| addrs.contains_key(door)))
            && let Some((_, sender)) = found.take()
        {
            let _ = sender.send(addrs.clone());
        }
        let mut output = output.lock().unwrap();
        output.push_str(&line);
        output.push('\n');
    }
}
