//! Prints the markdown table of mini-orm's and the raw driver's median times, and their ratio,
//! from the last `cargo bench -p benches` run:
//!
//! ```text
//! cargo run -p benches --bin ratios [CRITERION_DIR]
//! ```
//!
//! `CRITERION_DIR` defaults to `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the
//! workspace's `target/criterion`. See the `benches` crate for the benchmarks themselves.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CRITERION_HOME").map(PathBuf::from))
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("criterion"))
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    match benches::report::collect(&dir) {
        Ok(measurements) if measurements.is_empty() => {
            eprintln!(
                "no mini-orm benchmark results under {}: run `cargo bench -p benches` first",
                dir.display()
            );
            ExitCode::FAILURE
        }
        Ok(measurements) => {
            print!("{}", benches::report::markdown_table(&measurements));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
