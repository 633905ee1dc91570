//! Races through the real servers, on every backend: many clients registering one name at once
//! (over both protocol doors), first admins signing up at once, identical content uploaded and
//! deleted at once (stored once, freed with its last reference), one owner uploading one name at
//! once, many simultaneous downloads of a charged movie (every transfer intact, one record each at
//! the right price), and a VIP purchase racing a download (the price answered, the price recorded
//! and the purchase agree on one order).
//!
//! Every client connects first; then all send at the same moment. The default sizes keep the
//! file under half a minute on two cores. The long version:
//!
//! ```text
//! NETDISK_STRESS_CLIENTS=400 NETDISK_STRESS_ROUNDS=200 \
//!     cargo test -p tests --test concurrency -- --nocapture
//! ```
//!
//! `NETDISK_STRESS_CLIENTS` (default 100) is the number of simultaneous clients registering one
//! name and downloading the movie; `NETDISK_STRESS_ROUNDS` (default 20) the number of
//! purchase/download races (and a tenth of it, rounded up, the rounds of deletes racing uploads
//! of the same content). The races are staggered by a random delay; the seed is printed, and
//! `NETDISK_RACE_SEED=<seed>` replays it.

#[path = "support/faults.rs"]
mod faults;
#[path = "support/scenarios.rs"]
mod scenarios;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use faults::{env_count, seeded_rng, upload_file};
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Blob, DownloadRecord, User, UserFile};
use rand::RngExt;
use scenarios::{all_at_once, content, download, movie, register, youku_clients};
use serde_json::{Value, json};
use support::{Client, TestServer, api};

type Result = mini_orm::Result<()>;

async fn many_register_one_name_and_exactly_one_wins(t: &TestDb) -> Result {
    let n = env_count("NETDISK_STRESS_CLIENTS", 100);
    let server = TestServer::start(t).await;
    let name = "contested";
    // Even-numbered clients use the Youku door, odd-numbered ones the netdisk door: both lead to
    // the same accounts.
    let youku = |i: usize| i.is_multiple_of(2);
    let mut clients = Vec::new();
    for i in 0..n {
        clients.push(if youku(i) {
            server.youku().await
        } else {
            server.netdisk_client().await
        });
    }
    let answers = all_at_once(clients, |i, mut c| {
        let password = format!("password-{i}");
        let request = if youku(i) {
            register(name, &password, "user")
        } else {
            api(
                "register",
                json!({"username": name, "password": password,
                       "real_name": "R", "phone": "1", "address": "A"}),
            )
        };
        async move { c.call(request).await }
    })
    .await;

    let won = |i: usize| {
        if youku(i) {
            answers[i]["flag"] == true
        } else {
            answers[i]["code"] == 1
        }
    };
    let winners: Vec<usize> = (0..n).filter(|&i| won(i)).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration wins: {answers:?}"
    );
    for (i, answer) in answers.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
        if youku(i) {
            assert_eq!(
                (answer["flag"].clone(), answer["code"].clone()),
                (json!(false), json!("conflict")),
                "client {i} (Youku) lost the race: the name is taken"
            );
        } else {
            assert_eq!(
                answer["code"], 3,
                "client {i} (netdisk) lost the race: code 3, name taken: {answer}"
            );
        }
    }
    let rows = User::query().filter(User::NAME.eq(name)).all(&t.db).await?;
    assert_eq!(rows.len(), 1, "one row for the name");

    // The row is the winner's: their password logs in, a loser's does not.
    let mut c = server.youku().await;
    let winner = winners[0];
    let login = |password: String| json!({"type": "login", "name": name, "password": password, "user_type": "user"});
    let as_winner = c.call(login(format!("password-{winner}"))).await;
    assert_eq!(as_winner["flag"], true, "the winner's account: {as_winner}");
    let loser = (winner + 1) % n;
    let as_loser = c.call(login(format!("password-{loser}"))).await;
    assert_eq!(
        as_loser["code"], "not_logged_in",
        "a loser's password: {as_loser}"
    );
    println!(
        "[{:?}] {n} simultaneous registrations of one name: client {winner} won",
        t.backend
    );
    Ok(())
}

