//! The listener's promises: a connection limit, and a graceful shutdown that refuses new
//! clients, closes idle ones and lets a transfer in flight finish.

mod support;

use std::time::Duration;

use mini_orm::testing::{TestBackend, TestDb};
use serde_json::json;
use support::{TestServer, md5_hex};
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_transfer_in_flight_finish_and_closes_idle_connections() {
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let mut server = TestServer::start(&t).await;
    let mut admin = server.youku().await;
    let session = admin.login_as("root", "admin").await;
    let content: Vec<u8> = (0..8_000_000u32).map(|i| (i % 241) as u8).collect();
    admin
        .send(&json!({"type": "upload_movie", "session": session, "file_name": "big", "file_size": content.len(),
                      "file_md5": md5_hex(&content), "is_free": 0}))
        .await;
    admin.send_raw(&content).await;
    let movie_id = admin.recv().await.unwrap()["movie_id"].as_i64().unwrap();

    let mut viewer = server.youku().await;
    let s = viewer.login_as("alice", "user").await;
    let mut idle = server.youku().await;
    idle.login_as("bob", "user").await;
    let head = viewer
        .call(json!({"type": "download_movie", "session": s, "movie_id": movie_id}))
        .await;
    assert_eq!(head["file_size"], 8_000_000);
    // Read only a little, so the transfer is still in flight when the shutdown starts.
    let mut first = vec![0; 1000];
    viewer.stream.read_exact(&mut first).await.unwrap();

    let addr = server.running.as_ref().unwrap().addr("youku").unwrap();
    let running = server.running.take().unwrap();
    let shutdown = tokio::spawn(running.shutdown());
    assert!(idle.closed().await, "an idle connection is closed");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections are accepted"
    );
    let mut rest = vec![0; content.len() - 1000];
    viewer.stream.read_exact(&mut rest).await.unwrap();
    first.extend_from_slice(&rest);
    assert_eq!(first, content, "the transfer in flight completed");
    assert!(
        shutdown.await.unwrap(),
        "every connection finished within the grace period"
    );
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_the_connection_limit_wait_for_a_free_slot() {
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let server = TestServer::start_with(&t, |c| c.server.max_connections = 2).await;
    let mut first = server.youku().await;
    first.login_as("alice", "user").await;
    let mut second = server.youku().await;
    second.login_as("bob", "user").await;
    let mut third = server.youku().await;
    third
        .send(&json!({"type": "register", "name": "carol", "password": "pw", "user_type": "user"}))
        .await;
    assert!(
        third.silent_for(Duration::from_millis(300)).await,
        "the third client is not served yet"
    );
    drop(first);
    let answer = third.recv().await.expect("served once a slot is free");
    assert_eq!(answer["flag"], true);
    t.finish().await;
}
