//! Personal files: owner-only access, shared content stored once, nothing left behind, and
//! start-up's storage checks. On every backend.

mod support;

use std::time::{Duration, SystemTime};

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Blob, UserFile};
use netdisk_core::storage::Storage;
use netdisk_core::{Config, Netdisk};
use support::{env, md5_hex};
use tokio::io::AsyncReadExt;

type Result = mini_orm::Result<()>;

async fn read_all(download: &mut netdisk_core::FileDownload) -> Vec<u8> {
    let mut bytes = Vec::new();
    download.transfer.read_to_end(&mut bytes).await.unwrap();
    bytes
}

async fn files_are_reachable_by_their_owner_only(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let nd = &env.netdisk;
    let id = nd
        .files()
        .upload(
            &alice,
            "notes.txt",
            5,
            Some(&md5_hex(b"hello")),
            &mut &b"hello"[..],
        )
        .await
        .unwrap();
    assert_eq!(nd.files().list(&alice).await.unwrap().len(), 1);
    assert!(nd.files().list(&bob).await.unwrap().is_empty());
    assert_eq!(
        nd.files().download(&bob, id, 0).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        nd.files().delete(&bob, id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        nd.files().find(&bob, "notes.txt").await.unwrap_err().code(),
        "not_found"
    );
    let mut mine = nd.files().download(&alice, id, 0).await.unwrap();
    assert_eq!(read_all(&mut mine).await, b"hello");
    let mut tail = nd.files().download(&alice, id, 3).await.unwrap();
    assert_eq!(read_all(&mut tail).await, b"lo");
    Ok(())
}

async fn a_name_is_used_once_per_owner(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let nd = &env.netdisk;
    nd.files()
        .upload(&alice, "a.txt", 1, None, &mut &b"1"[..])
        .await
        .unwrap();
    let mut untouched: &[u8] = b"2";
    let error = nd
        .files()
        .upload(&alice, "a.txt", 1, None, &mut untouched)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "conflict");
    assert_eq!(untouched, b"2", "refused before reading");
    nd.files()
        .upload(&bob, "a.txt", 1, None, &mut &b"2"[..])
        .await
        .expect("another owner may use the name");
    Ok(())
}

async fn shared_content_is_stored_once_and_outlives_one_owner(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let nd = &env.netdisk;
    let content = b"the same holiday video".as_slice();
    let a = nd
        .files()
        .upload(
            &alice,
            "mine.mp4",
            content.len() as u64,
            None,
            &mut &content[..],
        )
        .await
        .unwrap();
    let b = nd
        .files()
        .upload(
            &bob,
            "also-mine.mp4",
            content.len() as u64,
            None,
            &mut &content[..],
        )
        .await
        .unwrap();
    assert_eq!(Blob::query().count(&t.db).await?, 1);
    assert_eq!(env.stored_files().len(), 1, "{:?}", env.stored_files());

    nd.files().delete(&alice, a).await.unwrap();
    let mut still = nd.files().download(&bob, b, 0).await.unwrap();
    assert_eq!(
        read_all(&mut still).await,
        content,
        "deleting one owner's file keeps the other's bytes"
    );
    nd.files().delete(&bob, b).await.unwrap();
    assert_eq!(Blob::query().count(&t.db).await?, 0);
    assert_eq!(
        env.stored_files(),
        Vec::<String>::new(),
        "the last reference took the bytes with it"
    );

    // The same content again makes a new generation.
    let c = nd
        .files()
        .upload(
            &alice,
            "again.mp4",
            content.len() as u64,
            None,
            &mut &content[..],
        )
        .await
        .unwrap();
    let mut again = nd.files().download(&alice, c, 0).await.unwrap();
    assert_eq!(read_all(&mut again).await, content);
    Ok(())
}

async fn a_bad_file_upload_leaves_nothing(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let nd = &env.netdisk;
    let error = nd
        .files()
        .upload(&alice, "x", 3, Some(&md5_hex(b"abd")), &mut &b"abc"[..])
        .await
        .unwrap_err();
    assert_eq!(error.code(), "integrity");
    let error = nd
        .files()
        .upload(&alice, "x", 10, None, &mut &b"abc"[..])
        .await
        .unwrap_err();
    assert_eq!(error.code(), "bad_request");
    for bad_name in ["", "a\u{0}b", &"n".repeat(256)] {
        assert_eq!(
            nd.files()
                .upload(&alice, bad_name, 1, None, &mut &b"1"[..])
                .await
                .unwrap_err()
                .code(),
            "bad_request"
        );
    }
    assert_eq!(UserFile::query().count(&t.db).await?, 0);
    assert_eq!(env.stored_files(), Vec::<String>::new());
    Ok(())
}

async fn start_up_sweeps_leftovers_and_reports_missing_files(t: &TestDb) -> Result {
    let env = env(t).await;
    let alice = env.user("alice").await;
    let nd = &env.netdisk;
    let kept = nd
        .files()
        .upload(&alice, "kept", 4, None, &mut &b"keep"[..])
        .await
        .unwrap();
    let lost = nd
        .files()
        .upload(&alice, "lost", 4, None, &mut &b"lost"[..])
        .await
        .unwrap();
    let root = env.dir.path();
    std::fs::write(root.join("tmp/crashed-upload.part"), b"partial").unwrap();
    let old_orphan = root.join(Storage::blob_path(&"0".repeat(64), 999));
    std::fs::create_dir_all(old_orphan.parent().unwrap()).unwrap();
    std::fs::write(&old_orphan, b"nobody refers to me").unwrap();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old_orphan)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let young_orphan = root.join(Storage::blob_path(&"0".repeat(64), 998));
    std::fs::write(&young_orphan, b"maybe another process is committing me").unwrap();
    let lost_blob = Blob::get(&t.db, UserFile::get(&t.db, lost).await?.blob_id).await?;
    std::fs::remove_file(root.join(Storage::blob_path(&lost_blob.sha256, lost_blob.id))).unwrap();

    let config = Config {
        data_dir: root.to_owned(),
        ..nd.config().clone()
    };
    let (restarted, report) = Netdisk::open_with(t.db.clone(), config, env.clock.clone())
        .await
        .unwrap();
    assert_eq!(report.temporaries_removed, 1);
    assert_eq!(report.orphans_removed, 1);
    assert_eq!(
        report.missing_files,
        [Storage::blob_path(&lost_blob.sha256, lost_blob.id)]
    );
    assert!(!old_orphan.exists() && young_orphan.exists());
    let mut download = restarted.files().download(&alice, kept, 0).await.unwrap();
    assert_eq!(read_all(&mut download).await, b"keep");
    Ok(())
}

backend_tests!(
    files_are_reachable_by_their_owner_only,
    a_name_is_used_once_per_owner,
    shared_content_is_stored_once_and_outlives_one_owner,
    a_bad_file_upload_leaves_nothing,
    start_up_sweeps_leftovers_and_reports_missing_files,
);

#[tokio::test]
async fn open_creates_the_data_directory_and_its_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let config = Config {
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    let (_netdisk, report) = Netdisk::open(config).await.unwrap();
    assert_eq!(report, netdisk_core::StartupReport::default());
    assert!(data_dir.join("netdisk.db").exists());
}
