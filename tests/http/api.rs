//! The JSON API as a script uses it: a bearer token from `POST /api/login`, every route once,
//! the error shape; an idle resumable upload expires with its bytes; and a shutdown ends the
//! live notice streams instead of waiting on them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use netdisk_core::clock::ManualClock;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::scenarios::content;
use crate::web::Web;
use crate::{EPOCH, Result};

/// Calls the API as a script: `(status, JSON body)`.
async fn call(
    web: &Web,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new()
        .request(method, web.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn every_api_route_answers_a_script_with_a_bearer_token(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("admin", UserType::Admin).await;
    let signup = web
        .script()
        .post(web.url("/api/signup"))
        .json(&json!({"name": "alice", "password": "alice-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let wrong = web
        .script()
        .post(web.url("/api/login"))
        .json(&json!({"name": "alice", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "not_logged_in", "message": "wrong name, password or account type"})
    );

    let admin = web.token("admin").await;
    let alice = web.token("alice").await;
    let (status, me) = call(&web, &alice, Method::GET, "/api/me", None).await;
    assert_eq!(
        (status, me["username"].clone(), me["is_vip"].clone()),
        (StatusCode::OK, json!("alice"), json!(false))
    );

    let free = web
        .movie("admin", "free sunset", &content(1000, 1), true)
        .await;
    let charged = web
        .movie("admin", "charged", &content(1000, 2), false)
        .await;
    let (_, listed) = call(
        &web,
        &alice,
        Method::GET,
        "/api/movies?kind=free&q=sun",
        None,
    )
    .await;
    assert_eq!(
        listed,
        json!({"movies": [{"id": free, "name": "free sunset", "is_free": true}], "total": 1})
    );
    let (status, _) = call(&web, &alice, Method::GET, "/api/movies?kind=odd", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, movie) = call(
        &web,
        &alice,
        Method::GET,
        &format!("/api/movies/{charged}"),
        None,
    )
    .await;
    assert_eq!(
        (movie["price"].clone(), movie["size"].clone()),
        (json!(10), json!(1000))
    );
    let (status, vip) = call(&web, &alice, Method::POST, "/api/vip", None).await;
    assert_eq!((status, vip), (StatusCode::OK, json!({"is_vip": true})));

    let (status, viewing) = call(
        &web,
        &alice,
        Method::POST,
        &format!("/api/movies/{charged}/viewings"),
        None,
    )
    .await;
    assert_eq!(
        (status, viewing["price"].clone()),
        (StatusCode::CREATED, json!(5))
    );
    let saved = Client::new()
        .get(web.url(&format!(
            "{}?download=1",
            viewing["content"].as_str().unwrap()
        )))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(
        saved.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(saved.bytes().await.unwrap().len(), 1000);
    let (_, records) = call(&web, &alice, Method::GET, "/api/records", None).await;
    assert_eq!(
        (records[0]["movie"].clone(), records[0]["price"].clone()),
        (json!("charged"), json!(5))
    );

    let (status, _) = call(
        &web,
        &alice,
        Method::POST,
        "/api/notices",
        Some(json!({"title": "t", "content": "c"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &web,
        &admin,
        Method::POST,
        "/api/notices",
        Some(json!({"title": "Hello", "content": "world"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, notices) = call(&web, &alice, Method::GET, "/api/notices", None).await;
    assert_eq!(
        (notices[0]["title"].clone(), notices[0]["content"].clone()),
        (json!("Hello"), json!("world"))
    );

    let file = web.file("alice", "a.txt", b"abc").await;
    let (_, files) = call(&web, &alice, Method::GET, "/api/files", None).await;
    assert_eq!(
        (files[0]["id"].clone(), files[0]["content"].clone()),
        (json!(file), json!(format!("/files/{file}/content")))
    );
    let (status, _) = call(
        &web,
        &alice,
        Method::DELETE,
        &format!("/api/files/{file}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &web,
        &admin,
        Method::DELETE,
        &format!("/api/movies/{free}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = call(
        &web,
        &alice,
        Method::GET,
        &format!("/api/movies/{free}"),
        None,
    )
    .await;
    assert_eq!(
        (status, gone["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );

    let (status, _) = call(&web, &alice, Method::POST, "/api/logout", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&web, &alice, Method::GET, "/api/me", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the token ended with the logout"
    );
    Ok(())
}

async fn an_idle_upload_expires_with_its_bytes(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |c| {
        c.upload_expiry_secs = 3600;
        c.session_idle_secs = 7200;
    })
    .await;
    web.account("alice", UserType::User).await;
    let alice = web.token("alice").await;
    let announce = json!({"kind": "file", "name": "left.bin", "size": 100});
    let (_, first) = call(&web, &alice, Method::POST, "/api/uploads", Some(announce)).await;
    let first = first["token"].as_str().unwrap().to_owned();
    let chunk = Client::new()
        .patch(web.url(&format!("/api/uploads/{first}")))
        .bearer_auth(&alice)
        .header("upload-offset", "0")
        .body(vec![7u8; 40])
        .send()
        .await
        .unwrap();
    assert_eq!(chunk.status(), 200);
    assert_eq!(web.staged_files(), 1);

    clock.advance(Duration::from_secs(3601));
    let announce = json!({"kind": "file", "name": "new.bin", "size": 10});
    let (status, _) = call(&web, &alice, Method::POST, "/api/uploads", Some(announce)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &web,
        &alice,
        Method::GET,
        &format!("/api/uploads/{first}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the idle upload is gone");
    assert_eq!(web.staged_files(), 0, "and so are its bytes");
    Ok(())
}

async fn a_shutdown_ends_live_streams_instead_of_waiting_for_them(t: &TestDb) -> Result {
    let mut web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    let alice = web.token("alice").await;
    let events = Client::new()
        .get(web.url("/notices/events"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let started = Instant::now();
    let finished = web.server.running.take().unwrap().shutdown().await;
    assert!(
        finished,
        "every connection finished within the grace period"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    drop(events);
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    every_api_route_answers_a_script_with_a_bearer_token,
    an_idle_upload_expires_with_its_bytes,
    a_shutdown_ends_live_streams_instead_of_waiting_for_them,
);
