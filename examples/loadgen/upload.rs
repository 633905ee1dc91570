//! Mode `upload`: an admin uploads an S-byte movie (from memory, timed until the server's
//! answer, so including its hashing, `fsync` and database insert), next to the plain loopback
//! copy in the upload direction ([`crate::baseline`]: socket to file with `sync_all`, and socket
//! to nowhere) and to in-memory hashing of the same bytes (MD5, which the server checks, and
//! SHA-256, which it also computes to deduplicate content). With `--clients K` > 1, K uploads
//! at once as well.

use std::sync::Arc;
use std::time::Instant;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::baseline::{Baseline, Sink};
use crate::download::{Batch, batch};
use crate::proto::{CHUNK, Content, Session};
use crate::setup::Ctx;
use crate::stats::{Check, load_average, mb_per_s, mib};

/// Options of mode `upload`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Movie size (bytes, or with a suffix: KiB, MiB, GiB).
    #[arg(long, default_value = "256MiB", value_parser = crate::parse_size)]
    pub size: u64,
    /// Also run this many uploads at once (each a different movie), when more than 1.
    #[arg(long, default_value_t = 1)]
    pub clients: usize,
}

/// Hashing throughput of `bytes` in memory, fed 64 KiB at a time like the server does: MD5
/// alone, SHA-256 alone, and both over each chunk (the server's work), in MB/s.
fn hash_rates(bytes: &[u8]) -> (f64, f64, f64) {
    let (mut md5, mut sha) = (Md5::new(), Sha256::new());
    let md5_rate = feed_rate(bytes, |chunk| md5.update(chunk));
    let sha_rate = feed_rate(bytes, |chunk| sha.update(chunk));
    let (mut md5_too, mut sha_too) = (Md5::new(), Sha256::new());
    let both_rate = feed_rate(bytes, |chunk| {
        md5_too.update(chunk);
        sha_too.update(chunk);
    });
    std::hint::black_box((md5.finalize(), sha.finalize()));
    std::hint::black_box((md5_too.finalize(), sha_too.finalize()));
    (md5_rate, sha_rate, both_rate)
}

/// MB/s of `feed` over `bytes` in [`CHUNK`]-sized pieces.
fn feed_rate(bytes: &[u8], mut feed: impl FnMut(&[u8])) -> f64 {
    let started = Instant::now();
    for chunk in bytes.chunks(CHUNK) {
        feed(chunk);
    }
    mb_per_s(bytes.len() as u64, started.elapsed())
}

/// Runs mode `upload`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let size = usize::try_from(opts.size)?;
    let content = Arc::new(Content::generate(size, ctx.seed()));
    let shared = content.shared();
    let (md5_rate, sha_rate, both_rate) =
        tokio::task::spawn_blocking(move || hash_rates(&shared)).await?;
    println!(
        "in-memory hashing of the {} (one core): MD5 {md5_rate:.0} MB/s, SHA-256 \
         {sha_rate:.0} MB/s, MD5 + SHA-256 together {both_rate:.0} MB/s",
        mib(opts.size)
    );
    let copies = ctx.work.join("baseline-uploads");
    tokio::fs::create_dir_all(&copies).await?;
    let baseline = Arc::new(Baseline::start(None, &copies)?);
    let admin = ctx.admin().await?;
    let (addr, token) = (ctx.addr(), admin.token.clone());
    let name = ctx.name("up");
    // Variant numbers: each upload is a different movie (the server refuses duplicates).
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let upload = |_| {
        let (content, token, next) = (content.clone(), token.clone(), next.clone());
        let name = name.clone();
        async move {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut session = Session::resume(addr, &token).await?;
            session
                .upload_movie(&format!("{name}-{n}.mp4"), &content, n)
                .await?;
            Ok(())
        }
    };
    let copy = |sink: Sink| {
        let (content, baseline) = (content.clone(), baseline.clone());
        move |i: usize| {
            let (content, baseline) = (content.clone(), baseline.clone());
            async move { baseline.upload(&content, i as u64, sink).await }
        }
    };

    println!();
    crate::download::header();
    let mut rows: Vec<(String, usize, Batch)> = Vec::new();
    let mut counts = vec![1];
    if opts.clients > 1 {
        counts.push(opts.clients);
    }
    for &clients in &counts {
        let measured = [
            (
                "netdisk upload_movie",
                batch(&ctx.target, clients, opts.size, upload).await?,
            ),
            (
                "baseline copy to file + sync_all",
                batch(&ctx.target, clients, opts.size, copy(Sink::File)).await?,
            ),
            (
                "baseline copy to nowhere",
                batch(&ctx.target, clients, opts.size, copy(Sink::Discard)).await?,
            ),
        ];
        for (what, result) in measured {
            crate::download::row(what, &result);
            rows.push((what.to_owned(), clients, result));
        }
    }
    println!("(the baseline rows' server peak RSS is the idle netdisk server's, for reference)");
    println!("(load average now {})", load_average());

    let find = |what: &str, clients: usize| {
        rows.iter()
            .find(|(w, c, _)| w == what && *c == clients)
            .map(|(_, _, b)| b.aggregate)
            .unwrap_or(0.0)
    };
    let mut checks = Vec::new();
    for &clients in &counts {
        let upload = find("netdisk upload_movie", clients);
        let copy = find("baseline copy to file + sync_all", clients);
        let limit = copy.min(md5_rate);
        checks.push(Check::new(
            format!("upload: {clients} client(s) vs min(copy to file, MD5)"),
            format!(
                "{upload:.0} vs min({copy:.0}, {md5_rate:.0}) MB/s ({:.0}%)",
                upload / limit * 100.0
            ),
            ">= 80%",
            upload >= 0.8 * limit,
        ));
    }
    if let Some((_, _, one)) = rows
        .iter()
        .find(|(w, c, _)| w == "netdisk upload_movie" && *c == 1)
        && let Some(peak) = one.server_peak
    {
        println!("server peak RSS during one upload: {}", mib(peak));
    }
    Ok(checks)
}
