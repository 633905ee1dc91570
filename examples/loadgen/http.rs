//! Mode `http`: the HTTP door against nginx. An admin uploads an S-byte free movie through the
//! door's resumable uploads; K users sign up, log in and start a viewing of it. Then:
//!
//! 1. **Ranges**: the movie read by 1 client (8 times over, `--single-passes`) and by K clients
//!    at once, in consecutive ranges on one keep-alive connection per client and pass (as a
//!    video player or a download manager does) and as one whole-file GET; the same reads of the same stored file (the server's blob, found in
//!    its data directory) from nginx, started by loadgen ([`crate::nginx`]). Door and nginx
//!    alternate, the order swapped each round, and medians are compared.
//! 2. **Memory**: the server's RSS before the K-client range batches and its peak during them.
//! 3. **Pages** ([`crate::http_pages`]): P clients request the catalogue page and movie pages with the session cookie,
//!    back to back, for a fixed time: requests/s and p50/p99/max.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use examples::hash_password;
use serde_json::{Value, json};

use crate::download::{self, Batch, batch_served_by};
use crate::http_client::{HttpConn, expect};
use crate::http_pages;
use crate::nginx::{self, Nginx};
use crate::proto::{Content, PASSWORD, run_limited};
use crate::setup::Ctx;
use crate::stats::{Check, load_average, mb_per_s, mib};

/// Options of mode `http`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// The clients reading at once in the many-client batches (one client is measured too),
    /// and the movie's size: as in mode `download`.
    #[command(flatten)]
    pub movie: download::Opts,
    /// Range sizes, comma-separated: each client reads the movie in consecutive ranges of this
    /// size (a whole-file GET is measured as well).
    #[arg(long, value_delimiter = ',', default_value = "1MiB,8MiB", value_parser = crate::parse_size)]
    pub ranges: Vec<u64>,
    /// Rounds of each comparison (door and nginx alternate; medians are judged).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Times the single client reads the movie in one batch, one pass after another (one pass
    /// of 256 MiB takes about a tenth of a second on loopback: too short to measure alone).
    #[arg(long, default_value_t = 8)]
    pub single_passes: u64,
    /// Clients requesting pages at once.
    #[arg(long, default_value_t = 64)]
    pub page_clients: usize,
    /// Seconds of page requests.
    #[arg(long, default_value_t = 10)]
    pub page_secs: u64,
}

impl Opts {
    /// What the spawned server must allow and be told.
    pub fn needs(&self) -> crate::target::ServerNeeds {
        crate::target::ServerNeeds {
            connections: self.movie.clients.max(self.page_clients),
            env: vec![("NETDISK_FREE_WAIT_SECS", "0".to_owned())],
            http: true,
            chat: false,
        }
    }
}

/// Share of nginx's throughput the door must reach.
const RATIO_TARGET: f64 = 0.8;
/// What K range downloads may add to the server's resident memory.
const RSS_ADDED_TARGET: u64 = 16 << 20;
/// Largest chunk of an upload (the door's `CHUNK_LIMIT`).
const UPLOAD_CHUNK: usize = 8 << 20;
/// Tiny movies added so that the catalogue page lists a full page (24).
const CATALOGUE_MOVIES: usize = 23;

/// How a client reads the movie.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Consecutive `Range: bytes=a-b` requests of this many bytes on one connection.
    Ranges(u64),
    /// One GET without a range.
    Whole,
}

impl Read {
    fn label(self) -> String {
        match self {
            Read::Ranges(step) if step % (1 << 20) == 0 => format!("{} MiB ranges", step >> 20),
            Read::Ranges(step) => format!("{} KiB ranges", step >> 10),
            Read::Whole => "whole-file GET".to_owned(),
        }
    }
}

/// One server to read the movie from: where, and each client's path and `Authorization`.
struct Source {
    name: &'static str,
    addr: SocketAddr,
    paths: Vec<Arc<str>>,
    auths: Vec<Arc<str>>,
}

/// Reads the movie (`size` bytes at `path`) from `addr` on one new connection, as `read` says;
/// every answer's status and length are checked, the bytes dropped.
async fn read_movie(
    addr: SocketAddr,
    path: Arc<str>,
    auth: Arc<str>,
    size: u64,
    read: Read,
) -> anyhow::Result<()> {
    let mut conn = HttpConn::connect(addr).await?;
    match read {
        Read::Whole => {
            let (head, len) = conn
                .discard("GET", &path, &[("Authorization", &auth)])
                .await?;
            ensure!(
                head.status == 200 && len == size,
                "GET {path}: status {}, {len} bytes (wanted 200, {size})",
                head.status
            );
        }
        Read::Ranges(step) => {
            let mut start = 0;
            while start < size {
                let end = (start + step).min(size) - 1;
                let range = format!("bytes={start}-{end}");
                let headers = [("Authorization", &*auth), ("Range", &range)];
                let (head, len) = conn.discard("GET", &path, &headers).await?;
                ensure!(
                    head.status == 206 && len == end - start + 1,
                    "GET {path} {range}: status {}, {len} bytes (wanted 206)",
                    head.status
                );
                start = end + 1;
            }
        }
    }
    Ok(())
}

