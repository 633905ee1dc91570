//! Mode `idle`: N connections each log in (as one pre-registered user, N logins, at most
//! `--login-concurrency` at once) and then stay idle; the server's resident memory with all of
//! them open, then whether a fresh client is still served and whether the idle connections
//! still answer.

use std::time::{Duration, Instant};

use examples::Role;

use crate::proto::{self, Session, Small, run_limited};
use crate::setup::Ctx;
use crate::stats::{Check, load_average, mib, ms};
use crate::target::ensure_open_files;

/// Options of mode `idle`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Idle connections to open.
    #[arg(long, default_value_t = 5000)]
    pub conns: usize,
    /// Seconds to keep them all idle before measuring.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
}

/// The memory target with every connection open.
const RSS_TARGET: u64 = 256 << 20;

/// The idle timeout to give a spawned server: far beyond the login phase and the measurement.
pub const IDLE_TIMEOUT_SECS: u64 = 3600;

/// Checks up front that the open-file limit covers the connections, on both sides.
pub fn check_limits(opts: &Opts) -> anyhow::Result<()> {
    ensure_open_files(opts.conns)
}

/// Runs mode `idle`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    if ctx.target.pid().is_none() {
        println!(
            "note: with --server, the server's idle timeout (default 60 s) must exceed the \
             login phase, or it closes the first connections before the measurement"
        );
    }
    let addr = ctx.addr();
    let mut admin = ctx.admin().await?;
    ctx.seed_catalogue(&mut admin, 1, 1).await?;
    drop(admin);
    let name = ctx.name("idle");
    let mut connection = proto::connect(addr).await?;
    proto::register(&mut connection, &name, Role::User).await?;
    drop(connection);
    let before = ctx.target.memory();

    let started = Instant::now();
    let login_name = name.clone();
    let sessions = run_limited(opts.conns, ctx.common.login_concurrency, move |_| {
        let name = login_name.clone();
        async move { Session::login(addr, &name, Role::User).await }
    })
    .await?;
    let login_time = started.elapsed();
    println!(
        "login phase: {} connections logged in in {:.1} s ({:.1} logins/s, {} at once; load avg {})",
        sessions.len(),
        login_time.as_secs_f64(),
        sessions.len() as f64 / login_time.as_secs_f64(),
        ctx.common.login_concurrency,
        load_average()
    );
    tokio::time::sleep(Duration::from_secs_f64(opts.settle)).await;
    let open = ctx.target.memory();

    // A newcomer: connect, log in, list movies.
    let started = Instant::now();
    let mut fresh = Session::login(addr, &name, Role::User).await?;
    let fresh_login = started.elapsed();
    let started = Instant::now();
    let fresh_served = fresh.small(Small::Movies).await;
    let fresh_request = started.elapsed();

    // Every idle connection: does it still answer?
    let started = Instant::now();
    let mut answered = 0;
    let mut first_error = None;
    let total = sessions.len();
    for mut session in sessions {
        match session.small(Small::Notices).await {
            Ok(()) => answered += 1,
            Err(error) => {
                first_error.get_or_insert(error.to_string());
            }
        }
    }
    let probe_time = started.elapsed();

    println!();
    println!("| measurement | value |");
    println!("|---|---|");
    if let Some(before) = before {
        println!(
            "| server RSS before the logins | {} (peak {}) |",
            mib(before.rss),
            mib(before.peak)
        );
    }
    if let Some(open) = open {
        println!(
            "| server RSS with {total} idle connections | {} (peak {}) |",
            mib(open.rss),
            mib(open.peak)
        );
        if let Some(before) = before {
            println!(
                "| RSS growth per idle connection (includes what the logins left allocated) | {:.1} KiB |",
                (open.rss.saturating_sub(before.rss)) as f64 / 1024.0 / total as f64
            );
        }
    }
    println!(
        "| login phase | {:.1} s for {total} logins |",
        login_time.as_secs_f64()
    );
    println!(
        "| fresh client | login {} ms, then get_movie_list {} ms: {} |",
        ms(fresh_login),
        ms(fresh_request),
        match &fresh_served {
            Ok(()) => "served".to_owned(),
            Err(error) => format!("FAILED: {error}"),
        }
    );
    println!(
        "| idle connections still answering | {answered} of {total} (checked in {:.1} s){} |",
        probe_time.as_secs_f64(),
        first_error.map_or(String::new(), |e| format!("; first error: {e}"))
    );
    println!("(load average now {})", load_average());

    let mut checks = vec![
        Check::new(
            "idle: a fresh client is served",
            format!(
                "login {} ms, request {} ms",
                ms(fresh_login),
                ms(fresh_request)
            ),
            "served",
            fresh_served.is_ok(),
        ),
        Check::new(
            "idle: idle connections still answer",
            format!("{answered} of {total}"),
            "all",
            answered == total,
        ),
    ];
    match open {
        Some(open) => checks.push(Check::new(
            format!("idle: server RSS with {total} connections open"),
            mib(open.rss),
            "< 256 MiB",
            open.rss < RSS_TARGET,
        )),
        None => checks.push(Check::unmeasured(
            "idle: server RSS",
            "external server",
            "< 256 MiB",
        )),
    }
    Ok(checks)
}
