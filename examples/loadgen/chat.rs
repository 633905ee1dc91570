//! Mode `chat` (issue 17): the chat rooms under load, over WebSocket and over the C/S chat
//! door, each next to a floor, and the memory of many idle sockets.
//!
//! The server is spawned with the HTTP and chat doors on free loopback ports and the chat rate
//! limit lifted (`NETDISK_CHAT_BURST` and `NETDISK_CHAT_PER_SECOND` at 1 000 000: a few talkers
//! say every message, instead of hundreds of accounts each within 5 a second), and the login
//! lockout threshold raised (`NETDISK_LOCKOUT_THRESHOLD`), since a thousand logins of a handful
//! of accounts are checked a few at once. Set-up registers `--talkers` accounts that talk and
//! `--accounts` accounts the listeners share, and logs each in once (two argon2 hashes per
//! account) through the Youku door, whose session tokens every door accepts.
//!
//! 1. **Idle sockets** (run first, on the fresh server, so that the figure is what they cost
//!    and not what the allocator kept from the load below): `--idle` WebSockets into the lobby,
//!    each with the bearer token of one of the listeners' accounts (a logged-in visitor: the
//!    handshake's `Authorization: Bearer` is a session like the login page's cookie, without
//!    10 000 argon2 logins), plus one of a talker. The server's RSS before and with all open
//!    (after a short settle), then one message said: every socket must hear it.
//! 2. **WebSocket room**: `--ws-clients` sockets (the talkers' first, the rest with the
//!    listeners' tokens) wait for the server's `welcome` and `history`, then two phases
//!    ([`Load`]): *steady*, one message every `--every-ms` (talkers in turn) for
//!    `--steady-secs`, judged on delay (said → heard by each client, p99 under 50 ms) and on
//!    every client hearing every message once in order; then *saturation*, for
//!    `--saturate-secs`: the talkers say as fast as they can while at most `--window`
//!    messages are still owed to someone (a closed loop: it runs at whatever rate the server
//!    delivers, without piling up a backlog), and the deliveries heard per second are the
//!    rate. The same clients then do the same against the floor (`chat_ws.rs`); the server must
//!    reach at least half the floor's saturation rate.
//! 3. **C/S chat door**: the same with `--door-clients` clients, each logging in with its
//!    account's password (an argon2 hash each, `--login-concurrency` at once: the slow part of
//!    the run), against the door and its floor (`chat_tcp.rs`). The door sends a talker's
//!    messages to everyone but the talker.
//!
//! How delays and losses are measured: `chat_load.rs`. Each phase's row has the CPU cores used
//! by what serves, by loadgen, and left idle; loadgen reads every delivery on the same two
//! cores, so a rate is the server's only when loadgen is not the one out of CPU, which the
//! notes after each comparison say, with each side's CPU time per delivery (which, unlike the
//! rates, does not move with whatever else the machine runs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use examples::hash_password;

use crate::baseline::Pool;
use crate::chat_load::{Ear, Load, Mouth, Outcome, Room};
use crate::proto::PASSWORD;
use crate::setup::Ctx;
use crate::small::server_workers;
use crate::stats::{Check, Cores, CpuMeter, mib, ms};
use crate::target::ServerNeeds;
use crate::{chat_tcp, chat_ws};

/// Options of mode `chat`.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// WebSocket clients in the room (0: skip this part).
    #[arg(long, default_value_t = 1000)]
    pub ws_clients: usize,
    /// Clients of the C/S chat door (0: skip this part); each logs in with a password.
    #[arg(long, default_value_t = 1000)]
    pub door_clients: usize,
    /// Idle logged-in WebSockets for the memory target (0: skip this part).
    #[arg(long, default_value_t = 10_000)]
    pub idle: usize,
    /// Milliseconds between two messages of the steady phase.
    #[arg(long, default_value_t = 10)]
    pub every_ms: u64,
    /// Seconds of the steady phase.
    #[arg(long, default_value_t = 10.0)]
    pub steady_secs: f64,
    /// Seconds of the saturation phase (0: none, and no floor).
    #[arg(long, default_value_t = 5.0)]
    pub saturate_secs: f64,
    /// Messages owed to some client at most during the saturation phase.
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Clients that talk, each with an account of its own.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub talkers: u16,
    /// Accounts the listening clients log in as, in turn.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub accounts: u16,
    /// Do not measure the floors.
    #[arg(long)]
    pub no_floor: bool,
    /// Worker threads of the floors' runtime (default: as many as the server's runtime has).
    #[arg(long, value_name = "N")]
    pub floor_workers: Option<usize>,
}

