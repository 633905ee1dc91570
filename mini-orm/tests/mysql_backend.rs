//! The MySQL backend's time limit (`?timeout_ms=N`, default 10 s) and what happens to a
//! connection that ran out of it: a server that accepts connections but never answers, one that
//! stops answering in the middle (a loopback proxy that stops forwarding: nothing closes, nothing
//! answers, as with a frozen server or a network partition), and a statement slower than the
//! limit on the real server. Each must end in `Unavailable` instead of a hung caller, and the
//! connection that was waiting must never serve another statement: its answer, arriving late,
//! would be read as the next statement's. Plus transactions dropped half-way, tasks waiting for
//! a small pool, which connection serves back-to-back statements, and the URL parameter itself.
//!
//! `MINI_ORM_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo test -p mini-orm --test
//! mysql_backend -- --nocapture` runs them all and prints how long each refusal took (nothing
//! asserts a duration: only that an answer came, within a generous bound, instead of a hang).
//! There is no long version: each scenario is one outage.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mini_orm::testing::TestDb;
use mini_orm::{Db, Error, Executor, Model, Result, backend_tests, raw};
use support::User;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The time limit the tests set: short, so that refusals come quickly.
const LIMIT: &str = "timeout_ms=300";
/// What the refusals say with [`LIMIT`].
const NO_ANSWER: &str = "no answer from MySQL within 300 ms";
/// Past this, an operation counts as hung (the old behaviour): far above [`LIMIT`], so that a
/// slow shared machine never trips it.
const HANG: Duration = Duration::from_secs(20);

/// Awaits `operation`, panicking if it hangs (takes longer than [`HANG`]); prints how long it
/// took.
async fn bounded<T>(what: &str, operation: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG, operation)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG:?}, the caller hangs"));
    println!("{what}: answered after {:?}", started.elapsed());
    outcome
}

/// Checks that `outcome` is the time limit's `Unavailable`.
#[track_caller]
fn assert_no_answer<T: std::fmt::Debug>(what: &str, outcome: Result<T>) {
    match outcome {
        Err(error @ Error::Unavailable(_)) => {
            assert!(error.to_string().contains(NO_ANSWER), "{what}: {error}");
        }
        other => panic!("{what}: expected Unavailable ({NO_ANSWER}), got {other:?}"),
    }
}

/// `url` with `param` added to its query string.
fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// `url` pointing at `addr` instead of its own host and port (user and database kept).
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"));
    format!("{scheme}://{}{addr}/{path}", user.unwrap_or_default())
}

/// The `host:port` of a MySQL URL.
fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:3306")
    }
}

