//! A load generator for the server's Youku protocol, HTTP and chat doors, on this machine only
//! (loopback).
//!
//! ```text
//! cargo build --release -p examples --bin server     # the server, without dev-dependencies
//! cargo build --release -p examples --examples       # loadgen spawns the `server` binary
//! cargo run --release -p examples --example loadgen -- small
//! cargo run --release -p examples --example loadgen -- download --clients 32 --size 256MiB
//! cargo run --release -p examples --example loadgen -- upload
//! cargo run --release -p examples --example loadgen -- idle --conns 5000
//! cargo run --release -p examples --example loadgen -- writes
//! cargo run --release -p examples --example loadgen -- http      # needs nginx to compare with
//! cargo run --release -p examples --example loadgen -- chat
//! cargo run --release -p examples --example loadgen -- photos
//! cargo run --release -p examples --example loadgen -- --server 127.0.0.1:8080 small
//! ```
//!
//! By default each run spawns the compiled `server` binary (in the directory above loadgen's own)
//! on a fresh temporary data directory with embedded SQLite (or `--db URL`), reads its memory
//! (`VmRSS`, `VmHWM`) and CPU time from `/proc/<pid>`, and kills it at the end. With `--server
//! ADDR` it loads a running server instead (loopback addresses only; no memory figures). Every
//! mode stops by itself (a fixed duration or count) and prints markdown: one table row per
//! measurement, then a summary of the targets met and missed.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};

#[path = "loadgen/baseline.rs"]
mod baseline;
#[path = "loadgen/chat.rs"]
mod chat;
#[path = "loadgen/chat_load.rs"]
mod chat_load;
#[path = "loadgen/chat_tcp.rs"]
mod chat_tcp;
#[path = "loadgen/chat_ws.rs"]
mod chat_ws;
#[path = "loadgen/download.rs"]
mod download;
#[path = "loadgen/http.rs"]
mod http;
#[path = "loadgen/http_client.rs"]
mod http_client;
#[path = "loadgen/http_pages.rs"]
mod http_pages;
#[path = "loadgen/idle.rs"]
mod idle;
#[path = "loadgen/nginx.rs"]
mod nginx;
#[path = "loadgen/photo_seed.rs"]
mod photo_seed;
#[path = "loadgen/photos.rs"]
mod photos;
#[path = "loadgen/proto.rs"]
mod proto;
#[path = "loadgen/setup.rs"]
mod setup;
#[path = "loadgen/small.rs"]
mod small;
#[path = "loadgen/stats.rs"]
mod stats;
#[path = "loadgen/target.rs"]
mod target;
#[path = "loadgen/upload.rs"]
mod upload;
#[path = "loadgen/writes.rs"]
mod writes;

/// Load generator for the netdisk server's Youku protocol, HTTP and chat doors (loopback only).
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    mode: Mode,
}

/// Options that apply to every mode.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Load a running server at this address (loopback only) instead of spawning one; no memory
    /// or CPU figures then.
    #[arg(long, global = true, value_name = "ADDR")]
    pub server: Option<String>,
    /// Database URL for the spawned server (default: embedded SQLite in its temporary data
    /// directory); a MySQL host must be a loopback address.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// RUST_LOG for the spawned server (its default, info, logs one line per request; the log
    /// goes to a file in the scratch directory).
    #[arg(long, global = true, default_value = "info", value_name = "FILTER")]
    pub server_log: String,
    /// Worker threads of loadgen's own runtime.
    #[arg(long, global = true, default_value_t = 2)]
    pub threads: usize,
    /// Registrations and logins in flight at once during set-up (each costs the server an
    /// argon2id hash: 19 MiB and tens of milliseconds of one core).
    #[arg(long, global = true, default_value_t = 4)]
    pub login_concurrency: usize,
}

