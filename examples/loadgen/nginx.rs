//! nginx as the yardstick of mode `http`: started by loadgen in the foreground with a generated
//! configuration (a free loopback port, one directory as its root, `sendfile on` and
//! `tcp_nopush on` as Debian's default configuration has them, one worker per core, an access
//! log like the server's one line per request), its pid file, logs and temporary directories in
//! loadgen's scratch directory; stopped when loadgen is done. Nothing else uses it: tests do not
//! need nginx.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::target::cpu_seconds;

/// Where Debian installs nginx (`apt-get install nginx`); else it is looked for on `PATH`.
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";

/// A running nginx serving one directory.
pub struct Nginx {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    child: Child,
    pid: u32,
    dir: PathBuf,
    /// `nginx -p DIR -c CONF`: the command line that reaches this instance with `-s`.
    control: Vec<std::ffi::OsString>,
    stopped: bool,
}

/// The nginx executable, if installed.
pub fn find() -> Option<PathBuf> {
    let debian = PathBuf::from(DEBIAN_NGINX);
    if debian.exists() {
        return Some(debian);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join("nginx"))
        .find(|path| path.exists())
}

/// Whether this process runs as root (nginx then needs `user root` to read loadgen's private
/// scratch directory: its workers would otherwise switch to `nobody`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|line| line.starts_with("Uid:"))
            .and_then(|line| line.split_whitespace().nth(1))
            == Some("0")
    })
}

/// The configuration: `root` served on `addr`, everything else under `dir`.
fn config(root: &Path, addr: SocketAddr, dir: &Path) -> String {
    let dir = dir.display();
    let user = if running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    format!(
        "{user}worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{
    worker_connections 1024;
}}
http {{
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    default_type application/octet-stream;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen {addr};
        root {root};
        location / {{
        }}
    }}
}}
",
        root = root.display()
    )
}

impl Nginx {
    /// Starts `exe` serving the files of `root`, with its own files in `work/nginx`, and waits
    /// until it accepts connections.
    pub async fn start(exe: &Path, root: &Path, work: &Path) -> anyhow::Result<Nginx> {
        let dir = work.join("nginx");
        std::fs::create_dir_all(&dir)?;
        // A free port: taken, read, and given back for nginx to bind.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(root, addr, &dir))?;
        let output = std::fs::File::create(dir.join("output.log"))?;
        let control = vec![
            exe.into(),
            "-p".into(),
            dir.clone().into(),
            "-e".into(),
            dir.join("error.log").into(),
            "-c".into(),
            conf.into(),
        ];
        let mut child = Command::new(exe)
            .args(&control[1..])
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let pid = child.id().context("nginx exited at once")?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("nginx exited ({status}); {}", Nginx::logs(&dir));
            }
            if tokio::time::Instant::now() > deadline {
                bail!("nginx did not listen within 10 s; {}", Nginx::logs(&dir));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Nginx {
            addr,
            child,
            pid,
            dir,
            control,
            stopped: false,
        })
    }

    fn logs(dir: &Path) -> String {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        format!(
            "its output:\n{}\nits error log:\n{}",
            read("output.log"),
            read("error.log")
        )
    }

    /// CPU seconds used so far by the master and its workers (from `/proc`).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let mut total = cpu_seconds(&format!("/proc/{}/stat", self.pid))?;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = format!("/proc/{pid}/stat");
            let parent = std::fs::read_to_string(&stat).ok().and_then(|text| {
                let after_name = &text[text.rfind(')')? + 1..];
                after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
            if parent == Some(self.pid) {
                total += cpu_seconds(&stat).unwrap_or(0.0);
            }
        }
        Some(total)
    }

    /// One line saying what runs.
    pub fn describe(&self) -> String {
        format!(
            "nginx pid {} on {} (config and logs: {})",
            self.pid,
            self.addr,
            self.dir.display()
        )
    }

    /// Asks this instance to stop (`nginx -s stop`: the master stops its workers, then
    /// itself).
    fn signal_stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = std::process::Command::new(&self.control[0])
                .args(&self.control[1..])
                .args(["-s", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Stops nginx and waits for it (killing the master after 5 s).
    pub async fn stop(&mut self) {
        self.signal_stop();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for Nginx {
    /// A run that fails half-way stops nginx too: killing the master alone would leave its
    /// workers behind.
    fn drop(&mut self) {
        self.signal_stop();
    }
}
