//! The server binary's door flags, made from the list of doors: `--<door> ADDR` and
//! `--no-<door>` work the same way for every door.

use std::process::Stdio;
use std::time::Duration;

use netdisk_core::server::DOORS;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Starts the server with `args` on a fresh data directory and returns the doors it announces
/// (`<door> door on <addr>`), read until its `Ctrl-C to stop.` line.
async fn announced_doors(args: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut doors = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("Ctrl-C to stop.") {
                return;
            }
            if let Some((door, _)) = line.split_once(" door on ") {
                doors.push(door.to_owned());
            }
        }
        panic!("the server ended before it was ready");
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the server starts within 30 s");
    child.kill().await.unwrap();
    doors
}

#[tokio::test]
async fn each_door_alone_is_started_by_its_own_flag_and_the_others_no_flags() {
    for door in DOORS {
        let mut args = vec![format!("--{}", door.name), "127.0.0.1:0".to_owned()];
        for other in DOORS.iter().filter(|other| other.name != door.name) {
            args.push(format!("--no-{}", other.name));
        }
        assert_eq!(announced_doors(&args).await, [door.name], "{args:?}");
    }
}

#[tokio::test]
async fn an_address_and_off_for_one_door_are_refused() {
    let door = DOORS[0].name;
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([&format!("--{door}"), "127.0.0.1:0", &format!("--no-{door}")])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
