//! What a hostile page or client tries: HTML and script in every name, title and notice;
//! cross-site and origin-less form posts; headers or a body sent one byte at a time; bodies
//! over a route's limit; path syntax in ids and names. Each is refused or made harmless, and
//! the server goes on serving.

use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Result;
use crate::web::Web;

const SCRIPT: &str = "<script>alert(1)</script>";
/// How the pages write it: as text (askama escapes `<` and `>` as numeric references).
const ESCAPED: &str = "&#60;script&#62;alert(1)&#60;";

async fn html_in_any_name_is_shown_as_text(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    web.movie("admin", &format!("{SCRIPT}.webm"), b"bytes", true)
        .await;
    let notice = admin
        .form(
            "/notices",
            &[
                ("title", SCRIPT),
                ("content", &format!("<img src=x onerror=alert(2)>{SCRIPT}")),
            ],
        )
        .await;
    assert_eq!(notice.status(), 303);
    let user_name = "<b onmouseover=x>eve";
    let eve = web.browser();
    let password = format!("{user_name}-pw");
    let signed_up = eve
        .form(
            "/signup",
            &[
                ("name", user_name),
                ("email", "eve@example.com"),
                ("password", &password),
                ("confirm", &password),
            ],
        )
        .await;
    assert_eq!(signed_up.status(), 303);
    web.file(user_name, &format!("{SCRIPT}.txt"), b"x").await;
    for page in [
        "/movies",
        "/movies?q=%3Cscript%3E",
        "/notices",
        "/files",
        "/movies/1",
    ] {
        let html = eve.page(page).await;
        assert!(
            !html.contains(SCRIPT) && !html.contains("<img src=x"),
            "{page} carries live markup"
        );
        assert!(
            !html.contains("<b onmouseover"),
            "{page} shows the name as markup"
        );
    }
    assert!(eve.page("/movies").await.contains(ESCAPED));
    assert!(eve.page("/notices").await.contains(ESCAPED));
    assert!(eve.page("/files").await.contains(ESCAPED));
    assert!(
        eve.page("/movies")
            .await
            .contains("&#60;b onmouseover=x&#62;eve")
    );
    let refused = eve
        .form("/login", &[("name", SCRIPT), ("password", "x")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !refused.contains(SCRIPT),
        "the login form echoes the name escaped"
    );
    Ok(())
}

async fn cross_site_and_origin_less_writes_are_refused(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let browser = web.logged_in_again("alice").await;
    let cookie = format!("netdisk_session={}", web.token("alice").await);
    let post = |origin: Option<&'static str>, fetch_site: Option<&'static str>| {
        let mut request = web
            .script()
            .post(web.url("/vip"))
            .header("cookie", cookie.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    assert_eq!(
        post(Some("http://evil.example"), None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(None, None).await.unwrap().status(),
        403,
        "no origin at all"
    );
    assert_eq!(post(None, Some("cross-site")).await.unwrap().status(), 403);
    assert!(
        !browser.page("/movies").await.contains("badge vip"),
        "nothing happened"
    );
    assert_eq!(post(None, Some("same-origin")).await.unwrap().status(), 303);
    assert!(browser.page("/movies").await.contains("badge vip"));
    let login = web
        .script()
        .post(web.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[("name", "alice"), ("password", "alice-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403, "no login from another site either");

    // A script with a bearer token carries no ambient credential: no origin needed.
    let token = web.token("alice").await;
    let api = web
        .script()
        .post(web.url("/api/vip"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    Ok(())
}

/// Sends `bytes` one at a time, `gap` apart, until the server closes; how long that took.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> (Duration, String) {
    let started = Instant::now();
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    (
        started.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

async fn slow_headers_and_slow_bodies_time_out(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.server.frame_timeout_secs = 1).await;
    let head =
        b"GET /login HTTP/1.1\r\nHost: x\r\nUser-Agent: slow-loris-slow-loris-slow-loris\r\n\r\n";
    let mut slow = TcpStream::connect(web.addr).await.unwrap();
    let (took, _) = trickle(&mut slow, head, Duration::from_millis(200)).await;
    assert!(
        took < Duration::from_secs(15),
        "headers one byte at a time were cut off after {took:?}"
    );

    let body = "name=alice&password=secret".repeat(4);
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nOrigin: http://{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        web.addr,
        web.addr,
        body.len()
    );
    let mut slow = TcpStream::connect(web.addr).await.unwrap();
    slow.write_all(request.as_bytes()).await.unwrap();
    let (took, answer) = trickle(&mut slow, body.as_bytes(), Duration::from_millis(200)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took < Duration::from_secs(15),
        "a body one byte at a time was cut off after {took:?}"
    );
    assert_eq!(
        web.browser().get("/login").await.status(),
        200,
        "the server goes on"
    );
    Ok(())
}

async fn bodies_over_a_routes_limit_are_refused(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let browser = web.logged_in_again("alice").await;
    let huge = "x".repeat(100 * 1024);
    let form = browser
        .form("/login", &[("name", &huge), ("password", "x")])
        .await;
    assert_eq!(form.status(), 413);
    let api = browser
        .post_json(
            "/api/uploads",
            &json!({"kind": "file", "name": huge, "size": 1}),
        )
        .await;
    assert_eq!(api.status(), 413);
    assert_eq!(
        browser.get("/movies").await.status(),
        200,
        "the session still works"
    );
    Ok(())
}

async fn path_syntax_in_ids_and_names_goes_nowhere(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let browser = web.logged_in_again("alice").await;
    for path in [
        "/files/..%2F..%2Fnetdisk.db/content",
        "/files/-1/content",
        "/files/1%20OR%201=1/content",
        "/viewings/..%2F..%2Fetc%2Fpasswd/content",
        "/viewings/00000000000000000000000000000000/content",
        "/assets/..%2Fapp.css",
        "/assets/%2E%2E/Cargo.toml",
        "/api/uploads/..%2F1",
    ] {
        let status = browser.get(path).await.status().as_u16();
        assert!(matches!(status, 400 | 404), "{path}: {status}");
    }
    let id = web.file("alice", "../../etc/passwd", b"just text").await;
    let read = browser.get(&format!("/files/{id}/content")).await;
    assert_eq!(
        read.headers()["content-disposition"],
        "attachment; filename=\".._.._etc_passwd\"; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"
    );
    assert_eq!(&read.bytes().await.unwrap()[..], b"just text");
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    html_in_any_name_is_shown_as_text,
    cross_site_and_origin_less_writes_are_refused,
    slow_headers_and_slow_bodies_time_out,
    bodies_over_a_routes_limit_are_refused,
    path_syntax_in_ids_and_names_goes_nowhere,
);
