//! The server under load: either the compiled `server` binary, spawned on a fresh data
//! directory (so its memory and CPU can be read from `/proc/<pid>`), or a running server given by
//! address. Only loopback addresses are ever accepted.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use tokio::process::{Child, Command};

use crate::Common;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// How long the spawned server gets to print where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The spawned server's data directory, inside loadgen's scratch directory (a mode may fill it
/// before the server starts).
pub const DATA_DIR: &str = "data";

/// What the spawned server needs beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ServerNeeds {
    /// Connections that must be served at once (passed as `--max-connections`, with room).
    pub connections: usize,
    /// Extra `NETDISK_*` environment variables (for example a longer idle timeout).
    pub env: Vec<(&'static str, String)>,
    /// Whether to open the HTTP door (on a free loopback port); off otherwise, so that no run
    /// takes its default port 5000.
    pub http: bool,
    /// Whether to open the C/S chat door (on a free loopback port); off otherwise.
    pub chat: bool,
}

/// The server's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now, in bytes.
    pub rss: u64,
    /// `VmHWM`: the peak since start or since [`Target::reset_peak`], in bytes.
    pub peak: u64,
}

/// The server loadgen talks to.
pub struct Target {
    /// Its Youku protocol address (always loopback).
    pub addr: SocketAddr,
    /// Its HTTP door's address, when [`ServerNeeds::http`] asked for one (spawned servers only).
    pub http_addr: Option<SocketAddr>,
    /// Its chat door's address, when [`ServerNeeds::chat`] asked for one (spawned servers only).
    pub chat_addr: Option<SocketAddr>,
    /// The spawned server's data directory (its stored files are under `blobs/`).
    pub data_dir: Option<PathBuf>,
    spawned: Option<Spawned>,
}

struct Spawned {
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Target {
    /// Spawns the `server` example on `work/data`, or checks the `--server` address.
    pub async fn start(common: &Common, work: &Path, needs: ServerNeeds) -> anyhow::Result<Target> {
        if let Some(addr) = &common.server {
            ensure!(
                common.db.is_none(),
                "--db applies to the server loadgen spawns, not to --server"
            );
            ensure!(
                !needs.http && !needs.chat,
                "this mode spawns its own server (it reads the server's files and settings), \
                 so it does not take --server"
            );
            return Ok(Target {
                addr: loopback(addr)?,
                http_addr: None,
                chat_addr: None,
                data_dir: None,
                spawned: None,
            });
        }
        if let Some(url) = &common.db {
            check_database_url(url)?;
        }
        let exe = std::env::current_exe().context("locating loadgen's own executable")?;
        // loadgen is in target/<profile>/examples/, the server binary in target/<profile>/.
        let server = exe
            .parent()
            .and_then(Path::parent)
            .context("loadgen's executable has no directory")?
            .join(format!("server{}", std::env::consts::EXE_SUFFIX));
        ensure!(
            server.exists(),
            "{} does not exist: build the server and loadgen first with \
             `cargo build --release -p examples --bin server && cargo build --release -p examples --examples`",
            server.display()
        );
        let data = work.join(DATA_DIR);
        std::fs::create_dir_all(&data)?;
        let log_path = work.join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(&server);
        command
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--youku",
                "127.0.0.1:0",
                "--no-netdisk",
                "--max-connections",
            ])
            .arg((needs.connections + 64).max(1024).to_string())
            .args(door_flags("http", needs.http))
            .args(door_flags("chat", needs.chat))
            .env("RUST_LOG", &common.server_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(url) = &common.db {
            command.arg("--db").arg(url);
        }
        for (name, value) in &needs.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", server.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let addr = wait_for_address(&mut child, &log_path, "youku").await?;
        let http_addr = if needs.http {
            Some(wait_for_address(&mut child, &log_path, "http").await?)
        } else {
            None
        };
        let chat_addr = if needs.chat {
            Some(wait_for_address(&mut child, &log_path, "chat").await?)
        } else {
            None
        };
        Ok(Target {
            addr,
            http_addr,
            chat_addr,
            data_dir: Some(data),
            spawned: Some(Spawned {
                child,
                pid,
                log: log_path,
            }),
        })
    }

    /// One line saying what is under load.
    pub fn describe(&self) -> String {
        match &self.spawned {
            Some(spawned) => format!(
                "spawned server pid {} on {} (log: {})",
                spawned.pid,
                self.addr,
                spawned.log.display()
            ),
            None => format!("running server at {} (no memory or CPU figures)", self.addr),
        }
    }

