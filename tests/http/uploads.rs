//! Resumable uploads: a movie sent in chunks across a cut connection, the whole content's MD5
//! checked at the end; a wrong MD5, a cut-off chunk or a cancelled upload leave nothing; two
//! chunks racing for one offset have one winner; refusals come before any byte is sent.

use std::io::Write;
use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::Result;
use crate::scenarios::content;
use crate::support::md5_hex;
use crate::web::{Browser, Web};

async fn begin(browser: &Browser, body: Value) -> (u16, Value) {
    let answer = browser.post_json("/api/uploads", &body).await;
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn chunk(browser: &Browser, token: &str, offset: usize, bytes: &[u8]) -> (u16, Value) {
    let answer = browser
        .http
        .patch(browser.url(&format!("/api/uploads/{token}")))
        .header("upload-offset", offset.to_string())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or(Value::Null),
    )
}

async fn status(browser: &Browser, token: &str) -> (u16, Value) {
    let answer = browser.get(&format!("/api/uploads/{token}")).await;
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn a_movie_upload_resumes_and_is_checked_whole(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    let bytes = content(300_000, 5);
    let announce = json!({"kind": "movie", "name": "big.webm", "size": bytes.len(), "md5": md5_hex(&bytes), "is_free": false});
    let (code, started) = begin(&admin, announce).await;
    assert_eq!(code, 201, "{started}");
    let token = started["token"].as_str().unwrap().to_owned();
    assert_eq!(started["received"], 0);

    let (code, progress) = chunk(&admin, &token, 0, &bytes[..100_000]).await;
    assert_eq!((code, progress["received"].clone()), (200, json!(100_000)));
    // The client lost track (its connection dropped): a chunk at the wrong offset is refused,
    // and the upload says where to go on.
    let (code, refused) = chunk(&admin, &token, 150_000, &bytes[150_000..200_000]).await;
    assert_eq!((code, refused["error"].clone()), (409, json!("conflict")));
    assert_eq!(status(&admin, &token).await.1["received"], 100_000);
    let (_, progress) = chunk(&admin, &token, 100_000, &bytes[100_000..250_000]).await;
    assert_eq!(progress["received"], 250_000);
    let (code, done) = chunk(&admin, &token, 250_000, &bytes[250_000..]).await;
    assert_eq!(
        (code, done["complete"].clone()),
        (200, json!(true)),
        "{done}"
    );
    let movie = done["id"].as_i64().unwrap();
    assert!(admin.page("/movies").await.contains("big.webm"));
    assert_eq!(
        status(&admin, &token).await.0,
        404,
        "a finished upload is gone"
    );
    assert_eq!(web.staged_files(), 0);

    let user = web.logged_in("alice", UserType::User).await;
    let viewing: Value = user
        .post_json(&format!("/api/movies/{movie}/viewings"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let stored = user.get(viewing["content"].as_str().unwrap()).await;
    assert_eq!(&stored.bytes().await.unwrap()[..], &bytes[..]);
    Ok(())
}

async fn a_wrong_md5_or_a_cancel_leaves_nothing(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    let bytes = content(50_000, 6);
    let announce = json!({"kind": "movie", "name": "liar", "size": bytes.len(), "md5": md5_hex(b"other"), "is_free": true});
    let (_, started) = begin(&admin, announce).await;
    let token = started["token"].as_str().unwrap().to_owned();
    let (code, refused) = chunk(&admin, &token, 0, &bytes).await;
    assert_eq!(
        (code, refused["error"].clone()),
        (422, json!("integrity")),
        "{refused}"
    );
    assert!(!admin.page("/movies").await.contains("liar"));
    assert_eq!(status(&admin, &token).await.0, 404);
    assert_eq!(web.staged_files(), 0, "no staged bytes left");
    assert_eq!(web.server.stored_files(), 0, "no stored bytes left");

    let user = web.logged_in("alice", UserType::User).await;
    let (_, started) = begin(
        &user,
        json!({"kind": "file", "name": "half.bin", "size": 1000}),
    )
    .await;
    let token = started["token"].as_str().unwrap().to_owned();
    chunk(&user, &token, 0, &[1; 500]).await;
    assert_eq!(web.staged_files(), 1);
    let cancelled = user
        .http
        .delete(user.url(&format!("/api/uploads/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(web.staged_files(), 0);
    assert!(!user.page("/files").await.contains("half.bin"));
    Ok(())
}

async fn a_chunk_cut_off_half_way_counts_for_nothing(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let user = web.logged_in("alice", UserType::User).await;
    let bytes = content(20_000, 8);
    let (_, started) = begin(
        &user,
        json!({"kind": "file", "name": "cut.bin", "size": bytes.len()}),
    )
    .await;
    let token = started["token"].as_str().unwrap().to_owned();
    chunk(&user, &token, 0, &bytes[..5_000]).await;

    // A raw connection announces 10 000 bytes, sends 3 000, and goes away.
    let session = web.token("alice").await;
    let mut raw = tokio::net::TcpStream::connect(web.addr).await.unwrap();
    let mut head = Vec::new();
    write!(
        head,
        "PATCH /api/uploads/{token} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {session}\r\n\
         Upload-Offset: 5000\r\nContent-Length: 10000\r\n\r\n",
        web.addr
    )
    .unwrap();
    raw.write_all(&head).await.unwrap();
    raw.write_all(&bytes[5_000..8_000]).await.unwrap();
    drop(raw);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status(&user, &token).await.1["received"],
        5_000,
        "the cut chunk never counted"
    );

    let (_, done) = chunk(&user, &token, 5_000, &bytes[5_000..]).await;
    assert_eq!(done["complete"], true, "{done}");
    let id = done["id"].as_i64().unwrap();
    let stored = user.get(&format!("/files/{id}/content")).await;
    assert_eq!(&stored.bytes().await.unwrap()[..], &bytes[..]);
    Ok(())
}

async fn two_chunks_for_one_offset_have_one_winner(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let user = web.logged_in("alice", UserType::User).await;
    let bytes = content(2 << 20, 4);
    let (_, started) = begin(
        &user,
        json!({"kind": "file", "name": "race.bin", "size": bytes.len() * 2}),
    )
    .await;
    let token = started["token"].as_str().unwrap().to_owned();
    let (a, b) = tokio::join!(
        chunk(&user, &token, 0, &bytes),
        chunk(&user, &token, 0, &bytes)
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 409], "one chunk wins: {a:?} {b:?}");
    assert_eq!(status(&user, &token).await.1["received"], bytes.len());
    Ok(())
}

async fn uploads_are_refused_before_any_byte(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.max_file_bytes = 1 << 20).await;
    web.account("admin", UserType::Admin).await;
    let existing = content(100, 1);
    web.movie("admin", "existing", &existing, true).await;
    let user = web.logged_in("alice", UserType::User).await;
    let movie = json!({"kind": "movie", "name": "m", "size": 10, "md5": md5_hex(b"0123456789")});
    assert_eq!(
        begin(&user, movie).await.0,
        403,
        "users do not upload movies"
    );
    let big = json!({"kind": "file", "name": "big", "size": 2 << 20});
    assert_eq!(begin(&user, big).await.0, 413);
    let odd = json!({"kind": "folder", "name": "x", "size": 1});
    assert_eq!(begin(&user, odd).await.0, 400);
    let admin = web.logged_in_again("admin").await;
    let duplicate =
        json!({"kind": "movie", "name": "again", "size": 100, "md5": md5_hex(&existing)});
    assert_eq!(begin(&admin, duplicate).await.0, 409);
    let no_md5 = json!({"kind": "movie", "name": "again", "size": 100});
    assert_eq!(begin(&admin, no_md5).await.0, 400);

    let (_, started) = begin(&user, json!({"kind": "file", "name": "f", "size": 10})).await;
    let token = started["token"].as_str().unwrap().to_owned();
    let (code, _) = chunk(&user, &token, 0, &[0; 11]).await;
    assert_eq!(code, 400, "past the declared size");
    // Over the chunk limit: refused from its Content-Length, before the body is read. The
    // server closes the connection after its 413, so a client still sending may see the
    // connection reset instead of the answer.
    let over = user
        .http
        .patch(user.url(&format!("/api/uploads/{token}")))
        .header("upload-offset", "0")
        .body(vec![0; (8 << 20) + 1])
        .send()
        .await;
    if let Ok(answer) = over {
        assert_eq!(answer.status(), 413, "over the chunk limit");
    }
    assert_eq!(
        status(&user, &token).await.1["received"],
        0,
        "nothing of it counted"
    );
    let other = web.logged_in("bob", UserType::User).await;
    assert_eq!(
        status(&other, &token).await.0,
        404,
        "only the owner sees an upload"
    );
    assert_eq!(chunk(&other, &token, 0, b"x").await.0, 404);
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    a_movie_upload_resumes_and_is_checked_whole,
    a_wrong_md5_or_a_cancel_leaves_nothing,
    a_chunk_cut_off_half_way_counts_for_nothing,
    two_chunks_for_one_offset_have_one_winner,
    uploads_are_refused_before_any_byte,
);
