//! Mode `photos` (issue 18), part 2: the photo site under load. A site of 10 000 people,
//! 100 000 photos and 1 000 000 follows and comments is seeded into the server's database
//! (`photo_seed.rs`); then C clients, each logged in as a different person, alternate their
//! home feed (`GET /photos/home`) and a search (`GET /search?q=…`, a word drawn by popularity,
//! so common words with thousands of matches come up as often as people would type them) for a
//! fixed time; then the same while a burst of uploads (12-megapixel JPEGs, all at once) goes
//! through the photo workers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use bytes::Bytes;
use clap::Args;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::http_client::HttpConn;
use crate::photo_seed::{self, Site, SiteSize};
use crate::proto::{self, run_limited};
use crate::setup::Ctx;
use crate::stats::{Check, CpuMeter, Latencies, Summary, load_average, ms};
use crate::target::ServerNeeds;

/// The page latency target without uploads (p99).
const PAGE_P99_TARGET: Duration = Duration::from_millis(20);
/// The page latency target during the burst of uploads (p99).
const BURST_P99_TARGET: Duration = Duration::from_millis(50);

/// Options of mode `photos`.
#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// People on the seeded site.
    #[arg(long, default_value_t = 10_000)]
    pub people: usize,
    /// Photos on the seeded site.
    #[arg(long, default_value_t = 100_000)]
    pub photos: usize,
    /// Follows on the seeded site (spread evenly: each person follows follows/people others).
    #[arg(long, default_value_t = 500_000)]
    pub follows: usize,
    /// Comments on the seeded site.
    #[arg(long, default_value_t = 500_000)]
    pub comments: usize,
    /// Concurrent page clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds of page requests, without uploads.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Uploads in the burst, all sent at once.
    #[arg(long, default_value_t = 50)]
    pub uploads: usize,
    /// Megapixels of each uploaded photo (4:3).
    #[arg(long, default_value_t = 12)]
    pub megapixels: u32,
}

impl Opts {
    /// What the spawned server must allow: the HTTP door, and the burst's connections.
    pub fn needs(&self) -> ServerNeeds {
        ServerNeeds {
            connections: self.clients + self.uploads + 8,
            http: true,
            ..ServerNeeds::default()
        }
    }

    fn size(&self) -> SiteSize {
        SiteSize {
            people: self.people.max(self.clients + 1),
            photos: self.photos.max(1),
            follows: self.follows,
            comments: self.comments,
        }
    }
}

/// The uploaded pictures' width and height for `megapixels` (4:3).
fn dimensions(megapixels: u32) -> (u32, u32) {
    let unit = ((f64::from(megapixels) * 1e6 / 12.0).sqrt()) as u32;
    (unit * 4, unit * 3)
}

/// Seeds the site into the data directory of the server about to be spawned (before it starts,
/// so that the seeding does not count as load).
pub async fn prepare(
    common: &crate::Common,
    data_dir: &std::path::Path,
    opts: &Opts,
    seed: u64,
) -> anyhow::Result<Site> {
    let picture = netdisk_core::testing::photo_like_jpeg(800, 600, seed as u32);
    photo_seed::seed(
        data_dir,
        common.db.clone(),
        opts.size(),
        picture.into(),
        seed,
    )
    .await
}