/// What the set-up made.
struct Prepared {
    /// The big movie's bytes (to check what the servers send).
    bytes: Vec<u8>,
    /// The big movie's id, then the tiny ones'.
    movies: Vec<i64>,
    /// Each user's session token and viewing content path.
    users: Vec<(String, String)>,
}

/// Uploads the big movie over HTTP as the run's admin (registered over the Youku door, which
/// also adds the tiny catalogue movies), and signs up the users over HTTP, each with a viewing.
async fn prepare(ctx: &Ctx, opts: &Opts, http: SocketAddr) -> anyhow::Result<Prepared> {
    let size = usize::try_from(opts.movie.size)?;
    let content = Content::generate(size, ctx.seed());
    let mut tcp_admin = ctx.admin().await?;
    let tiny = ctx
        .seed_catalogue(&mut tcp_admin, CATALOGUE_MOVIES, 0)
        .await?;
    let mut api = HttpConn::connect(http).await?;
    let credentials = json!({"name": ctx.name("admin"), "password": hash_password(PASSWORD)});
    let login = api.json("POST", "/api/login", None, &credentials).await?;
    let token = string(&expect("admin login", 200, login)?, "token")?;

    let started = std::time::Instant::now();
    let (md5, _) = content.variant(0);
    let announce = json!({"kind": "movie", "name": format!("{}.mp4", ctx.name("http")),
                          "size": opts.movie.size, "md5": md5, "is_free": true});
    let begun = api
        .json("POST", "/api/uploads", Some(&token), &announce)
        .await?;
    let upload = string(&expect("announcing the upload", 201, begun)?, "token")?;
    let bytes = content.variant_bytes(0);
    let (patch, bearer) = (format!("/api/uploads/{upload}"), format!("Bearer {token}"));
    let mut movie = None;
    for (i, chunk) in bytes.chunks(UPLOAD_CHUNK).enumerate() {
        let offset = (i * UPLOAD_CHUNK).to_string();
        let headers = [("Authorization", &*bearer), ("Upload-Offset", &offset)];
        let (head, answer) = api.request("PATCH", &patch, &headers, chunk).await?;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        ensure!(
            head.status == 200,
            "upload chunk {i}: {} {answer}",
            head.status
        );
        movie = answer["id"].as_i64().or(movie);
    }
    let movie = movie.context("the last upload chunk did not answer the movie's id")?;
    println!(
        "set-up: uploaded the {} movie over HTTP in {:.1} s ({:.0} MB/s, {} MiB chunks)",
        mib(opts.movie.size),
        started.elapsed().as_secs_f64(),
        mb_per_s(opts.movie.size, started.elapsed()),
        UPLOAD_CHUNK >> 20
    );

    let started = std::time::Instant::now();
    let names: Vec<String> = (0..opts.movie.clients)
        .map(|i| ctx.name(&format!("h{i}")))
        .collect();
    let users = run_limited(opts.movie.clients, ctx.common.login_concurrency, move |i| {
        let name = names[i].clone();
        async move {
            let mut conn = HttpConn::connect(http).await?;
            let credentials = json!({"name": name, "password": PASSWORD});
            let signup = conn.json("POST", "/api/signup", None, &credentials).await?;
            expect("signing up", 201, signup)?;
            let login = conn.json("POST", "/api/login", None, &credentials).await?;
            let token = string(&expect("logging in", 200, login)?, "token")?;
            let path = format!("/api/movies/{movie}/viewings");
            let started = conn.json("POST", &path, Some(&token), &json!({})).await?;
            let viewing = expect("starting a viewing", 201, started)?;
            ensure!(
                viewing["wait_secs"] == 0,
                "the viewing waits {} s: is NETDISK_FREE_WAIT_SECS=0 set?",
                viewing["wait_secs"]
            );
            anyhow::Ok((token, string(&viewing, "content")?))
        }
    })
    .await?;
    println!(
        "set-up: {} users signed up, logged in and started a viewing over HTTP in {:.1} s",
        opts.movie.clients,
        started.elapsed().as_secs_f64()
    );
    let mut movies = vec![movie];
    movies.extend(tiny);
    Ok(Prepared {
        bytes,
        movies,
        users,
    })
}

/// A string field of a JSON answer.
fn string(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no `{field}` in {value}"))
}