#[derive(Subcommand)]
enum Mode {
    /// C connections (one logged-in user each) send small requests back to back (list movies,
    /// list notices, download records) for a fixed time: requests/s and p50/p99/max latency
    /// per C, next to a floor (a bare echo server with the same framing and answer sizes, on as
    /// many threads as the server's runtime, alternated with it). Targets: server/floor at C=64
    /// at least 0.5; p99 at C=64 and C=256 under 10 ms; throughput at C=256 not below C=64.
    Small(small::Opts),
    /// K users download the same S-byte movie at once (bytes discarded): aggregate and
    /// per-client MB/s and the server's peak RSS during the downloads, next to a plain loopback
    /// copy of the same file for 1 and K clients. Targets: at least 80% of the copy; peak RSS
    /// under 64 MiB.
    Download(download::Opts),
    /// An admin uploads an S-byte movie: MB/s next to the loopback copy in the upload
    /// direction and in-memory MD5 (and SHA-256) throughput. Target: at least 80% of
    /// min(copy, MD5).
    Upload(upload::Opts),
    /// N connections log in and stay idle: the server's RSS with all open, then a fresh client
    /// and every idle connection must still be served. Target: RSS under 256 MiB.
    Idle(idle::Opts),
    /// M readers run the small mix alone, then while an admin uploads a large movie over and
    /// over and W clients register users in a loop: read latencies side by side. Target: p99
    /// under 10 ms with the writers.
    Writes(writes::Opts),
    /// The HTTP door: an S-byte movie read by 1 and K clients in consecutive ranges (1 and 8
    /// MiB) and whole, next to nginx serving the same stored file (started by loadgen,
    /// alternated with the door, medians of several rounds); the server's RSS during the K
    /// range downloads; P clients requesting the catalogue and movie pages. Targets: at least
    /// 80% of nginx with 1 and K clients; RSS grows by less than 16 MiB; page p99 under 20 ms.
    Http(http::Opts),
    /// Chat rooms (issue 17): W WebSocket clients in one room, a message every 10 ms, then
    /// talkers saying as fast as the deliveries keep up; the same with D clients of the C/S
    /// chat door; each next to a bare broadcast server (the floor). Then N idle logged-in
    /// sockets. Targets: delay p99 under 50 ms with none lost; at least half the floor's
    /// deliveries/s; RSS under 200 MiB with N = 10 000.
    Chat(chat::Opts),
    /// The photo site (issue 18): a site of P people, N photos and F follows and as many
    /// comments seeded into the database, then C clients alternating their home feed and a
    /// search; then the same during a burst of U uploads of 12-megapixel photos. Targets: home
    /// and search p99 under 20 ms with 16 clients; page p99 under 50 ms during 50 uploads.
    Photos(photos::Opts),
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Small(_) => "small",
            Mode::Download(_) => "download",
            Mode::Upload(_) => "upload",
            Mode::Idle(_) => "idle",
            Mode::Writes(_) => "writes",
            Mode::Http(_) => "http",
            Mode::Chat(_) => "chat",
            Mode::Photos(_) => "photos",
        }
    }

    /// What the spawned server must allow.
    fn needs(&self) -> target::ServerNeeds {
        let mut needs = target::ServerNeeds::default();
        match self {
            Mode::Small(opts) => {
                needs.connections = opts.conns.iter().copied().max().unwrap_or(0);
            }
            Mode::Download(opts) => needs.connections = opts.clients,
            Mode::Upload(opts) => needs.connections = opts.clients,
            Mode::Idle(opts) => {
                needs.connections = opts.conns;
                needs.env.push((
                    "NETDISK_SERVER__IDLE_TIMEOUT_SECS",
                    idle::IDLE_TIMEOUT_SECS.to_string(),
                ));
            }
            Mode::Writes(opts) => needs.connections = opts.readers + opts.registrars + 1,
            Mode::Http(opts) => needs = opts.needs(),
            Mode::Chat(opts) => needs = opts.needs(),
            Mode::Photos(opts) => needs = opts.needs(),
        }
        needs
    }
}

/// A size in bytes: a number with an optional suffix K/KiB, M/MiB, G/GiB (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    let size = number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text} is too large"))?;
    if size < 1024 {
        return Err("sizes start at 1 KiB".to_owned());
    }
    Ok(size)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.mode {
        Mode::Idle(opts) => idle::check_limits(opts),
        Mode::Chat(opts) => target::ensure_open_files(opts.connections()),
        _ => Ok(()),
    }
    .and_then(|()| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.common.threads.max(1))
            .enable_all()
            .build()?
            .block_on(run(cli))
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let work = tempfile::Builder::new().prefix("loadgen-").tempdir()?;
    let run = format!(
        "{:x}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() & 0xff_ffff
    );
    let seed = u64::from_str_radix(&run, 16).unwrap_or(1);
    let site = match &cli.mode {
        Mode::Photos(opts) => {
            let data = work.path().join(target::DATA_DIR);
            Some(photos::prepare(&cli.common, &data, opts, seed).await?)
        }
        _ => None,
    };
    let target = target::Target::start(&cli.common, work.path(), cli.mode.needs()).await?;
    let mut ctx = setup::Ctx {
        common: cli.common,
        target,
        work: work.path().to_owned(),
        run,
    };
    println!("## loadgen {}\n", cli.mode.name());
    println!("- target: {}", ctx.target.describe());
    println!(
        "- loadgen: {} worker threads; load average at start {}",
        ctx.common.threads,
        stats::load_average()
    );
    let checks = match &cli.mode {
        Mode::Small(opts) => small::run(&ctx, opts).await,
        Mode::Download(opts) => download::run(&ctx, opts).await,
        Mode::Upload(opts) => upload::run(&ctx, opts).await,
        Mode::Idle(opts) => idle::run(&ctx, opts).await,
        Mode::Writes(opts) => writes::run(&ctx, opts).await,
        Mode::Http(opts) => http::run(&ctx, opts).await,
        Mode::Chat(opts) => chat::run(&ctx, opts).await,
        Mode::Photos(opts) => {
            let site = site
                .as_ref()
                .context("the photo site is seeded before the server")?;
            photos::run(&ctx, opts, site).await
        }
    };
    ctx.target.stop().await;
    let checks = checks?;
    stats::print_summary(&checks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("12").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
