//! Security properties through the real servers, on every backend (except the randomness of
//! session tokens, which owes nothing to the database: checked on one): lockout after repeated
//! failed logins (per account, expiring, on a clock the test moves; not outrun by simultaneous
//! guesses), one answer for every wrong login (and how long each kind takes), no way into another
//! person's files or records or into an admin's requests, session tokens (random 128 bits, ended
//! by logout and by idle expiry, stored only hashed), passwords stored only as salted argon2id,
//! and logs free of passwords and tokens.
//!
//! The login timing is printed, never asserted (the machine is shared):
//!
//! ```text
//! cargo test -p tests --test security -- --nocapture login_refusals
//! ```
//!
//! prints one `LOGIN TIMING` line per backend. The long version takes more samples and logins:
//! `NETDISK_TIMING_ROUNDS` (default 30 logins of each kind) and `NETDISK_TOKEN_LOGINS` (default
//! 200 logins whose tokens are compared).
//!
//! The log capture is process-wide (one tracing subscriber, installed by the first test that
//! needs it); every secret a test checks for is its own.

#[path = "support/faults.rs"]
mod faults;
#[path = "support/scenarios.rs"]
mod scenarios;
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use faults::env_count;
use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Model, backend_tests, raw};
use netdisk_core::clock::ManualClock;
use netdisk_core::models::{DownloadRecord, Movie, Notice, Session, User, UserFile};
use scenarios::{
    Targets, account, all_at_once, assert_all_refused, content, download, file, login, movie,
    register, session_requests, youku_clients,
};
use serde_json::{Value, json};
use support::{Client, TestServer, api as netdisk, md5_hex};

type Result = mini_orm::Result<()>;

/// Where the manual clocks start: 2023-11-14, an ordinary day.
const EPOCH: i64 = 1_700_000_000;

/// The requests of `requests` whose type is one of `types`.
fn only(requests: Vec<(Value, Vec<u8>)>, types: &[&str]) -> Vec<(Value, Vec<u8>)> {
    let kept: Vec<_> = requests
        .into_iter()
        .filter(|(r, _)| types.contains(&r["type"].as_str().unwrap()))
        .collect();
    assert_eq!(kept.len(), types.len(), "every type of {types:?} is known");
    kept
}

/// Counts that a refused request must leave alone: live movies, notices, download records,
/// personal files, VIP users, sessions.
async fn state(t: &TestDb) -> mini_orm::Result<[u64; 6]> {
    Ok([
        Movie::query()
            .filter(Movie::IS_DELETED.eq(false))
            .count(&t.db)
            .await?,
        Notice::query().count(&t.db).await?,
        DownloadRecord::query().count(&t.db).await?,
        UserFile::query().count(&t.db).await?,
        User::query()
            .filter(User::IS_VIP.eq(true))
            .count(&t.db)
            .await?,
        Session::query().count(&t.db).await?,
    ])
}

/// A server with an admin and a user, a charged movie and a file of the user's: the admin's and
/// the user's sessions, and the movie and file as [`Targets`].
async fn populated(server: &TestServer) -> (String, String, Targets) {
    let mut admin = server.youku().await;
    let admin_session = account(&mut admin, "root", "root-password", "admin").await;
    let movie_id = movie(&mut admin, &admin_session, "film.mp4", &content(5000, 1)).await;
    let mut user = server.youku().await;
    let user_session = account(&mut user, "alice", "alice-password", "user").await;
    let file_id = file(&mut user, &user_session, "diary.txt", &content(3000, 2)).await;
    (admin_session, user_session, Targets { movie_id, file_id })
}

