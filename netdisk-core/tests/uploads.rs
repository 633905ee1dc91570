//! Resumable uploads through the service: progress survives a restart, and start-up removes
//! staged bytes that no upload owns (a crash between removing an upload and its bytes). On
//! every backend.

mod support;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::{Appended, NewUpload, UploadKind};
use support::env;

type Result = mini_orm::Result<()>;

async fn a_restart_keeps_uploads_and_removes_orphaned_bytes(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let uploads = env.netdisk.uploads();
    let upload = NewUpload {
        kind: UploadKind::File,
        name: "half.bin",
        size: 10,
        md5: None,
    };
    let started = uploads.begin(&alice, upload).await.unwrap();
    let appended = uploads
        .append(&alice, &started.token, 0, b"hello")
        .await
        .unwrap();
    assert!(matches!(appended, Appended::Partial(ref p) if p.received == 5));
    let storage = env.netdisk.storage();
    storage.append_staged(987_654, 0, b"orphan").await.unwrap();
    assert_eq!(storage.staged_ids().await.unwrap().len(), 2);

    let restarted = env.reopen().await;
    let ids = restarted.storage().staged_ids().await.unwrap();
    assert_eq!(
        ids.len(),
        1,
        "the orphan is gone, the upload's bytes stay: {ids:?}"
    );
    let uploads = restarted.uploads();
    assert_eq!(
        uploads
            .status(&alice, &started.token)
            .await
            .unwrap()
            .received,
        5
    );
    let done = uploads
        .append(&alice, &started.token, 5, b"world")
        .await
        .unwrap();
    let Appended::Complete(id) = done else {
        panic!("not complete: {done:?}");
    };
    let (file, _) = restarted.files().content(&alice, id).await.unwrap();
    assert_eq!((file.name.as_str(), file.size), ("half.bin", 10));
    assert!(restarted.storage().staged_ids().await.unwrap().is_empty());
    Ok(())
}

backend_tests!(a_restart_keeps_uploads_and_removes_orphaned_bytes);
