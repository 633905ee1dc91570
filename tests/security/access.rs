//! No way in to what is not one's own: another person's files and download records (by id or by
//! name, on either door), an admin's requests from a user and a user's from an admin; the
//! refused requests change nothing.

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::UserFile;
use serde_json::{Value, json};

use crate::scenarios::{
    Targets, assert_all_refused, content, download, file, movie, session_requests,
};
use crate::support::{TestServer, api as netdisk, md5_hex};
use crate::{Result, state};

/// The requests of `requests` whose type is one of `types`.
fn only(requests: Vec<(Value, Vec<u8>)>, types: &[&str]) -> Vec<(Value, Vec<u8>)> {
    let kept: Vec<_> = requests
        .into_iter()
        .filter(|(r, _)| types.contains(&r["type"].as_str().unwrap()))
        .collect();
    assert_eq!(kept.len(), types.len(), "every type of {types:?} is known");
    kept
}

async fn no_one_reaches_another_persons_files_records_or_admin_requests(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let mut admin = server.youku().await;
    let root = admin.login_as("root", "admin").await;
    let movie_id = movie(&mut admin, &root, "film.mp4", &content(4000, 3)).await;
    let mut alice = server.youku().await;
    let a = alice.login_as("alice", "user").await;
    let mut bob = server.youku().await;
    let b = bob.login_as("bob", "user").await;

    let secret = content(2500, 4);
    let alices_file = file(&mut alice, &a, "secret.txt", &secret).await;
    let bobs_file = file(&mut bob, &b, "own.txt", &content(10, 5)).await;
    for (c, s, times) in [(&mut alice, &a, 2), (&mut bob, &b, 1)] {
        for _ in 0..times {
            let request = json!({"type": "download_movie", "session": s, "movie_id": movie_id});
            assert_eq!(download(c, request).await.0["flag"], true);
        }
    }

    // The Youku door: Bob with Alice's file id.
    for offset in [None, Some(0), Some(100)] {
        let mut request = json!({"type": "download_file", "session": b, "file_id": alices_file});
        if let Some(offset) = offset {
            request["offset"] = offset.into();
        }
        let (head, bytes) = download(&mut bob, request).await;
        assert_eq!(head["code"], "not_found", "offset {offset:?}: {head}");
        assert!(bytes.is_empty());
    }
    let delete = bob
        .call(json!({"type": "delete_file", "session": b, "file_id": alices_file}))
        .await;
    assert_eq!(delete["code"], "not_found", "{delete}");
    let listed = bob.call(json!({"type": "list_files", "session": b})).await;
    let ids: Vec<&Value> = listed["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["file_id"])
        .collect();
    assert_eq!(ids, [&json!(bobs_file)], "Bob lists his own file only");
    let records = bob
        .call(json!({"type": "check_download_record", "session": b}))
        .await;
    assert_eq!(
        records["record_list"].as_array().unwrap().len(),
        1,
        "Bob sees his one download, not Alice's two: {records}"
    );

    // The netdisk door: Bob logged in, naming Alice or her file.
    let mut door = server.netdisk_client().await;
    let stranger = door
        .call(netdisk("check", json!({"username": "alice"})))
        .await;
    assert_eq!(stranger["code"], 3, "not logged in: {stranger}");
    let bob_login = door
        .call(netdisk(
            "login",
            json!({"username": "bob", "password": md5_hex(b"bob")}),
        ))
        .await;
    assert_eq!(bob_login["code"], 1, "{bob_login}");
    let as_alice = [
        netdisk("check", json!({"username": "alice"})),
        netdisk(
            "download",
            json!({"username": "alice", "file_name": "secret.txt", "file_size": secret.len()}),
        ),
        netdisk(
            "upload",
            json!({"username": "alice", "file_name": "planted.txt", "file_size": 3}),
        ),
    ];
    for request in as_alice {
        let answer = door.call(request.clone()).await;
        assert_eq!(answer["code"], 3, "{request} as Bob: {answer}");
    }
    let by_name = door
        .call(netdisk(
            "download",
            json!({"username": "bob", "file_name": "secret.txt", "file_size": secret.len()}),
        ))
        .await;
    assert_eq!(
        by_name["code"], 4,
        "Alice's file name in Bob's store: {by_name}"
    );
    let own = door
        .call(netdisk("check", json!({"username": "bob"})))
        .await;
    assert_eq!(
        own["data"],
        json!([{"name": "own.txt", "size": 10}]),
        "{own}"
    );

    // Admin requests from a user, and user requests from an admin: forbidden, nothing changed.
    let before = state(t).await?;
    let stored = server.stored_files();
    let targets = Targets {
        movie_id,
        file_id: bobs_file,
    };
    let admin_only = [
        "check_movie",
        "upload_movie",
        "delete_movie",
        "release_notice",
    ];
    assert_all_refused(
        &mut bob,
        only(session_requests(&b, targets), &admin_only),
        "forbidden",
        "an admin request from a user",
    )
    .await;
    let user_only = ["buy_vip", "download_movie", "check_download_record"];
    assert_all_refused(
        &mut admin,
        only(session_requests(&root, targets), &user_only),
        "forbidden",
        "a user request from an admin",
    )
    .await;
    assert_eq!(
        state(t).await?,
        before,
        "the refused requests changed nothing"
    );
    assert_eq!(server.stored_files(), stored, "no bytes were stored");

    // Alice's file is intact, and still only hers.
    let (head, bytes) = download(
        &mut alice,
        json!({"type": "download_file", "session": a, "file_id": alices_file}),
    )
    .await;
    assert_eq!(head["flag"], true, "{head}");
    assert!(bytes == secret, "Alice's file is intact");
    assert_eq!(
        UserFile::query().count(&t.db).await?,
        2,
        "nothing planted in anyone's store"
    );
    Ok(())
}

backend_tests!(no_one_reaches_another_persons_files_records_or_admin_requests);
