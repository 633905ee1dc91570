//! One log line per request, with protocol, type, user, outcome and duration, and never a
//! password or a session token. Its own test binary: the subscriber is process-wide.

mod support;

use mini_orm::testing::{TestBackend, TestDb};
use serde_json::json;
use support::TestServer;

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_logs_one_line_without_passwords_or_tokens() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let server = TestServer::start(&t).await;
    let mut client = server.youku().await;
    let password = "correct-horse-battery";
    client.call(json!({"type": "register", "name": "logged", "password": password, "user_type": "user"})).await;
    let login = client
        .call(json!({"type": "login", "name": "logged", "password": password, "user_type": "user"}))
        .await;
    let token = login["session"].as_str().unwrap().to_owned();
    client
        .call(json!({"type": "check_notice", "session": token}))
        .await;
    client
        .call(json!({"type": "buy_vip", "session": "0".repeat(32)}))
        .await;

    // A request's line is written once its answer has gone out (its duration includes sending
    // it): the last one may come a moment after the client has read the answer.
    let youku_lines = |logs: &str| -> Vec<String> {
        logs.lines()
            .filter(|l| l.contains("request") && l.contains("protocol=\"youku\""))
            .map(str::to_owned)
            .collect()
    };
    let read = || String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while youku_lines(&read()).len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let logs = read();
    let requests = youku_lines(&logs);
    assert_eq!(requests.len(), 4, "one line per request:\n{logs}");
    assert!(requests[0].contains(r#"type="register""#) && requests[0].contains(r#"user="logged""#));
    assert!(
        requests[1].contains(r#"type="login""#)
            && requests[1].contains(r#"user="logged""#)
            && requests[1].contains(r#"outcome="ok""#)
    );
    assert!(requests[2].contains(r#"type="check_notice""#) && requests[2].contains("micros="));
    assert!(requests[3].contains(r#"outcome="not_logged_in""#));
    assert!(!logs.contains(password), "a password was logged:\n{logs}");
    assert!(
        !logs.contains(&token),
        "a session token was logged:\n{logs}"
    );
    t.finish().await;
}
