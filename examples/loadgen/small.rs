//! Mode `small`: C connections, each with its own logged-in user, send small read requests
//! back to back (list movies, list notices, download records, in turn) for a fixed time;
//! requests/s and latency percentiles for each C. [`run_mix`] is shared with mode `writes`.
//!
//! Each stretch against the server is paired with one against a *floor*: [`Echo`], a bare
//! echo server with the protocol's framing, no database, and canned answers of the sizes of the
//! server's own (taken from it before the rounds), driven by the same connections, mix and
//! client code. Server req/s over floor req/s says how much of the machine's capacity for
//! small requests the server keeps; the two of a pair run one after the other, and which goes
//! first alternates from round to round.
//!
//! The sweep runs `--rounds` times, forwards and backwards in turn, and the verdicts use each
//! C's median over the rounds: the machine's speed drifts over a minute by more than the
//! difference between two counts, and one stretch after the other would measure the drift.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;

use crate::baseline::Echo;
use crate::proto::{self, MIX, MixConnection, Small};
use crate::setup::Ctx;
use crate::stats::{Check, CpuMeter, Latencies, Summary, load_average, ms};

/// Options of mode `small`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Connection counts to sweep (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub conns: Vec<usize>,
    /// Seconds of load at each connection count, in each round.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Times the sweep runs (forwards, then backwards, and so on).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Do not measure the floor (the bare echo server) next to the server.
    #[arg(long)]
    pub no_floor: bool,
    /// Worker threads of the floor's runtime (default: as many as the server's runtime has,
    /// `TOKIO_WORKER_THREADS` or one per core).
    #[arg(long, value_name = "N")]
    pub floor_workers: Option<usize>,
}

/// The least server req/s over floor req/s at C=64.
const FLOOR_TARGET: f64 = 0.5;

/// Movies and notices in the catalogue the mix reads.
pub const CATALOGUE: usize = 20;

/// How long after the end of a stretch a request may still take before the connection counts as
/// hung (the one time limit of the mix: there is no timer per request).
const ANSWER_GRACE: Duration = Duration::from_secs(120);

/// What a stretch of the read mix achieved.
pub struct MixResult {
    /// Latency percentiles of the requests that succeeded.
    pub summary: Summary,
    /// Requests per second: the successful ones that completed within the stretch, over its
    /// duration (the answers still in flight at its end are in the latencies, not the rate: how
    /// long the last of them takes says nothing about the server's throughput).
    pub rate: f64,
    /// Requests that failed.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

/// Opens one connection to `addr` per session token (untimed), then runs the read mix on all
/// of them at once for `duration`.
pub async fn run_mix(
    addr: SocketAddr,
    tokens: &[String],
    duration: Duration,
) -> anyhow::Result<MixResult> {
    let mut connections = Vec::with_capacity(tokens.len());
    for token in tokens {
        connections.push(MixConnection::open(addr, token).await?);
    }
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + duration;
    let mut tasks = Vec::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            let mut stretch = Stretch::default();
            let mix = stretch.run(&mut connection, index, end);
            if tokio::time::timeout_at(end + ANSWER_GRACE, mix)
                .await
                .is_err()
            {
                stretch.failed("timed out waiting for the server's answer".to_owned());
            }
            stretch
        }));
    }
    let mut all = Latencies::default();
    let (mut in_time, mut errors, mut first_error) = (0, 0, None);
    for task in tasks {
        let stretch = task.await?;
        all.merge(stretch.latencies);
        in_time += stretch.in_time;
        errors += stretch.errors;
        first_error = first_error.or(stretch.first_error);
    }
    Ok(MixResult {
        rate: in_time as f64 / duration.as_secs_f64(),
        summary: all.summary(),
        errors,
        first_error,
    })
}