/// Most deliveries' delay at the 99th percentile in the steady phase.
const P99_TARGET: Duration = Duration::from_millis(50);
/// The least server/floor ratio of deliveries per second at saturation.
const FLOOR_TARGET: f64 = 0.5;
/// Most server RSS with the idle sockets open.
const IDLE_RSS_TARGET: u64 = 200 << 20;
/// How long the idle sockets stay idle before the RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(2);
/// Logins at once at the floor's door (which checks no password).
const FLOOR_LOGINS: usize = 32;
/// "No limit" for the chat rate limit and the lockout threshold.
const LIMITLESS: &str = "1000000";

impl Opts {
    /// What the spawned server must allow and be told.
    pub fn needs(&self) -> ServerNeeds {
        let env = [
            "NETDISK_CHAT_BURST",
            "NETDISK_CHAT_PER_SECOND",
            "NETDISK_LOCKOUT_THRESHOLD",
        ];
        ServerNeeds {
            connections: self.ws_clients.max(self.door_clients).max(self.idle + 1),
            env: env.map(|key| (key, LIMITLESS.to_owned())).into(),
            http: true,
            chat: true,
        }
    }

    /// Connections loadgen holds at once: the idle sockets, or a room's clients and the
    /// floor's ends of them.
    pub fn connections(&self) -> usize {
        (self.idle + 1).max(2 * self.ws_clients.max(self.door_clients))
    }
}

/// The run's accounts: the talkers' and the listeners', with their session tokens.
struct Accounts {
    talkers: Vec<(Arc<str>, Arc<str>)>,
    listeners: Vec<(Arc<str>, Arc<str>)>,
}

impl Accounts {
    /// Registers and logs in the accounts.
    async fn create(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Accounts> {
        let named = |prefix: &str, tokens: Vec<String>| {
            (tokens.into_iter().enumerate())
                .map(|(i, token)| (ctx.name(&format!("{prefix}{i}")).into(), token.into()))
                .collect()
        };
        let talkers = ctx.users("ct", opts.talkers.into(), None).await?;
        let listeners = ctx.users("cl", opts.accounts.into(), None).await?;
        Ok(Accounts {
            talkers: named("ct", talkers),
            listeners: named("cl", listeners),
        })
    }

    /// The name and token of each of `count` clients: the talkers', then the listeners' in
    /// turn.
    fn clients(&self, count: usize) -> Vec<(Arc<str>, Arc<str>)> {
        let listeners = self.listeners.iter().cycle();
        (self.talkers.iter().chain(listeners))
            .take(count)
            .cloned()
            .collect()
    }
}

/// Runs mode `chat`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> anyhow::Result<Vec<Check>> {
    let http = ctx
        .target
        .http_addr
        .context("the server has no HTTP door")?;
    let door = ctx
        .target
        .chat_addr
        .context("the server has no chat door")?;
    println!("- HTTP door on {http}, chat door on {door}; chat rate limit and lockout lifted");
    let accounts = Accounts::create(ctx, opts).await?;
    let mut checks = Vec::new();
    if opts.idle > 0 {
        checks.extend(idle(ctx, opts, http, &accounts).await?);
    }
    if opts.ws_clients > 0 {
        let clients = accounts.clients(opts.ws_clients);
        let tokens: Vec<Arc<str>> = clients.into_iter().map(|(_, token)| token).collect();
        let talkers = usize::from(opts.talkers);
        let started = Instant::now();
        let room = chat_ws::room(http, tokens.clone(), talkers, true).await?;
        println!(
            "\nWebSocket: {} sockets opened in {:.1} s",
            tokens.len(),
            started.elapsed().as_secs_f64()
        );
        let floor = async {
            let (pool, addr) = chat_ws::floor(floor_workers(opts))?;
            anyhow::Ok((pool, chat_ws::room(addr, tokens, talkers, false).await?))
        };
        let what = "WebSocket";
        checks.extend(side_by_side(ctx, opts, what, opts.ws_clients, room, floor).await?);
    }
    if opts.door_clients > 0 {
        let clients = accounts.clients(opts.door_clients);
        let names: Vec<Arc<str>> = clients.into_iter().map(|(name, _)| name).collect();
        let password: Arc<str> = hash_password(PASSWORD).into();
        let talkers = usize::from(opts.talkers);
        let started = Instant::now();
        let concurrency = ctx.common.login_concurrency;
        let room = chat_tcp::room(door, names.clone(), password.clone(), talkers, concurrency);
        let room = room.await?;
        println!(
            "\nC/S chat door: {} clients logged in in {:.1} s ({concurrency} at once)",
            names.len(),
            started.elapsed().as_secs_f64()
        );
        let floor = async {
            let (pool, addr) = chat_tcp::floor(floor_workers(opts))?;
            let room = chat_tcp::room(addr, names, password, talkers, FLOOR_LOGINS);
            anyhow::Ok((pool, room.await?))
        };
        let what = "C/S door";
        checks.extend(side_by_side(ctx, opts, what, opts.door_clients, room, floor).await?);
    }
    if let Some(memory) = ctx.target.memory() {
        println!(
            "\nserver memory at the end: RSS {} (peak {})",
            mib(memory.rss),
            mib(memory.peak)
        );
    }
    Ok(checks)
}

