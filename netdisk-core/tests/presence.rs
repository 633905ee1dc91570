//! Presence in chat rooms: who is in a room now, one entry per person however many connections
//! they have, gone when their last connection goes, the same list on another process, and the
//! people of a process that died (no goodbye) gone within seconds. On every backend.

mod support;

use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::{LOBBY, Person, RoomPeople, ServiceError};

type Result = mini_orm::Result<()>;

/// Waits (up to `within`) until the list is `expected` (account names, sorted).
async fn wait_for(people: &mut RoomPeople, expected: &[&str], within: Duration) {
    let names =
        |people: &mut RoomPeople| -> Vec<String> { people.now().people.keys().cloned().collect() };
    let waited = tokio::time::timeout(within, async {
        // `now` marks the list seen, so `changed` waits for a newer one.
        while names(people) != expected {
            people.changed().await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "expected {expected:?} within {within:?}, the list is {:?}",
        names(people)
    );
}

async fn a_person_is_listed_once_while_any_connection_is_open(t: &TestDb) -> Result {
    let env = support::env(t).await;
    let chat = env.netdisk.chat();
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let mut lobby = chat.people(None, LOBBY).await.unwrap();
    wait_for(&mut lobby, &[], Duration::from_secs(3)).await;

    let first = chat.arrive(&alice, LOBBY).await.unwrap();
    let second = chat.arrive(&alice, LOBBY).await.unwrap();
    chat.set_nickname(&bob, "Bobby").await.unwrap();
    let bobs = chat.arrive(&bob, LOBBY).await.unwrap();
    wait_for(&mut lobby, &["alice", "bob"], Duration::from_secs(3)).await;
    let now = lobby.now();
    assert_eq!(
        now.people["bob"],
        Person {
            user: "bob".into(),
            nickname: "Bobby".into()
        }
    );

    drop(first);
    // Alice still has a connection: a moment later she is still there, and bob leaves.
    drop(bobs);
    wait_for(&mut lobby, &["alice"], Duration::from_secs(3)).await;
    let now = lobby.now();
    assert_eq!(now.left, ["bob"], "the change says who left");
    drop(second);
    wait_for(&mut lobby, &[], Duration::from_secs(3)).await;
    Ok(())
}

async fn only_those_who_may_enter_see_or_join_a_room(t: &TestDb) -> Result {
    let env = support::env(t).await;
    let chat = env.netdisk.chat();
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    chat.create_room(&admin, "staff", "", true).await.unwrap();
    let refused = chat.people(None, "staff").await.err().unwrap();
    assert!(matches!(refused, ServiceError::Forbidden(_)), "{refused}");
    let refused = chat.arrive(&alice, "staff").await.err().unwrap();
    assert!(matches!(refused, ServiceError::Forbidden(_)), "{refused}");
    let missing = chat.people(None, "nowhere").await.err().unwrap();
    assert!(matches!(missing, ServiceError::NotFound(_)), "{missing}");
    Ok(())
}

async fn another_process_sees_the_same_list_and_a_dead_one_leaves(t: &TestDb) -> Result {
    let env = support::env(t).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let other = env.reopen().await;
    let mut seen_there = other.chat().people(None, LOBBY).await.unwrap();
    let mut seen_here = env.netdisk.chat().people(None, LOBBY).await.unwrap();

    let alice_here = other.chat().arrive(&alice, LOBBY).await.unwrap();
    let dying = env.reopen().await;
    let bob_there = dying.chat().arrive(&bob, LOBBY).await.unwrap();
    wait_for(&mut seen_there, &["alice", "bob"], Duration::from_secs(4)).await;
    wait_for(&mut seen_here, &["alice", "bob"], Duration::from_secs(4)).await;

    // The process with bob dies without a word: no goodbye is written.
    std::mem::forget(bob_there);
    drop(dying);
    wait_for(&mut seen_here, &["alice"], Duration::from_secs(12)).await;
    wait_for(&mut seen_there, &["alice"], Duration::from_secs(3)).await;
    drop(alice_here);
    wait_for(&mut seen_here, &[], Duration::from_secs(4)).await;
    Ok(())
}

backend_tests!(
    a_person_is_listed_once_while_any_connection_is_open,
    only_those_who_may_enter_see_or_join_a_room,
    another_process_sees_the_same_list_and_a_dead_one_leaves,
);