async fn repeated_failures_lock_one_account_until_the_lock_expires(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let lock = Duration::from_secs(900);
    let server = TestServer::start_clocked(t, clock.clone(), |c| {
        c.lockout_threshold = 5;
        c.lockout_secs = lock.as_secs();
    })
    .await;
    let mut c = server.youku().await;
    for name in ["alice", "bob"] {
        let registered = c.call(register(name, &format!("{name}-pw"), "user")).await;
        assert_eq!(registered["flag"], true, "{registered}");
    }
    let attempt = async |c: &mut Client, name: &str, password: &str| {
        c.call(login(name, password, "user")).await
    };

    // Failures count in a row: four, then a success, start the count afresh.
    for _ in 0..4 {
        assert_eq!(
            attempt(&mut c, "alice", "guess").await["code"],
            "not_logged_in"
        );
    }
    assert_eq!(attempt(&mut c, "alice", "alice-pw").await["flag"], true);
    // Bob's failures are his own.
    for _ in 0..4 {
        assert_eq!(
            attempt(&mut c, "bob", "guess").await["code"],
            "not_logged_in"
        );
    }
    // Five in a row lock Alice: the fifth is still an ordinary refusal.
    for n in 1..=5 {
        let refused = attempt(&mut c, "alice", "guess").await;
        assert_eq!(refused["code"], "not_logged_in", "failure {n}: {refused}");
    }
    let locked = attempt(&mut c, "alice", "alice-pw").await;
    assert_eq!(
        (locked["flag"].clone(), locked["code"].clone()),
        (json!(false), json!("locked")),
        "the right password is refused during the lock: {locked}"
    );
    assert_eq!(
        attempt(&mut c, "alice", "guess").await,
        locked,
        "a wrong password during the lock gets the very same answer (no guessing through it)"
    );
    // The lock is the account's, whichever door: the netdisk door refuses too (code 2).
    let mut door = server.netdisk_client().await;
    let through_door = door
        .call(netdisk(
            "login",
            json!({"username": "alice", "password": "alice-pw"}),
        ))
        .await;
    assert_eq!(through_door["code"], 2, "{through_door}");
    assert!(
        through_door["msg"].as_str().unwrap().contains("locked"),
        "the netdisk door says it is locked: {through_door}"
    );
    // Bob, four failures in, is not locked, and his success clears his count.
    assert_eq!(attempt(&mut c, "bob", "bob-pw").await["flag"], true);
    assert_eq!(
        door.call(netdisk(
            "login",
            json!({"username": "bob", "password": "bob-pw"})
        ))
        .await["code"],
        1
    );

    // One second before the lock ends: still locked.
    clock.advance(lock - Duration::from_secs(1));
    assert_eq!(attempt(&mut c, "alice", "alice-pw").await["code"], "locked");
    // When it ends, the right password works again...
    clock.advance(Duration::from_secs(1));
    let unlocked = attempt(&mut c, "alice", "alice-pw").await;
    assert_eq!(unlocked["flag"], true, "after the lock: {unlocked}");
    // ...and the count started afresh: four failures do not lock.
    for _ in 0..4 {
        assert_eq!(
            attempt(&mut c, "alice", "guess").await["code"],
            "not_logged_in"
        );
    }
    assert_eq!(attempt(&mut c, "alice", "alice-pw").await["flag"], true);
    Ok(())
}

async fn a_burst_of_wrong_logins_cannot_outrun_the_lockout(t: &TestDb) -> Result {
    let (threshold, burst) = (5, 25);
    let server = TestServer::start_with(t, |c| c.lockout_threshold = threshold).await;
    let mut c = server.youku().await;
    let registered = c.call(register("target", "target-pw", "user")).await;
    assert_eq!(registered["flag"], true, "{registered}");
    // An attacker with many connections guesses on all of them at once.
    let answers = all_at_once(youku_clients(&server, burst).await, |i, mut c| async move {
        c.call(login("target", &format!("guess {i}"), "user")).await
    })
    .await;
    let checked = answers
        .iter()
        .filter(|a| a["code"] == "not_logged_in")
        .count();
    let locked = answers.iter().filter(|a| a["code"] == "locked").count();
    assert_eq!(checked + locked, burst, "every guess refused: {answers:?}");
    println!(
        "[{:?}] {burst} simultaneous wrong passwords: {checked} checked, {locked} refused as locked",
        t.backend
    );
    assert!(
        checked <= threshold as usize,
        "{checked} of {burst} simultaneous guesses were checked against the password, though \
         the account locks after {threshold}: the lockout does not bound guessing"
    );
    assert_eq!(
        c.call(login("target", "target-pw", "user")).await["code"],
        "locked"
    );
    Ok(())
}

