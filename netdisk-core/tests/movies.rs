//! Movies, notices and download records through the library API, on every backend.

mod support;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{DownloadRecord, Movie};
use netdisk_core::{MovieKind, MovieQuery, MovieUpload, ServiceError};
use support::{env, env_with, md5_hex, upload};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

type Result = mini_orm::Result<()>;

/// Yields `good` bytes, then fails as a dropped connection would.
struct FailingReader {
    good: Vec<u8>,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.good.is_empty() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            )));
        }
        let n = self.good.len().min(buf.remaining());
        buf.put_slice(&self.good[..n]);
        self.good.drain(..n);
        Poll::Ready(Ok(()))
    }
}

async fn admin_only_operations_refuse_users(t: &TestDb) -> Result {
    let env = env(t).await;
    let user = env.user("alice").await;
    let nd = &env.netdisk;
    let md5 = md5_hex(b"x");
    let meta = MovieUpload {
        name: "m",
        size: 1,
        md5: &md5,
        is_free: true,
    };
    let mut untouched: &[u8] = b"x";
    assert_eq!(
        nd.movies().check(&user, &md5).await.unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(
        nd.movies()
            .upload(&user, meta, &mut untouched)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(untouched, b"x", "refused before reading");
    assert_eq!(
        nd.movies().delete(&user, 1).await.unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(
        nd.notices()
            .publish(&user, "t", "c")
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(Movie::query().count(&t.db).await?, 0);
    Ok(())
}

async fn lists_are_newest_first_by_kind_keyword_and_page(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    for (i, name) in ["cat 1", "dog", "cat_2", "100% cat", "bird"]
        .iter()
        .enumerate()
    {
        upload(&env, &admin, name, name.as_bytes(), i % 2 == 0).await;
    }
    let nd = &env.netdisk;
    let names = |list: std::sync::Arc<netdisk_core::MovieList>| {
        list.movies
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
    };
    let all = nd
        .movies()
        .list(&user, MovieQuery::default())
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(names(all), ["bird", "100% cat", "cat_2", "dog", "cat 1"]);
    let free = nd
        .movies()
        .list(
            &user,
            MovieQuery {
                kind: Some(MovieKind::Free),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(free), ["bird", "cat_2", "cat 1"]);
    let charged = nd
        .movies()
        .list(
            &user,
            MovieQuery {
                kind: Some(MovieKind::Charged),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(charged), ["100% cat", "dog"]);
    let cats = nd
        .movies()
        .list(
            &user,
            MovieQuery {
                keyword: Some("cat"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cats.total, 3);
    let literal = nd
        .movies()
        .list(
            &user,
            MovieQuery {
                keyword: Some("%"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        names(literal),
        ["100% cat"],
        "a keyword is literal text, not a pattern"
    );
    let page = nd
        .movies()
        .list(
            &user,
            MovieQuery {
                offset: Some(1),
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (page.total, names(page)),
        (5, vec!["100% cat".to_owned(), "cat_2".to_owned()])
    );
    Ok(())
}

async fn a_duplicate_movie_is_a_conflict(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    upload(&env, &admin, "one", b"same bytes", true).await;
    let md5 = md5_hex(b"same bytes");
    assert_eq!(
        env.netdisk
            .movies()
            .check(&admin, &md5)
            .await
            .unwrap_err()
            .code(),
        "conflict"
    );
    env.netdisk
        .movies()
        .check(&admin, &md5_hex(b"other"))
        .await
        .unwrap();
    let meta = MovieUpload {
        name: "two",
        size: 10,
        md5: &md5,
        is_free: true,
    };
    let error = env
        .netdisk
        .movies()
        .upload(&admin, meta, &mut &b"same bytes"[..])
        .await
        .unwrap_err();
    assert_eq!(error.code(), "conflict");
    Ok(())
}

async fn an_md5_mismatch_leaves_nothing_behind(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let wrong = md5_hex(b"something else");
    let meta = MovieUpload {
        name: "m",
        size: 5,
        md5: &wrong,
        is_free: true,
    };
    let error = env
        .netdisk
        .movies()
        .upload(&admin, meta, &mut &b"hello"[..])
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Integrity { .. }), "{error:?}");
    assert_eq!(Movie::query().count(&t.db).await?, 0);
    assert_eq!(env.stored_files(), Vec::<String>::new());
    Ok(())
}

async fn a_reader_failing_half_way_leaves_nothing_behind(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let content = vec![7u8; 300_000];
    let md5 = md5_hex(&content);
    let meta = MovieUpload {
        name: "m",
        size: content.len() as u64,
        md5: &md5,
        is_free: true,
    };
    let mut reader = FailingReader {
        good: content[..150_000].to_vec(),
    };
    assert!(
        env.netdisk
            .movies()
            .upload(&admin, meta, &mut reader)
            .await
            .is_err()
    );
    let mut short: &[u8] = &content[..1000];
    let error = env
        .netdisk
        .movies()
        .upload(&admin, meta, &mut short)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "bad_request", "{error}");
    assert_eq!(Movie::query().count(&t.db).await?, 0);
    assert_eq!(env.stored_files(), Vec::<String>::new());
    Ok(())
}

async fn too_large_is_refused_before_reading(t: &TestDb) -> Result {
    let env = env_with(t, |c| c.max_movie_bytes = 10).await;
    let admin = env.admin().await;
    let md5 = md5_hex(&[0; 11]);
    let meta = MovieUpload {
        name: "m",
        size: 11,
        md5: &md5,
        is_free: true,
    };
    let mut reader: &[u8] = &[0; 11];
    let error = env
        .netdisk
        .movies()
        .upload(&admin, meta, &mut reader)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "too_large");
    assert_eq!(reader.len(), 11, "nothing was read");
    Ok(())
}

async fn a_deleted_movie_leaves_lists_and_downloads_but_keeps_its_row(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    let id = upload(&env, &admin, "gone", b"bytes", true).await;
    let nd = &env.netdisk;
    nd.movies().delete(&admin, id).await.unwrap();
    assert_eq!(
        nd.movies().delete(&admin, id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        nd.movies()
            .list(&user, MovieQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        nd.movies().download(&user, id, 0).await.unwrap_err().code(),
        "not_found"
    );
    assert!(Movie::get(&t.db, id).await?.is_deleted);
    nd.movies()
        .check(&admin, &md5_hex(b"bytes"))
        .await
        .expect("a deleted movie's content may be uploaded again");
    Ok(())
}

async fn downloads_follow_the_wait_and_price_policy(t: &TestDb) -> Result {
    let env = env_with(t, |c| {
        c.free_wait_secs = 30;
        c.vip_price = 5;
        c.regular_price = 10;
    })
    .await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    let free = upload(&env, &admin, "free", b"free bytes", true).await;
    let charged = upload(&env, &admin, "charged", b"charged bytes", false).await;
    let nd = &env.netdisk;
    let policy = |d: netdisk_core::MovieDownload| (d.wait_secs, d.price);
    assert_eq!(
        policy(nd.movies().download(&user, free, 0).await.unwrap()),
        (30, 0)
    );
    assert_eq!(
        policy(nd.movies().download(&user, charged, 0).await.unwrap()),
        (0, 10)
    );
    nd.accounts().buy_vip(&user).await.unwrap();
    assert_eq!(
        policy(nd.movies().download(&user, free, 0).await.unwrap()),
        (0, 0)
    );
    assert_eq!(
        policy(nd.movies().download(&user, charged, 0).await.unwrap()),
        (0, 5)
    );
    assert_eq!(
        nd.movies()
            .download(&admin, free, 0)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    Ok(())
}

async fn downloads_resume_and_record_only_complete_transfers(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let id = upload(&env, &admin, "movie.mp4", &content, false).await;
    let nd = &env.netdisk;

    let mut interrupted = nd.movies().download(&user, id, 0).await.unwrap();
    assert_eq!(interrupted.transfer.len(), content.len() as u64);
    let mut first_part = vec![0; 70_000];
    interrupted
        .transfer
        .read_exact(&mut first_part)
        .await
        .unwrap();
    assert_eq!(
        interrupted.finish(nd.movies()).await.unwrap_err().code(),
        "bad_request"
    );
    assert_eq!(
        DownloadRecord::query().count(&t.db).await?,
        0,
        "no record for an incomplete transfer"
    );

    let mut resumed = nd.movies().download(&user, id, 70_000).await.unwrap();
    assert_eq!(resumed.transfer.len(), 130_000);
    let mut rest = Vec::new();
    resumed.transfer.read_to_end(&mut rest).await.unwrap();
    first_part.extend_from_slice(&rest);
    assert_eq!(first_part, content);
    resumed.finish(nd.movies()).await.unwrap();

    let records = nd.movies().records(&user, None, None).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].movie.as_str(), records[0].price),
        ("movie.mp4", 10)
    );
    let beyond = nd
        .movies()
        .download(&user, id, content.len() as u64 + 1)
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), "bad_request");
    Ok(())
}

async fn records_are_the_callers_own_newest_first(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let nd = &env.netdisk;
    for name in ["first", "second"] {
        let id = upload(&env, &admin, name, name.as_bytes(), true).await;
        let mut download = nd.movies().download(&alice, id, 0).await.unwrap();
        tokio::io::copy(&mut download.transfer, &mut tokio::io::sink())
            .await
            .unwrap();
        download.finish(nd.movies()).await.unwrap();
    }
    let movies: Vec<String> = nd
        .movies()
        .records(&alice, None, None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.movie.clone())
        .collect();
    assert_eq!(movies, ["second", "first"]);
    assert!(
        nd.movies()
            .records(&bob, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    Ok(())
}

async fn notices_are_newest_first_and_reach_subscribers(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    let nd = &env.netdisk;
    let mut subscriber = nd.notices().subscribe().await.unwrap();
    nd.notices()
        .publish(&admin, "first", "hello")
        .await
        .unwrap();
    nd.notices()
        .publish(&admin, "second", "again")
        .await
        .unwrap();
    let titles: Vec<String> = nd
        .notices()
        .list(&user, None, None)
        .await
        .unwrap()
        .iter()
        .map(|n| n.title.clone())
        .collect();
    assert_eq!(titles, ["second", "first"]);
    assert_eq!(subscriber.next().await.unwrap().title, "first");
    let pushed = subscriber.next().await.unwrap();
    assert_eq!(
        (pushed.title.as_str(), pushed.content.as_str()),
        ("second", "again")
    );
    assert_eq!(pushed.create_time.len(), 19);
    Ok(())
}

/// Two services on one database (two server processes, in-process pub/sub): a notice published
/// through one reaches the other's subscribers by the database check, and each subscriber gets
/// each notice exactly once.
async fn notices_reach_subscribers_of_other_services_once(t: &TestDb) -> Result {
    let env = env_with(t, |config| config.pubsub_check_ms = 20).await;
    let admin = env.admin().await;
    env.netdisk
        .notices()
        .publish(&admin, "before", "published before the other opened")
        .await
        .unwrap();
    let other = env.reopen().await;
    let mut here = env.netdisk.notices().subscribe().await.unwrap();
    let mut there = other.notices().subscribe().await.unwrap();

    for title in ["one", "two", "three"] {
        env.netdisk
            .notices()
            .publish(&admin, title, "c")
            .await
            .unwrap();
    }
    for subscriber in [&mut here, &mut there] {
        for title in ["one", "two", "three"] {
            let pushed = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
                .await
                .expect("pushed within the check interval")
                .unwrap();
            assert_eq!(pushed.title, title);
        }
    }
    // Several checks later, nothing was pushed twice (and "before" never).
    for subscriber in [&mut here, &mut there] {
        let again = tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await;
        assert!(again.is_err(), "nothing more to push: {again:?}");
    }
    Ok(())
}

backend_tests!(
    admin_only_operations_refuse_users,
    lists_are_newest_first_by_kind_keyword_and_page,
    a_duplicate_movie_is_a_conflict,
    an_md5_mismatch_leaves_nothing_behind,
    a_reader_failing_half_way_leaves_nothing_behind,
    too_large_is_refused_before_reading,
    a_deleted_movie_leaves_lists_and_downloads_but_keeps_its_row,
    downloads_follow_the_wait_and_price_policy,
    downloads_resume_and_record_only_complete_transfers,
    records_are_the_callers_own_newest_first,
    notices_are_newest_first_and_reach_subscribers,
    notices_reach_subscribers_of_other_services_once,
);
