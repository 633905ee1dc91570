//! The movie pages and the viewing rules: pages, filters and search; a free movie's wait, then
//! one download record per viewing however many ranges it reads; prices for VIPs and others;
//! what users and admins may not do.

use std::sync::Arc;
use std::time::Duration;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::UserType;
use netdisk_core::clock::ManualClock;
use netdisk_core::models::DownloadRecord;
use serde_json::{Value, json};

use crate::scenarios::content;
use crate::web::{Web, location};
use crate::{EPOCH, Result};

async fn the_catalogue_pages_filters_and_searches(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("admin", UserType::Admin).await;
    let mut first_id = 0;
    for n in 0..30 {
        let name = format!("movie {n:02}{}", if n % 3 == 0 { " sunset" } else { "" });
        let id = web
            .movie("admin", &name, &content(100, n as u8), n % 2 == 0)
            .await;
        if n == 0 {
            first_id = id;
        }
    }
    let browser = web.logged_in("alice", UserType::User).await;
    let tiles = |page: &str| page.matches("class=\"tile\"").count();
    let first = browser.page("/movies").await;
    assert_eq!(tiles(&first), 24);
    assert!(
        first.contains("movie 29") && !first.contains("movie 05"),
        "newest first"
    );
    assert!(first.contains("Page 1 of 2") && first.contains("30 movies"));
    let second = browser.page("/movies?kind=all&q=&page=2").await;
    assert_eq!(tiles(&second), 6);
    assert!(second.contains("movie 00"));
    let free = browser.page("/movies?kind=free").await;
    assert_eq!(tiles(&free), 15);
    assert_eq!(free.matches("badge charged").count(), 0);
    let charged = browser.page("/movies?kind=charged").await;
    assert_eq!(charged.matches("badge free").count(), 0);
    let found = browser.page("/movies?q=sunset").await;
    assert_eq!(tiles(&found), 10);
    assert!(found.contains("10 movies matching “sunset”"));
    let movie = browser.page(&format!("/movies/{first_id}")).await;
    assert!(movie.contains("<video") && movie.contains("movie 00"));
    assert_eq!(browser.get("/movies/999999").await.status(), 404);
    Ok(())
}

/// Starts a viewing as `browser`'s user: (status, answer).
async fn start_viewing(browser: &crate::web::Browser, movie: i64) -> (u16, Value) {
    let answer = browser
        .post_json(&format!("/api/movies/{movie}/viewings"), &json!({}))
        .await;
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn records(web: &Web) -> u64 {
    DownloadRecord::query()
        .count(web.server.netdisk.db())
        .await
        .unwrap()
}

async fn a_free_movie_waits_then_one_viewing_makes_one_record(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |c| c.free_wait_secs = 30).await;
    web.account("admin", UserType::Admin).await;
    let bytes = content(10_000, 7);
    let movie = web.movie("admin", "clip.webm", &bytes, true).await;
    let browser = web.logged_in("alice", UserType::User).await;

    let (status, viewing) = start_viewing(&browser, movie).await;
    assert_eq!(status, 201, "{viewing}");
    assert_eq!(
        (viewing["wait_secs"].clone(), viewing["price"].clone()),
        (json!(30), json!(0))
    );
    let address = viewing["content"].as_str().unwrap().to_owned();
    let early = browser.get(&address).await;
    assert_eq!(early.status(), 425);
    assert_eq!(early.headers()["retry-after"], "30");
    assert_eq!(
        records(&web).await,
        0,
        "nothing is recorded before the wait is over"
    );

    clock.advance(Duration::from_secs(30));
    let head = browser
        .http
        .head(browser.url(&address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(records(&web).await, 0, "HEAD reads no bytes");
    // A player's first reads race each other: eight ranges at once still make one record.
    let reads = (0..8).map(|n| {
        let (start, end) = (n * 1000, n * 1000 + 999);
        let request = browser
            .http
            .get(browser.url(&address))
            .header("range", format!("bytes={start}-{end}"));
        async move {
            let part = request.send().await.unwrap();
            assert_eq!(part.status(), 206);
            (start, part.bytes().await.unwrap())
        }
    });
    for (start, part) in futures_util::future::join_all(reads).await {
        assert_eq!(&part[..], &bytes[start..start + 1000]);
    }
    assert_eq!(
        records(&web).await,
        1,
        "one record per viewing, not per range"
    );
    let page = browser.page("/records").await;
    assert!(page.contains("clip.webm"));

    // Another viewing is another record; someone else's viewing is not theirs to read.
    let (_, again) = start_viewing(&browser, movie).await;
    clock.advance(Duration::from_secs(30));
    let again = again["content"].as_str().unwrap().to_owned();
    assert_eq!(browser.get(&again).await.status(), 200);
    assert_eq!(records(&web).await, 2);
    let mallory = web.logged_in("mallory", UserType::User).await;
    assert_eq!(mallory.get(&again).await.status(), 404);
    assert_eq!(
        web.script()
            .get(web.url(&again))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    Ok(())
}

async fn prices_and_waits_follow_vip(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.free_wait_secs = 30).await;
    web.account("admin", UserType::Admin).await;
    let free = web.movie("admin", "free", &content(100, 1), true).await;
    let charged = web.movie("admin", "charged", &content(100, 2), false).await;
    let browser = web.logged_in("alice", UserType::User).await;
    let terms = async |movie| {
        let (_, viewing) = start_viewing(&browser, movie).await;
        (
            viewing["wait_secs"].as_u64().unwrap(),
            viewing["price"].as_i64().unwrap(),
        )
    };
    assert_eq!(terms(free).await, (30, 0));
    assert_eq!(terms(charged).await, (0, 10));
    let page = browser.page(&format!("/movies/{charged}")).await;
    assert!(page.contains("costs <strong>10</strong>"));
    let vip = browser.form("/vip", &[]).await;
    assert_eq!(location(&vip), "/movies");
    assert!(browser.page("/movies").await.contains("badge vip"));
    assert_eq!(terms(free).await, (0, 0));
    assert_eq!(terms(charged).await, (0, 5));
    Ok(())
}

async fn users_and_admins_are_refused_what_is_not_theirs(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    let movie = web.movie("admin", "keep me", &content(100, 3), true).await;
    let user = web.logged_in("alice", UserType::User).await;

    let delete = user.form(&format!("/movies/{movie}/delete"), &[]).await;
    assert_eq!(delete.status(), 403);
    let api = user
        .http
        .delete(user.url(&format!("/api/movies/{movie}")))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 403);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    assert_eq!(user.get("/admin").await.status(), 403);
    let notice = user
        .form("/notices", &[("title", "t"), ("content", "c")])
        .await;
    assert_eq!(notice.status(), 403);
    assert!(
        user.page("/movies").await.contains("keep me"),
        "the movie is still there"
    );

    let (status, _) = start_viewing(&admin, movie).await;
    assert_eq!(
        status, 403,
        "admins do not watch: downloads are for users, as at the TCP doors"
    );
    let deleted = admin.form(&format!("/movies/{movie}/delete"), &[]).await;
    assert_eq!(location(&deleted), "/movies");
    assert_eq!(user.get(&format!("/movies/{movie}")).await.status(), 404);
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    the_catalogue_pages_filters_and_searches,
    a_free_movie_waits_then_one_viewing_makes_one_record,
    prices_and_waits_follow_vip,
    users_and_admins_are_refused_what_is_not_theirs,
);
