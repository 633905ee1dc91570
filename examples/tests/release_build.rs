//! The server as released carries no test-only code: it is a binary target (cargo builds
//! examples with the package's dev-dependencies, which include mini-orm's `testing` feature;
//! binaries without them), and without dev-dependencies nothing turns that feature on.

use std::process::Command;

/// Runs the cargo that runs this test, in the workspace, and returns its standard output.
fn cargo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo prints UTF-8")
}

#[test]
fn the_server_is_a_binary_built_without_dev_dependencies() {
    let metadata: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ]))
    .unwrap();
    let examples = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "examples")
        .expect("the examples package");
    let server = examples["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "server")
        .expect("a server target");
    assert_eq!(server["kind"], serde_json::json!(["bin"]), "{server}");
}

#[test]
fn without_dev_dependencies_the_orm_has_no_testing_feature() {
    let tree = cargo(&[
        "tree",
        "-p",
        "examples",
        "-e",
        "no-dev",
        "-i",
        "mini-orm",
        "-f",
        "{p} [{f}]",
        "--prefix",
        "none",
        "--offline",
    ]);
    let orm = tree.lines().next().expect("mini-orm is in the tree");
    assert!(orm.starts_with("mini-orm "), "{tree}");
    assert!(
        !orm.contains("testing"),
        "release builds get the test harness: {orm}"
    );
}