    /// The spawned server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.spawned.as_ref().map(|s| s.pid)
    }

    /// The spawned server's resident memory now and at its peak.
    pub fn memory(&self) -> Option<Memory> {
        memory(self.pid()?)
    }

    /// Resets the peak (`VmHWM`) to the current resident size, so that the next
    /// [`Target::memory`] tells the peak of what happens in between. Returns whether the kernel
    /// allowed it (`/proc/<pid>/clear_refs`, value 5).
    pub fn reset_peak(&self) -> bool {
        self.pid()
            .is_some_and(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
    }

    /// CPU seconds (user + system) the spawned server has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&format!("/proc/{}/stat", self.pid()?))
    }

    /// Starts sampling the spawned server's resident size every 10 ms (a cross-check of the
    /// kernel's peak, and the figure to use where the peak cannot be reset).
    pub fn sample_rss(&self) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        if let Some(pid) = self.pid() {
            let (stop, max) = (stop.clone(), max.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(memory) = memory(pid) {
                        max.fetch_max(memory.rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        }
        RssSampler { stop, max }
    }

    /// Stops the spawned server (it runs on a temporary data directory, so it is killed).
    pub async fn stop(&mut self) {
        if let Some(spawned) = &mut self.spawned {
            let _ = spawned.child.kill().await;
        }
    }
}

/// A running resident-size sampler; see [`Target::sample_rss`].
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
}

impl RssSampler {
    /// Stops sampling; the largest resident size seen, in bytes (`None` without a spawned server).
    pub fn finish(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        Some(self.max.load(Ordering::Relaxed)).filter(|&max| max > 0)
    }
}

/// The server's flags for door `door`: a free loopback port when `open`, else `--no-<door>`.
fn door_flags(door: &str, open: bool) -> Vec<String> {
    if open {
        vec![format!("--{door}"), "127.0.0.1:0".to_owned()]
    } else {
        vec![format!("--no-{door}")]
    }
}

/// Waits until the server prints `<door> door on ADDR` into its log.
async fn wait_for_address(child: &mut Child, log: &Path, door: &str) -> anyhow::Result<SocketAddr> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let prefix = format!("{door} door on ");
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let announced = text.lines().find_map(|line| {
            let rest = line.strip_prefix(prefix.as_str())?;
            rest.split_whitespace()
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()
        });
        if let Some(addr) = announced {
            return Ok(addr);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the server exited ({status}) before listening; its log:\n{}",
                tail(&text)
            );
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the server did not listen within {START_TIMEOUT:?}; its log:\n{}",
                tail(&text)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Resolves `addr` and refuses it unless every address it names is a loopback address.
pub fn loopback(addr: &str) -> anyhow::Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .with_context(|| format!("{addr} is not HOST:PORT"))?
        .collect();
    ensure!(!resolved.is_empty(), "{addr} resolves to no address");
    if let Some(outside) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "{addr} is {}, not a loopback address: loadgen only targets this machine \
             (127.0.0.0/8 or ::1)",
            outside.ip()
        );
    }
    Ok(resolved[0])
}

/// A MySQL URL must name a loopback host too (the spawned server would connect to it).
fn check_database_url(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("mysql://") else {
        return Ok(());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:3306")
    };
    loopback(&with_port)
        .map(drop)
        .with_context(|| format!("database URL {url}"))
}

fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// CPU seconds of loadgen itself.
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/self/stat")
}

/// User + system CPU seconds from a `/proc/<pid>/stat` file.
pub fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / USER_HZ)
}

/// File descriptors a process needs beyond one per connection.
const SPARE_FDS: u64 = 100;

/// Checks up front that the open-file limit covers `conns` connections on each side (loadgen
/// and the server, which inherits loadgen's limit).
pub fn ensure_open_files(conns: usize) -> anyhow::Result<()> {
    let need = conns as u64 + SPARE_FDS;
    if let Some(limit) = open_files_limit() {
        ensure!(
            limit >= need,
            "{conns} connections need about {need} open files on each side, but the limit is \
             {limit}: raise it (`ulimit -n {need}`) or ask for fewer connections"
        );
    }
    Ok(())
}

/// The soft limit on open files of this process (inherited by the spawned server).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(loopback("127.0.0.1:8080").is_ok());
        assert!(loopback("[::1]:8080").is_ok());
        assert!(loopback("localhost:8080").is_ok());
        assert!(loopback("10.0.0.1:8080").is_err());
        assert!(loopback("0.0.0.0:8080").is_err());
        assert!(check_database_url("mysql://root@127.0.0.1:3306/test").is_ok());
        assert!(check_database_url("mysql://root:pw@192.168.1.2/test").is_err());
        assert!(check_database_url("sqlite::memory:").is_ok());
    }
}