/// The stored file of `size` bytes under the server's `blobs/` (the only one that large).
fn find_blob(data: &Path, size: u64) -> anyhow::Result<PathBuf> {
    for shard in std::fs::read_dir(data.join("blobs"))?.flatten() {
        for file in std::fs::read_dir(shard.path())?.flatten() {
            if file
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() == size)
            {
                return Ok(file.path());
            }
        }
    }
    anyhow::bail!("no stored file of {size} bytes under {}", data.display())
}

/// Checks that `source` serves the movie's bytes: one range of its first client's path.
async fn check_bytes(source: &Source, expected: &[u8]) -> anyhow::Result<()> {
    let (start, end) = (expected.len() / 3, expected.len() / 3 + 4095);
    let mut conn = HttpConn::connect(source.addr).await?;
    let range = format!("bytes={start}-{end}");
    let headers = [("Authorization", &*source.auths[0]), ("Range", &range)];
    let (head, body) = conn.request("GET", &source.paths[0], &headers, &[]).await?;
    ensure!(
        head.status == 206 && body == expected[start..=end],
        "{} does not serve the movie's bytes (status {})",
        source.name,
        head.status
    );
    Ok(())
}

/// The rounds of one comparison: the door's batches and nginx's.
struct Comparison {
    read: Read,
    clients: usize,
    door: Vec<Batch>,
    nginx: Vec<Batch>,
}

/// The median of the batches' aggregate throughputs (MB/s).
fn median(batches: &[Batch]) -> f64 {
    let mut rates: Vec<f64> = batches.iter().map(|b| b.aggregate).collect();
    rates.sort_by(f64::total_cmp);
    match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates[n / 2],
        n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    }
}

/// One batch: `clients` clients read the movie from `source` at once, each `passes` times over.
async fn read_batch(
    ctx: &Ctx,
    source: &Source,
    nginx: Option<&Nginx>,
    (clients, passes): (usize, u64),
    read: Read,
    size: u64,
) -> anyhow::Result<Batch> {
    let transfer = |i: usize| {
        let (addr, path) = (source.addr, source.paths[i % source.paths.len()].clone());
        let auth = source.auths[i % source.auths.len()].clone();
        async move {
            for _ in 0..passes {
                read_movie(addr, path.clone(), auth.clone(), size, read).await?;
            }
            Ok(())
        }
    };
    let bytes = size * passes;
    let mut batch = match nginx {
        Some(nginx) => {
            batch_served_by(
                &ctx.target,
                || nginx.cpu_seconds(),
                clients,
                bytes,
                transfer,
            )
            .await?
        }
        None => download::batch(&ctx.target, clients, bytes, transfer).await?,
    };
    if nginx.is_some() {
        // The spawned server's memory says nothing about nginx.
        batch.server_start = None;
        batch.server_peak = None;
    }
    Ok(batch)
}

/// Runs every comparison, printing a row per batch.
async fn compare(
    ctx: &Ctx,
    opts: &Opts,
    door: &Source,
    nginx: Option<(&Source, &Nginx)>,
) -> anyhow::Result<Vec<Comparison>> {
    let mut reads: Vec<Read> = opts.ranges.iter().map(|&r| Read::Ranges(r)).collect();
    reads.push(Read::Whole);
    let mut clients = vec![1];
    if opts.movie.clients > 1 {
        clients.push(opts.movie.clients);
    }
    println!();
    download::header();
    let mut done = Vec::new();
    for read in reads {
        for &k in &clients {
            let mut comparison = Comparison {
                read,
                clients: k,
                door: Vec::new(),
                nginx: Vec::new(),
            };
            let passes = if k == 1 { opts.single_passes.max(1) } else { 1 };
            for round in 0..opts.rounds {
                for door_turn in [round % 2 == 0, round % 2 == 1] {
                    let label = format!("{}, round {}", read.label(), round + 1);
                    if door_turn {
                        let batch =
                            read_batch(ctx, door, None, (k, passes), read, opts.movie.size).await?;
                        download::row(&format!("door, {label}"), &batch);
                        comparison.door.push(batch);
                    } else if let Some((source, nginx)) = nginx {
                        let batch = read_batch(
                            ctx,
                            source,
                            Some(nginx),
                            (k, passes),
                            read,
                            opts.movie.size,
                        )
                        .await?;
                        download::row(&format!("nginx, {label}"), &batch);
                        comparison.nginx.push(batch);
                    }
                }
            }
            done.push(comparison);
        }
    }
    Ok(done)
}