/// The timed part: pages alone, then pages during the burst of uploads.
pub async fn run(ctx: &Ctx, opts: &Opts, site: &Site) -> anyhow::Result<Vec<Check>> {
    let http = ctx.target.http_addr.context("the HTTP door is not open")?;
    // Logged in at the Youku door: the same sessions serve the HTTP door as a cookie.
    let addr = ctx.addr();
    let names: Vec<String> = site.people[1..=opts.clients].to_vec();
    let sessions = run_limited(names.len(), ctx.common.login_concurrency, move |i| {
        let name = names[i].clone();
        async move {
            let mut connection = proto::connect(addr).await?;
            proto::login(&mut connection, &name, examples::Role::User).await
        }
    })
    .await?;
    let site_words = Arc::new(site_queries(site, ctx.seed()));
    let mut checks = Vec::new();

    println!(
        "\nPages: {} clients, each logged in as another person (following {} people), \
         alternating `GET /photos/home` and `GET /search?q=<word>` for {} s:\n",
        opts.clients,
        opts.follows / opts.people.max(1),
        opts.seconds
    );
    let cpu = CpuMeter::start(&ctx.target);
    let until = Until::Time(Duration::from_secs(opts.seconds));
    let alone = pages(http, &sessions, &site_words, until).await?;
    print_pages(&alone);
    println!(
        "\nCPU cores {}; load average {}",
        cpu.finish(&ctx.target),
        load_average()
    );
    for (what, mut latencies) in [("home feed", alone.home), ("search", alone.search)] {
        let s = latencies.summary();
        checks.push(Check::new(
            format!("{what}: p99 with {} clients", opts.clients),
            s.p99_text(),
            "< 20 ms",
            s.p99 < PAGE_P99_TARGET,
        ));
    }

    let (width, height) = dimensions(opts.megapixels);
    let base = netdisk_core::testing::photo_like_jpeg(width, height, ctx.seed() as u32);
    println!(
        "\nThe same pages while {} uploads of a {width}×{height} JPEG ({:.1} MB) are sent at once \
         (the photo workers decode each and make its variants):\n",
        opts.uploads,
        base.len() as f64 / 1e6
    );
    let uploader = site.people[0].clone();
    let mut connection = proto::connect(addr).await?;
    let token = proto::login(&mut connection, &uploader, examples::Role::User).await?;
    let (go, burst_done) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let burst = tokio::spawn(upload_burst(
        http,
        token,
        base,
        opts.uploads,
        go.clone(),
        burst_done.clone(),
    ));
    let cpu = CpuMeter::start(&ctx.target);
    let during = pages(
        http,
        &sessions,
        &site_words,
        Until::Burst {
            go,
            done: burst_done,
        },
    )
    .await?;
    let (uploaded, mut upload_times) = burst.await??;
    print_pages(&during);
    let u = upload_times.summary();
    println!(
        "\n{uploaded} uploads in {:.1} s (each: p50 {} ms, max {} ms); CPU cores {}; load \
         average {}",
        during.elapsed.as_secs_f64(),
        ms(u.p50),
        ms(u.max),
        cpu.finish(&ctx.target),
        load_average()
    );
    let mut all = during.all();
    let s = all.summary();
    checks.push(Check::new(
        format!("pages: p99 during {} uploads", opts.uploads),
        s.p99_text(),
        "< 50 ms",
        s.p99 < BURST_P99_TARGET && uploaded == opts.uploads,
    ));
    Ok(checks)
}

/// The search words the clients use, drawn by popularity (4 096 of them, in order).
fn site_queries(site: &Site, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ea2c4);
    (0..4096)
        .map(|_| site.words.draw(&mut rng).to_owned())
        .collect()
}

/// When the page clients stop.
enum Until {
    /// After a fixed time.
    Time(Duration),
    /// Start at `go`'s signal (the burst starts with them), stop at `done`'s.
    Burst {
        go: Arc<tokio::sync::Notify>,
        done: Arc<tokio::sync::Notify>,
    },
}

/// The latencies of a page run.
struct PageRun {
    home: Latencies,
    search: Latencies,
    elapsed: Duration,
}

impl PageRun {
    fn all(&self) -> Latencies {
        let mut all = self.home.clone();
        all.merge(self.search.clone());
        all
    }
}

fn print_pages(run: &PageRun) {
    println!("| page | requests | p50 ms | p99 ms | max ms | requests/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |what: &str, s: Summary| {
        println!(
            "| {what} | {} | {} | {} | {} | {:.0} |",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            s.count as f64 / run.elapsed.as_secs_f64()
        );
    };
    row("/photos/home", run.home.clone().summary());
    row("/search?q=…", run.search.clone().summary());
    row("both", run.all().summary());
}

