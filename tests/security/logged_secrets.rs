//! Logs free of secrets: with every request type of both doors carried out, and refusals, no
//! password (as sent or as typed) and no session token appears in what the process logs.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::json;

use crate::scenarios::{account, content, download, file, login, movie};
use crate::support::{TestServer, api as netdisk, md5_hex};
use crate::{Result, mentions};

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

backend_tests!(no_password_or_token_is_logged_for_any_request);