/// A loopback server that accepts connections and never sends a byte (nor closes them).
struct SilentServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentServer {
    async fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        SilentServer { addr, task }
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback proxy to a MySQL server that can stop forwarding (both ways, on every connection,
/// new ones included) without closing anything, and start again.
struct Proxy {
    addr: SocketAddr,
    frozen: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen, _) = watch::channel(false);
        let gate = frozen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, gate.subscribe()));
                tokio::spawn(pump(server_read, client_write, gate.subscribe()));
            }
        });
        Proxy { addr, frozen, task }
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` while the proxy is not frozen; what was read when it froze waits.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        if frozen.wait_for(|f| !f).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The statement every check runs: `SLEEP(seconds) + value`. Slow ones and quick ones share it,
/// so that a slow one's late answer, read by a later statement, would pass for that one's answer
/// (a different statement could fail to parse it instead, hiding the mix-up).
const ANSWER: &str = "SELECT SLEEP(?) + ?";

/// [`ANSWER`] for `value` after `seconds`, on `exec`.
async fn answer(exec: impl Executor, seconds: i64, value: i64) -> Result<i64> {
    let (answer,) = raw(ANSWER)
        .bind(seconds)
        .bind(value)
        .fetch_one::<(i64,)>(exec)
        .await?;
    Ok(answer)
}

/// Runs `count` quick [`ANSWER`]s with distinct values on `db` and checks that each gets its
/// own answer: a connection reused with an unread answer would return that one instead.
async fn every_answer_is_its_own(db: &Db, count: i64) -> Result<()> {
    for n in 0..count {
        let value = 1_000_000 + n;
        assert_eq!(answer(db, 0, value).await?, value, "the answer for {value}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_unavailable_not_a_hang() {
    let server = SilentServer::start().await;
    let url = with_param(&format!("mysql://root@{}/test", server.addr), LIMIT);
    assert_no_answer(
        "connect to a silent server",
        bounded("connect to a silent server", Db::connect(&url)).await,
    );
}

#[tokio::test]
async fn a_timeout_ms_that_is_not_a_number_of_milliseconds_is_an_invalid_url() {
    for value in ["soon", "0", "-1", "2.5", "", "86400001"] {
        let url = format!("mysql://root@127.0.0.1:1/test?timeout_ms={value}");
        match Db::connect(&url).await {
            Err(Error::InvalidUrl(message)) => {
                assert!(
                    message.contains("`timeout_ms` needs a number of milliseconds"),
                    "{message}"
                );
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}

/// `timeout_ms` next to mysql_async's own parameters: both are understood (mysql_async refuses
/// parameters it does not know, so ours must not reach it).
async fn timeout_ms_goes_with_the_drivers_own_parameters(t: &TestDb) -> Result<()> {
    for params in [
        "timeout_ms=2000",
        "stmt_cache_size=4&timeout_ms=2000&pool_min=1&pool_max=3",
    ] {
        let db = Db::connect(&with_param(&t.url, params)).await?;
        every_answer_is_its_own(&db, 5).await?;
        db.close().await?;
    }
    let error = Db::connect(&with_param(&t.url, "frobnicate=1"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidUrl(_)), "{error:?}");
    Ok(())
}

/// The server stops answering while connections are open, idle or in a transaction: every
/// kind of operation is refused in time, and once it answers again every answer is the right
/// one and the transaction that was open is gone.
async fn a_server_that_stops_answering_gets_refusals_then_right_answers(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let proxy = Proxy::start(server_of(&t.url)).await;
    // mysql_async reconnects through the server's Unix socket when it can: not here.
    let frozen_url = with_param(
        &through(&t.url, proxy.addr),
        &format!("{LIMIT}&prefer_socket=false"),
    );
    let db = Db::connect(&frozen_url).await?;
    User::named("before").save(&db).await?;
    let mut open = db.begin().await?;
    User::named("in the open transaction")
        .save(&mut open)
        .await?;
    every_answer_is_its_own(&db, 3).await?;

    proxy.freeze();
    let select = raw("SELECT ?").bind(7_i64).fetch_one::<(i64,)>(&db);
    assert_no_answer("fetch", bounded("frozen: fetch", select).await);
    let update = User::query()
        .filter(User::NAME.eq("before"))
        .update(&db, [User::IS_VIP.set(true)]);
    assert_no_answer("execute", bounded("frozen: execute", update).await);
    assert_no_answer("begin", bounded("frozen: begin", db.begin()).await);
    let in_tx = User::query().count(&mut open);
    assert_no_answer(
        "a statement in a transaction",
        bounded("frozen: statement in a transaction", in_tx).await,
    );
    let fresh = Db::connect(&frozen_url);
    assert_no_answer("connect", bounded("frozen: connect", fresh).await);

    proxy.thaw();
    // The transaction's connection was closed when its statement ran out of time.
    let after = open.commit().await.unwrap_err();
    assert!(after.is_unavailable(), "{after:?}");
    every_answer_is_its_own(&db, 50).await?;
    let names: Vec<String> = User::query()
        .all(&t.db)
        .await?
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["before"], "the open transaction was rolled back");
    db.close().await?;
    Ok(())
}

/// A statement slower than the limit on a live server: refused, and its connection, which
/// gets the late answer, serves nothing else. The same for one whose caller gave up on it
/// (its future dropped), on a `Db` and inside a transaction.
async fn a_statement_slower_than_the_limit_leaves_no_stale_answer(t: &TestDb) -> Result<()> {
    let db = Db::connect(&with_param(&t.url, LIMIT)).await?;
    every_answer_is_its_own(&db, 3).await?;
    let slow = answer(&db, 2, 41);
    assert_no_answer("SLEEP(2)", bounded("SLEEP(2)", slow).await);
    every_answer_is_its_own(&db, 50).await?;

    // The caller gives up first (the limit is 10 s here).
    let patient = Db::connect(&t.url).await?;
    every_answer_is_its_own(&patient, 3).await?;
    let gave_up = tokio::time::timeout(Duration::from_millis(100), answer(&patient, 1, 41)).await;
    assert!(gave_up.is_err(), "SLEEP(1) answered within 100 ms");
    every_answer_is_its_own(&patient, 50).await?;

    let mut tx = patient.begin().await?;
    assert_eq!(answer(&mut tx, 0, 3).await?, 3);
    let gave_up = tokio::time::timeout(Duration::from_millis(100), answer(&mut tx, 1, 41)).await;
    assert!(gave_up.is_err(), "SLEEP(1) answered within 100 ms");
    let next = answer(&mut tx, 0, 5).await;
    assert!(
        matches!(next, Err(Error::Unavailable(_))),
        "a transaction whose statement was abandoned half-way must not run another: {next:?}"
    );
    drop(tx);
    every_answer_is_its_own(&patient, 50).await?;
    db.close().await?;
    patient.close().await?;
    Ok(())
}

/// A transaction dropped without commit leaves nothing, and its connection does not go back to
/// the pool with the transaction open (statements run on it would never commit: another pool
/// would not see them).
async fn a_dropped_transaction_leaves_nothing_and_no_open_transaction(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    for round in 0..5 {
        let mut tx = t.db.begin().await?;
        User::named(&format!("dropped {round}"))
            .save(&mut tx)
            .await?;
        drop(tx);
        User::named(&format!("kept {round}")).save(&t.db).await?;
    }
    let mut tx = t.db.begin().await?;
    User::named("committed").save(&mut tx).await?;
    tx.commit().await?;

    let other = Db::connect(&t.url).await?;
    let mut names: Vec<String> = User::query()
        .all(&other)
        .await?
        .into_iter()
        .map(|u| u.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "committed",
            "kept 0",
            "kept 1",
            "kept 2",
            "kept 3",
            "kept 4"
        ],
        "what another pool sees"
    );
    other.close().await?;
    Ok(())
}

/// More tasks than connections (`pool_max=2`): a connection that finishes a statement must
/// reach the tasks waiting for one, not wait for the next statement of the task that had it.
async fn tasks_waiting_for_a_small_pool_all_get_a_connection(t: &TestDb) -> Result<()> {
    let db = Db::connect(&with_param(&t.url, "pool_min=1&pool_max=2&timeout_ms=5000")).await?;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { every_answer_is_its_own(&db, 5).await })
        })
        .collect();
    for task in tasks {
        bounded("a task of 5 statements", task)
            .await
            .expect("the task panicked")?;
    }
    db.close().await?;
    Ok(())
}

/// The connection that ran each of `count` consecutive `SELECT CONNECTION_ID()`s on `db`.
async fn connection_ids(db: &Db, count: usize) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let (id,) = raw("SELECT CONNECTION_ID()")
            .fetch_one::<(i64,)>(db)
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Back-to-back statements run on one warm connection (not on whichever the pool hands out
/// next), except after a request of 128 KiB or more, whose connection is closed after it (the
/// server would send every later result on it in chunks as large, slowing reads down).
async fn back_to_back_statements_share_a_connection_until_a_big_request(t: &TestDb) -> Result<()> {
    let ids = connection_ids(&t.db, 20).await?;
    let switches = ids.windows(2).filter(|w| w[0] != w[1]).count();
    // A stall of more than a second between two statements would cost one switch.
    assert!(
        switches <= 2,
        "20 consecutive statements changed connection {switches} times: {ids:?}"
    );

    let long = "x".repeat(200 * 1024);
    let (big, length) = raw("SELECT CONNECTION_ID(), LENGTH(?)")
        .bind(long)
        .fetch_one::<(i64, i64)>(&t.db)
        .await?;
    assert_eq!(length, 200 * 1024);
    let after = connection_ids(&t.db, 5).await?;
    assert!(
        !after.contains(&big),
        "connection {big} ran a 200 KiB request and served again: {after:?}"
    );
    Ok(())
}

backend_tests!(on [mysql]:
    back_to_back_statements_share_a_connection_until_a_big_request,
    tasks_waiting_for_a_small_pool_all_get_a_connection,
    timeout_ms_goes_with_the_drivers_own_parameters,
    a_server_that_stops_answering_gets_refusals_then_right_answers,
    a_statement_slower_than_the_limit_leaves_no_stale_answer,
    a_dropped_transaction_leaves_nothing_and_no_open_transaction,
);
