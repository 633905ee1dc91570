//! What a service read from the database is served from memory for `read_cache_ms`: the same
//! page twice costs one read; a change made through this service shows at once; one made
//! through another service on the same database (another server process) within that time.

mod support;

use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::{StatementLog, TestDb};
use netdisk_core::{MovieQuery, Netdisk};
use support::{env, upload};

type Result = mini_orm::Result<()>;

/// How many movies `netdisk` lists as `caller`.
async fn total(netdisk: &Netdisk, caller: &netdisk_core::Caller) -> u64 {
    let list = netdisk.movies().list(caller, MovieQuery::default()).await;
    list.unwrap().total
}

async fn a_page_of_movies_is_read_once_and_an_upload_here_shows_at_once(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    upload(&env, &admin, "first", b"first", true).await;
    let log = StatementLog::start();
    assert_eq!(total(&env.netdisk, &alice).await, 1);
    let read = log.statements().len();
    assert!(read > 0, "the first page is read from the database");
    assert_eq!(total(&env.netdisk, &alice).await, 1);
    assert_eq!(
        log.statements().len(),
        read,
        "the same page again reads nothing"
    );
    drop(log);
    upload(&env, &admin, "second", b"second", false).await;
    assert_eq!(
        total(&env.netdisk, &alice).await,
        2,
        "an upload here shows at once"
    );
    let id = upload(&env, &admin, "third", b"third", true).await;
    assert_eq!(total(&env.netdisk, &alice).await, 3);
    env.netdisk.movies().delete(&admin, id).await.unwrap();
    assert_eq!(total(&env.netdisk, &alice).await, 2, "so does a deletion");
    Ok(())
}

async fn an_upload_through_another_server_shows_within_the_read_cache_time(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let other = env.reopen().await;
    assert_eq!(total(&other, &alice).await, 0);
    upload(&env, &admin, "new", b"new", true).await;
    let uploaded = Instant::now();
    let limit = env.netdisk.config().read_cache() + Duration::from_millis(500);
    while total(&other, &alice).await == 0 {
        assert!(uploaded.elapsed() < limit, "not listed by the other server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn a_download_here_shows_in_the_records_at_once(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let movies = env.netdisk.movies();
    let id = upload(&env, &admin, "film", b"film", true).await;
    assert!(movies.records(&alice, None, None).await.unwrap().is_empty());
    let mut download = movies.download(&alice, id, 0).await.unwrap();
    tokio::io::copy(&mut download.transfer, &mut tokio::io::sink())
        .await
        .unwrap();
    download.finish(movies).await.unwrap();
    let records = movies.records(&alice, None, None).await.unwrap();
    assert_eq!(records.len(), 1, "recorded and listed at once");
    Ok(())
}

async fn a_notice_published_here_is_listed_at_once(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let notices = env.netdisk.notices();
    assert!(notices.list(&alice, None, None).await.unwrap().is_empty());
    notices.publish(&admin, "news", "text").await.unwrap();
    let listed = notices.list(&alice, None, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    Ok(())
}

backend_tests!(
    a_page_of_movies_is_read_once_and_an_upload_here_shows_at_once,
    an_upload_through_another_server_shows_within_the_read_cache_time,
    a_download_here_shows_in_the_records_at_once,
    a_notice_published_here_is_listed_at_once,
);