/// What one connection did during a stretch of the mix.
#[derive(Default)]
struct Stretch {
    latencies: Latencies,
    /// Successful requests that completed before the end of the stretch.
    in_time: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Stretch {
    /// Sends the mix on `connection` (starting at `MIX[turn]`) until `end`.
    async fn run(&mut self, connection: &mut MixConnection, mut turn: usize, end: Instant) {
        while Instant::now() < end {
            let sent = Instant::now();
            match connection.small(MIX[turn % MIX.len()]).await {
                Ok(()) => {
                    let done = Instant::now();
                    self.latencies.record(done - sent);
                    self.in_time += u64::from(done <= end);
                }
                Err(error) => {
                    let gone = error.code().is_none();
                    self.failed(error.to_string());
                    if gone {
                        break; // the connection is gone
                    }
                }
            }
            turn += 1;
        }
    }

    fn failed(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}

/// Prints the header of the results table that [`row`] fills.
pub fn header() {
    println!(
        "| what | requests/s | p50 ms | p99 ms | max ms | errors | CPU cores: server / loadgen / idle | load avg |"
    );
    println!("|---|---|---|---|---|---|---|---|");
}

/// One line of results.
pub fn row(what: &str, result: &MixResult, cpu: &str) {
    let s = &result.summary;
    println!(
        "| {what} | {:.0} | {} | {} | {} | {} | {cpu} | {} |",
        result.rate,
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        result.errors,
        load_average()
    );
    if let Some(error) = &result.first_error {
        println!("(first error: {error})");
    }
}

/// The worker threads of the spawned server's runtime: `#[tokio::main]` takes
/// `TOKIO_WORKER_THREADS` (which the server inherits from loadgen) or one per core.
pub fn server_workers() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The server's answer body to each request of the mix, by the request body's length (what the
/// echo server goes by). The answers are the server's own, re-encoded (the same fields, the
/// same size to within a few bytes); the lengths are checked to tell the kinds apart for every
/// session in `tokens`.
async fn canned_answers(ctx: &Ctx, tokens: &[String]) -> anyhow::Result<HashMap<usize, Vec<u8>>> {
    let token = tokens.first().context("no session to take answers with")?;
    let mut connection = proto::connect(ctx.addr()).await?;
    let mut bodies = Vec::new();
    for kind in MIX {
        let answer = connection.call(&kind.request(token)).await?;
        bodies.push(serde_json::to_vec(&answer)?);
    }
    let mut kinds: HashMap<usize, usize> = HashMap::new();
    for token in tokens {
        for (kind, request) in Small::frames(token)?.iter().enumerate() {
            let length = request.len() - 4;
            let known = *kinds.entry(length).or_insert(kind);
            anyhow::ensure!(
                known == kind,
                "requests {:?} and {:?} are both {length} bytes: the floor cannot tell their \
                 answers apart",
                MIX[known],
                MIX[kind]
            );
        }
    }
    Ok(kinds
        .into_iter()
        .map(|(length, kind)| (length, bodies[kind].clone()))
        .collect())
}

/// Where a stretch sends its requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Floor,
}

/// Runs one stretch of the mix against `side` with `conns` connections; prints its row.
async fn stretch(
    ctx: &Ctx,
    echo: Option<&Echo>,
    side: Side,
    tokens: &[String],
    duration: Duration,
    what: &str,
) -> anyhow::Result<MixResult> {
    let cpu = CpuMeter::start(&ctx.target);
    let (addr, label) = match (side, echo) {
        (Side::Floor, Some(echo)) => (echo.addr(), "floor"),
        _ => (ctx.addr(), "server"),
    };
    let floor_cpu = echo.and_then(Echo::cpu_seconds);
    let started = Instant::now();
    let result = run_mix(addr, tokens, duration).await?;
    let mut cpu = cpu.finish(&ctx.target);
    if let (Side::Floor, Some(before), Some(after)) =
        (side, floor_cpu, echo.and_then(Echo::cpu_seconds))
    {
        let cores = (after - before) / started.elapsed().as_secs_f64().max(1e-9);
        cpu = format!("{cpu} (floor {cores:.2} of loadgen's)");
    }
    row(&format!("{what}, {label}"), &result, &cpu);
    Ok(result)
}

/// Runs mode `small`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let most = opts.conns.iter().copied().max().unwrap_or(0);
    let mut admin = ctx.admin().await?;
    let movies = ctx.seed_catalogue(&mut admin, CATALOGUE, CATALOGUE).await?;
    let tokens = ctx.users("u", most, movies.first().copied()).await?;
    let duration = Duration::from_secs_f64(opts.duration);
    let echo = if opts.no_floor {
        None
    } else {
        let workers = opts.floor_workers.unwrap_or_else(server_workers);
        let echo = Echo::start(workers, canned_answers(ctx, &tokens).await?)?;
        println!(
            "floor: a bare echo server on {workers} worker thread(s) of loadgen, answering \
             with the server's answers' sizes"
        );
        Some(echo)
    };
    println!();
    header();
    // Per C: the server's results and the floor's, round by round.
    let mut rounds: Vec<(usize, Vec<MixResult>, Vec<MixResult>)> = opts
        .conns
        .iter()
        .map(|&conns| (conns, Vec::new(), Vec::new()))
        .collect();
    for round in 1..=opts.rounds {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        let mut sides = vec![Side::Server];
        if echo.is_some() {
            sides.push(Side::Floor);
        }
        if round % 2 == 0 {
            order.reverse();
            sides.reverse();
        }
        for index in order {
            let conns = rounds[index].0;
            for &side in &sides {
                let what = format!("C={conns}, round {round}");
                let result =
                    stretch(ctx, echo.as_ref(), side, &tokens[..conns], duration, &what).await?;
                match side {
                    Side::Server => rounds[index].1.push(result),
                    Side::Floor => rounds[index].2.push(result),
                }
            }
        }
    }
    drop(echo);
    let medians: Vec<(usize, Median, Option<Median>, Option<f64>)> = rounds
        .iter()
        .map(|(conns, server, floor)| {
            let ratios = server
                .iter()
                .zip(floor)
                .map(|(s, f)| s.rate / f.rate.max(1e-9))
                .collect::<Vec<f64>>();
            (
                *conns,
                Median::of(server),
                (!floor.is_empty()).then(|| Median::of(floor)),
                (!ratios.is_empty()).then(|| median(ratios, f64::total_cmp)),
            )
        })
        .collect();
    println!();
    println!(
        "Medians over {} round(s) (server/floor: the median of each round's ratio):",
        opts.rounds
    );
    println!();
    println!(
        "| C | server req/s | floor req/s | server/floor | p50 ms | p99 ms | max ms | floor p99 ms | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (conns, m, floor, ratio) in &medians {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
        println!(
            "| {conns} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            m.rate,
            or_dash(floor.as_ref().map(|f| format!("{:.0}", f.rate))),
            or_dash(ratio.map(|r| format!("{r:.2}"))),
            ms(m.p50),
            ms(m.p99),
            ms(m.max),
            or_dash(floor.as_ref().map(|f| ms(f.p99))),
            m.errors + floor.as_ref().map_or(0, |f| f.errors)
        );
    }
    let mut checks = Vec::new();
    let at = |c: usize| medians.iter().find(|(n, ..)| *n == c);
    if let Some((_, m, Some(floor), Some(ratio))) = at(64) {
        checks.push(Check::new(
            "small: server/floor at C=64 (median of the rounds' ratios)",
            format!("{:.0} vs {:.0} req/s: {ratio:.2}", m.rate, floor.rate),
            ">= 0.5",
            *ratio >= FLOOR_TARGET,
        ));
    }
    for conns in [64, 256] {
        if let Some((_, m, ..)) = at(conns) {
            checks.push(Check::new(
                format!("small: p99 at C={conns} (median of rounds)"),
                format!("{} ms", ms(m.p99)),
                "< 10 ms",
                m.p99 < Duration::from_millis(10),
            ));
        }
    }
    if let (Some((_, m64, ..)), Some((_, m256, ..))) = (at(64), at(256)) {
        checks.push(Check::new(
            "small: throughput at C=256 vs C=64 (medians of rounds)",
            format!(
                "{:.0} vs {:.0} req/s ({:+.1}%)",
                m256.rate,
                m64.rate,
                (m256.rate / m64.rate - 1.0) * 100.0
            ),
            "C=256 not below C=64",
            m256.rate >= m64.rate,
        ));
    }
    for (conns, m, floor, _) in &medians {
        let errors = [("server", Some(m)), ("floor", floor.as_ref())];
        for (side, m) in errors {
            if let Some(m) = m.filter(|m| m.errors > 0) {
                checks.push(Check::new(
                    format!("small: {side} errors at C={conns}"),
                    m.errors.to_string(),
                    "0",
                    false,
                ));
            }
        }
    }
    Ok(checks)
}

/// One connection count's figures over the rounds: the median of each, the slowest request,
/// and all the errors.
struct Median {
    rate: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    errors: u64,
}

impl Median {
    fn of(results: &[MixResult]) -> Median {
        let rates: Vec<f64> = results.iter().map(|r| r.rate).collect();
        Median {
            rate: median(rates, |a, b| a.total_cmp(b)),
            p50: median(results.iter().map(|r| r.summary.p50).collect(), Ord::cmp),
            p99: median(results.iter().map(|r| r.summary.p99).collect(), Ord::cmp),
            max: results
                .iter()
                .map(|r| r.summary.max)
                .max()
                .unwrap_or_default(),
            errors: results.iter().map(|r| r.errors).sum(),
        }
    }
}

/// The middle value (the upper one of the two middle values of an even count); the default of
/// `T` for none.
fn median<T: Copy + Default>(
    mut values: Vec<T>,
    order: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> T {
    values.sort_by(order);
    values.get(values.len() / 2).copied().unwrap_or_default()
}
