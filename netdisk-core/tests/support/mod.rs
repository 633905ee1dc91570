//! A service on a test database, with a temporary data directory and a clock the test moves.
#![allow(dead_code)]

use std::sync::Arc;

use md5::{Digest, Md5};
use mini_orm::testing::TestDb;
use netdisk_core::clock::ManualClock;
use netdisk_core::{Caller, Config, MovieUpload, Netdisk, NewAccount, UserType};

/// 2026-11-22 10:00:00 UTC.
pub const START: i64 = 1_795_341_600;

pub struct Env {
    pub netdisk: Netdisk,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub async fn env(t: &TestDb) -> Env {
    env_with(t, |_| {}).await
}

pub async fn env_with(t: &TestDb, configure: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    configure(&mut config);
    let clock = Arc::new(ManualClock::new(START));
    let (netdisk, _) = Netdisk::open_with(t.db.clone(), config, clock.clone())
        .await
        .unwrap();
    Env {
        netdisk,
        clock,
        dir,
    }
}

impl Env {
    /// A second service on the same database and storage (another process, or a restart).
    pub async fn reopen(&self) -> Netdisk {
        let config = self.netdisk.config().clone();
        Netdisk::open_with(self.netdisk.db().clone(), config, self.clock.clone())
            .await
            .unwrap()
            .0
    }

    pub async fn register(&self, name: &str, user_type: UserType) {
        self.netdisk
            .accounts()
            .register(account(name, user_type))
            .await
            .unwrap();
    }

    pub async fn login(&self, name: &str) -> Caller {
        self.netdisk
            .accounts()
            .login(name, "pw", None)
            .await
            .unwrap()
            .caller
    }

    pub async fn admin(&self) -> Caller {
        self.register("root", UserType::Admin).await;
        self.login("root").await
    }

    pub async fn user(&self, name: &str) -> Caller {
        self.register(name, UserType::User).await;
        self.login(name).await
    }

    /// A user signed up with the address `<name>@example.com`, confirmed by its mailed link.
    pub async fn member(&self, name: &str) -> Caller {
        let accounts = self.netdisk.accounts();
        let address = format!("{}@example.com", name.to_lowercase());
        accounts
            .register_with_email(account(name, UserType::User), &address)
            .await
            .unwrap();
        accounts
            .confirm_email(&link(self, &address, "confirm"))
            .await
            .unwrap();
        self.login(name).await
    }

    /// Files under the data directory's `tmp` and `blobs`, as relative paths.
    pub fn stored_files(&self) -> Vec<String> {
        let mut found = Vec::new();
        for top in ["tmp", "blobs"] {
            walk(&self.dir.path().join(top), &mut found);
        }
        found
            .into_iter()
            .map(|p| {
                p.strip_prefix(self.dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect()
    }
}

/// The messages in the outbox, oldest first.
pub fn outbox(env: &Env) -> Vec<String> {
    let dir = env.dir.path().join(netdisk_core::mail::OUTBOX);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|name| std::fs::read_to_string(dir.join(name)).unwrap())
        .collect()
}

/// The token of the newest `/<kind>/` link mailed to `to`.
pub fn link(env: &Env, to: &str, kind: &str) -> String {
    let header = format!("To: {to}\r\n");
    let marker = format!("/{kind}/");
    let mail = outbox(env)
        .into_iter()
        .rev()
        .find(|mail| mail.contains(&header) && mail.contains(&marker))
        .unwrap_or_else(|| panic!("no {kind} mail to {to}"));
    let at = mail.find(&marker).unwrap() + marker.len();
    let token = &mail[at..at + 32];
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{mail}");
    token.to_owned()
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A registration with the password "pw" and no profile.
pub fn account(name: &str, user_type: UserType) -> NewAccount<'_> {
    NewAccount {
        name,
        password: "pw",
        user_type,
        real_name: None,
        phone: None,
        address: None,
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Uploads a movie of `bytes` as `admin`; returns its id.
pub async fn upload(env: &Env, admin: &Caller, name: &str, bytes: &[u8], is_free: bool) -> i64 {
    let md5 = md5_hex(bytes);
    let meta = MovieUpload {
        name,
        size: bytes.len() as u64,
        md5: &md5,
        is_free,
    };
    env.netdisk
        .movies()
        .upload(admin, meta, &mut &bytes[..])
        .await
        .unwrap()
}
