//! The `admin` and `user` menus driven through piped stdin against a real server: an admin
//! uploads a movie, a user finds it in the list and downloads the same bytes.

mod support;

use netdisk_core::ServiceError;
use support::{TestServer, content, run, write_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_user_menus_upload_then_download_the_same_bytes() {
    let server = TestServer::start().await;
    let files = tempfile::tempdir().unwrap();
    let movie = content(300_000);
    let path = write_file(files.path(), "film.mp4", &movie);

    // Register, log in, upload a free movie; the input ends without `q`.
    let admin_input = format!("1\nroot\npw\n2\nroot\npw\n3\n{path}\ny\n");
    let admin = run("admin", &["--server", &server.addr], &admin_input, &[]).await;
    assert!(admin.success, "{admin:?}");
    assert!(admin.stdout.contains("5  release notice"), "{admin:?}");
    assert!(admin.stdout.contains("movie 1 uploaded"), "{admin:?}");
    assert!(
        admin.stdout.ends_with("bye\n"),
        "end of input exits cleanly: {admin:?}"
    );

    // A list before logging in and a wrong password are refused; the menu carries on.
    let out = files.path().join("downloads");
    let user_input = "4\n1\nalice\npw\n2\nalice\nwrong\n2\nalice\npw\n4\n5\n1\nq\n";
    let args = ["--server", &server.addr, "--out", out.to_str().unwrap()];
    let user = run("user", &args, user_input, &[]).await;
    assert!(user.success, "{user:?}");
    assert_eq!(
        user.stdout.matches("===== Youku user =====").count(),
        7,
        "{user:?}"
    );
    assert!(user.stdout.contains("12  netdisk: delete file"), "{user:?}");
    assert!(user.stderr.contains("please log in first"), "{user:?}");
    let refused = ServiceError::WrongCredentials.to_string();
    assert!(user.stderr.contains(&refused), "{user:?}");
    let listed = user
        .stdout
        .lines()
        .filter(|line| line.contains("film.mp4") && line.contains("free"))
        .count();
    assert_eq!(
        listed, 2,
        "listed by `list movies` and by `download free movie`: {user:?}"
    );

    assert_eq!(std::fs::read(out.join("film.mp4")).unwrap(), movie);
    assert!(!out.join("film.mp4.part").exists());
}
