//! Lockout: repeated failed logins lock the account (per account, whichever door, until the lock
//! expires on a clock the test moves; a success starts the count afresh), and a burst of
//! simultaneous guesses cannot outrun it.

use std::sync::Arc;
use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::clock::ManualClock;
use serde_json::json;

use crate::scenarios::{all_at_once, login, register, youku_clients};
use crate::support::{Client, TestServer, api as netdisk};
use crate::{EPOCH, Result};

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

backend_tests!(
    repeated_failures_lock_one_account_until_the_lock_expires,
    a_burst_of_wrong_logins_cannot_outrun_the_lockout,
);