/// Prints the medians and judges them.
fn judge_throughput(comparisons: &[Comparison], rounds: usize) -> Vec<Check> {
    println!(
        "\nMedians of {rounds} rounds (aggregate MB/s; the CPU column above is the door's or nginx's own):\n"
    );
    println!("| read | clients | door MB/s | nginx MB/s | door / nginx |");
    println!("|---|---:|---:|---:|---:|");
    let mut checks = Vec::new();
    for c in comparisons {
        let (door, nginx) = (median(&c.door), median(&c.nginx));
        let what = format!("{}, {} client(s): door vs nginx", c.read.label(), c.clients);
        if c.nginx.is_empty() {
            println!("| {} | {} | {door:.0} | - | - |", c.read.label(), c.clients);
            checks.push(Check::unmeasured(what, "no nginx", ">= 80%"));
            continue;
        }
        let ratio = door / nginx;
        println!(
            "| {} | {} | {door:.0} | {nginx:.0} | {:.0} % |",
            c.read.label(),
            c.clients,
            ratio * 100.0
        );
        checks.push(Check::new(
            what,
            format!(
                "{door:.0} vs {nginx:.0} MB/s ({:.0}%), medians of {rounds}",
                ratio * 100.0
            ),
            ">= 80%",
            ratio >= RATIO_TARGET,
        ));
    }
    checks
}

/// The RSS growth during the K-client range batches of the door.
fn judge_memory(comparisons: &[Comparison], clients: usize) -> Check {
    let batches: Vec<&Batch> = comparisons
        .iter()
        .filter(|c| c.clients == clients && matches!(c.read, Read::Ranges(_)))
        .flat_map(|c| &c.door)
        .collect();
    let before = batches.first().and_then(|b| b.server_start);
    let peak = batches.iter().filter_map(|b| b.server_peak).max();
    let what = format!("memory: server RSS added by {clients} concurrent range downloads");
    match (before, peak) {
        (Some(before), Some(peak)) => Check::new(
            what,
            format!(
                "+{} ({} before the first such batch, peak {} over {} batches)",
                mib(peak.saturating_sub(before)),
                mib(before),
                mib(peak),
                batches.len()
            ),
            "< 16 MiB",
            peak.saturating_sub(before) < RSS_ADDED_TARGET,
        ),
        _ => Check::unmeasured(what, "no memory figures", "< 16 MiB"),
    }
}

/// Runs mode `http`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    ensure!(
        opts.rounds > 0 && opts.movie.clients > 0,
        "at least one round and one client"
    );
    let http = ctx
        .target
        .http_addr
        .context("the server has no HTTP door")?;
    let data = ctx.target.data_dir.clone().context("no data directory")?;
    println!("- HTTP door on {http}");
    let nginx_exe = nginx::find();
    if nginx_exe.is_none() {
        println!(
            "- nginx: not installed (`apt-get install -y nginx` on Debian): the door is measured \
             alone"
        );
    }
    let mut prepared = prepare(ctx, opts, http).await?;
    let blob = find_blob(&data, opts.movie.size)?;
    let door = Source {
        name: "the door",
        addr: http,
        paths: prepared
            .users
            .iter()
            .map(|(_, p)| p.as_str().into())
            .collect(),
        auths: (prepared.users.iter())
            .map(|(t, _)| format!("Bearer {t}").into())
            .collect(),
    };
    let expected = std::mem::take(&mut prepared.bytes);
    check_bytes(&door, &expected).await?;
    let mut nginx = match &nginx_exe {
        Some(exe) => {
            let root = blob.parent().context("the blob has no directory")?;
            Some(Nginx::start(exe, root, &ctx.work).await?)
        }
        None => None,
    };
    let nginx_source = match &nginx {
        Some(running) => {
            let name = blob
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let source = Source {
                name: "nginx",
                addr: running.addr,
                paths: vec![format!("/{name}").into()],
                auths: door.auths.clone(),
            };
            check_bytes(&source, &expected).await?;
            println!("- {}, serving {}", running.describe(), blob.display());
            Some(source)
        }
        None => None,
    };
    drop(expected);
    if let Some(memory) = ctx.target.memory() {
        println!(
            "server memory after the set-up: RSS {} (peak so far {})",
            mib(memory.rss),
            mib(memory.peak)
        );
    }
    let outcome = async {
        let pair = nginx_source.as_ref().zip(nginx.as_ref());
        let comparisons = compare(ctx, opts, &door, pair).await?;
        let mut checks = judge_throughput(&comparisons, opts.rounds);
        if opts.movie.clients > 1 {
            checks.push(judge_memory(&comparisons, opts.movie.clients));
        }
        let duration = Duration::from_secs(opts.page_secs.max(1));
        let sessions: Vec<&str> = prepared.users.iter().map(|(t, _)| t.as_str()).collect();
        let pages = http_pages::run(
            ctx,
            http,
            &sessions,
            &prepared.movies,
            opts.page_clients,
            duration,
        );
        checks.extend(pages.await?);
        anyhow::Ok(checks)
    }
    .await;
    if let Some(nginx) = &mut nginx {
        nginx.stop().await;
    }
    println!("(load average now {})", load_average());
    outcome
}