async fn simultaneous_downloads_are_intact_and_each_recorded_once(t: &TestDb) -> Result {
    let downloads = env_count("NETDISK_STRESS_CLIENTS", 100);
    let users = 10.min(downloads);
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let admin_session = admin.login_as("root", "admin").await;
    let bytes = content(256 * 1024 + 17, 1);
    let movie_id = movie(&mut admin, &admin_session, "feature.mp4", &bytes).await;
    let film = Arc::new(bytes);

    // Half the users are VIPs: they pay 5, the others 10 (the default prices).
    let mut sessions = Vec::new();
    for u in 0..users {
        let mut c = server.youku().await;
        let session = c.login_as(&format!("viewer{u}"), "user").await;
        let vip = u % 2 == 0;
        if vip {
            let bought = c.call(json!({"type": "buy_vip", "session": session})).await;
            assert_eq!(bought["is_vip"], 1, "{bought}");
        }
        sessions.push((session, vip));
    }

    let began = Instant::now();
    all_at_once(youku_clients(&server, downloads).await, |d, mut c| {
        let (session, vip) = sessions[d % users].clone();
        let film = film.clone();
        async move {
            let (head, bytes) = download(
                &mut c,
                json!({"type": "download_movie", "session": session, "movie_id": movie_id}),
            )
            .await;
            assert_eq!(head["flag"], true, "download {d}: {head}");
            assert_eq!(
                head["price"],
                if vip { 5 } else { 10 },
                "download {d}: the price for a VIP is 5, for others 10"
            );
            assert!(
                bytes == *film,
                "download {d}: the bytes differ from the movie"
            );
            // The record is written after the last byte; the next answer on this connection
            // comes after that.
            let after = c
                .call(json!({"type": "check_notice", "session": session}))
                .await;
            assert_eq!(after["flag"], true, "{after}");
        }
    })
    .await;
    let elapsed = began.elapsed();

    let records = DownloadRecord::query().all(&t.db).await?;
    assert_eq!(records.len(), downloads, "one record per download");
    let mut checker = server.youku().await;
    for (u, (session, vip)) in sessions.iter().enumerate() {
        let user = User::query()
            .filter(User::NAME.eq(format!("viewer{u}")))
            .first(&t.db)
            .await?
            .unwrap();
        let price = if *vip { 5 } else { 10 };
        let expected = downloads / users + usize::from(u < downloads % users);
        let mine: Vec<&DownloadRecord> = records.iter().filter(|r| r.user_id == user.id).collect();
        assert_eq!(mine.len(), expected, "viewer{u}'s records");
        assert!(
            mine.iter()
                .all(|r| r.price == price && r.movie_id == movie_id),
            "viewer{u} (VIP: {vip}) pays {price} each time: {mine:?}"
        );
        let listed = checker
            .call(json!({"type": "check_download_record", "session": session}))
            .await;
        let list = listed["record_list"].as_array().unwrap();
        assert_eq!(
            list.len(),
            expected,
            "viewer{u} sees their own records: {listed}"
        );
        assert!(
            list.iter()
                .all(|r| r["price"] == price && r["movie"] == "feature.mp4")
        );
    }
    println!(
        "[{:?}] {downloads} simultaneous downloads of {} bytes by {users} users: {elapsed:?}",
        t.backend,
        film.len()
    );
    Ok(())
}

/// When one request of a race was sent and when its answer arrived.
#[derive(Debug, Clone, Copy)]
struct Span {
    sent: Instant,
    answered: Instant,
}

