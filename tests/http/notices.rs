//! Notices in the browser: released by an admin, listed newest first, and pushed to every open
//! page over Server-Sent Events at once.

use std::time::Duration;

use futures_util::StreamExt;
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;

use crate::Result;
use crate::web::Web;

async fn a_released_notice_reaches_open_pages_at_once(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    let user = web.logged_in("alice", UserType::User).await;
    let events = user.get("/notices/events").await;
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut stream = events.bytes_stream();

    let released = admin
        .form(
            "/notices",
            &[("title", "Maintenance 维护"), ("content", "Sunday 02:00")],
        )
        .await;
    assert_eq!(released.status(), 303);
    let mut seen = String::new();
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("\n\n") && seen.contains("event: notice") {
                return;
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "no event within 10 s: {seen:?}");
    assert!(
        seen.contains("Maintenance 维护") && seen.contains("Sunday 02:00"),
        "{seen}"
    );

    let page = user.page("/notices").await;
    let first = page.find("Maintenance").unwrap();
    admin
        .form("/notices", &[("title", "Later one"), ("content", "x")])
        .await;
    let page = user.page("/notices").await;
    assert!(
        page.find("Later one").unwrap() < page.find("Maintenance").unwrap(),
        "newest first"
    );
    assert!(first > 0);
    assert_eq!(
        web.script()
            .get(web.url("/notices/events"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    a_released_notice_reaches_open_pages_at_once,
);
