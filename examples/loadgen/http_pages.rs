//! Mode `http`, part 3: page requests. Many clients with session cookies request the
//! catalogue page and movie pages back to back for a fixed time, as browsers would; their
//! latencies (p50/p99/max) per page and together, and the rate.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::ensure;
use tokio::time::Instant;

use crate::http_client::HttpConn;
use crate::setup::Ctx;
use crate::stats::{Check, CpuMeter, Latencies, load_average, ms};

/// The page latency target (p99).
const PAGE_P99_TARGET: Duration = Duration::from_millis(20);

/// Page requests: `clients` connections, each with one of the `sessions` as its session
/// cookie, alternate the catalogue page and the page of one of the `movies` for `duration`.
/// Returns the check of the latency target.
pub async fn run(
    ctx: &Ctx,
    http: SocketAddr,
    sessions: &[&str],
    movies: &[i64],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Check>> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(HttpConn::connect(http).await?);
    }
    let cpu = CpuMeter::start(&ctx.target);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + duration;
    let mut tasks = Vec::new();
    for (i, mut conn) in connections.into_iter().enumerate() {
        let cookie = format!("netdisk_session={}", sessions[i % sessions.len()]);
        let movies = movies.to_vec();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            let (mut list, mut page) = (Latencies::default(), Latencies::default());
            let (mut in_time, mut turn) = (0u64, i);
            while Instant::now() < end {
                let movie_page = turn % 2 == 1;
                let path = if movie_page {
                    format!("/movies/{}", movies[turn / 2 % movies.len()])
                } else {
                    "/movies".to_owned()
                };
                let sent = Instant::now();
                let (head, body) = conn
                    .request("GET", &path, &[("Cookie", &cookie)], &[])
                    .await?;
                let done = Instant::now();
                ensure!(
                    head.status == 200 && !body.is_empty(),
                    "GET {path}: status {}",
                    head.status
                );
                let latencies = if movie_page { &mut page } else { &mut list };
                latencies.record(done - sent);
                in_time += u64::from(done <= end);
                turn += 1;
            }
            anyhow::Ok((list, page, in_time))
        }));
    }
    let (mut list, mut page, mut all, mut in_time) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
        0,
    );
    for task in tasks {
        let (l, p, n) = task.await??;
        all.merge(l.clone());
        all.merge(p.clone());
        list.merge(l);
        page.merge(p);
        in_time += n;
    }
    let cpu = cpu.finish(&ctx.target);
    println!(
        "\nPages: {clients} clients with session cookies, {} s, `GET /movies` (24 movies) and \
         `GET /movies/{{id}}` alternated:\n",
        duration.as_secs()
    );
    println!("| page | requests | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    let summary = all.summary();
    for (what, latencies) in [
        ("/movies", &mut list),
        ("/movies/{id}", &mut page),
        ("both", &mut all),
    ] {
        let s = latencies.summary();
        println!(
            "| {what} | {} | {} | {} | {} |",
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    let rate = in_time as f64 / duration.as_secs_f64();
    println!(
        "\n{rate:.0} requests/s; CPU cores {cpu}; load average {}",
        load_average()
    );
    Ok(vec![Check::new(
        format!("pages: p99 with {clients} clients"),
        format!("{}, {rate:.0} req/s", summary.p99_text()),
        "< 20 ms",
        summary.p99 < PAGE_P99_TARGET,
    )])
}
