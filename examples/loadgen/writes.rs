//! Mode `writes`: M readers run the small read mix, first alone, then while one admin uploads
//! a large movie over and over (deleting each once uploaded, so that the movie list the readers
//! fetch keeps its size) and W clients register new users in a loop (argon2id hashing and
//! SQLite writes); the readers' latencies side by side, and what the writers achieved.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use examples::Role;

use crate::proto::{self, Content, Session};
use crate::setup::Ctx;
use crate::small::{self, CATALOGUE, run_mix};
use crate::stats::{Check, CpuMeter, Latencies, mb_per_s, mib, ms};

/// Options of mode `writes`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Connections running the read mix.
    #[arg(long, default_value_t = 16)]
    pub readers: usize,
    /// Connections registering new users in a loop.
    #[arg(long, default_value_t = 16)]
    pub registrars: usize,
    /// Size of the movie uploaded over and over (bytes, or with a suffix: KiB, MiB, GiB).
    #[arg(long, default_value = "256MiB", value_parser = crate::parse_size)]
    pub size: u64,
    /// Seconds of reads in each phase.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

/// How long the writers run before the readers' measurement starts.
const WARM_UP: Duration = Duration::from_millis(500);

/// What the writers did.
struct Writers {
    uploads: u64,
    upload_time: Duration,
    registrations: Latencies,
    errors: Vec<String>,
}

/// Starts the uploader and the registrars; they run until `stop` is set.
fn start_writers(
    ctx: &Ctx,
    opts: &Opts,
    admin_token: String,
    content: Arc<Content>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<anyhow::Result<Writers>> {
    let addr = ctx.addr();
    let movie_name = ctx.name("w");
    let uploader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut session = Session::resume(addr, &admin_token).await?;
            let (mut uploads, started) = (0u64, Instant::now());
            while !stop.load(Ordering::Relaxed) {
                let name = format!("{movie_name}-{uploads}.mp4");
                let id = session.upload_movie(&name, &content, uploads + 1).await?;
                // Keeps the catalogue the readers list at its size.
                session.delete_movie(id).await?;
                uploads += 1;
            }
            anyhow::Ok((uploads, started.elapsed()))
        })
    };
    let registrars: Vec<_> = (0..opts.registrars)
        .map(|r| {
            let stop = stop.clone();
            let prefix = ctx.name(&format!("r{r}-"));
            tokio::spawn(async move {
                let mut connection = proto::connect(addr).await?;
                let mut latencies = Latencies::default();
                let mut errors = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    match proto::register(&mut connection, &format!("{prefix}{i}"), Role::User)
                        .await
                    {
                        Ok(()) => latencies.record(sent.elapsed()),
                        Err(error) => errors.push(error.to_string()),
                    }
                    i += 1;
                }
                anyhow::Ok((latencies, errors))
            })
        })
        .collect();
    tokio::spawn(async move {
        let (uploads, upload_time) = uploader.await??;
        let mut writers = Writers {
            uploads,
            upload_time,
            registrations: Latencies::default(),
            errors: Vec::new(),
        };
        for registrar in registrars {
            let (latencies, errors) = registrar.await??;
            writers.registrations.merge(latencies);
            writers.errors.extend(errors);
        }
        Ok(writers)
    })
}

/// Runs mode `writes`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let content = Arc::new(Content::generate(usize::try_from(opts.size)?, ctx.seed()));
    let mut admin = ctx.admin().await?;
    let movies = ctx.seed_catalogue(&mut admin, CATALOGUE, CATALOGUE).await?;
    let tokens = ctx
        .users("q", opts.readers, movies.first().copied())
        .await?;
    let duration = Duration::from_secs_f64(opts.duration);

    println!();
    small::header();
    let cpu = CpuMeter::start(&ctx.target);
    let quiet = run_mix(ctx.addr(), &tokens, duration).await?;
    small::row(
        &format!("{} readers alone", opts.readers),
        &quiet,
        &cpu.finish(&ctx.target),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let writers = start_writers(ctx, opts, admin.token.clone(), content, stop.clone());
    tokio::time::sleep(WARM_UP).await;
    let cpu = CpuMeter::start(&ctx.target);
    let busy = run_mix(ctx.addr(), &tokens, duration).await?;
    let cpu = cpu.finish(&ctx.target);
    stop.store(true, Ordering::Relaxed);
    small::row(
        &format!(
            "{} readers + 1 uploader + {} registrars",
            opts.readers, opts.registrars
        ),
        &busy,
        &cpu,
    );
    let mut writers = writers.await??;
    let registrations = writers.registrations.summary();
    let write_time = writers.upload_time.as_secs_f64();
    println!(
        "\nwriters over {write_time:.1} s (until the upload in flight at the end finished): \
         {} uploads of {} ({:.0} MB/s), {} registrations ({:.1}/s, p50 {} ms, p99 {} ms), \
         {} writer errors{}",
        writers.uploads,
        mib(opts.size),
        mb_per_s(writers.uploads * opts.size, writers.upload_time),
        registrations.count,
        registrations.count as f64 / write_time,
        ms(registrations.p50),
        ms(registrations.p99),
        writers.errors.len(),
        writers
            .errors
            .first()
            .map_or(String::new(), |e| format!(" (first: {e})"))
    );

    let target = Duration::from_millis(10);
    let mut checks = vec![
        Check::new(
            "writes: reads p99 with writers",
            format!(
                "{} ms (alone: {} ms)",
                ms(busy.summary.p99),
                ms(quiet.summary.p99)
            ),
            "< 10 ms",
            busy.summary.p99 < target,
        ),
        Check::new(
            "writes: reads p99 without writers",
            format!("{} ms", ms(quiet.summary.p99)),
            "< 10 ms",
            quiet.summary.p99 < target,
        ),
    ];
    if quiet.errors + busy.errors > 0 {
        checks.push(Check::new(
            "writes: read errors",
            (quiet.errors + busy.errors).to_string(),
            "0",
            false,
        ));
    }
    Ok(checks)
}
