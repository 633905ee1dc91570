//! The layout on disk: paths not made by `Storage::blob_path` are refused by every method;
//! blobs are listed and removed; opening creates the directories; a missing blob is not found.

use std::io::ErrorKind;

use super::*;
use crate::storage::StorageError;

#[tokio::test]
async fn paths_not_made_by_blob_path_are_rejected() {
    let (dir, storage) = store().await;
    // Something a traversal could reach.
    std::fs::write(dir.path().join("x"), b"secret").unwrap();
    let sha = HELLO_SHA256;
    let bad = [
        "../x".to_owned(),
        "/etc/passwd".to_owned(),
        "blobs/../../x".to_owned(),
        String::new(),
        "blobs".to_owned(),
        "blobs/".to_owned(),
        format!("blobs/b9/{sha}"),
        format!("blobs/b9/{sha}-"),
        format!("blobs/b9/{sha}-+1"),
        format!("blobs/b9/{sha}-01"),
        format!("blobs/b9/{sha}-1/"),
        format!("blobs/b9/{sha}-1/.."),
        format!("blobs/00/{sha}-1"),
        format!("blobs//{sha}-1"),
        format!("/blobs/b9/{sha}-1"),
        format!("./blobs/b9/{sha}-1"),
        format!("blobs\\b9\\{sha}-1"),
        format!("blobs/B9/{}-1", sha.to_ascii_uppercase()),
        format!("blobs/b9/{}-1", &sha[..63]),
        format!("blobs/b9/{sha}0-1"),
        format!("blobs/b9/{sha}-99999999999999999999"),
        "blobs/zz/zz00000000000000000000000000000000000000000000000000000000000000-1".to_owned(),
        "blobs/é/é".to_owned(),
    ];
    for rel in &bad {
        for result in [
            storage.open_blob(rel, 0).await.map(|_| ()),
            storage.open_blob_for_ranges(rel).map(|_| ()),
            storage.remove_blob(rel).await,
            storage.blob_exists(rel).await.map(|_| ()),
        ] {
            match result {
                Err(StorageError::InvalidPath(p)) => assert_eq!(&p, rel),
                other => panic!("{rel:?}: expected InvalidPath, got {other:?}"),
            }
        }
    }
    assert!(dir.path().join("x").exists());

    // persist refuses them too, and the temporary goes away.
    let received = storage
        .receive(&mut &HELLO[..], 11, None, LIMIT)
        .await
        .unwrap();
    match received.persist(&storage, "../x").await {
        Err(StorageError::InvalidPath(p)) => assert_eq!(p, "../x"),
        other => panic!("expected InvalidPath, got {other:?}"),
    }
    assert_clean(&storage);
    assert_eq!(std::fs::read(dir.path().join("x")).unwrap(), b"secret");

    // Whatever blob_path makes is accepted, including odd ids.
    for id in [0, 1, -1, i64::MAX, i64::MIN] {
        let rel = Storage::blob_path(sha, id);
        assert!(!storage.blob_exists(&rel).await.unwrap(), "{rel}");
    }
    assert_eq!(
        Storage::blob_path(&sha.to_ascii_uppercase(), 3),
        Storage::blob_path(sha, 3)
    );
}

#[tokio::test]
async fn remove_and_list_blobs() {
    let (_dir, storage) = store().await;
    let missing = Storage::blob_path(HELLO_SHA256, 1);
    storage.remove_blob(&missing).await.unwrap();
    assert!(storage.list_blobs().await.unwrap().is_empty());

    let mut expected = Vec::new();
    for (content, id) in [(&b"one"[..], 1), (b"two", 2), (b"one", 3)] {
        let received = storage
            .receive(&mut &content[..], content.len() as u64, None, LIMIT)
            .await
            .unwrap();
        let rel = Storage::blob_path(&received.sha256, id);
        received.persist(&storage, &rel).await.unwrap();
        expected.push(rel);
    }
    // Stray files are not blobs.
    std::fs::write(storage.root().join("blobs").join("stray"), b"?").unwrap();
    std::fs::write(
        storage
            .root()
            .join("blobs")
            .join(&expected[0][6..8])
            .join("junk"),
        b"?",
    )
    .unwrap();
    expected.sort();
    assert_eq!(storage.list_blobs().await.unwrap(), expected);

    storage.remove_blob(&expected[0]).await.unwrap();
    assert!(!storage.blob_exists(&expected[0]).await.unwrap());
    storage.remove_blob(&expected[0]).await.unwrap();
    assert_eq!(storage.list_blobs().await.unwrap(), expected[1..]);
}

#[tokio::test]
async fn open_creates_the_layout_and_missing_blobs_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a").join("b");
    let storage = Storage::open(&root).await.unwrap();
    assert_eq!(storage.root(), root);
    assert!(root.join("tmp").is_dir());
    assert!(root.join("blobs").is_dir());
    // Opening again is fine.
    Storage::open(&root).await.unwrap();
    let missing = Storage::blob_path(HELLO_SHA256, 1);
    match storage.open_blob(&missing, 0).await {
        Err(StorageError::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match storage.open_blob_for_ranges(&missing) {
        Err(StorageError::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
}