/// The median and 90th percentile of `samples`, in milliseconds.
fn median_p90(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p90 = (samples.len() * 9).div_ceil(10).max(1) - 1;
    (ms(samples[samples.len() / 2]), ms(samples[p90]))
}

async fn login_refusals_are_identical_whatever_was_wrong(t: &TestDb) -> Result {
    let rounds = env_count("NETDISK_TIMING_ROUNDS", 30).max(1);
    // No lockout here: the wrong-password logins would otherwise lock the account.
    let server = TestServer::start_with(t, |c| c.lockout_threshold = u32::MAX).await;
    let mut c = server.youku().await;
    let password = md5_hex(b"the real password");
    account(&mut c, "victim", &password, "user").await;
    let kinds = [
        ("unknown user", login("nobody", &password, "user")),
        (
            "wrong password",
            login("victim", &md5_hex(b"a guess"), "user"),
        ),
        ("wrong user type", login("victim", &password, "admin")),
    ];

    // One untimed round first (the unknown-user path builds its dummy hash on first use).
    let first = c.call(kinds[0].1.clone()).await;
    assert_eq!(
        (first["flag"].clone(), first["code"].clone()),
        (json!(false), json!("not_logged_in")),
        "{first}"
    );
    for (_, request) in &kinds[1..] {
        assert_eq!(c.call(request.clone()).await, first);
    }
    let mut times = vec![Vec::new(); kinds.len()];
    for _ in 0..rounds {
        for (k, (what, request)) in kinds.iter().enumerate() {
            let sent = Instant::now();
            let answer = c.call(request.clone()).await;
            times[k].push(sent.elapsed());
            assert_eq!(answer, first, "{what}: the same answer, every field");
        }
    }

    // The netdisk door: unknown name and wrong password, one answer.
    let mut door = server.netdisk_client().await;
    let unknown = door
        .call(netdisk(
            "login",
            json!({"username": "nobody", "password": password}),
        ))
        .await;
    let wrong = door
        .call(netdisk(
            "login",
            json!({"username": "victim", "password": "a guess"}),
        ))
        .await;
    assert_eq!(unknown["code"], 2, "{unknown}");
    assert_eq!(unknown, wrong, "the netdisk door: one answer for both");

    let stats: Vec<(f64, f64)> = times.iter_mut().map(|s| median_p90(s)).collect();
    let medians: Vec<f64> = stats.iter().map(|s| s.0).collect();
    let lowest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = medians.iter().copied().fold(0.0, f64::max);
    let each: Vec<String> = kinds
        .iter()
        .zip(&stats)
        .map(|((what, _), (median, p90))| format!("{what}: median {median:.2} ms, p90 {p90:.2} ms"))
        .collect();
    println!(
        "LOGIN TIMING [{:?}] {rounds} of each kind, interleaved: {}; largest difference of medians \
         {:.2} ms ({:.1}%)",
        t.backend,
        each.join("; "),
        highest - lowest,
        (highest - lowest) / lowest * 100.0
    );
    Ok(())
}

