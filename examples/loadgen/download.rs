//! Mode `download`: K users download the same S-byte movie at once (the bytes are discarded,
//! not hashed); aggregate and per-client MB/s and the server's peak resident memory during the
//! downloads, next to the plain loopback copy of the same file ([`crate::baseline`]) by one and
//! by K clients.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::baseline::Baseline;
use crate::proto::{Content, Session};
use crate::setup::Ctx;
use crate::stats::{Check, CpuMeter, load_average, mb_per_s, mib};
use crate::target::Target;

/// Options of mode `download`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Clients downloading at once.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Movie size (bytes, or with a suffix: KiB, MiB, GiB).
    #[arg(long, default_value = "256MiB", value_parser = crate::parse_size)]
    pub size: u64,
}

/// The peak-memory target of the downloads.
const RSS_TARGET: u64 = 64 << 20;

/// What one batch of simultaneous transfers achieved.
pub struct Batch {
    /// Bytes moved by all clients over the wall time of the batch, MB/s.
    pub aggregate: f64,
    /// Each client's own MB/s, slowest first.
    pub per_client: Vec<f64>,
    /// The server's peak resident size during the batch (kernel `VmHWM` after a reset, else
    /// sampled).
    pub server_peak: Option<u64>,
    /// How the peak was obtained.
    pub peak_source: &'static str,
    /// The server's resident size when the batch started (the reset peak cannot go below it).
    pub server_start: Option<u64>,
    /// CPU use during the batch.
    pub cpu: String,
}

/// Runs `clients` transfers of `bytes` each, all started at the same instant by `transfer(i)`,
/// measuring each and the server's memory.
pub async fn batch<F, Fut>(
    target: &Target,
    clients: usize,
    bytes: u64,
    transfer: F,
) -> anyhow::Result<Batch>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    batch_served_by(target, || target.cpu_seconds(), clients, bytes, transfer).await
}

/// As [`batch`], with the CPU use of whatever `server_cpu` measures (CPU seconds so far) in
/// place of the spawned server's: for transfers some other program serves.
pub async fn batch_served_by<F, Fut>(
    target: &Target,
    server_cpu: impl Fn() -> Option<f64>,
    clients: usize,
    bytes: u64,
    transfer: F,
) -> anyhow::Result<Batch>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let server_start = target.memory().map(|m| m.rss);
    let reset = target.reset_peak();
    let sampler = target.sample_rss();
    let cpu = CpuMeter::start_at(server_cpu());
    let start = Instant::now() + Duration::from_millis(20);
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let job = transfer(i);
            tokio::spawn(async move {
                tokio::time::sleep_until(start).await;
                job.await.map(|()| Instant::now())
            })
        })
        .collect();
    let mut per_client = Vec::new();
    let mut last = start;
    for task in tasks {
        let done = task.await??;
        per_client.push(mb_per_s(bytes, done - start));
        last = last.max(done);
    }
    let cpu = cpu.finish_at(server_cpu());
    let sampled = sampler.finish();
    per_client.sort_by(f64::total_cmp);
    let (server_peak, peak_source) = match (reset, target.memory()) {
        (true, Some(memory)) => (Some(memory.peak.max(sampled.unwrap_or(0))), "VmHWM"),
        _ => (sampled, "sampled VmRSS"),
    };
    Ok(Batch {
        aggregate: mb_per_s(bytes * clients as u64, last - start),
        per_client,
        server_peak,
        peak_source,
        server_start,
        cpu,
    })
}

/// Prints the header of the table that [`row`] fills.
pub fn header() {
    println!(
        "| what | clients | aggregate MB/s | per client MB/s (min / median / max) | server RSS at start → peak | CPU cores: server / loadgen / idle | load avg |"
    );
    println!("|---|---|---|---|---|---|---|");
}

/// One line of results.
pub fn row(what: &str, batch: &Batch) {
    let per = &batch.per_client;
    let peak = match (batch.server_start, batch.server_peak) {
        (Some(start), Some(peak)) => {
            format!("{} → {} ({})", mib(start), mib(peak), batch.peak_source)
        }
        _ => "-".to_owned(),
    };
    println!(
        "| {what} | {} | {:.0} | {:.0} / {:.0} / {:.0} | {peak} | {} | {} |",
        per.len(),
        batch.aggregate,
        per.first().copied().unwrap_or(0.0),
        per.get(per.len() / 2).copied().unwrap_or(0.0),
        per.last().copied().unwrap_or(0.0),
        batch.cpu,
        load_average()
    );
}

