//! The `admin` and `user` subcommands against a real server: resuming a download from its
//! `.part` file, refusing one whose bytes do not match, and failing loudly on a wrong password.

mod support;

use std::path::Path;

use netdisk_core::ServiceError;
use support::{TestServer, content, run, uploaded_movie_id, write_file};

const MOVIE_LEN: usize = 250_000;

/// An admin who uploaded a charged movie and a registered user `alice`; returns the movie's id.
async fn movie_and_user(server: &TestServer, dir: &Path) -> String {
    let path = write_file(dir, "film.mp4", &content(MOVIE_LEN));
    let admin = [
        "--server",
        &server.addr,
        "--name",
        "root",
        "--password",
        "pw",
    ];
    assert!(
        run("admin", &[&admin[..], &["register"]].concat(), "", &[])
            .await
            .success
    );
    let upload = run(
        "admin",
        &[&admin[..], &["upload-movie", &path]].concat(),
        "",
        &[],
    )
    .await;
    assert!(upload.success, "{upload:?}");
    let user = [
        "--server",
        &server.addr,
        "--name",
        "alice",
        "--password",
        "pw",
    ];
    assert!(
        run("user", &[&user[..], &["register"]].concat(), "", &[])
            .await
            .success
    );
    uploaded_movie_id(&upload.stdout)
}

/// `user download ID --out DIR` as alice (credentials from the environment).
async fn download(server: &TestServer, id: &str, out: &Path) -> support::Run {
    let args = [
        "--server",
        &server.addr,
        "download",
        id,
        "--out",
        out.to_str().unwrap(),
    ];
    let env = [("NETDISK_NAME", "alice"), ("NETDISK_PASSWORD", "pw")];
    run("user", &args, "", &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_from_its_part_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let id = movie_and_user(&server, dir.path()).await;
    let out = dir.path().join("downloads");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("film.mp4.part"), &content(MOVIE_LEN)[..100_000]).unwrap();

    let resumed = download(&server, &id, &out).await;
    assert!(resumed.success, "{resumed:?}");
    assert!(resumed.stdout.contains("resuming"), "{resumed:?}");
    assert!(resumed.stdout.contains("price for you: 10"), "{resumed:?}");
    assert!(
        resumed.stdout.contains("resumed from byte 100000"),
        "{resumed:?}"
    );
    assert_eq!(
        std::fs::read(out.join("film.mp4")).unwrap(),
        content(MOVIE_LEN)
    );
    assert!(!out.join("film.mp4.part").exists());

    let args = [
        "--server",
        &server.addr,
        "--name",
        "alice",
        "--password",
        "pw",
        "records",
    ];
    let records = run("user", &args, "", &[]).await;
    assert!(
        records
            .stdout
            .lines()
            .any(|l| l.contains("film.mp4") && l.contains("10")),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_file_with_wrong_bytes_fails_the_md5_check_and_saves_nothing() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let id = movie_and_user(&server, dir.path()).await;
    let out = dir.path().join("downloads");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("film.mp4.part"), vec![0u8; 100_000]).unwrap();

    let refused = download(&server, &id, &out).await;
    assert!(!refused.success, "{refused:?}");
    assert!(refused.stderr.contains("MD5 mismatch"), "{refused:?}");
    assert!(!out.join("film.mp4").exists());
    assert!(
        !out.join("film.mp4.part").exists(),
        "the wrong bytes are not kept"
    );

    // With the wrong bytes gone, the next try downloads the whole movie.
    let again = download(&server, &id, &out).await;
    assert!(again.success, "{again:?}");
    assert_eq!(
        std::fs::read(out.join("film.mp4")).unwrap(),
        content(MOVIE_LEN)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_prints_the_servers_message_and_exits_non_zero() {
    let server = TestServer::start().await;
    let base = ["--server", &server.addr, "--name", "alice"];
    let register = run(
        "user",
        &[&base[..], &["--password", "pw", "register"]].concat(),
        "",
        &[],
    )
    .await;
    assert!(register.success, "{register:?}");

    let wrong = run(
        "user",
        &[&base[..], &["--password", "nope", "records"]].concat(),
        "",
        &[],
    )
    .await;
    assert!(!wrong.success, "{wrong:?}");
    let message = ServiceError::WrongCredentials.to_string();
    assert_eq!(wrong.stderr.trim(), format!("error: {message}"));
    assert!(wrong.stdout.is_empty(), "{wrong:?}");
}