/// The floors' worker threads.
fn floor_workers(opts: &Opts) -> usize {
    opts.floor_workers.unwrap_or_else(server_workers)
}

/// Runs the phases on the server's `room` (then closes it), and unless told not to, on the
/// room of the floor that `floor` starts; the checks of `what`, a room of `clients`.
async fn side_by_side<M: Mouth, E: Ear>(
    ctx: &Ctx,
    opts: &Opts,
    what: &str,
    clients: usize,
    mut room: Room<M, E>,
    floor: impl Future<Output = anyhow::Result<(Pool, Room<M, E>)>>,
) -> anyhow::Result<Vec<Check>> {
    let server = phases(opts, "server", &mut room, || ctx.target.cpu_seconds()).await?;
    drop(room);
    let floor = if opts.no_floor || opts.saturate_secs <= 0.0 {
        None
    } else {
        let (pool, mut room) = floor.await?;
        Some(phases(opts, "floor", &mut room, || pool.cpu_seconds()).await?)
    };
    Ok(judge(what, clients, opts, &server, floor.as_ref()))
}

/// One side's phases: the steady one, and the saturation when asked for.
struct Phases {
    steady: Outcome,
    saturated: Option<(Outcome, Cores)>,
}

/// Runs the phases on `room`, served by `who` (whose CPU seconds `cpu` reads); prints a row
/// for each.
async fn phases<M: Mouth, E: Ear>(
    opts: &Opts,
    who: &str,
    room: &mut Room<M, E>,
    cpu: impl Fn() -> Option<f64>,
) -> anyhow::Result<Phases> {
    let every = Duration::from_millis(opts.every_ms.max(1));
    let count = (opts.steady_secs / every.as_secs_f64()).round().max(1.0) as u64;
    let meter = CpuMeter::start_at(cpu());
    let steady = room.run(Load::Steady { every, count }).await?;
    println!();
    header();
    row(&format!("{who}, steady"), &steady, &meter.cores_at(cpu()));
    let saturated = if opts.saturate_secs > 0.0 {
        let duration = Duration::from_secs_f64(opts.saturate_secs);
        let meter = CpuMeter::start_at(cpu());
        let load = Load::Saturate {
            window: opts.window.max(1),
            duration,
        };
        let outcome = room.run(load).await?;
        let cores = meter.cores_at(cpu());
        row(&format!("{who}, saturated"), &outcome, &cores);
        Some((outcome, cores))
    } else {
        None
    };
    Ok(Phases { steady, saturated })
}