async fn a_vip_purchase_racing_a_download_gives_one_consistent_price(t: &TestDb) -> Result {
    let rounds = env_count("NETDISK_STRESS_ROUNDS", 20);
    let mut rng = seeded_rng("NETDISK_RACE_SEED");
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let admin_session = admin.login_as("root", "admin").await;
    let film = content(64 * 1024, 2);
    let movie_id = movie(&mut admin, &admin_session, "race.mp4", &film).await;

    // A fresh user for every round (VIP cannot be undone), registered and logged in up front.
    let sessions = all_at_once(
        youku_clients(&server, rounds).await,
        |round, mut c| async move { c.login_as(&format!("racer{round}"), "user").await },
    )
    .await;

    let (mut before, mut after, mut overlapping) = (0, 0, 0);
    for (round, session) in sessions.into_iter().enumerate() {
        // Stagger one side by up to 3 ms, so that both orders and overlaps all occur.
        let delay = Duration::from_micros(rng.random_range(0..3000));
        let delay_purchase = rng.random();
        let mut buyer = server.youku().await;
        let mut viewer = server.youku().await;
        let buy_session = session.clone();
        let purchase = tokio::spawn(async move {
            if delay_purchase {
                tokio::time::sleep(delay).await;
            }
            let sent = Instant::now();
            let answer = buyer
                .call(json!({"type": "buy_vip", "session": buy_session}))
                .await;
            (
                Span {
                    sent,
                    answered: Instant::now(),
                },
                answer,
            )
        });
        let view_session = session.clone();
        let viewing = tokio::spawn(async move {
            if !delay_purchase {
                tokio::time::sleep(delay).await;
            }
            let sent = Instant::now();
            let request =
                json!({"type": "download_movie", "session": view_session, "movie_id": movie_id});
            let head = viewer.call(request).await;
            let answered = Instant::now();
            assert_eq!(head["flag"], true, "{head}");
            let bytes = viewer
                .recv_raw(head["file_size"].as_u64().unwrap() as usize)
                .await;
            let sync = viewer
                .call(json!({"type": "check_notice", "session": view_session}))
                .await;
            assert_eq!(sync["flag"], true, "{sync}");
            (Span { sent, answered }, head, bytes)
        });
        let (buy, bought) = purchase.await.unwrap();
        let (view, head, bytes) = viewing.await.unwrap();
        let context = format!("round {round} (purchase delayed: {delay_purchase}, by {delay:?})");
        assert_eq!(
            (bought["flag"].clone(), bought["is_vip"].clone()),
            (json!(true), json!(1)),
            "{context}: {bought}"
        );
        assert!(bytes == film, "{context}: the bytes differ from the movie");

        let price = head["price"].as_i64().unwrap();
        assert!(price == 5 || price == 10, "{context}: price {price}");
        let user = User::query()
            .filter(User::NAME.eq(format!("racer{round}")))
            .first(&t.db)
            .await?
            .unwrap();
        assert!(user.is_vip, "{context}: the purchase took effect");
        let records = DownloadRecord::query()
            .filter(DownloadRecord::USER_ID.eq(user.id))
            .all(&t.db)
            .await?;
        assert_eq!(records.len(), 1, "{context}: one record");
        assert_eq!(
            records[0].price, price,
            "{context}: the record holds the price that was answered"
        );
        // Causality: what had certainly happened before the other request was sent.
        if buy.answered < view.sent {
            assert_eq!(
                price, 5,
                "{context}: the download started after the purchase"
            );
            after += 1;
        } else if view.answered < buy.sent {
            assert_eq!(
                price, 10,
                "{context}: the download was priced before the purchase"
            );
            before += 1;
        } else {
            overlapping += 1;
        }
    }
    println!(
        "[{:?}] {rounds} purchase/download races: {before} priced before the purchase, \
         {after} after, {overlapping} overlapping (both prices allowed, answer = record checked)",
        t.backend
    );
    Ok(())
}

async fn racing_first_admins_leave_exactly_one(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let answers = all_at_once(youku_clients(&server, 20).await, |i, mut c| {
        let request = register(&format!("admin{i}"), "pw", "admin");
        async move { c.call(request).await }
    })
    .await;
    let admitted = answers.iter().filter(|a| a["flag"] == true).count();
    assert_eq!(admitted, 1, "one first admin: {answers:?}");
    for answer in answers.iter().filter(|a| a["flag"] != true) {
        assert_eq!(
            answer["code"], "forbidden",
            "admin sign-up is closed: {answer}"
        );
    }
    let admins = User::query()
        .filter(User::USER_TYPE.eq("admin"))
        .count(&t.db)
        .await?;
    assert_eq!(admins, 1, "one admin row");
    assert_eq!(User::query().count(&t.db).await?, 1, "no other row either");
    Ok(())
}

async fn one_name_uploaded_at_once_by_its_owner_is_stored_once(t: &TestDb) -> Result {
    let uploads = 10;
    let server = TestServer::start(t).await;
    let session = Arc::new(server.youku().await.login_as("owner", "user").await);
    // Different contents under one name: one wins, the others' bytes leave no trace.
    let answers =
        all_at_once(youku_clients(&server, uploads).await, |u, mut c| {
            let session = session.clone();
            async move {
                upload_file(&mut c, &session, "notes.txt", &content(50_000 + u, u as u8)).await
            }
        })
        .await;
    let winners: Vec<usize> = (0..uploads)
        .filter(|&u| answers[u]["flag"] == true)
        .collect();
    assert_eq!(winners.len(), 1, "one upload of the name wins: {answers:?}");
    for (u, answer) in answers.iter().enumerate().filter(|(u, _)| *u != winners[0]) {
        assert_eq!(
            answer["code"], "conflict",
            "upload {u}: the name is taken: {answer}"
        );
    }
    assert_eq!(UserFile::query().count(&t.db).await?, 1, "one row");
    assert_eq!(Blob::query().count(&t.db).await?, 1, "one blob row");
    assert_eq!(server.stored_files(), 1, "one stored file, no leftovers");
    let mut c = server.youku().await;
    let id = answers[winners[0]]["file_id"].clone();
    let (head, bytes) = download(
        &mut c,
        json!({"type": "download_file", "session": *session, "file_id": id}),
    )
    .await;
    assert_eq!(head["flag"], true, "{head}");
    assert!(
        bytes == content(50_000 + winners[0], winners[0] as u8),
        "the winner's bytes"
    );
    Ok(())
}

