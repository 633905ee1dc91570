//! The client library against a real server: refusals carry the server's `code` and message,
//! and notices pushed to a subscribed connection are set aside, never taken for an answer.

mod support;

use examples::{Client, Connection, Error, Role, Timeouts, hash_password};
use serde_json::json;
use support::TestServer;

async fn logged_in(server: &TestServer, role: Role, name: &str) -> Client {
    let mut client = Client::connect(&server.addr, role, Timeouts::default())
        .await
        .unwrap();
    client.register(name, "pw").await.unwrap();
    client.login(name, "pw").await.unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_servers_code_and_message() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.addr, Role::User, Timeouts::default())
        .await
        .unwrap();
    assert!(matches!(client.records().await, Err(Error::NotLoggedIn)));
    client.register("alice", "pw").await.unwrap();
    let taken = client.register("alice", "pw").await.unwrap_err();
    assert_eq!(taken.code(), Some("conflict"));
    let wrong = client.login("alice", "nope").await.unwrap_err();
    assert_eq!(wrong.code(), Some("not_logged_in"));
    assert_eq!(
        wrong.to_string(),
        netdisk_core::ServiceError::WrongCredentials.to_string()
    );

    let mut admin = logged_in(&server, Role::Admin, "root").await;
    let forbidden = admin.buy_vip().await.unwrap_err();
    assert_eq!(forbidden.code(), Some("forbidden"));
    // The connection stays usable after a refusal.
    assert_eq!(admin.notices().await.unwrap(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_pushed_before_an_answer_is_set_aside_not_taken_for_it() {
    let server = TestServer::start().await;
    let mut admin = logged_in(&server, Role::Admin, "root").await;
    drop(logged_in(&server, Role::User, "alice").await);
    let mut connection = Connection::connect(&server.addr, Timeouts::default())
        .await
        .unwrap();
    let login = json!({"type": "login", "name": "alice", "password": hash_password("pw"),
                       "user_type": "user"});
    let session = connection.call(&login).await.unwrap()["session"].clone();
    connection
        .call(&json!({"type": "subscribe", "session": session}))
        .await
        .unwrap();

    admin.release_notice("Hello", "news").await.unwrap();
    // The server sends the push before it reads the next request, so it arrives first.
    let answer = connection
        .call(&json!({"type": "check_download_record", "session": session}))
        .await
        .unwrap();
    assert_eq!(answer["record_list"], json!([]));
    let pushed = connection.take_notices();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0]["title"], "Hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_client_collects_pushed_notices_between_requests() {
    let server = TestServer::start().await;
    let mut admin = logged_in(&server, Role::Admin, "root").await;
    let mut user = logged_in(&server, Role::User, "alice").await;
    user.subscribe().await.unwrap();

    admin.release_notice("Hello", "news").await.unwrap();
    assert_eq!(user.records().await.unwrap(), vec![]);
    let pushed = user.pushed_notices().await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(
        (pushed[0].title.as_str(), pushed[0].content.as_str()),
        ("Hello", "news")
    );
    assert!(user.pushed_notices().await.is_empty(), "taken once");
}
