//! Sessions: tokens are random 128 bits, distinct even for the same person in the same second
//! (checked on one backend); logout and idle expiry end a session for every request.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::clock::ManualClock;
use netdisk_core::models::Session;
use serde_json::json;

use crate::faults::env_count;
use crate::scenarios::{
    Targets, account, all_at_once, assert_all_refused, content, file, login, movie,
    session_requests, youku_clients,
};
use crate::support::TestServer;
use crate::{EPOCH, Result, state};

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

backend_tests!(on [sqlite_memory]: session_tokens_are_random_128_bits);
backend_tests!(
    logout_ends_the_session_for_every_request,
    an_idle_session_expires,
);
