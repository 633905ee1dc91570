//! The chat service: the lobby always there, rooms and the create_room permission, members-only
//! rooms, nicknames, messages stored in order and read back page by page, the size and rate
//! limits, and a listener on another process hearing each message once. On every backend.

mod support;

use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::{LOBBY, Permission, ServiceError};
use support::env;

type Result = mini_orm::Result<()>;

async fn the_lobby_is_always_there_and_rooms_need_the_permission(t: &TestDb) -> Result {
    let env = env(t).await;
    let chat = env.netdisk.chat();
    let rooms = chat.rooms(None).await.unwrap();
    assert_eq!(
        rooms.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        [LOBBY]
    );
    // Opening the service again (a restart, another process) makes no second lobby.
    let again = env.reopen().await;
    assert_eq!(again.chat().rooms(None).await.unwrap().len(), 1);

    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let refused = chat
        .create_room(&alice, "books", "", false)
        .await
        .unwrap_err();
    assert!(matches!(refused, ServiceError::Forbidden(_)), "{refused}");
    assert!(
        matches!(
            chat.grant(&alice, "alice", Permission::CreateRoom)
                .await
                .unwrap_err(),
            ServiceError::Forbidden(_)
        ),
        "only admins grant"
    );
    chat.grant(&admin, "alice", Permission::CreateRoom)
        .await
        .unwrap();
    chat.grant(&admin, "alice", Permission::CreateRoom)
        .await
        .unwrap();
    let books = chat
        .create_room(&alice, "books", "What we read", false)
        .await
        .unwrap();
    assert_eq!((books.name.as_str(), books.members_only), ("books", false));
    let taken = chat
        .create_room(&alice, "books", "", false)
        .await
        .unwrap_err();
    assert!(matches!(taken, ServiceError::Conflict(_)), "{taken}");
    chat.revoke(&admin, "alice", Permission::CreateRoom)
        .await
        .unwrap();
    assert!(matches!(
        chat.create_room(&alice, "films", "", false)
            .await
            .unwrap_err(),
        ServiceError::Forbidden(_)
    ));
    let names: Vec<String> = chat
        .rooms(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, [LOBBY, "books"], "the lobby first, then by name");
    Ok(())
}

async fn members_only_rooms_keep_everyone_else_out(t: &TestDb) -> Result {
    let env = env(t).await;
    let chat = env.netdisk.chat();
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    chat.grant(&admin, "alice", Permission::CreateRoom)
        .await
        .unwrap();
    chat.create_room(&alice, "secret", "", true).await.unwrap();

    assert!(
        chat.rooms(Some(&bob))
            .await
            .unwrap()
            .iter()
            .all(|r| r.name != "secret")
    );
    assert!(
        chat.rooms(None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.name != "secret")
    );
    for refused in [
        chat.say(&bob, "secret", "hi").await.unwrap_err(),
        chat.history(Some(&bob), "secret", None, 50)
            .await
            .unwrap_err(),
        chat.history(None, "secret", None, 50).await.unwrap_err(),
        chat.add_member(&bob, "secret", "bob").await.unwrap_err(),
    ] {
        assert!(matches!(refused, ServiceError::Forbidden(_)), "{refused}");
    }
    chat.say(&alice, "secret", "only us").await.unwrap();
    chat.add_member(&alice, "secret", "bob").await.unwrap();
    assert!(
        chat.rooms(Some(&bob))
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "secret")
    );
    let history = chat.history(Some(&bob), "secret", None, 50).await.unwrap();
    assert_eq!(history[0].text, "only us");
    assert!(
        chat.rooms(Some(&admin))
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "secret")
    );
    assert!(matches!(
        chat.add_member(&alice, "secret", "nobody")
            .await
            .unwrap_err(),
        ServiceError::NotFound(_)
    ));
    Ok(())
}

