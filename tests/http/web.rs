//! A test server with its HTTP door, and a browser-like client: it keeps cookies, does not
//! follow redirects (the tests look at them), and sends `Origin` as a page of the site does.

use std::net::SocketAddr;
use std::sync::Arc;

use mini_orm::testing::TestDb;
use netdisk_core::clock::{Clock, SystemClock};
use netdisk_core::{Caller, Config, NewAccount, UserType};
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};
use reqwest::{Client, Response};
use serde_json::Value;

use crate::support::TestServer;

pub struct Web {
    pub server: TestServer,
    pub addr: SocketAddr,
}

impl Web {
    pub async fn start(t: &TestDb) -> Web {
        Web::start_clocked(t, Arc::new(SystemClock), |_| {}).await
    }

    pub async fn start_with(t: &TestDb, configure: impl FnOnce(&mut Config)) -> Web {
        Web::start_clocked(t, Arc::new(SystemClock), configure).await
    }

    pub async fn start_clocked(
        t: &TestDb,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut Config),
    ) -> Web {
        let server = TestServer::start_clocked(t, clock, configure).await;
        let addr = server.running.as_ref().unwrap().addr("http").unwrap();
        Web { server, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A fresh browser, logged in as nobody.
    pub fn browser(&self) -> Browser {
        let mut headers = HeaderMap::new();
        let origin = format!("http://{}", self.addr);
        headers.insert(ORIGIN, HeaderValue::from_str(&origin).unwrap());
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            base: format!("http://{}", self.addr),
        }
    }

    /// A plain client: no cookies, no `Origin` (a script, or another site's form).
    pub fn script(&self) -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Registers `name` (password `<name>-pw`) through the services.
    pub async fn account(&self, name: &str, user_type: UserType) {
        let account = NewAccount {
            name,
            password: &format!("{name}-pw"),
            user_type,
            real_name: None,
            phone: None,
            address: None,
        };
        self.server
            .netdisk
            .accounts()
            .register(account)
            .await
            .unwrap();
    }

    /// A browser logged in as a new account `name` of `user_type`.
    pub async fn logged_in(&self, name: &str, user_type: UserType) -> Browser {
        self.account(name, user_type).await;
        self.logged_in_again(name).await
    }

    /// A browser logged in as the existing account `name`.
    pub async fn logged_in_again(&self, name: &str) -> Browser {
        let browser = self.browser();
        let password = format!("{name}-pw");
        let answer = browser
            .form("/login", &[("name", name), ("password", &password)])
            .await;
        assert_eq!(answer.status(), 303, "login of {name}");
        browser
    }

    /// A browser logged in as a new user `name` whose address `<name>@example.com` is
    /// confirmed by its mailed link: a member of the photo site.
    pub async fn member(&self, name: &str) -> Browser {
        let password = format!("{name}-pw");
        let address = format!("{name}@example.com");
        let account = NewAccount {
            name,
            password: &password,
            user_type: UserType::User,
            real_name: None,
            phone: None,
            address: None,
        };
        let accounts = self.server.netdisk.accounts();
        accounts
            .register_with_email(account, &address)
            .await
            .unwrap();
        let link = self.mailed_link(&address, "confirm");
        self.browser().page(&link).await;
        self.logged_in_again(name).await
    }

    /// The service's caller for `name` (logged in through the services).
    pub async fn caller(&self, name: &str) -> Caller {
        let password = format!("{name}-pw");
        let accounts = self.server.netdisk.accounts();
        accounts.login(name, &password, None).await.unwrap().caller
    }

    /// A bearer token for `name`, from `POST /api/login`.
    pub async fn token(&self, name: &str) -> String {
        let password = format!("{name}-pw");
        let body = serde_json::json!({"name": name, "password": password});
        let answer = self
            .script()
            .post(self.url("/api/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// Stores a movie through the services, as admin `admin`; returns its id.
    pub async fn movie(&self, admin: &str, name: &str, bytes: &[u8], is_free: bool) -> i64 {
        let caller = self.caller(admin).await;
        let md5 = crate::support::md5_hex(bytes);
        let upload = netdisk_core::MovieUpload {
            name,
            size: bytes.len() as u64,
            md5: &md5,
            is_free,
        };
        let mut reader = bytes;
        self.server
            .netdisk
            .movies()
            .upload(&caller, upload, &mut reader)
            .await
            .unwrap()
    }

    /// Stores a personal file of `owner` through the services; returns its id.
    pub async fn file(&self, owner: &str, name: &str, bytes: &[u8]) -> i64 {
        let caller = self.caller(owner).await;
        let mut reader = bytes;
        let files = self.server.netdisk.files();
        files
            .upload(&caller, name, bytes.len() as u64, None, &mut reader)
            .await
            .unwrap()
    }

    /// The path (`/<kind>/<token>`) of the newest `kind` link (`confirm`, `reset`) mailed to
    /// `to`, read from the outbox's `.eml` files.
    pub fn mailed_link(&self, to: &str, kind: &str) -> String {
        let outbox = self.server.dir.path().join(netdisk_core::mail::OUTBOX);
        let mut names: Vec<_> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        let header = format!("To: {to}\r\n");
        let marker = format!("/{kind}/");
        let mail = names
            .iter()
            .rev()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .find(|mail| mail.contains(&header) && mail.contains(&marker))
            .unwrap_or_else(|| panic!("no {kind} mail to {to}"));
        link_in(&mail, kind)
    }

    /// How many mails are in the outbox.
    pub fn mails(&self) -> usize {
        let outbox = self.server.dir.path().join(netdisk_core::mail::OUTBOX);
        std::fs::read_dir(outbox).map_or(0, |entries| entries.count())
    }

    /// Files staged by resumable uploads under the data directory.
    pub fn staged_files(&self) -> usize {
        std::fs::read_dir(self.server.dir.path().join("staged"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

/// A client that behaves like a browser on the site's own pages.
pub struct Browser {
    pub http: Client,
    base: String,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// The page's HTML, which must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let answer = self.get(path).await;
        assert_eq!(answer.status(), 200, "GET {path}");
        answer.text().await.unwrap()
    }

    /// The JSON `GET path` answers.
    pub async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// The path (`/<kind>/<token>`) of the first `kind` link in the text of a mail.
pub fn link_in(mail: &str, kind: &str) -> String {
    let marker = format!("/{kind}/");
    let at = mail
        .find(&marker)
        .unwrap_or_else(|| panic!("no {kind} link in {mail}"));
    let token = &mail[at + marker.len()..at + marker.len() + 32];
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{mail}");
    format!("{marker}{token}")
}

/// Where a redirect goes.
pub fn location(answer: &Response) -> &str {
    answer.headers()["location"].to_str().unwrap()
}