/// Prints the header of the phases' table.
fn header() {
    println!(
        "| phase | said/s | deliveries/s | p50 ms | p99 ms | max ms | lost | out of order | refused | CPU cores: server (floor) / loadgen / idle |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
}

/// One phase's row.
fn row(what: &str, outcome: &Outcome, cores: &Cores) {
    let l = &outcome.latency;
    println!(
        "| {what} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {cores} |",
        outcome.said_per_s(),
        outcome.delivered_per_s(),
        ms(l.p50),
        ms(l.p99),
        ms(l.max),
        outcome.lost,
        outcome.disordered,
        outcome.refused,
    );
    if outcome.draining > Duration::from_secs(1) {
        println!(
            "({:.1} s after the talking ended, deliveries were still coming)",
            outcome.draining.as_secs_f64()
        );
    }
    if let Some(problem) = &outcome.first_problem {
        println!("(first problem: {problem})");
    }
}

/// The checks of one transport, and notes on who was out of CPU.
fn judge(
    what: &str,
    clients: usize,
    opts: &Opts,
    server: &Phases,
    floor: Option<&Phases>,
) -> Vec<Check> {
    let steady = &server.steady;
    let rate = 1000 / opts.every_ms.max(1);
    let mut checks = vec![
        Check::new(
            format!("{what}: delay p99, {rate} messages/s to {clients} clients"),
            format!(
                "{} ms (p50 {})",
                ms(steady.latency.p99),
                ms(steady.latency.p50)
            ),
            "< 50 ms",
            steady.latency.p99 < P99_TARGET,
        ),
        Check::new(
            format!("{what}: messages lost or out of order, steady"),
            format!(
                "{} lost, {} out of order of {} deliveries",
                steady.lost, steady.disordered, steady.expected
            ),
            "none",
            steady.clean(),
        ),
    ];
    if let Some((saturated, _)) = &server.saturated
        && !saturated.clean()
    {
        checks.push(Check::new(
            format!("{what}: messages lost or out of order, saturated"),
            format!(
                "{} lost, {} out of order",
                saturated.lost, saturated.disordered
            ),
            "none",
            false,
        ));
    }
    let pair = server
        .saturated
        .as_ref()
        .zip(floor.and_then(|f| f.saturated.as_ref()));
    if let Some(((served, served_cores), (floored, floored_cores))) = pair {
        let ratio = served.delivered_per_s() / floored.delivered_per_s().max(1e-9);
        checks.push(Check::new(
            format!("{what}: deliveries/s at saturation, server/floor"),
            format!(
                "{:.0} vs {:.0}: {ratio:.2}",
                served.delivered_per_s(),
                floored.delivered_per_s()
            ),
            ">= 0.5",
            ratio >= FLOOR_TARGET,
        ));
        println!();
        note_limit("server", served_cores, 0.0, served.delivered_per_s());
        let inside = floored_cores.server.unwrap_or(0.0);
        note_limit("floor", floored_cores, inside, floored.delivered_per_s());
    }
    checks
}

/// Says where the CPU went at saturation, `rate` deliveries a second (`inside`: the floor's
/// share of loadgen's figure), the CPU time per delivery, and who was the limit: with cores
/// idle, waits; when loadgen's clients used at least as much as what they measured, loadgen
/// (the rate is then a lower bound); else what serves.
fn note_limit(who: &str, cores: &Cores, inside: f64, rate: f64) {
    let (Some(served), Some(loadgen), Some(idle)) = (cores.server, cores.loadgen, cores.idle)
    else {
        return;
    };
    let clients = loadgen - inside;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let others = (cpus - served - clients - idle).max(0.0);
    let verdict = if idle > 0.3 {
        "cores were left idle, so waits, not CPU, set the rate"
    } else if clients >= served {
        "loadgen's clients used as much CPU as what they measured: the rate is a lower bound"
    } else {
        "what serves was the busiest"
    };
    println!(
        "{who} at saturation: {:.1} µs of CPU per delivery; {served:.2} cores serving, \
         {clients:.2} for loadgen's clients, {others:.2} for other processes, {idle:.2} idle: \
         {verdict}",
        served / rate.max(1e-9) * 1e6
    );
}

/// The idle sockets: RSS before and with all open, and one message to all of them.
async fn idle(
    ctx: &Ctx,
    opts: &Opts,
    http: SocketAddr,
    accounts: &Accounts,
) -> anyhow::Result<Vec<Check>> {
    let talker = accounts.talkers[0].1.clone();
    let tokens: Vec<Arc<str>> = std::iter::once(talker)
        .chain(
            accounts
                .listeners
                .iter()
                .map(|(_, t)| t.clone())
                .cycle()
                .take(opts.idle),
        )
        .collect();
    let before = ctx.target.memory();
    let started = Instant::now();
    let mut room = chat_ws::room(http, tokens, 1, true).await?;
    let opening = started.elapsed();
    tokio::time::sleep(IDLE_SETTLE).await;
    let open = ctx.target.memory();
    let heard = room
        .run(Load::Steady {
            every: Duration::from_millis(1),
            count: 1,
        })
        .await?;
    drop(room);
    let n = opts.idle;
    println!(
        "\nIdle sockets ({} accounts' tokens):\n",
        accounts.listeners.len()
    );
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| opening {n} sockets (+1 that talks) | {:.1} s |",
        opening.as_secs_f64()
    );
    if let (Some(before), Some(open)) = (before, open) {
        println!(
            "| server RSS before | {} (peak {}) |",
            mib(before.rss),
            mib(before.peak)
        );
        println!(
            "| server RSS with all open | {} (peak {}) |",
            mib(open.rss),
            mib(open.peak)
        );
        println!(
            "| RSS growth per socket | {:.1} KiB |",
            open.rss.saturating_sub(before.rss) as f64 / 1024.0 / (n + 1) as f64
        );
    }
    println!(
        "| one message to all | heard by {} of {}, p50 {} ms, max {} ms |",
        heard.expected - heard.lost,
        heard.expected,
        ms(heard.latency.p50),
        ms(heard.latency.max)
    );
    let mut checks = vec![Check::new(
        format!("idle: one message reaches all {n} idle sockets"),
        format!("{} of {}", heard.expected - heard.lost, heard.expected),
        "all",
        heard.clean(),
    )];
    checks.push(match open {
        Some(open) => Check::new(
            format!("idle: server RSS with {n} logged-in sockets open"),
            before.map_or(mib(open.rss), |b| {
                format!("{} ({} before)", mib(open.rss), mib(b.rss))
            }),
            "< 200 MiB",
            open.rss < IDLE_RSS_TARGET,
        ),
        None => Check::unmeasured("idle: server RSS", "no memory figures", "< 200 MiB"),
    });
    Ok(checks)
}