async fn messages_are_stored_in_order_and_paged_back_from_the_newest(t: &TestDb) -> Result {
    let env = env(t).await;
    let chat = env.netdisk.chat();
    let alice = env.user("alice").await;
    for n in 1..=7 {
        let said = chat
            .say(&alice, LOBBY, &format!("message {n}"))
            .await
            .unwrap();
        assert_eq!(said.seq, n);
    }
    let newest = chat.history(None, LOBBY, None, 3).await.unwrap();
    let texts = |page: &[netdisk_core::ChatMessage]| {
        page.iter().map(|m| m.text.clone()).collect::<Vec<_>>()
    };
    assert_eq!(texts(&newest), ["message 7", "message 6", "message 5"]);
    let earlier = chat
        .history(None, LOBBY, Some(newest[2].seq), 3)
        .await
        .unwrap();
    assert_eq!(texts(&earlier), ["message 4", "message 3", "message 2"]);
    let first = chat
        .history(None, LOBBY, Some(earlier[2].seq), 3)
        .await
        .unwrap();
    assert_eq!(texts(&first), ["message 1"]);
    assert!(newest[0].sent_at_ms >= newest[2].sent_at_ms);
    assert_eq!(
        (newest[0].user.as_str(), newest[0].nickname.as_str()),
        ("alice", "alice")
    );

    chat.set_nickname(&alice, "Alice 🌸").await.unwrap();
    chat.set_nickname(&alice, "Alice W.").await.unwrap();
    let said = chat
        .say(&alice, LOBBY, "<b>new name</b> | pipes")
        .await
        .unwrap();
    assert_eq!(
        (said.nickname.as_str(), said.text.as_str()),
        ("Alice W.", "<b>new name</b> | pipes")
    );
    assert!(matches!(
        chat.set_nickname(&alice, "").await.unwrap_err(),
        ServiceError::BadRequest(_)
    ));
    Ok(())
}

async fn oversized_and_too_fast_messages_are_refused(t: &TestDb) -> Result {
    let env = support::env_with(t, |c| {
        c.chat_max_message_bytes = 16;
        c.chat_burst = 3;
        c.chat_per_second = 1;
    })
    .await;
    let chat = env.netdisk.chat();
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    for refused in ["", "seventeen bytes!!", "四五六七八九"] {
        let error = chat.say(&alice, LOBBY, refused).await.unwrap_err();
        assert!(
            matches!(error, ServiceError::BadRequest(_)),
            "{refused:?}: {error}"
        );
    }
    for n in 0..3 {
        chat.say(&alice, LOBBY, &format!("burst {n}"))
            .await
            .unwrap();
    }
    let slowed = chat.say(&alice, LOBBY, "one more").await.unwrap_err();
    let ServiceError::TooFast { retry_after_ms } = slowed else {
        panic!("not slowed: {slowed}");
    };
    assert!(
        retry_after_ms > 0 && retry_after_ms <= 1000,
        "{retry_after_ms}"
    );
    chat.say(&bob, LOBBY, "bob too").await.unwrap();
    tokio::time::sleep(Duration::from_millis(retry_after_ms + 50)).await;
    chat.say(&alice, LOBBY, "after the pause").await.unwrap();
    let stored = chat.history(None, LOBBY, None, 50).await.unwrap();
    assert_eq!(stored.len(), 5, "nothing refused was stored");
    Ok(())
}

async fn a_listener_on_another_process_hears_each_message_once(t: &TestDb) -> Result {
    let env = support::env_with(t, |c| c.pubsub_check_ms = 50).await;
    let other = env.reopen().await;
    let mut listening = other.chat().listen(None, LOBBY).await.unwrap();
    let alice = env.user("alice").await;
    for n in 1..=3 {
        env.netdisk
            .chat()
            .say(&alice, LOBBY, &format!("hello {n}"))
            .await
            .unwrap();
    }
    for n in 1..=3 {
        let heard = tokio::time::timeout(Duration::from_secs(5), listening.next())
            .await
            .expect("heard within 5 s")
            .unwrap();
        assert_eq!((heard.seq, heard.text), (n, format!("hello {n}")));
    }
    let nothing_more = tokio::time::timeout(Duration::from_millis(300), listening.next()).await;
    assert!(nothing_more.is_err(), "each message once");
    Ok(())
}

backend_tests!(
    the_lobby_is_always_there_and_rooms_need_the_permission,
    members_only_rooms_keep_everyone_else_out,
    messages_are_stored_in_order_and_paged_back_from_the_newest,
    oversized_and_too_fast_messages_are_refused,
    a_listener_on_another_process_hears_each_message_once,
);
