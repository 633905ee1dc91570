//! The table the `ratios` bin prints: criterion's median of each benchmark, the mini-orm side
//! next to the raw side of the same backend, workload and N, with their ratio.

use std::error::Error;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::{BACKENDS, ORM, RAW, WORKLOADS};

/// One benchmark's result, from its id `<backend>/<workload>/<side>[/<N>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// `sqlite` or `mysql`.
    pub backend: String,
    /// One of [`WORKLOADS`] (others are kept, and listed after them).
    pub workload: String,
    /// [`ORM`] or [`RAW`].
    pub side: String,
    /// The workload's size, when it has one.
    pub n: Option<u64>,
    /// Criterion's median time of one iteration, in nanoseconds.
    pub median_ns: f64,
}

/// Reads one benchmark from the contents of its `benchmark.json` and `estimates.json`; `None`
/// when its id does not follow this package's scheme (another package's benchmark).
pub fn parse_measurement(
    benchmark_json: &str,
    estimates_json: &str,
) -> Result<Option<Measurement>, Box<dyn Error>> {
    let benchmark: serde_json::Value = serde_json::from_str(benchmark_json)?;
    let full_id = benchmark["full_id"]
        .as_str()
        .ok_or("benchmark.json has no full_id")?;
    let parts: Vec<&str> = full_id.split('/').collect();
    let (backend, workload, side, n) = match parts[..] {
        [backend, workload, side] => (backend, workload, side, None),
        [backend, workload, side, n] => match n.parse() {
            Ok(n) => (backend, workload, side, Some(n)),
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    if !BACKENDS.contains(&backend) || ![ORM, RAW].contains(&side) {
        return Ok(None);
    }
    let estimates: serde_json::Value = serde_json::from_str(estimates_json)?;
    let median_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("estimates.json of {full_id} has no median.point_estimate"))?;
    Ok(Some(Measurement {
        backend: backend.to_owned(),
        workload: workload.to_owned(),
        side: side.to_owned(),
        n,
        median_ns,
    }))
}

/// Every measurement under criterion's output directory `dir` (`target/criterion`), from the
/// `new` directory of each benchmark (its last run).
pub fn collect(dir: &Path) -> Result<Vec<Measurement>, Box<dyn Error>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)
            .map_err(|e| format!("cannot read {}: {e}", current.display()))?
        {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|name| name == "new") {
                if let Some(measurement) = read_run(&path)? {
                    found.push(measurement);
                }
            } else {
                pending.push(path);
            }
        }
    }
    Ok(found)
}

fn read_run(new_dir: &Path) -> Result<Option<Measurement>, Box<dyn Error>> {
    let read = |name: &str| -> Result<Option<String>, Box<dyn Error>> {
        let path: PathBuf = new_dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
        }
    };
    match (read("benchmark.json")?, read("estimates.json")?) {
        (Some(benchmark), Some(estimates)) => parse_measurement(&benchmark, &estimates)
            .map_err(|e| format!("{}: {e}", new_dir.display()).into()),
        _ => Ok(None),
    }
}

/// The markdown table of `measurements`: one line per backend, workload and N, in the order of
/// [`BACKENDS`], [`WORKLOADS`] and N, with `—` where a side was not measured.
pub fn markdown_table(measurements: &[Measurement]) -> String {
    let rank =
        |list: &[&str], item: &str| list.iter().position(|x| *x == item).unwrap_or(usize::MAX);
    let mut keys: Vec<(&str, &str, Option<u64>)> = measurements
        .iter()
        .map(|m| (m.backend.as_str(), m.workload.as_str(), m.n))
        .collect();
    keys.sort_by(|a, b| {
        (rank(&BACKENDS, a.0), rank(&WORKLOADS, a.1), a.1, a.2).cmp(&(
            rank(&BACKENDS, b.0),
            rank(&WORKLOADS, b.1),
            b.1,
            b.2,
        ))
    });
    keys.dedup();

    let mut out = String::from(
        "| backend | workload | N | mini-orm median | raw median | ratio |\n|---|---|---:|---:|---:|---:|\n",
    );
    for (backend, workload, n) in keys {
        let median = |side: &str| {
            measurements
                .iter()
                .find(|m| {
                    m.backend == backend && m.workload == workload && m.n == n && m.side == side
                })
                .map(|m| m.median_ns)
        };
        let (orm, raw) = (median(ORM), median(RAW));
        let ratio = match (orm, raw) {
            (Some(orm), Some(raw)) if raw > 0.0 => format!("{:.2}", orm / raw),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {backend} | {workload} | {} | {} | {} | {ratio} |",
            n.map_or_else(|| "—".to_owned(), |n| n.to_string()),
            orm.map_or_else(|| "—".to_owned(), format_duration),
            raw.map_or_else(|| "—".to_owned(), format_duration),
        );
    }
    out
}

/// `ns` with a unit that keeps three or four significant digits: `812 ns`, `12.3 µs`, `4.56 ms`.
pub fn format_duration(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn benchmark(full_id: &str) -> String {
        serde_json::json!({ "group_id": "ignored", "full_id": full_id }).to_string()
    }

    fn estimates(median: f64) -> String {
        serde_json::json!({
            "mean": { "point_estimate": median * 10.0 },
            "median": { "point_estimate": median },
        })
        .to_string()
    }

    fn measured(full_id: &str, median: f64) -> Measurement {
        parse_measurement(&benchmark(full_id), &estimates(median))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn ids_are_split_into_backend_workload_side_and_n() {
        assert_eq!(
            measured("sqlite/trivial_query/orm/100", 1500.0),
            Measurement {
                backend: "sqlite".into(),
                workload: "trivial_query".into(),
                side: ORM.into(),
                n: Some(100),
                median_ns: 1500.0,
            }
        );
        assert_eq!(measured("mysql/get_by_pk/raw", 3.0).n, None);
        for foreign in [
            "fib/20",
            "postgres/insert/orm/1",
            "sqlite/insert/diesel/1",
            "sqlite/insert/orm/many",
        ] {
            assert_eq!(
                parse_measurement(&benchmark(foreign), &estimates(1.0)).unwrap(),
                None,
                "{foreign}"
            );
        }
        assert!(parse_measurement(&benchmark("sqlite/insert/orm/1"), "{}").is_err());
    }

    #[test]
    fn table_pairs_sides_orders_rows_and_computes_ratios() {
        let table = markdown_table(&[
            measured("mysql/insert/raw/10", 2000.0),
            measured("sqlite/insert/raw/10", 1000.0),
            measured("sqlite/trivial_query/raw/1000", 2_000_000.0),
            measured("sqlite/insert/orm/10", 1250.0),
            measured("sqlite/trivial_query/orm/1000", 2_400_000.0),
            measured("sqlite/trivial_query/orm/10", 900.0),
        ]);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| sqlite | trivial_query | 10 | 900 ns | — | — |",
                "| sqlite | trivial_query | 1000 | 2.40 ms | 2.00 ms | 1.20 |",
                "| sqlite | insert | 10 | 1.25 µs | 1.00 µs | 1.25 |",
                "| mysql | insert | 10 | — | 2.00 µs | — |",
            ]
        );
    }

    #[test]
    fn durations_keep_three_significant_digits() {
        assert_eq!(format_duration(812.4), "812 ns");
        assert_eq!(format_duration(12_345.0), "12.3 µs");
        assert_eq!(format_duration(4_560_000.0), "4.56 ms");
        assert_eq!(format_duration(2.5e9), "2.50 s");
    }
}