/// Each session's client alternates its home feed and a search until `until`.
async fn pages(
    http: SocketAddr,
    sessions: &[String],
    words: &Arc<Vec<String>>,
    until: Until,
) -> anyhow::Result<PageRun> {
    let mut connections = Vec::with_capacity(sessions.len());
    for _ in sessions {
        connections.push(HttpConn::connect(http).await?);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = match &until {
        Until::Time(_) => Instant::now() + Duration::from_millis(50),
        Until::Burst { go, .. } => {
            go.notify_one();
            Instant::now()
        }
    };
    let mut tasks = Vec::new();
    for (i, (mut conn, session)) in connections.into_iter().zip(sessions).enumerate() {
        let cookie = format!("netdisk_session={session}");
        let (words, stop) = (words.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            let (mut home, mut search) = (Latencies::default(), Latencies::default());
            let mut turn = i;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let searching = turn % 2 == 1;
                let path = if searching {
                    format!("/search?q={}", encode(&words[turn / 2 % words.len()]))
                } else {
                    "/photos/home".to_owned()
                };
                let sent = Instant::now();
                let (head, body) = conn
                    .request("GET", &path, &[("Cookie", &cookie)], &[])
                    .await?;
                let took = sent.elapsed();
                ensure!(
                    head.status == 200 && body.len() > 1000,
                    "GET {path}: status {}, {} bytes",
                    head.status,
                    body.len()
                );
                if searching { &mut search } else { &mut home }.record(took);
                turn += 1;
            }
            anyhow::Ok((home, search))
        }));
    }
    match until {
        Until::Time(duration) => tokio::time::sleep_until(start + duration).await,
        Until::Burst { done, .. } => done.notified().await,
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let elapsed = start.elapsed();
    let (mut home, mut search) = (Latencies::default(), Latencies::default());
    for task in tasks {
        let (h, s) = task.await??;
        home.merge(h);
        search.merge(s);
    }
    Ok(PageRun {
        home,
        search,
        elapsed,
    })
}

/// Percent-encodes a query word (the vocabulary has Chinese words).
fn encode(word: &str) -> String {
    word.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `count` uploads of `base` (each made distinct by a JPEG comment) at once, each on a
/// connection of its own, when `go` fires; signals `done` when all have answered. Returns how
/// many were stored and each one's time.
async fn upload_burst(
    http: SocketAddr,
    token: String,
    base: Vec<u8>,
    count: usize,
    go: Arc<tokio::sync::Notify>,
    done: Arc<tokio::sync::Notify>,
) -> anyhow::Result<(usize, Latencies)> {
    let mut uploads = Vec::with_capacity(count);
    for i in 0..count {
        let conn = HttpConn::connect(http).await?;
        uploads.push((conn, Bytes::from(with_comment(&base, i))));
    }
    go.notified().await;
    let mut tasks = Vec::new();
    for (i, (mut conn, picture)) in uploads.into_iter().enumerate() {
        let bearer = format!("Bearer {token}");
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let path = format!("/api/photos?description=burst%20{i}");
            let origin = format!("http://{http}");
            let (head, body) = conn
                .request(
                    "POST",
                    &path,
                    &[("Authorization", &bearer), ("Origin", &origin)],
                    &picture,
                )
                .await?;
            ensure!(
                head.status == 201,
                "upload {i}: status {}: {}",
                head.status,
                String::from_utf8_lossy(&body)
            );
            anyhow::Ok(sent.elapsed())
        }));
    }
    let mut times = Latencies::default();
    let mut stored = 0;
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok(took) => {
                times.record(took);
                stored += 1;
            }
            Err(error) => failure = Some(error),
        }
    }
    done.notify_one();
    match failure {
        Some(error) => Err(error),
        None => Ok((stored, times)),
    }
}

/// `jpeg` with a comment segment (`FF FE`) saying `n` right after its start marker: the same
/// picture, different bytes.
fn with_comment(jpeg: &[u8], n: usize) -> Vec<u8> {
    let text = format!("loadgen upload {n}");
    let length = u16::try_from(text.len() + 2).expect("a short comment");
    let mut out = Vec::with_capacity(jpeg.len() + text.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}
