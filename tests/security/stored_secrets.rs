//! Secrets stored only hashed: passwords as salted argon2id, session tokens hashed; no text the
//! database holds mentions a password (as sent or as typed) or a token.

use std::collections::HashSet;

use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Model, backend_tests, raw};
use netdisk_core::models::Session;
use serde_json::json;

use crate::scenarios::account;
use crate::support::{TestServer, api as netdisk, md5_hex};
use crate::{Result, mentions};

/// Every text stored in the database: each text column of every table, and for a SQLite file,
/// the bytes of the database and its journal files.
async fn stored_text(t: &TestDb) -> mini_orm::Result<String> {
    const COLUMNS: &[(&str, &[&str])] = &[
        (
            "user_info",
            &["name", "pwd_hash", "register_time", "user_type"],
        ),
        ("session", &["token_hash"]),
        ("movie", &["name", "file_md5", "upload_time"]),
        ("notice", &["title", "content", "create_time"]),
        ("download_record", &["download_time"]),
        ("blob", &["sha256"]),
        ("user_file", &["name", "md5", "upload_time"]),
    ];
    let mut text = String::new();
    for (table, columns) in COLUMNS {
        for column in *columns {
            let values: Vec<(String,)> = raw(format!("SELECT `{column}` FROM `{table}`"))
                .fetch_all(&t.db)
                .await?;
            for (value,) in values {
                text.push_str(&value);
                text.push('\n');
            }
        }
    }
    for column in ["real_name", "phone", "address"] {
        let values: Vec<(Option<String>,)> = raw(format!("SELECT `{column}` FROM `user_info`"))
            .fetch_all(&t.db)
            .await?;
        for value in values.into_iter().filter_map(|(v,)| v) {
            text.push_str(&value);
            text.push('\n');
        }
    }
    if t.backend == TestBackend::SqliteFile {
        let path = std::path::PathBuf::from(t.url.strip_prefix("sqlite://").unwrap());
        for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    Ok(text)
}

async fn passwords_and_tokens_are_stored_only_hashed(t: &TestDb) -> Result {
    let server = TestServer::start(t).await;
    let typed = "Tr0ub4dor&3";
    let sent = md5_hex(typed.as_bytes());
    let mut c = server.youku().await;
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        tokens.push(account(&mut c, name, &sent, "user").await);
    }
    // The netdisk door's client sends the password as typed.
    let mut door = server.netdisk_client().await;
    let registered = door
        .call(netdisk(
            "register",
            json!({"username": "carol", "password": typed, "real_name": "Carol",
                   "phone": "555", "address": "Main St"}),
        ))
        .await;
    assert_eq!(registered["code"], 1, "{registered}");
    let carol = door
        .call(netdisk(
            "login",
            json!({"username": "carol", "password": typed}),
        ))
        .await;
    assert_eq!(
        carol["code"], 1,
        "the hash is real: the password logs in: {carol}"
    );

    let rows: Vec<(String, String)> = raw("SELECT `name`, `pwd_hash` FROM `user_info`")
        .fetch_all(&t.db)
        .await?;
    assert_eq!(rows.len(), 3);
    let mut salts = HashSet::new();
    for (name, hash) in &rows {
        let parts: Vec<&str> = hash.split('$').collect();
        assert!(
            hash.starts_with("$argon2id$v=19$") && parts.len() == 6,
            "{name}: an argon2id PHC string, not {hash}"
        );
        assert!(salts.insert(parts[4]), "{name}: a salt of its own");
    }
    let hash_of = |who: &str| &rows.iter().find(|(n, _)| n == who).unwrap().1;
    assert_ne!(
        hash_of("alice"),
        hash_of("bob"),
        "same password, different hashes"
    );

    let stored = stored_text(t).await?;
    assert!(!mentions(&stored, &sent), "the password as sent is stored");
    assert!(!stored.contains(typed), "the password as typed is stored");
    assert_eq!(Session::query().count(&t.db).await?, 3, "three sessions");
    for token in &tokens {
        assert!(
            !mentions(&stored, token),
            "the token {token} is stored as given"
        );
        // The tokens are live: what is stored still finds them.
        let live = c
            .call(json!({"type": "check_notice", "session": token}))
            .await;
        assert_eq!(live["flag"], true, "{live}");
    }
    Ok(())
}

backend_tests!(passwords_and_tokens_are_stored_only_hashed);
