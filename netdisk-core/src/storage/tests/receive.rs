//! Receiving and persisting (steps 1 to 5): a good upload is verified, persisted and readable
//! from an offset; a wrong MD5, a failing or short reader, a size over the limit, a drop or a
//! cancellation leave nothing behind; exactly the declared bytes are read; leftovers of a crash
//! are swept; persisting over an existing blob replaces it.

use std::io::ErrorKind;

use sha2::{Digest, Sha256};

use super::*;
use crate::storage::StorageError;
use crate::storage::hashing::BUFFERS;
use crate::storage::receive::BUF_SIZE;

#[tokio::test]
async fn good_upload_is_verified_persisted_and_readable_from_an_offset() {
    let (_dir, storage) = store().await;
    let mut reader = HELLO;
    let received = storage
        .receive(&mut reader, HELLO.len() as u64, Some(HELLO_MD5), LIMIT)
        .await
        .unwrap();
    assert_eq!(received.size, 11);
    assert_eq!(received.md5, HELLO_MD5);
    assert_eq!(received.sha256, HELLO_SHA256);
    let temp = received.temp.clone().unwrap();
    assert!(temp.starts_with(storage.root().join("tmp")));
    assert_eq!(temp.extension().unwrap(), "part");
    assert_eq!(std::fs::read(&temp).unwrap(), HELLO);

    let rel = Storage::blob_path(&received.sha256, 7);
    assert_eq!(rel, format!("blobs/b9/{HELLO_SHA256}-7"));
    received.persist(&storage, &rel).await.unwrap();
    assert!(!temp.exists());
    assert_eq!(entries(&storage, "tmp"), Vec::<String>::new());
    assert!(storage.blob_exists(&rel).await.unwrap());
    assert_eq!(
        std::fs::read(
            storage
                .root()
                .join("blobs")
                .join("b9")
                .join(format!("{HELLO_SHA256}-7"))
        )
        .unwrap(),
        HELLO
    );

    let (mut file, remaining) = storage.open_blob(&rel, 0).await.unwrap();
    assert_eq!(remaining, 11);
    assert_eq!(read_all(&mut file).await, b"hello world");

    let (mut file, remaining) = storage.open_blob(&rel, 6).await.unwrap();
    assert_eq!(remaining, 5);
    assert_eq!(read_all(&mut file).await, b"world");

    let (mut file, remaining) = storage.open_blob(&rel, 11).await.unwrap();
    assert_eq!(remaining, 0);
    assert_eq!(read_all(&mut file).await, b"");

    match storage.open_blob(&rel, 12).await {
        Err(StorageError::Io(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn declared_md5_is_compared_case_insensitively_and_is_optional() {
    let (_dir, storage) = store().await;
    let upper = HELLO_MD5.to_ascii_uppercase();
    let received = storage
        .receive(&mut &HELLO[..], 11, Some(&upper), LIMIT)
        .await
        .unwrap();
    assert_eq!(received.md5, HELLO_MD5);
    let received = storage
        .receive(&mut &HELLO[..], 11, None, LIMIT)
        .await
        .unwrap();
    assert_eq!(received.sha256, HELLO_SHA256);
}

#[tokio::test]
async fn md5_mismatch_is_an_integrity_error_and_leaves_nothing() {
    let (_dir, storage) = store().await;
    let wrong = "00000000000000000000000000000000";
    let err = storage
        .receive(&mut &HELLO[..], 11, Some(wrong), LIMIT)
        .await
        .unwrap_err();
    match err {
        StorageError::Integrity { expected, actual } => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, HELLO_MD5);
        }
        other => panic!("expected Integrity, got {other:?}"),
    }
    assert_clean(&storage);
    assert!(storage.list_blobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn reader_failing_half_way_is_an_io_error_and_leaves_nothing() {
    let (_dir, storage) = store().await;
    let mut reader = ChunkedReader::new(vec![b'x'; 100_000], 10_000);
    reader.error = Some(ErrorKind::ConnectionReset);
    let err = storage
        .receive(&mut reader, 200_000, None, LIMIT)
        .await
        .unwrap_err();
    match err {
        StorageError::Io(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(reader.pos, 100_000, "the failure came after some bytes");
    assert_clean(&storage);
}

#[tokio::test]
async fn reader_ending_early_is_incomplete_and_leaves_nothing() {
    let (_dir, storage) = store().await;
    let mut reader = ChunkedReader::new(vec![b'y'; 70_000], 30_000);
    let err = storage
        .receive(&mut reader, 100_000, None, LIMIT)
        .await
        .unwrap_err();
    match err {
        StorageError::Incomplete { expected, received } => {
            assert_eq!(expected, 100_000);
            assert_eq!(received, 70_000);
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    assert_clean(&storage);
}

#[tokio::test]
async fn too_large_is_refused_without_polling_the_reader() {
    let (_dir, storage) = store().await;
    let polled = Arc::new(AtomicBool::new(false));
    let mut reader = TrippedReader(polled.clone());
    let err = storage
        .receive(&mut reader, 1001, None, 1000)
        .await
        .unwrap_err();
    match err {
        StorageError::TooLarge { size, limit } => {
            assert_eq!((size, limit), (1001, 1000));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(!polled.load(Ordering::SeqCst), "the reader was polled");
    assert_clean(&storage);

    // Nothing is created either: without <root>/tmp, creating a temporary would be an Io
    // error, not TooLarge.
    std::fs::remove_dir(storage.root().join("tmp")).unwrap();
    let err = storage
        .receive(&mut reader, u64::MAX, None, 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::TooLarge { .. }), "{err:?}");
    assert!(!polled.load(Ordering::SeqCst), "the reader was polled");
    assert!(!storage.root().join("tmp").exists());
    std::fs::create_dir(storage.root().join("tmp")).unwrap();

    // Exactly at the limit is fine.
    let received = storage
        .receive(&mut &HELLO[..], 11, None, 11)
        .await
        .unwrap();
    assert_eq!(received.size, 11);
}

#[tokio::test]
async fn receive_stops_at_size_and_leaves_the_rest_in_the_reader() {
    let (_dir, storage) = store().await;
    // Larger than the buffer so the last read has to be shortened.
    let mut data: Vec<u8> = (0..BUF_SIZE as u32 + 100)
        .map(|i| (i % 251) as u8)
        .collect();
    let size = data.len() as u64;
    data.extend_from_slice(b"EXTRA");
    let mut reader = &data[..];
    let received = storage
        .receive(&mut reader, size, None, LIMIT)
        .await
        .unwrap();
    assert_eq!(received.size, size);
    assert_eq!(
        received.sha256,
        hex::encode(Sha256::digest(&data[..size as usize]))
    );
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"EXTRA");

    // A zero-byte upload reads nothing at all.
    let mut reader = &b"abc"[..];
    let received = storage.receive(&mut reader, 0, None, LIMIT).await.unwrap();
    assert_eq!(received.md5, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(reader, b"abc");
}

#[tokio::test]
async fn dropping_received_without_persist_removes_the_temporary() {
    let (_dir, storage) = store().await;
    let received = storage
        .receive(&mut &HELLO[..], 11, None, LIMIT)
        .await
        .unwrap();
    let temp = received.temp.clone().unwrap();
    assert!(temp.is_file());
    assert_eq!(entries(&storage, "tmp").len(), 1);
    drop(received);
    assert!(!temp.exists());
    assert_clean(&storage);
}

#[tokio::test]
async fn cancelled_receive_removes_the_temporary() {
    let (_dir, storage) = store().await;
    let mut reader = StalledReader;
    let result = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        storage.receive(&mut reader, 10, None, LIMIT),
    )
    .await;
    assert!(result.is_err(), "the receive should have timed out");
    assert_clean(&storage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_dropped_half_way_removes_the_temporary() {
    let (_dir, storage) = store().await;
    let stalled = Arc::new(tokio::sync::Notify::new());
    // Enough for every buffer to be filled, written and handed to the hashing threads.
    let mut reader = StallingReader {
        data: vec![b'z'; 3 * BUFFERS * BUF_SIZE + 123],
        pos: 0,
        chunk: 50_000,
        stalled: stalled.clone(),
    };
    tokio::select! {
        result = storage.receive(&mut reader, 1 << 30, None, LIMIT) => {
            panic!("the receive should have stalled, got {result:?}");
        }
        () = stalled.notified() => {}
    }
    assert_eq!(reader.pos, reader.data.len());
    assert_clean(&storage);
}

#[tokio::test]
async fn sweep_temporaries_removes_leftover_parts_only() {
    let (_dir, storage) = store().await;
    let tmp = storage.root().join("tmp");
    for name in ["a.part", "b.part", "c.part"] {
        std::fs::write(tmp.join(name), b"leftover").unwrap();
    }
    std::fs::write(tmp.join("keep.txt"), b"not ours").unwrap();
    assert_eq!(storage.sweep_temporaries().await.unwrap(), 3);
    assert_eq!(entries(&storage, "tmp"), vec!["keep.txt".to_owned()]);
    assert_eq!(storage.sweep_temporaries().await.unwrap(), 0);
}

#[tokio::test]
async fn persisting_over_an_existing_blob_replaces_it() {
    let (_dir, storage) = store().await;
    let rel = Storage::blob_path(HELLO_SHA256, 5);
    for _ in 0..2 {
        let received = storage
            .receive(&mut &HELLO[..], 11, None, LIMIT)
            .await
            .unwrap();
        received.persist(&storage, &rel).await.unwrap();
    }
    assert_eq!(storage.list_blobs().await.unwrap(), vec![rel.clone()]);
    assert_eq!(entries(&storage, "tmp"), Vec::<String>::new());
    let (mut file, remaining) = storage.open_blob(&rel, 0).await.unwrap();
    assert_eq!(remaining, 11);
    assert_eq!(read_all(&mut file).await, HELLO);
}