/// Runs mode `download`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let size = usize::try_from(opts.size)?;
    let content = Content::generate(size, ctx.seed());
    let file = ctx.work.join("movie.bin");
    tokio::fs::write(&file, content.variant_bytes(0)).await?;

    let mut admin = ctx.admin().await?;
    let started = std::time::Instant::now();
    let movie = admin
        .upload_movie(&format!("{}.mp4", ctx.name("big")), &content, 0)
        .await?;
    println!(
        "set-up: uploaded the {} movie in {:.1} s ({:.0} MB/s)",
        mib(opts.size),
        started.elapsed().as_secs_f64(),
        mb_per_s(opts.size, started.elapsed())
    );
    let after_upload = ctx.target.memory();
    let tokens = ctx.users("d", opts.clients, None).await?;
    let before = ctx.target.memory();
    if let (Some(up), Some(before)) = (after_upload, before) {
        println!(
            "server memory: after the upload RSS {} (peak so far {}); after the logins RSS {} \
             (peak so far {})",
            mib(up.rss),
            mib(up.peak),
            mib(before.rss),
            mib(before.peak)
        );
    }

    // Each transfer connects (a loopback connect is microseconds) and reuses a session.
    let (addr, size) = (ctx.addr(), opts.size);
    let download = |i: usize| {
        let token = tokens[i].clone();
        async move {
            let got = Session::resume(addr, &token)
                .await?
                .download_movie(movie)
                .await?;
            anyhow::ensure!(got == size, "downloaded {got} bytes, not {size}");
            Ok(())
        }
    };
    let baseline = Baseline::start(Some(&file), &ctx.work)?;
    let baseline = std::sync::Arc::new(baseline);
    let copy = |_| {
        let baseline = baseline.clone();
        async move { baseline.download(size).await }
    };

    println!();
    header();
    let one = batch(&ctx.target, 1, opts.size, download).await?;
    row("netdisk download_movie", &one);
    let many = batch(&ctx.target, opts.clients, opts.size, download).await?;
    row("netdisk download_movie", &many);
    let copy_one = batch(&ctx.target, 1, opts.size, copy).await?;
    row("baseline loopback copy", &copy_one);
    let copy_many = batch(&ctx.target, opts.clients, opts.size, copy).await?;
    row("baseline loopback copy", &copy_many);

    let k = opts.clients;
    let mut checks = vec![
        ratio_check("download: 1 client vs loopback copy", &one, &copy_one),
        ratio_check(
            &format!("download: {k} clients vs loopback copy"),
            &many,
            &copy_many,
        ),
    ];
    match many.server_peak {
        Some(peak) => checks.push(Check::new(
            format!("download: server peak RSS during {k} downloads"),
            format!(
                "{} ({}; {} resident when the downloads started)",
                mib(peak),
                many.peak_source,
                mib(many.server_start.unwrap_or(0))
            ),
            "< 64 MiB",
            peak < RSS_TARGET,
        )),
        None => checks.push(Check::unmeasured(
            "download: server peak RSS",
            "external server",
            "< 64 MiB",
        )),
    }
    if let Some(before) = before.filter(|b| b.peak >= RSS_TARGET) {
        println!(
            "note: the server's peak before the downloads (upload and logins) was already {}; \
             the download figures are peaks of the download phase alone (VmHWM reset to the \
             resident size before it, so they cannot be lower than that)",
            mib(before.peak)
        );
    }
    println!("(load average now {})", load_average());
    Ok(checks)
}

fn ratio_check(what: &str, measured: &Batch, baseline: &Batch) -> Check {
    let ratio = measured.aggregate / baseline.aggregate;
    Check::new(
        what,
        format!(
            "{:.0} vs {:.0} MB/s ({:.0}%)",
            measured.aggregate,
            baseline.aggregate,
            ratio * 100.0
        ),
        ">= 80%",
        ratio >= 0.8,
    )
}
