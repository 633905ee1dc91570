//! The Youku protocol over real sockets: every request type, success and refusal, the contract's
//! bad inputs, disconnects, pushes, and two servers sharing sessions. On every backend.

mod support;

use std::time::Duration;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{DownloadRecord, Movie};
use serde_json::json;
use support::{TestServer, md5_hex};

type Result = mini_orm::Result<()>;

async fn accounts_and_sessions(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut c = server.youku().await;
    let reg = json!({"type": "register", "name": "alice", "password": "pw", "user_type": "user"});
    assert_eq!(c.call(reg.clone()).await["flag"], true);
    let again = c.call(reg).await;
    assert_eq!(
        (again["flag"].clone(), again["code"].clone()),
        (json!(false), json!("conflict"))
    );
    let bad_type = c
        .call(json!({"type": "register", "name": "bob", "password": "pw", "user_type": "root"}))
        .await;
    assert_eq!(bad_type["code"], "bad_request");

    let wrong = c
        .call(json!({"type": "login", "name": "alice", "password": "nope", "user_type": "user"}))
        .await;
    let unknown = c
        .call(json!({"type": "login", "name": "zed", "password": "pw", "user_type": "user"}))
        .await;
    assert_eq!(
        wrong, unknown,
        "one answer for unknown name and wrong password"
    );
    let login = c
        .call(json!({"type": "login", "name": "alice", "password": "pw", "user_type": "user"}))
        .await;
    assert_eq!(
        (
            login["flag"].clone(),
            login["is_vip"].clone(),
            login["user_type"].clone()
        ),
        (json!(true), json!(0), json!("user"))
    );
    let session = login["session"].as_str().unwrap().to_owned();

    let vip = c.call(json!({"type": "buy_vip", "session": session})).await;
    assert_eq!(
        (vip["flag"].clone(), vip["is_vip"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(
        c.call(json!({"type": "logout", "session": session})).await["flag"],
        true
    );
    let after = c.call(json!({"type": "buy_vip", "session": session})).await;
    assert_eq!(after["code"], "not_logged_in");
    // A request that needs a login and carries no session (or a null one) is not logged in,
    // as with a wrong token; a session of the wrong type is malformed.
    for request in [
        json!({"type": "check_notice"}),
        json!({"type": "check_notice", "session": null}),
        json!({"type": "list_files"}),
    ] {
        let missing = c.call(request.clone()).await;
        assert_eq!(missing["code"], "not_logged_in", "{request}: {missing}");
    }
    let malformed = c.call(json!({"type": "check_notice", "session": 7})).await;
    assert_eq!(malformed["code"], "bad_request", "{malformed}");
    Ok(())
}

async fn movies_from_upload_to_download_record(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let admin_session = admin.login_as("root", "admin").await;
    let mut user = server.youku().await;
    let user_session = user.login_as("alice", "user").await;
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let md5 = md5_hex(&content);

    let check = admin
        .call(json!({"type": "check_movie", "session": admin_session, "file_md5": md5}))
        .await;
    assert_eq!(check["flag"], true);
    let refused = user
        .call(json!({"type": "check_movie", "session": user_session, "file_md5": md5}))
        .await;
    assert_eq!(refused["code"], "forbidden");

    admin
        .send(
            &json!({"type": "upload_movie", "session": admin_session, "file_name": "film.mp4",
                      "file_size": content.len(), "file_md5": md5, "is_free": 0}),
        )
        .await;
    admin.send_raw(&content).await;
    let uploaded = admin.recv().await.unwrap();
    assert_eq!(uploaded["flag"], true, "{uploaded}");
    let movie_id = uploaded["movie_id"].as_i64().unwrap();
    let duplicate = admin
        .call(json!({"type": "check_movie", "session": admin_session, "file_md5": md5}))
        .await;
    assert_eq!(duplicate["code"], "conflict");

    let list = user
        .call(json!({"type": "get_movie_list", "session": user_session, "movie_type": "charge"}))
        .await;
    assert_eq!(
        list["movie_list"],
        json!([["film.mp4", "charge", movie_id]])
    );
    assert_eq!(list["total"], 1);
    let none = user
        .call(json!({"type": "get_movie_list", "session": user_session, "movie_type": "free"}))
        .await;
    assert_eq!(
        (none["flag"].clone(), none["movie_list"].clone()),
        (json!(true), json!([]))
    );
    let bad_kind = user
        .call(json!({"type": "get_movie_list", "session": user_session, "movie_type": "cheap"}))
        .await;
    assert_eq!(bad_kind["code"], "bad_request");

    let head = user.call(json!({"type": "download_movie", "session": user_session, "movie_id": movie_id, "offset": 100_000})).await;
    assert_eq!(
        (
            head["file_size"].clone(),
            head["price"].clone(),
            head["wait_time"].clone()
        ),
        (json!(200_000), json!(10), json!(0))
    );
    assert_eq!(head["file_md5"], md5);
    assert_eq!(user.recv_raw(200_000).await, &content[100_000..]);
    let records = user
        .call(json!({"type": "check_download_record", "session": user_session}))
        .await;
    assert_eq!(records["record_list"][0]["movie"], "film.mp4");
    assert_eq!(records["record_list"][0]["price"], 10);

    let delete = user
        .call(json!({"type": "delete_movie", "session": user_session, "delete_movie_id": movie_id}))
        .await;
    assert_eq!(delete["code"], "forbidden");
    assert_eq!(admin.call(json!({"type": "delete_movie", "session": admin_session, "delete_movie_id": movie_id})).await["flag"], true);
    let gone = user
        .call(json!({"type": "download_movie", "session": user_session, "movie_id": movie_id}))
        .await;
    assert_eq!(gone["code"], "not_found");
    Ok(())
}

async fn refused_and_broken_uploads_leave_nothing(t: &TestDb) -> Result {
    let server = TestServer::start_with(t, |c| c.max_movie_bytes = 1_000_000).await;
    let mut admin = server.youku().await;
    let session = admin.login_as("root", "admin").await;
    let content = vec![1u8; 50_000];

    // Integrity: the bytes do not match; the connection stays usable.
    admin
        .send(&json!({"type": "upload_movie", "session": session, "file_name": "x", "file_size": content.len(),
                      "file_md5": md5_hex(b"other"), "is_free": 1}))
        .await;
    admin.send_raw(&content).await;
    assert_eq!(admin.recv().await.unwrap()["code"], "integrity");
    // A refused upload's bytes are skipped: the next request is answered.
    admin
        .send(&json!({"type": "upload_movie", "session": "0".repeat(32), "file_name": "x", "file_size": content.len(),
                      "file_md5": md5_hex(&content), "is_free": 1}))
        .await;
    admin.send_raw(&content).await;
    assert_eq!(admin.recv().await.unwrap()["code"], "not_logged_in");
    assert_eq!(
        admin
            .call(json!({"type": "check_notice", "session": session}))
            .await["flag"],
        true
    );

    // Too large: refused, and the connection closes instead of reading the bytes.
    let too_large = admin
        .call(json!({"type": "upload_movie", "session": session, "file_name": "x", "file_size": 2_000_000,
                     "file_md5": md5_hex(b"x"), "is_free": 1}))
        .await;
    assert_eq!(too_large["code"], "too_large");
    assert!(admin.closed().await);

    // A client that disconnects half-way through its upload.
    let mut quitter = server.youku().await;
    let session = quitter.login_as("root", "admin").await;
    quitter
        .send(&json!({"type": "upload_movie", "session": session, "file_name": "half", "file_size": content.len(),
                      "file_md5": md5_hex(&content), "is_free": 1}))
        .await;
    quitter.send_raw(&content[..20_000]).await;
    drop(quitter);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(Movie::query().count(&t.db).await?, 0);
    assert_eq!(server.stored_files(), 0);
    Ok(())
}

async fn bad_frames_get_bad_request_and_the_connection_stays(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut c = server.youku().await;
    for body in [
        &b"not json"[..],
        b"[1, 2]",
        b"\"a string\"",
        br#"{"no_type": 1}"#,
        br#"{"type": "teleport"}"#,
        br#"{"type": "login", "name": 5, "password": "x", "user_type": "user"}"#,
        b"\xff\xfe",
    ] {
        c.send_bytes(body).await;
        let answer = c.recv().await.unwrap();
        assert_eq!(
            (answer["flag"].clone(), answer["code"].clone()),
            (json!(false), json!("bad_request")),
            "{body:?}"
        );
    }
    // Oversized and negative lengths: one error answer, then the connection closes.
    for header in [i32::MAX, -1, 0] {
        let mut c = server.youku().await;
        c.send_raw(&header.to_le_bytes()).await;
        assert_eq!(c.recv().await.unwrap()["code"], "bad_request");
        assert!(c.closed().await);
    }
    Ok(())
}

async fn personal_files_through_the_youku_door(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut alice = server.youku().await;
    let a = alice.login_as("alice", "user").await;
    let mut bob = server.youku().await;
    let b = bob.login_as("bob", "user").await;
    let content = b"alice's diary".to_vec();
    alice
        .send(&json!({"type": "upload_file", "session": a, "file_name": "diary.txt", "file_size": content.len(), "file_md5": md5_hex(&content)}))
        .await;
    alice.send_raw(&content).await;
    let id = alice.recv().await.unwrap()["file_id"].as_i64().unwrap();
    let list = alice
        .call(json!({"type": "list_files", "session": a}))
        .await;
    assert_eq!(list["file_list"][0]["file_name"], "diary.txt");
    assert_eq!(
        bob.call(json!({"type": "list_files", "session": b})).await["file_list"],
        json!([])
    );
    assert_eq!(
        bob.call(json!({"type": "download_file", "session": b, "file_id": id}))
            .await["code"],
        "not_found"
    );
    assert_eq!(
        bob.call(json!({"type": "delete_file", "session": b, "file_id": id}))
            .await["code"],
        "not_found"
    );
    let head = alice
        .call(json!({"type": "download_file", "session": a, "file_id": id, "offset": 8}))
        .await;
    assert_eq!(head["file_size"], 5);
    assert_eq!(alice.recv_raw(5).await, b"diary");
    assert_eq!(
        alice
            .call(json!({"type": "delete_file", "session": a, "file_id": id}))
            .await["flag"],
        true
    );
    Ok(())
}

async fn notices_are_pushed_to_subscribers_only(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let a = admin.login_as("root", "admin").await;
    let mut subscriber = server.youku().await;
    let s = subscriber.login_as("alice", "user").await;
    let mut bystander = server.youku().await;
    let b = bystander.login_as("bob", "user").await;
    assert_eq!(
        subscriber
            .call(json!({"type": "subscribe", "session": s}))
            .await["flag"],
        true
    );
    let published = admin
        .call(json!({"type": "release_notice", "session": a, "title": "Hello", "content": "news"}))
        .await;
    assert!(published["notice_id"].as_i64().is_some());
    let push = subscriber.recv().await.unwrap();
    assert_eq!(
        (
            push["type"].clone(),
            push["title"].clone(),
            push["content"].clone()
        ),
        (json!("notice"), json!("Hello"), json!("news"))
    );
    assert!(
        bystander.silent_for(Duration::from_millis(300)).await,
        "no unsolicited frame without subscribe"
    );
    let list = bystander
        .call(json!({"type": "check_notice", "session": b}))
        .await;
    assert_eq!(list["notice_list"][0]["title"], "Hello");
    let refused = bystander
        .call(json!({"type": "release_notice", "session": b, "title": "x", "content": "y"}))
        .await;
    assert_eq!(refused["code"], "forbidden");
    Ok(())
}

async fn two_servers_on_one_database_share_sessions(t: &TestDb) -> Result {
    let first = TestServer::start(t).await;
    let second = TestServer::start(t).await;
    let mut on_first = first.youku().await;
    let session = on_first.login_as("alice", "user").await;
    let mut on_second = second.youku().await;
    assert_eq!(
        on_second
            .call(json!({"type": "buy_vip", "session": session}))
            .await["flag"],
        true
    );
    assert_eq!(
        on_second
            .call(json!({"type": "logout", "session": session}))
            .await["flag"],
        true
    );
    assert_eq!(
        on_first
            .call(json!({"type": "buy_vip", "session": session}))
            .await["code"],
        "not_logged_in"
    );
    assert_eq!(DownloadRecord::query().count(&t.db).await?, 0);
    Ok(())
}

backend_tests!(
    accounts_and_sessions,
    movies_from_upload_to_download_record,
    refused_and_broken_uploads_leave_nothing,
    bad_frames_get_bad_request_and_the_connection_stays,
    personal_files_through_the_youku_door,
    notices_are_pushed_to_subscribers_only,
    two_servers_on_one_database_share_sessions,
);
