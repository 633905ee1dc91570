//! The netdisk protocol over real sockets, as the "cmd netdisk" client speaks it: register,
//! login, upload, check, download, and its refusals. On every backend.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::UserFile;
use serde_json::json;
use support::{Client, TestServer, api, door_upload};

type Result = mini_orm::Result<()>;

async fn register_and_login(c: &mut Client, name: &str) {
    let profile = json!({"username": name, "password": "pw", "real_name": "Real", "phone": "123", "address": "Street 1"});
    let registered = c.call(api("register", profile)).await;
    assert_eq!(registered["code"], 1, "{registered}");
    assert!(
        registered["data"].get("password").is_none()
            && registered["data"].get("pwd_hash").is_none()
    );
    let login = c
        .call(api("login", json!({"username": name, "password": "pw"})))
        .await;
    assert_eq!(
        (
            login["code"].clone(),
            login["data"]["username"].clone(),
            login["data"]["real_name"].clone()
        ),
        (json!(1), json!(name), json!("Real"))
    );
}

async fn register_and_login_codes(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut c = server.netdisk_client().await;
    register_and_login(&mut c, "alice").await;
    let taken = c.call(api("register", json!({"username": "alice", "password": "x", "real_name": "", "phone": "", "address": ""}))).await;
    assert_eq!(taken["code"], 3);
    let missing = c.call(api("register", json!({"username": "bob"}))).await;
    assert_eq!(missing["code"], 2);
    let not_strings = c
        .call(api(
            "register",
            json!({"username": 1, "password": 2, "real_name": 3, "phone": 4, "address": 5}),
        ))
        .await;
    assert_eq!(not_strings["code"], 2);
    assert_eq!(
        c.call(api("login", json!({"username": "alice", "password": "no"})))
            .await["code"],
        2
    );
    assert_eq!(
        c.call(api(
            "login",
            json!({"username": "nobody", "password": "pw"})
        ))
        .await["code"],
        2
    );
    assert_eq!(
        c.call(api("login", json!({"username": "alice"}))).await["code"],
        3
    );
    assert_eq!(c.call(api("teleport", json!({}))).await["code"], 0);
    c.send_bytes(b"not json").await;
    assert_eq!(
        c.recv().await.unwrap()["code"],
        0,
        "the connection stays usable"
    );
    Ok(())
}

async fn upload_check_download(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut c = server.netdisk_client().await;
    register_and_login(&mut c, "alice").await;
    assert_eq!(
        c.call(api("check", json!({"username": "alice"}))).await["code"],
        2,
        "no files yet"
    );
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(
        door_upload(&mut c, "alice", "photo.jpg", &content).await["code"],
        1
    );
    assert_eq!(
        door_upload(&mut c, "alice", "photo.jpg", b"again").await["code"],
        2,
        "name used by this owner"
    );
    let check = c.call(api("check", json!({"username": "alice"}))).await;
    assert_eq!(
        check["data"],
        json!([{"name": "photo.jpg", "size": 100_000}])
    );

    let go = c
        .call(api(
            "download",
            json!({"username": "alice", "file_name": "photo.jpg", "file_size": 100_000}),
        ))
        .await;
    assert_eq!(go["code"], 99999);
    assert_eq!(c.recv_raw(100_000).await, content);
    assert_eq!(
        c.call(json!("got it")).await["code"],
        1,
        "answered after the acknowledgement"
    );

    let missing = c
        .call(api(
            "download",
            json!({"username": "alice", "file_name": "nope", "file_size": 1}),
        ))
        .await;
    assert_eq!(missing["code"], 4);
    let bad = c
        .call(api(
            "download",
            json!({"username": "alice", "file_name": "photo.jpg"}),
        ))
        .await;
    assert_eq!(bad["code"], 2);
    // The same files as the Youku door's personal netdisk.
    assert_eq!(UserFile::query().count(&t.db).await?, 1);
    Ok(())
}

async fn a_connection_reaches_only_its_own_account(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut alice = server.netdisk_client().await;
    register_and_login(&mut alice, "alice").await;
    door_upload(&mut alice, "alice", "secret.txt", b"alice only").await;
    let mut bob = server.netdisk_client().await;
    register_and_login(&mut bob, "bob").await;
    assert_eq!(
        bob.call(api("check", json!({"username": "alice"}))).await["code"],
        3
    );
    let steal = bob
        .call(api(
            "download",
            json!({"username": "alice", "file_name": "secret.txt", "file_size": 10}),
        ))
        .await;
    assert_eq!(steal["code"], 3);
    assert_eq!(
        door_upload(&mut bob, "alice", "planted.txt", b"x").await["code"],
        3
    );
    let mut anonymous = server.netdisk_client().await;
    assert_eq!(
        anonymous
            .call(api("check", json!({"username": "alice"})))
            .await["code"],
        3
    );
    assert_eq!(UserFile::query().count(&t.db).await?, 1);
    Ok(())
}

async fn a_disconnect_mid_upload_leaves_nothing(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut c = server.netdisk_client().await;
    register_and_login(&mut c, "alice").await;
    let go = c
        .call(api(
            "upload",
            json!({"username": "alice", "file_name": "big", "file_size": 1_000_000}),
        ))
        .await;
    assert_eq!(go["code"], 99999);
    c.send_raw(&[0; 300_000]).await;
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(UserFile::query().count(&t.db).await?, 0);
    assert_eq!(server.stored_files(), 0);
    Ok(())
}

backend_tests!(
    register_and_login_codes,
    upload_check_download,
    a_connection_reaches_only_its_own_account,
    a_disconnect_mid_upload_leaves_nothing,
);
