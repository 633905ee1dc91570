//! A full disk: the data directory is a small tmpfs (8 MiB), mounted for the test.
//!
//! - An upload larger than the free space fails with a refusal (Youku: `code: internal`, the
//!   code `ServiceError` gives a full disk; netdisk: anything but success), on both protocols and
//!   every backend; it leaves no temporary file, no blob and no row; the connection stays usable,
//!   an upload stored before is intact, and a small upload afterwards succeeds.
//! - With the default SQLite database inside that data directory, filling the disk up entirely
//!   leaves reads working, every request answered (the test prints what register, login and an
//!   upload answer), and everything works again once space is freed, without a restart.
//!
//! Mounting needs root or `CAP_SYS_ADMIN`: without it the test fails and says so. There is no
//! long version.

#[path = "support/faults.rs"]
mod faults;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use faults::{OwnServer, door_login, upload_file, upload_movie, within};
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Movie, UserFile};
use serde_json::{Value, json};
use support::{Client, TestServer, api, door_upload, md5_hex};

type Result = mini_orm::Result<()>;

/// Size of the data directory's filesystem.
const DISK: &str = "8m";
/// More than the whole filesystem holds.
const TOO_BIG: usize = 12 << 20;
/// How long one request may take to be answered on a full disk (a hang is a bug).
const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// A tmpfs mounted on a directory; unmounted (and the mount point removed) when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of [`DISK`] on `path`, or fails saying what the test needs.
    fn mount(path: &Path) -> Tmpfs {
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("the `mount` command runs");
        assert!(
            output.status.success(),
            "the disk-full tests mount a small tmpfs and need root or CAP_SYS_ADMIN for it; \
             mount said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Tmpfs {
            path: path.to_owned(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a server task that outlived the test body may still hold files open.
        let unmounted = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            eprintln!("could not unmount {}", self.path.display());
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// `len` bytes that differ from those of another `salt`.
fn content(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ salt)
        .collect()
}

/// Asserts a Youku refusal with `code`.
fn assert_refused(what: &str, answer: &Value, code: &str) {
    assert_eq!(
        (answer["flag"].clone(), answer["code"].clone()),
        (json!(false), json!(code)),
        "{what}: {answer}"
    );
}

/// Uploads over the free space on both doors, the database elsewhere.
async fn an_upload_larger_than_the_free_space_fails_and_leaves_nothing(t: &TestDb) -> Result {
    let mut disk = None;
    let server = TestServer::start_with(t, |c| disk = Some(Tmpfs::mount(&c.data_dir))).await;
    let _disk = disk;
    let mut admin = server.youku().await;
    let admin_session = admin.login_as("root", "admin").await;
    let mut viewer = server.youku().await;
    let session = viewer.login_as("viewer", "user").await;
    let mut door = server.netdisk_client().await;
    door_login(&mut door, "viewer").await;

    // Half the disk holds a movie; what follows must not harm it.
    let kept = content(4 << 20, 1);
    let stored = upload_movie(&mut admin, &admin_session, "kept", &kept).await;
    let kept_id = stored["movie_id"].as_i64().expect("a movie id");
    let files_before = server.stored_files();

    let too_big = content(TOO_BIG, 2);
    let answer = within(
        ANSWER_LIMIT,
        "upload_movie on a full disk",
        upload_movie(&mut admin, &admin_session, "too big", &too_big),
    )
    .await;
    println!("upload_movie on a full disk: {answer}");
    assert_refused("upload_movie", &answer, "internal");
    let answer = within(
        ANSWER_LIMIT,
        "upload_file on a full disk",
        upload_file(&mut viewer, &session, "too big", &too_big),
    )
    .await;
    println!("upload_file on a full disk: {answer}");
    assert_refused("upload_file", &answer, "internal");
    let answer = within(
        ANSWER_LIMIT,
        "netdisk upload on a full disk",
        door_upload(&mut door, "viewer", "too big", &too_big),
    )
    .await;
    println!("netdisk upload on a full disk: {answer}");
    assert_ne!(answer["code"], 1, "{answer}");

    assert_eq!(
        server.stored_files(),
        files_before,
        "no temporary, no new blob"
    );
    assert_eq!(Movie::query().count(&t.db).await?, 1);
    assert_eq!(UserFile::query().count(&t.db).await?, 0);

    // The same connections go on: small uploads succeed, the kept movie is intact.
    let small = content(100_000, 3);
    let answer = upload_movie(&mut admin, &admin_session, "small", &small).await;
    assert_eq!(answer["flag"], true, "{answer}");
    let answer = upload_file(&mut viewer, &session, "small", &small).await;
    assert_eq!(answer["flag"], true, "{answer}");
    let answer = door_upload(&mut door, "viewer", "small too", &small).await;
    assert_eq!(answer["code"], 1, "{answer}");
    let head = viewer
        .call(json!({"type": "download_movie", "session": session, "movie_id": kept_id}))
        .await;
    assert_eq!(head["file_size"], kept.len(), "{head}");
    assert!(
        viewer.recv_raw(kept.len()).await == kept,
        "the kept movie is intact"
    );
    Ok(())
}

backend_tests!(an_upload_larger_than_the_free_space_fails_and_leaves_nothing);

/// Fills the filesystem holding `dir` with one file there; returns its size.
fn fill(dir: &Path) -> u64 {
    let mut filler = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0x55u8; 64 * 1024];
    let mut written = 0;
    loop {
        match filler.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    written
}

/// Sends `request` and returns the answer, failing if none comes within [`ANSWER_LIMIT`].
async fn answered(c: &mut Client, what: &str, request: Value) -> Value {
    c.send(&request).await;
    let answer = within(ANSWER_LIMIT, what, c.recv())
        .await
        .unwrap_or_else(|| panic!("{what}: the connection closed without an answer"));
    println!("{what} with the disk full: {answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sqlite_database_on_the_full_disk_reads_work_and_writes_resume_once_space_is_freed()
 {
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(dir.path());
    let server = OwnServer::start(dir.path(), None).await;
    let mut viewer = server.youku().await;
    let session = viewer.login_as("viewer", "user").await;
    let before = content(50_000, 4);
    assert_eq!(
        upload_file(&mut viewer, &session, "before", &before).await["flag"],
        true
    );
    let list = json!({"type": "list_files", "session": session});

    let filled = fill(dir.path());
    println!("filled the disk with {filled} more bytes");

    // Reads need no space.
    let answer = answered(&mut viewer, "list_files", list.clone()).await;
    assert_eq!(answer["file_list"][0]["file_name"], "before", "{answer}");
    // Writes: every request is answered, and a refused one leaves the connection usable.
    let mut fresh = server.youku().await;
    let register =
        json!({"type": "register", "name": "newcomer", "password": "pw", "user_type": "user"});
    let registered = answered(&mut fresh, "register", register.clone()).await;
    let login = json!({"type": "login", "name": "viewer", "password": md5_hex(b"viewer"), "user_type": "user"});
    answered(&mut fresh, "login", login.clone()).await;
    let mut door = server.netdisk_client().await;
    let door_login_request = api(
        "login",
        json!({"username": "viewer", "password": md5_hex(b"viewer")}),
    );
    answered(&mut door, "netdisk login", door_login_request.clone()).await;
    let during = content(100_000, 5);
    let answer = within(
        ANSWER_LIMIT,
        "upload_file on a full disk",
        upload_file(&mut viewer, &session, "during", &during),
    )
    .await;
    println!("upload_file with the disk full: {answer}");
    assert_refused("upload_file", &answer, "internal");
    let answer = answered(&mut viewer, "list_files again", list.clone()).await;
    assert_eq!(
        answer["file_list"].as_array().map(Vec::len),
        Some(1),
        "{answer}"
    );

    std::fs::remove_file(dir.path().join("filler")).unwrap();

    // Space again: writes work on the same server and connections.
    if registered["flag"] != true {
        let answer = fresh.call(register).await;
        assert_eq!(
            answer["flag"], true,
            "register once space is freed: {answer}"
        );
    }
    assert_eq!(fresh.call(login).await["flag"], true);
    assert_eq!(door.call(door_login_request).await["code"], 1);
    let answer = upload_file(&mut viewer, &session, "during", &during).await;
    assert_eq!(answer["flag"], true, "upload once space is freed: {answer}");
    let answer = viewer.call(list).await;
    assert_eq!(
        answer["file_list"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    let file_id = answer["file_list"][1]["file_id"].clone();
    let head = viewer
        .call(json!({"type": "download_file", "session": session, "file_id": file_id}))
        .await;
    assert_eq!(head["file_name"], "before", "{head}");
    assert!(viewer.recv_raw(before.len()).await == before);

    drop((viewer, fresh, door));
    assert!(server.running.shutdown().await);
    let _ = server.netdisk.db().close().await;
    drop(disk);
}
