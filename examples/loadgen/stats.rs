//! Figures and their printing: latency percentiles, throughput, byte sizes, CPU use, and the
//! target checks gathered into the final summary.

use std::time::{Duration, Instant};

use crate::target::{Target, own_cpu_seconds};

/// Latencies of completed requests, in any order until summarised.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<Duration>);

/// Count and percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// How many requests completed.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Summary {
    /// The p99 in milliseconds, with the p50 and the slowest: `"3.62 ms (p50 1.57 ms, max 10.35 ms)"`.
    pub fn p99_text(&self) -> String {
        format!(
            "{} ms (p50 {} ms, max {} ms)",
            ms(self.p99),
            ms(self.p50),
            ms(self.max)
        )
    }
}

impl Latencies {
    /// Records one request's latency.
    pub fn record(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    /// Adds another set (from another connection).
    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// Sorts and summarises (nearest-rank percentiles).
    pub fn summary(&mut self) -> Summary {
        self.0.sort_unstable();
        let rank = |q: f64| {
            let n = self.0.len();
            let index = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.0[index]
        };
        if self.0.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.0.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: *self.0.last().expect("not empty"),
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1e3)
}

/// Throughput in MB/s (10^6 bytes per second).
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

/// A byte count in MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// CPU time used by the server and by loadgen over a stretch of wall time, as "cores busy",
/// and the machine's idle cores (from `/proc/stat`): with little idle left while the server is
/// not saturated, something else on the machine was competing for the CPU.
pub struct CpuMeter {
    wall: Instant,
    server: Option<f64>,
    own: Option<f64>,
    machine: Option<(u64, u64)>,
}

/// Total and idle (idle + iowait) jiffies of all CPUs, from the first line of `/proc/stat`.
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((fields.iter().sum(), fields.get(3)? + fields.get(4)?))
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start(target: &Target) -> CpuMeter {
        CpuMeter::start_at(target.cpu_seconds())
    }

    /// Starts measuring, `server` being the CPU seconds used so far by what serves (the
    /// spawned server, or the program it is compared with).
    pub fn start_at(server: Option<f64>) -> CpuMeter {
        CpuMeter {
            wall: Instant::now(),
            server,
            own: own_cpu_seconds(),
            machine: machine_jiffies(),
        }
    }

    /// `server X.XX / loadgen Y.YY / idle Z.ZZ` cores on average since the start (`-` when
    /// unknown).
    pub fn finish(&self, target: &Target) -> String {
        self.finish_at(target.cpu_seconds())
    }

    /// As [`CpuMeter::finish`], `server` being the CPU seconds of what serves now.
    pub fn finish_at(&self, server: Option<f64>) -> String {
        self.cores_at(server).to_string()
    }

    /// The cores busy on average since the start, `server` being the CPU seconds of what
    /// serves now.
    pub fn cores_at(&self, server: Option<f64>) -> Cores {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let cores = |before: Option<f64>, after: Option<f64>| Some((after? - before?) / wall);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let idle = match (self.machine, machine_jiffies()) {
            (Some((total0, idle0)), Some((total1, idle1))) if total1 > total0 => {
                Some((idle1 - idle0) as f64 / (total1 - total0) as f64 * cpus)
            }
            _ => None,
        };
        Cores {
            server: cores(self.server, server),
            loadgen: cores(self.own, own_cpu_seconds()),
            idle,
        }
    }
}

/// Cores busy on average over a stretch (`None` when unknown).
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    /// What serves (the spawned server, or a floor's threads).
    pub server: Option<f64>,
    /// All of loadgen (a floor's threads included).
    pub loadgen: Option<f64>,
    /// The machine's idle cores.
    pub idle: Option<f64>,
}

impl std::fmt::Display for Cores {
    /// `server X.XX / loadgen Y.YY / idle Z.ZZ`, `-` for what is unknown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.2}"));
        write!(
            f,
            "server {} / loadgen {} / idle {}",
            show(self.server),
            show(self.loadgen),
            show(self.idle)
        )
    }
}

/// One target of the brief, as measured.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is measured.
    pub what: String,
    /// The figure.
    pub measured: String,
    /// The goal.
    pub target: String,
    /// Whether the goal was reached (`None`: not measurable in this run).
    pub met: Option<bool>,
}

impl Check {
    /// A check with a verdict.
    pub fn new(what: impl Into<String>, measured: String, target: &str, met: bool) -> Check {
        Check {
            what: what.into(),
            measured,
            target: target.to_owned(),
            met: Some(met),
        }
    }

    /// A check that this run could not measure (say, no RSS of an external server).
    pub fn unmeasured(what: impl Into<String>, why: &str, target: &str) -> Check {
        Check {
            what: what.into(),
            measured: why.to_owned(),
            target: target.to_owned(),
            met: None,
        }
    }
}

/// Prints the final summary table of target checks.
pub fn print_summary(checks: &[Check]) {
    println!("\n### Summary\n");
    println!("| target | measured | goal | verdict |");
    println!("|---|---|---|---|");
    for check in checks {
        let verdict = match check.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        println!(
            "| {} | {} | {} | {verdict} |",
            check.what, check.measured, check.target
        );
    }
}

/// The machine's load average (`/proc/loadavg`, first three fields).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut latencies = Latencies::default();
        for ms in (1..=100).rev() {
            latencies.record(Duration::from_millis(ms));
        }
        let summary = latencies.summary();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, Duration::from_millis(50));
        assert_eq!(summary.p99, Duration::from_millis(99));
        assert_eq!(summary.max, Duration::from_millis(100));
    }

    #[test]
    fn an_empty_set_summarises_to_zeros() {
        let summary = Latencies::default().summary();
        assert_eq!(summary.count, 0);
        assert_eq!(summary.max, Duration::ZERO);
    }
}
