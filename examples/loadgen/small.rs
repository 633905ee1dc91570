//! Mode `small`: C connections, each with its own logged-in user, send small read requests
//! back to back (list movies, list notices, download records, in turn) for a fixed time;
//! requests/s and latency percentiles for each C. [`run_mix`] is shared with mode `writes`.
//!
//! The sweep runs `--rounds` times, forwards and backwards in turn, and the verdicts use each
//! C's median over the rounds: the machine's speed drifts over a minute by more than the
//! difference between two counts, and one stretch after the other would measure the drift.

use std::time::Duration;

use tokio::time::Instant;

use crate::proto::{MIX, MixConnection};
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
}

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

/// Opens one connection per session token (untimed), then runs the read mix on all of them
/// at once for `duration`.
pub async fn run_mix(
    ctx: &Ctx,
    tokens: &[String],
    duration: Duration,
) -> anyhow::Result<MixResult> {
    let mut connections = Vec::with_capacity(tokens.len());
    for token in tokens {
        connections.push(MixConnection::open(ctx.addr(), token).await?);
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

/// Runs mode `small`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let most = opts.conns.iter().copied().max().unwrap_or(0);
    let mut admin = ctx.admin().await?;
    let movies = ctx.seed_catalogue(&mut admin, CATALOGUE, CATALOGUE).await?;
    let tokens = ctx.users("u", most, movies.first().copied()).await?;
    let duration = Duration::from_secs_f64(opts.duration);
    println!();
    header();
    let mut rounds: Vec<(usize, Vec<MixResult>)> = opts
        .conns
        .iter()
        .map(|&conns| (conns, Vec::new()))
        .collect();
    for round in 1..=opts.rounds {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for index in order {
            let conns = rounds[index].0;
            let cpu = CpuMeter::start(&ctx.target);
            let result = run_mix(ctx, &tokens[..conns], duration).await?;
            row(
                &format!("C={conns}, round {round}"),
                &result,
                &cpu.finish(&ctx.target),
            );
            rounds[index].1.push(result);
        }
    }
    let medians: Vec<(usize, Median)> = rounds
        .iter()
        .map(|(conns, results)| (*conns, Median::of(results)))
        .collect();
    println!();
    println!("Medians over {} round(s):", opts.rounds);
    println!();
    println!("| C | requests/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|");
    for (conns, m) in &medians {
        println!(
            "| {conns} | {:.0} | {} | {} | {} | {} |",
            m.rate,
            ms(m.p50),
            ms(m.p99),
            ms(m.max),
            m.errors
        );
    }
    let mut checks = Vec::new();
    let at = |c: usize| medians.iter().find(|(n, _)| *n == c).map(|(_, m)| m);
    if let Some(m) = at(64) {
        checks.push(Check::new(
            "small: p99 at C=64 (median of rounds)",
            format!("{} ms", ms(m.p99)),
            "< 10 ms",
            m.p99 < Duration::from_millis(10),
        ));
    }
    if let (Some(m64), Some(m256)) = (at(64), at(256)) {
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
    for (conns, m) in &medians {
        if m.errors > 0 {
            checks.push(Check::new(
                format!("small: errors at C={conns}"),
                m.errors.to_string(),
                "0",
                false,
            ));
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
