//! Ranged content: `Range` (206, 416, and ranges this door ignores), `HEAD`, `ETag` with
//! `If-None-Match` and `If-Range`, `Accept-Ranges`, a safe `Content-Disposition`; the bytes,
//! sent from the file by `sendfile`, exact however large and however many answers share a
//! connection; and nobody reads or deletes a file that is not theirs.

use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::Result;
use crate::scenarios::content;
use crate::support::md5_hex;
use crate::web::Web;

async fn ranges_and_conditions_are_answered_as_http_says(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let bytes = content(1000, 9);
    let name = "report \"final\"; 报告.pdf";
    let id = web.file("alice", name, &bytes).await;
    let browser = web.logged_in_again("alice").await;
    let address = format!("/files/{id}/content");
    let get = async |headers: &[(&str, &str)]| {
        let mut request = browser.http.get(browser.url(&address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        (status, headers, answer.bytes().await.unwrap())
    };

    let (status, headers, body) = get(&[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], &bytes[..]);
    let etag = format!("\"{}\"", md5_hex(&bytes));
    assert_eq!(headers["etag"], etag.as_str());
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"report _final__ __.pdf\"; \
         filename*=UTF-8''report%20%22final%22%3B%20%E6%8A%A5%E5%91%8A%2Epdf"
    );

    let (status, headers, body) = get(&[("range", "bytes=100-199")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers["content-range"], "bytes 100-199/1000");
    assert_eq!(&body[..], &bytes[100..200]);
    let (status, _, body) = get(&[("range", "bytes=-10")]).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &bytes[990..])
    );
    let (status, headers, body) = get(&[("range", "bytes=1000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */1000");
    assert!(body.is_empty());
    // Malformed, several, or overlapping ranges: ignored, the whole content once.
    for ignored in [
        "bytes=oops",
        "bytes=0-1,0-1,0-1,0-1",
        "bytes=0-999,1-999,2-999",
        "bytes=9-3",
    ] {
        let (status, _, body) = get(&[("range", ignored)]).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 1000), "{ignored}");
    }

    let (status, _, body) = get(&[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (status, _, _) = get(&[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(
        status,
        StatusCode::PARTIAL_CONTENT,
        "same content: the range"
    );
    let (status, _, body) = get(&[("range", "bytes=0-9"), ("if-range", "\"stale\"")]).await;
    assert_eq!(
        (status, body.len()),
        (StatusCode::OK, 1000),
        "changed content: everything"
    );
    let (status, _, body) = get(&[
        ("range", "bytes=0-9"),
        ("if-range", "Sat, 01 Jan 2000 00:00:00 GMT"),
    ])
    .await;
    assert_eq!(
        (status, body.len()),
        (StatusCode::OK, 1000),
        "a date never matches"
    );

    let head = browser
        .http
        .head(browser.url(&address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "1000");
    assert!(head.bytes().await.unwrap().is_empty());
    Ok(())
}

/// Reads one HTTP/1.1 answer with a `Content-Length` from `reader`: status and body, the body
/// 64 KiB at a time with `pause` after each piece.
async fn read_answer(
    reader: &mut BufReader<tokio::net::TcpStream>,
    pause: std::time::Duration,
) -> (u16, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    for piece in body.chunks_mut(64 * 1024) {
        reader.read_exact(piece).await.unwrap();
        tokio::time::sleep(pause).await;
    }
    (code, body)
}

async fn large_files_and_pipelined_answers_arrive_byte_for_byte(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    // Larger than the door's largest single send (2 MiB), and not a multiple of it.
    let bytes = content(5 * 1024 * 1024 + 7, 3);
    let id = web.file("alice", "big.bin", &bytes).await;
    let small = content(3000, 4);
    let other = web.file("alice", "small.bin", &small).await;
    let browser = web.logged_in_again("alice").await;
    let whole = browser.get(&format!("/files/{id}/content")).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let body = whole.bytes().await.unwrap();
    assert_eq!(body.len(), bytes.len());
    assert!(body[..] == bytes[..], "the whole file, exact");

    // Four requests in one write on one connection: file answers and an ordinary one between
    // them come back in order, each with its own bytes.
    let token = web.token("alice").await;
    let request = |path: String, range: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n{range}\r\n",
            web.addr
        )
    };
    let pipelined = [
        request(
            format!("/files/{id}/content"),
            "Range: bytes=3000000-4999999\r\n",
        ),
        request("/api/files".to_owned(), ""),
        request(format!("/files/{other}/content"), "Range: bytes=-1000\r\n"),
        request(format!("/files/{id}/content"), "Range: bytes=10-19\r\n"),
    ]
    .concat();
    let stream = tokio::net::TcpStream::connect(web.addr).await.unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(pipelined.as_bytes())
        .await
        .unwrap();
    let (status, body) = read_answer(&mut reader, Duration::ZERO).await;
    assert_eq!(status, 206);
    assert!(body[..] == bytes[3_000_000..5_000_000], "the first range");
    let (status, body) = read_answer(&mut reader, Duration::ZERO).await;
    assert_eq!(status, 200);
    let listed = String::from_utf8(body).unwrap();
    assert!(
        listed.contains("\"big.bin\"") && listed.contains("\"small.bin\""),
        "{listed}"
    );
    let (status, body) = read_answer(&mut reader, Duration::ZERO).await;
    assert_eq!((status, &body[..]), (206, &small[2000..]));
    let (status, body) = read_answer(&mut reader, Duration::ZERO).await;
    assert_eq!((status, &body[..]), (206, &bytes[10..20]));

    // A slow reader: the socket's buffer fills, sends come up short and wait for it to drain.
    let slow = request(format!("/files/{id}/content"), "");
    reader.get_mut().write_all(slow.as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut reader, Duration::from_millis(2)).await;
    assert_eq!(status, 200);
    assert!(body[..] == bytes[..], "the whole file, read slowly, exact");
    Ok(())
}

async fn nobody_reads_or_deletes_anothers_file(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let id = web.file("alice", "diary.txt", b"dear diary").await;
    let bob = web.logged_in("bob", UserType::User).await;
    assert_eq!(bob.get(&format!("/files/{id}/content")).await.status(), 404);
    assert_eq!(
        bob.form(&format!("/files/{id}/delete"), &[]).await.status(),
        404
    );
    let api = bob
        .http
        .delete(bob.url(&format!("/api/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    assert!(!bob.page("/files").await.contains("diary.txt"));
    let alice = web.logged_in_again("alice").await;
    assert!(
        alice.page("/files").await.contains("diary.txt"),
        "still there"
    );
    let read = alice.get(&format!("/files/{id}/content")).await;
    assert_eq!(&read.bytes().await.unwrap()[..], b"dear diary");
    let deleted = alice.form(&format!("/files/{id}/delete"), &[]).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        alice.get(&format!("/files/{id}/content")).await.status(),
        404
    );
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    ranges_and_conditions_are_answered_as_http_says,
    large_files_and_pipelined_answers_arrive_byte_for_byte,
    nobody_reads_or_deletes_anothers_file,
);
