//! Issue 18's variant benchmark: the photo site's work on an upload (`netdisk_core::picture::
//! check`: decode, orientation, metadata out, the 800 and 400 pixel variants as JPEG at quality
//! 85) against Pillow doing the same resize and encode (`benches/python/pillow_variants.py`),
//! on the same 12-megapixel JPEGs, in one run: each photo one at a time, and per photo with
//! both cores busy (two threads here, two processes there).
//!
//! Run with `cargo run --release -p benches --bin photo_variants` (Pillow from PyPI:
//! `pip install pillow`). Prints a Markdown table for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use netdisk_core::picture::{PictureLimits, check};
use netdisk_core::testing::photo_like_jpeg;

/// How many distinct photos, each used once per round.
const PHOTOS: u32 = 6;
/// Threads (and Pillow processes) for the busy measurement: the machine's two cores.
const WORKERS: usize = 2;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/photo-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<PathBuf> = (0..PHOTOS).map(|seed| photo(&dir, seed)).collect();
    let uploads: Vec<bytes::Bytes> = paths
        .iter()
        .map(|p| bytes::Bytes::from(std::fs::read(p).unwrap()))
        .collect();
    let limits = PictureLimits {
        max_bytes: 64 << 20,
        max_side: 16384,
        max_pixels: 50_000_000,
    };

    check(uploads[0].clone(), &limits).unwrap(); // warm up
    let ours: Vec<f64> = uploads
        .iter()
        .map(|upload| {
            let started = Instant::now();
            let checked = check(upload.clone(), &limits).unwrap();
            assert_eq!(checked.variants.len(), 2);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for upload in &uploads {
                    check(upload.clone(), &limits).unwrap();
                }
            });
        }
    });
    let ours_busy = started.elapsed().as_secs_f64() * 1000.0 / (uploads.len() * WORKERS) as f64;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/pillow_variants.py");
    let mut pillow = Command::new("python3");
    pillow
        .arg(&script)
        .args(["--workers", &WORKERS.to_string()]);
    pillow.args(&paths);
    let output = pillow.output().expect("python3 runs");
    assert!(
        output.status.success(),
        "Pillow's side failed (pip install pillow?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let theirs_one: Vec<f64> = theirs["one_at_a_time_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let theirs_busy = theirs["busy_ms_per_photo"].as_f64().unwrap();

    let size = std::fs::metadata(&paths[0]).unwrap().len();
    println!(
        "{PHOTOS} JPEGs of 4000×3000 ({:.1} MB each), Pillow {}\n",
        size as f64 / 1e6,
        theirs["pillow"].as_str().unwrap_or("?")
    );
    println!("| per photo | ours (ms) | Pillow (ms) | Pillow / ours |");
    println!("|---|---|---|---|");
    let (ours_median, theirs_median) = (median(&ours), median(&theirs_one));
    println!(
        "| one at a time, median | {ours_median:.1} | {theirs_median:.1} | {:.2} |",
        theirs_median / ours_median
    );
    println!(
        "| both cores busy ({WORKERS} at once) | {ours_busy:.1} | {theirs_busy:.1} | {:.2} |",
        theirs_busy / ours_busy
    );
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// A 12-megapixel photo-like JPEG, made once and kept in `dir` for Pillow to read.
fn photo(dir: &Path, seed: u32) -> PathBuf {
    let path = dir.join(format!("photo-{seed}.jpg"));
    if !path.exists() {
        std::fs::write(&path, photo_like_jpeg(4000, 3000, seed)).unwrap();
    }
    path
}