async fn no_one_reaches_another_persons_files_records_or_admin_requests(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let root = admin.login_as("root", "admin").await;
    let movie_id = movie(&mut admin, &root, "film.mp4", &content(4000, 3)).await;
    let mut alice = server.youku().await;
    let a = alice.login_as("alice", "user").await;
    let mut bob = server.youku().await;
    let b = bob.login_as("bob", "user").await;

    let secret = content(2500, 4);
    let alices_file = file(&mut alice, &a, "secret.txt", &secret).await;
    let bobs_file = file(&mut bob, &b, "own.txt", &content(10, 5)).await;
    for (c, s, times) in [(&mut alice, &a, 2), (&mut bob, &b, 1)] {
        for _ in 0..times {
            let request = json!({"type": "download_movie", "session": s, "movie_id": movie_id});
            assert_eq!(download(c, request).await.0["flag"], true);
        }
    }

    // The Youku door: Bob with Alice's file id.
    for offset in [None, Some(0), Some(100)] {
        let mut request = json!({"type": "download_file", "session": b, "file_id": alices_file});
        if let Some(offset) = offset {
            request["offset"] = offset.into();
        }
        let (head, bytes) = download(&mut bob, request).await;
        assert_eq!(head["code"], "not_found", "offset {offset:?}: {head}");
        assert!(bytes.is_empty());
    }
    let delete = bob
        .call(json!({"type": "delete_file", "session": b, "file_id": alices_file}))
        .await;
    assert_eq!(delete["code"], "not_found", "{delete}");
    let listed = bob.call(json!({"type": "list_files", "session": b})).await;
    let ids: Vec<&Value> = listed["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["file_id"])
        .collect();
    assert_eq!(ids, [&json!(bobs_file)], "Bob lists his own file only");
    let records = bob
        .call(json!({"type": "check_download_record", "session": b}))
        .await;
    assert_eq!(
        records["record_list"].as_array().unwrap().len(),
        1,
        "Bob sees his one download, not Alice's two: {records}"
    );

    // The netdisk door: Bob logged in, naming Alice or her file.
    let mut door = server.netdisk_client().await;
    let stranger = door
        .call(netdisk("check", json!({"username": "alice"})))
        .await;
    assert_eq!(stranger["code"], 3, "not logged in: {stranger}");
    let bob_login = door
        .call(netdisk(
            "login",
            json!({"username": "bob", "password": md5_hex(b"bob")}),
        ))
        .await;
    assert_eq!(bob_login["code"], 1, "{bob_login}");
    let as_alice = [
        netdisk("check", json!({"username": "alice"})),
        netdisk(
            "download",
            json!({"username": "alice", "file_name": "secret.txt", "file_size": secret.len()}),
        ),
        netdisk(
            "upload",
            json!({"username": "alice", "file_name": "planted.txt", "file_size": 3}),
        ),
    ];
    for request in as_alice {
        let answer = door.call(request.clone()).await;
        assert_eq!(answer["code"], 3, "{request} as Bob: {answer}");
    }
    let by_name = door
        .call(netdisk(
            "download",
            json!({"username": "bob", "file_name": "secret.txt", "file_size": secret.len()}),
        ))
        .await;
    assert_eq!(
        by_name["code"], 4,
        "Alice's file name in Bob's store: {by_name}"
    );
    let own = door
        .call(netdisk("check", json!({"username": "bob"})))
        .await;
    assert_eq!(
        own["data"],
        json!([{"name": "own.txt", "size": 10}]),
        "{own}"
    );

    // Admin requests from a user, and user requests from an admin: forbidden, nothing changed.
    let before = state(t).await?;
    let stored = server.stored_files();
    let targets = Targets {
        movie_id,
        file_id: bobs_file,
    };
    let admin_only = [
        "check_movie",
        "upload_movie",
        "delete_movie",
        "release_notice",
    ];
    assert_all_refused(
        &mut bob,
        only(session_requests(&b, targets), &admin_only),
        "forbidden",
        "an admin request from a user",
    )
    .await;
    let user_only = ["buy_vip", "download_movie", "check_download_record"];
    assert_all_refused(
        &mut admin,
        only(session_requests(&root, targets), &user_only),
        "forbidden",
        "a user request from an admin",
    )
    .await;
    assert_eq!(
        state(t).await?,
        before,
        "the refused requests changed nothing"
    );
    assert_eq!(server.stored_files(), stored, "no bytes were stored");

    // Alice's file is intact, and still only hers.
    let (head, bytes) = download(
        &mut alice,
        json!({"type": "download_file", "session": a, "file_id": alices_file}),
    )
    .await;
    assert_eq!(head["flag"], true, "{head}");
    assert!(bytes == secret, "Alice's file is intact");
    assert_eq!(
        UserFile::query().count(&t.db).await?,
        2,
        "nothing planted in anyone's store"
    );
    Ok(())
}

/// Every text stored in the database: each text column of every table, and for a SQLite file,
/// the bytes of the database and its journal files.
async fn stored_text(t: &TestDb) -> mini_orm::Result<String> {
    const COLUMNS: &[(&str, &[&str])] = &[
        (
            "user_info",
            &["name", "pwd_hash", "register_time", "user_type"],
        ),
        ("session", &["token_hash"]),
        ("movie", &["name", "file_md5", "upload_time"]),
        ("notice", &["title", "content", "create_time"]),
        ("download_record", &["download_time"]),
        ("blob", &["sha256"]),
        ("user_file", &["name", "md5", "upload_time"]),
    ];
    let mut text = String::new();
    for (table, columns) in COLUMNS {
        for column in *columns {
            let values: Vec<(String,)> = raw(format!("SELECT `{column}` FROM `{table}`"))
                .fetch_all(&t.db)
                .await?;
            for (value,) in values {
                text.push_str(&value);
                text.push('\n');
            }
        }
    }
    for column in ["real_name", "phone", "address"] {
        let values: Vec<(Option<String>,)> = raw(format!("SELECT `{column}` FROM `user_info`"))
            .fetch_all(&t.db)
            .await?;
        for value in values.into_iter().filter_map(|(v,)| v) {
            text.push_str(&value);
            text.push('\n');
        }
    }
    if t.backend == TestBackend::SqliteFile {
        let path = std::path::PathBuf::from(t.url.strip_prefix("sqlite://").unwrap());
        for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    Ok(text)
}

/// Whether `secret` appears in `text`, in either case.
fn mentions(text: &str, secret: &str) -> bool {
    text.contains(secret)
        || text.contains(&secret.to_ascii_lowercase())
        || text.contains(&secret.to_ascii_uppercase())
}

/// On one backend: the tokens come from the service, whatever the database (which the next test
/// checks on every backend), and each login costs an argon2 verification.
async fn session_tokens_are_random_128_bits(t: &TestDb) -> Result {
    let logins = env_count("NETDISK_TOKEN_LOGINS", 200);
    // The clock stands still: every login happens in the same second.
    let server = TestServer::start_clocked(t, Arc::new(ManualClock::new(EPOCH)), |_| {}).await;
    let users = 4;
    let per_user = logins.div_ceil(users);
    let tokens: Vec<String> =
        all_at_once(youku_clients(&server, users).await, |u, mut c| async move {
            let (name, password) = (format!("holder{u}"), format!("holder{u}-password"));
            let mut tokens = vec![account(&mut c, &name, &password, "user").await];
            for _ in 1..per_user {
                let answer = c.call(login(&name, &password, "user")).await;
                assert_eq!(answer["flag"], true, "{answer}");
                tokens.push(answer["session"].as_str().unwrap().to_owned());
            }
            tokens
        })
        .await
        .concat();

    for token in &tokens {
        assert!(
            token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
            "a token is 128 bits as 32 hex digits: {token:?}"
        );
    }
    let distinct: HashSet<&String> = tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        tokens.len(),
        "every login gets its own token, even the same person's in the same second"
    );
    // Nothing about the user or the time fixes any part of a token: every position takes many
    // values, and the bits are balanced (a counter, a timestamp or an id would fail both).
    for position in 0..32 {
        let values: HashSet<u8> = tokens.iter().map(|t| t.as_bytes()[position]).collect();
        assert!(
            values.len() >= 8,
            "position {position} takes only {} values over {} tokens",
            values.len(),
            tokens.len()
        );
    }
    let ones: u32 = tokens
        .iter()
        .flat_map(|t| hex::decode(t).unwrap())
        .map(u8::count_ones)
        .sum();
    let share = f64::from(ones) / (tokens.len() * 128) as f64;
    assert!(
        (0.45..=0.55).contains(&share),
        "{:.3} of the token bits are ones",
        share
    );

    assert_eq!(
        Session::query().count(&t.db).await?,
        tokens.len() as u64,
        "one session each"
    );
    println!(
        "[{:?}] {} tokens from {users} users in one second: all distinct, {:.3} of bits set",
        t.backend,
        tokens.len(),
        share
    );
    Ok(())
}

async fn logout_ends_the_session_for_every_request(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let (_, first, targets) = populated(&server).await;
    let mut c = server.youku().await;
    let second = c.call(login("alice", "alice-password", "user")).await["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = Session::query().count(&t.db).await?;
    assert_eq!(
        c.call(json!({"type": "logout", "session": first})).await["flag"],
        true
    );
    assert_eq!(Session::query().count(&t.db).await?, sessions - 1);
    let before = state(t).await?;
    assert_all_refused(
        &mut c,
        session_requests(&first, targets),
        "not_logged_in",
        "after logout",
    )
    .await;
    assert_eq!(
        state(t).await?,
        before,
        "the refused requests changed nothing"
    );
    // Only that session ended: the same person's other one goes on.
    let other = c
        .call(json!({"type": "list_files", "session": second}))
        .await;
    assert_eq!(other["file_list"].as_array().unwrap().len(), 1, "{other}");
    Ok(())
}

async fn an_idle_session_expires(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let idle = Duration::from_secs(1800);
    let server =
        TestServer::start_clocked(t, clock.clone(), |c| c.session_idle_secs = idle.as_secs()).await;
    let (_, session, targets) = populated(&server).await;
    let mut c = server.youku().await;
    let check = json!({"type": "check_notice", "session": session});
    // Each use keeps it alive for another idle period.
    for _ in 0..2 {
        clock.advance(idle - Duration::from_secs(1));
        assert_eq!(c.call(check.clone()).await["flag"], true, "used in time");
    }
    clock.advance(idle + Duration::from_secs(1));
    let before = state(t).await?;
    assert_all_refused(
        &mut c,
        session_requests(&session, targets),
        "not_logged_in",
        "after the idle time",
    )
    .await;
    let mut after = state(t).await?;
    // The expired session was removed on its first refused use (the last count).
    assert_eq!(after[5], before[5] - 1, "the expired session's row is gone");
    after[5] = before[5];
    assert_eq!(after, before, "the refused requests changed nothing");
    // The clock moved, not everything broke: a new login works.
    let fresh = c.call(login("alice", "alice-password", "user")).await;
    let fresh = fresh["session"].as_str().unwrap();
    assert_eq!(
        c.call(json!({"type": "check_notice", "session": fresh}))
            .await["flag"],
        true
    );
    Ok(())
}

async fn passwords_and_tokens_are_stored_only_hashed(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let typed = "Tr0ub4dor&3";
    let sent = md5_hex(typed.as_bytes());
    let mut c = server.youku().await;
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        tokens.push(account(&mut c, name, &sent, "user").await);
    }
    // The netdisk door's client sends the password as typed.
    let mut door = server.netdisk_client().await;
    let registered = door
        .call(netdisk(
            "register",
            json!({"username": "carol", "password": typed, "real_name": "Carol",
                   "phone": "555", "address": "Main St"}),
        ))
        .await;
    assert_eq!(registered["code"], 1, "{registered}");
    let carol = door
        .call(netdisk(
            "login",
            json!({"username": "carol", "password": typed}),
        ))
        .await;
    assert_eq!(
        carol["code"], 1,
        "the hash is real: the password logs in: {carol}"
    );

    let rows: Vec<(String, String)> = raw("SELECT `name`, `pwd_hash` FROM `user_info`")
        .fetch_all(&t.db)
        .await?;
    assert_eq!(rows.len(), 3);
    let mut salts = HashSet::new();
    for (name, hash) in &rows {
        let parts: Vec<&str> = hash.split('$').collect();
        assert!(
            hash.starts_with("$argon2id$v=19$") && parts.len() == 6,
            "{name}: an argon2id PHC string, not {hash}"
        );
        assert!(salts.insert(parts[4]), "{name}: a salt of its own");
    }
    let hash_of = |who: &str| &rows.iter().find(|(n, _)| n == who).unwrap().1;
    assert_ne!(
        hash_of("alice"),
        hash_of("bob"),
        "same password, different hashes"
    );

    let stored = stored_text(t).await?;
    assert!(!mentions(&stored, &sent), "the password as sent is stored");
    assert!(!stored.contains(typed), "the password as typed is stored");
    assert_eq!(Session::query().count(&t.db).await?, 3, "three sessions");
    for token in &tokens {
        assert!(
            !mentions(&stored, token),
            "the token {token} is stored as given"
        );
        // The tokens are live: what is stored still finds them.
        let live = c
            .call(json!({"type": "check_notice", "session": token}))
            .await;
        assert_eq!(live["flag"], true, "{live}");
    }
    Ok(())
}

/// Everything the process logs, at every level, from the first call on.
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    /// A writer into the shared buffer.
    struct Capture(&'static Mutex<Vec<u8>>);
    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

async fn no_password_or_token_is_logged_for_any_request(t: &TestDb) -> Result {
    let logs = captured_logs();
    let server = TestServer::start(t).await;
    // Secrets of this run only (the capture is shared with the other backends' runs).
    let salt = format!("{:?}-{:?}", t.backend, Instant::now());
    let admin_typed = format!("admin password {salt}");
    let user_typed = format!("user password {salt}");
    let door_password = format!("door password {salt}");
    let wrong = md5_hex(format!("wrong {salt}").as_bytes());
    let (admin_pw, user_pw) = (
        md5_hex(admin_typed.as_bytes()),
        md5_hex(user_typed.as_bytes()),
    );
    let mut tokens = Vec::new();

    // Every Youku request type, carried out.
    let mut admin = server.youku().await;
    let root = account(&mut admin, "root", &admin_pw, "admin").await;
    let mut user = server.youku().await;
    let me = account(&mut user, "watcher", &user_pw, "user").await;
    let mut listener = server.youku().await;
    let heard = listener.call(login("watcher", &user_pw, "user")).await["session"].clone();
    tokens.extend([root.clone(), me.clone(), heard.as_str().unwrap().to_owned()]);
    let subscribed = listener
        .call(json!({"type": "subscribe", "session": heard}))
        .await;
    assert_eq!(subscribed["flag"], true);
    let film = content(3000, 6);
    let free = admin
        .call(json!({"type": "check_movie", "session": root, "file_md5": md5_hex(&film)}))
        .await;
    assert_eq!(free["flag"], true);
    let movie_id = movie(&mut admin, &root, "logged.mp4", &film).await;
    let notice = admin
        .call(json!({"type": "release_notice", "session": root, "title": "t", "content": "c"}))
        .await;
    assert_eq!(notice["flag"], true);
    assert_eq!(listener.recv().await.unwrap()["type"], "notice");
    let file_id = file(&mut user, &me, "notes.txt", b"notes").await;
    for request in [
        json!({"type": "get_movie_list", "session": me, "movie_type": "all"}),
        json!({"type": "check_notice", "session": me}),
        json!({"type": "buy_vip", "session": me}),
        json!({"type": "list_files", "session": me}),
    ] {
        assert_eq!(user.call(request.clone()).await["flag"], true, "{request}");
    }
    for request in [
        json!({"type": "download_movie", "session": me, "movie_id": movie_id}),
        json!({"type": "download_file", "session": me, "file_id": file_id}),
    ] {
        assert_eq!(
            download(&mut user, request.clone()).await.0["flag"],
            true,
            "{request}"
        );
    }
    for request in [
        json!({"type": "check_download_record", "session": me}),
        json!({"type": "delete_file", "session": me, "file_id": file_id}),
        json!({"type": "logout", "session": me}),
    ] {
        assert_eq!(user.call(request.clone()).await["flag"], true, "{request}");
    }
    let deleted = admin
        .call(json!({"type": "delete_movie", "session": root, "delete_movie_id": movie_id}))
        .await;
    assert_eq!(deleted["flag"], true);
    // Refusals: a wrong password, a dead token, and a broken frame holding a password.
    assert_eq!(
        admin.call(login("root", &wrong, "admin")).await["code"],
        "not_logged_in"
    );
    assert_eq!(
        admin
            .call(json!({"type": "check_notice", "session": me}))
            .await["code"],
        "not_logged_in"
    );
    admin
        .send_bytes(
            format!(r#"{{"type": "login", "name": "root", "password": "{admin_pw}""#).as_bytes(),
        )
        .await;
    assert_eq!(admin.recv().await.unwrap()["code"], "bad_request");

    // Every netdisk request type.
    let mut door = server.netdisk_client().await;
    let profile = json!({"username": "doorman", "password": door_password, "real_name": "D",
                         "phone": "1", "address": "A"});
    assert_eq!(door.call(netdisk("register", profile)).await["code"], 1);
    let bad_login = json!({"username": "doorman", "password": wrong});
    assert_eq!(door.call(netdisk("login", bad_login)).await["code"], 2);
    let good_login = json!({"username": "doorman", "password": door_password});
    assert_eq!(door.call(netdisk("login", good_login)).await["code"], 1);
    let bytes = b"door bytes";
    let go = door
        .call(netdisk(
            "upload",
            json!({"username": "doorman", "file_name": "d.txt", "file_size": bytes.len()}),
        ))
        .await;
    assert_eq!(go["code"], 99999);
    door.send_raw(bytes).await;
    assert_eq!(door.recv().await.unwrap()["code"], 1);
    assert_eq!(
        door.call(netdisk("check", json!({"username": "doorman"})))
            .await["code"],
        1
    );
    let go = door
        .call(netdisk(
            "download",
            json!({"username": "doorman", "file_name": "d.txt", "file_size": bytes.len()}),
        ))
        .await;
    assert_eq!(go["code"], 99999);
    assert_eq!(door.recv_raw(bytes.len()).await, bytes);
    assert_eq!(door.call(json!("ok")).await["code"], 1);
    // Let the last log lines land (they are written after the answers).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    for kind in [
        "register",
        "login",
        "logout",
        "check_movie",
        "upload_movie",
        "get_movie_list",
        "delete_movie",
        "release_notice",
        "check_notice",
        "buy_vip",
        "download_movie",
        "check_download_record",
        "upload_file",
        "list_files",
        "download_file",
        "delete_file",
        "subscribe",
    ] {
        let line = format!(r#"protocol="youku" type="{kind}""#);
        assert!(
            text.contains(&line),
            "the capture holds a {kind} request line"
        );
    }
    for api in ["register", "login", "upload", "check", "download"] {
        let line = format!(r#"protocol="netdisk" type="{api}""#);
        assert!(
            text.contains(&line),
            "the capture holds a netdisk {api} line"
        );
    }
    for (what, secret) in [
        ("the admin's password as sent", admin_pw.as_str()),
        ("the admin's password as typed", admin_typed.as_str()),
        ("the user's password as sent", user_pw.as_str()),
        ("the user's password as typed", user_typed.as_str()),
        ("a netdisk password", door_password.as_str()),
        ("a wrong password", wrong.as_str()),
    ] {
        assert!(!mentions(&text, secret), "{what} was logged");
    }
    for token in &tokens {
        assert!(
            !mentions(&text, token),
            "a session token was logged: {token}"
        );
    }
    Ok(())
}

backend_tests!(on [sqlite_memory]: session_tokens_are_random_128_bits);
backend_tests!(
    repeated_failures_lock_one_account_until_the_lock_expires,
    a_burst_of_wrong_logins_cannot_outrun_the_lockout,
    login_refusals_are_identical_whatever_was_wrong,
    no_one_reaches_another_persons_files_records_or_admin_requests,
    logout_ends_the_session_for_every_request,
    an_idle_session_expires,
    passwords_and_tokens_are_stored_only_hashed,
    no_password_or_token_is_logged_for_any_request,
);