async fn identical_content_uploaded_and_deleted_at_once_is_stored_once_and_freed(
    t: &TestDb,
) -> Result {
    let users = 8;
    let rounds = env_count("NETDISK_STRESS_ROUNDS", 20).div_ceil(10);
    let server = TestServer::start(t).await;
    let bytes = Arc::new(content(300_007, 7));
    let mut sessions = Vec::new();
    for u in 0..users {
        sessions.push(Arc::new(
            server
                .youku()
                .await
                .login_as(&format!("sharer{u}"), "user")
                .await,
        ));
    }
    // User `u % users` uploads the content as `name`.
    let upload = |name: &'static str| {
        let (sessions, bytes) = (sessions.clone(), bytes.clone());
        move |u: usize, mut c: Client| {
            let (session, bytes) = (sessions[u % users].clone(), bytes.clone());
            async move { upload_file(&mut c, &session, name, &bytes).await }
        }
    };
    let ids = |answers: &[Value]| -> Vec<i64> {
        answers
            .iter()
            .map(|a| {
                assert_eq!(a["flag"], true, "{a}");
                a["file_id"].as_i64().unwrap()
            })
            .collect()
    };
    // Every user's live file downloads intact, and storage holds one file per blob row, whose
    // references are the live files.
    let check = async |ids: &[i64], what: &str| -> Result {
        let blobs = Blob::query().all(&t.db).await?;
        let refs: i64 = blobs.iter().map(|b| b.refs).sum();
        assert_eq!(
            refs,
            ids.len() as i64,
            "{what}: references = live files: {blobs:?}"
        );
        assert_eq!(
            server.stored_files(),
            blobs.len(),
            "{what}: one stored file per blob row"
        );
        assert_eq!(
            UserFile::query().count(&t.db).await?,
            ids.len() as u64,
            "{what}"
        );
        let mut c = server.youku().await;
        for (u, id) in ids.iter().enumerate() {
            let request = json!({"type": "download_file", "session": *sessions[u], "file_id": id});
            let (head, got) = download(&mut c, request).await;
            assert!(
                head["flag"] == true && got == *bytes,
                "{what}: user {u}'s file: {head}"
            );
        }
        Ok(())
    };

    let mut live = ids(&all_at_once(youku_clients(&server, users).await, upload("same.bin")).await);
    check(&live, "after simultaneous uploads").await?;
    assert_eq!(
        Blob::query().count(&t.db).await?,
        1,
        "identical content is stored once"
    );
    // User `u` deletes their file `live[u]`, after `u` milliseconds (so that the deletes are
    // spread over the time uploads take).
    let delete = |live: Vec<i64>| {
        let sessions = sessions.clone();
        move |u: usize, mut c: Client| {
            let request =
                json!({"type": "delete_file", "session": *sessions[u], "file_id": live[u]});
            async move {
                tokio::time::sleep(Duration::from_millis(u as u64)).await;
                c.call(request).await
            }
        }
    };
    let names = ["same.bin", "again.bin"];
    for round in 0..rounds {
        // Each user deletes their file while uploading the same content under the other name:
        // the last reference may go while new ones arrive.
        let (old, new) = (names[round % 2], names[(round + 1) % 2]);
        let (deleting, uploading) = (delete(live.clone()), upload(new));
        let answers = all_at_once(youku_clients(&server, 2 * users).await, |i, c| {
            let (deleting, uploading) = (deleting.clone(), uploading.clone());
            async move {
                if i < users {
                    deleting(i, c).await
                } else {
                    uploading(i, c).await
                }
            }
        })
        .await;
        let (deleted, uploaded) = answers.split_at(users);
        assert!(
            deleted.iter().all(|a| a["flag"] == true),
            "round {round}: {deleted:?}"
        );
        live = ids(uploaded);
        check(
            &live,
            &format!("round {round}: {old} deleted while {new} arrived"),
        )
        .await?;
    }
    let deleted = all_at_once(youku_clients(&server, users).await, delete(live)).await;
    assert!(deleted.iter().all(|a| a["flag"] == true), "{deleted:?}");
    check(&[], "after simultaneous deletes").await?;
    assert_eq!(
        Blob::query().count(&t.db).await?,
        0,
        "the content is gone with its last reference"
    );
    Ok(())
}

backend_tests!(
    many_register_one_name_and_exactly_one_wins,
    racing_first_admins_leave_exactly_one,
    identical_content_uploaded_and_deleted_at_once_is_stored_once_and_freed,
    one_name_uploaded_at_once_by_its_owner_is_stored_once,
    simultaneous_downloads_are_intact_and_each_recorded_once,
    a_vip_purchase_racing_a_download_gives_one_consistent_price,
);
