//! The site in a real browser (headless Chromium through chromedriver, see `chrome`): signing
//! up and logging in, a movie that plays, uploads with progress, a notice that appears on an
//! open page without a reload, a chat room's history, live messages and who is here, and photos
//! uploaded with progress (`photos`). Each test also saves screenshots of the pages it visits,
//! at desktop and phone widths, into `docs/screenshots/`.

#[path = "../support/faults.rs"]
mod faults;
#[path = "../support/scenarios.rs"]
mod scenarios;
#[path = "../support/mod.rs"]
mod support;

mod chrome;
mod photos;

use std::time::Duration;

use fantoccini::Locator;
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::DownloadRecord;
use netdisk_core::{Caller, MovieUpload, NewAccount, UserType};

use photos::{
    a_follow_and_a_comment_reach_the_other_persons_open_page,
    a_member_uploads_photos_with_progress_and_sees_them,
};
use support::{TestServer, md5_hex};

type Result = mini_orm::Result<()>;

/// A tiny VP8 WebM clip (3 s, 320×180) any Chromium can decode.
const CLIP: &[u8] = include_bytes!("../fixtures/clip.webm");

struct Site {
    server: TestServer,
    base: String,
}

impl Site {
    async fn start(t: &TestDb, free_wait_secs: u64) -> Site {
        let server = TestServer::start_with(t, |c| c.free_wait_secs = free_wait_secs).await;
        let addr = server.running.as_ref().unwrap().addr("http").unwrap();
        Site {
            server,
            base: format!("http://{addr}"),
        }
    }

    /// The path of the confirmation link mailed to `to` (the one mail to it), from the outbox.
    fn mailed_link(&self, to: &str) -> String {
        let outbox = self.server.dir.path().join(netdisk_core::mail::OUTBOX);
        let mut mails: Vec<_> = std::fs::read_dir(outbox)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .filter(|mail| mail.contains(&format!("To: {to}\r\n")))
            .collect();
        let mail = mails.pop().expect("a mail");
        let at = mail.find("/confirm/").expect("a link") + "/confirm/".len();
        format!("/confirm/{}", &mail[at..at + 32])
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn account(&self, name: &str, user_type: UserType) -> Caller {
        let password = format!("{name}-pw");
        let accounts = self.server.netdisk.accounts();
        let account = NewAccount {
            name,
            password: &password,
            user_type,
            real_name: None,
            phone: None,
            address: None,
        };
        accounts.register(account).await.unwrap();
        accounts.login(name, &password, None).await.unwrap().caller
    }

    async fn movie(&self, admin: &Caller, name: &str, bytes: &[u8], is_free: bool) -> i64 {
        let md5 = md5_hex(bytes);
        let upload = MovieUpload {
            name,
            size: bytes.len() as u64,
            md5: &md5,
            is_free,
        };
        let mut reader = bytes;
        let movies = self.server.netdisk.movies();
        movies.upload(admin, upload, &mut reader).await.unwrap()
    }

    /// Logs `chrome` in through the login form as `name`.
    async fn log_in(&self, chrome: &chrome::Chrome, name: &str) {
        chrome.client.goto(&self.url("/login")).await.unwrap();
        chrome.fill("name", name).await;
        chrome.fill("password", &format!("{name}-pw")).await;
        chrome.click("form.stack button[type=submit]").await;
        chrome
            .until(
                "the movie list after login",
                Duration::from_secs(10),
                "return location.pathname === '/movies'",
            )
            .await;
    }
}

async fn sign_up_log_out_and_log_in(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    let admin = site.account("admin", UserType::Admin).await;
    for (name, free) in [
        ("Sunset over the lake", true),
        ("城市之光", false),
        ("The long road home", true),
        ("Night train", false),
        ("海边的日落", true),
    ] {
        site.movie(&admin, name, name.as_bytes(), free).await;
    }
    chrome.client.goto(&site.url("/movies")).await.unwrap();
    assert_eq!(
        chrome.path().await,
        "/login?next=/movies",
        "a visitor is asked to log in"
    );
    chrome.screenshots("login").await;

    chrome.client.goto(&site.url("/signup")).await.unwrap();
    chrome.fill("name", "alice").await;
    chrome.fill("email", "alice@example.com").await;
    chrome.fill("password", "s3cret").await;
    chrome.fill("confirm", "s3cret").await;
    chrome.click("form.stack button[type=submit]").await;
    chrome
        .until(
            "the check-your-mail page after sign-up",
            Duration::from_secs(10),
            "return location.pathname === '/check-mail'",
        )
        .await;
    // Confirm the address by the link mailed to the outbox.
    let link = site.mailed_link("alice@example.com");
    chrome.client.goto(&site.url(&link)).await.unwrap();
    chrome
        .until(
            "the confirmation",
            Duration::from_secs(10),
            "return document.querySelector('h1').textContent === 'Address confirmed'",
        )
        .await;
    chrome.client.goto(&site.url("/settings")).await.unwrap();
    chrome.screenshots("settings").await;
    chrome.client.goto(&site.url("/movies")).await.unwrap();
    let who = chrome
        .client
        .find(Locator::Css(".who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(who, "alice");
    assert_eq!(
        chrome
            .client
            .find_all(Locator::Css(".tile"))
            .await
            .unwrap()
            .len(),
        5
    );
    chrome.screenshots("movies").await;

    chrome.click("form.account button").await;
    chrome
        .until(
            "the login page after logout",
            Duration::from_secs(10),
            "return location.pathname === '/login'",
        )
        .await;
    chrome.fill("name", "alice").await;
    chrome.fill("password", "wrong").await;
    chrome.click("form.stack button[type=submit]").await;
    let alert = chrome
        .client
        .wait()
        .for_element(Locator::Css(".alert"))
        .await
        .unwrap();
    assert_eq!(
        alert.text().await.unwrap(),
        "wrong name, password or account type"
    );
    chrome.fill("password", "s3cret").await;
    chrome.click("form.stack button[type=submit]").await;
    chrome
        .until(
            "the movies after login",
            Duration::from_secs(10),
            "return location.pathname === '/movies'",
        )
        .await;
    Ok(())
}

async fn a_movie_waits_then_plays(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 2).await;
    let admin = site.account("admin", UserType::Admin).await;
    let movie = site.movie(&admin, "Test pattern.webm", CLIP, true).await;
    site.account("alice", UserType::User).await;
    site.log_in(&chrome, "alice").await;
    chrome
        .client
        .goto(&site.url(&format!("/movies/{movie}")))
        .await
        .unwrap();
    chrome.click("#watch").await;
    chrome
        .until(
            "the countdown",
            Duration::from_secs(5),
            "return document.getElementById('countdown').textContent.startsWith('Starts in')",
        )
        .await;
    chrome
        .until(
            "the movie playing (currentTime advancing)",
            Duration::from_secs(30),
            "return document.getElementById('player').currentTime > 0.5",
        )
        .await;
    chrome.screenshots("movie").await;
    let records = DownloadRecord::query()
        .count(site.server.netdisk.db())
        .await?;
    assert_eq!(
        records, 1,
        "one viewing, one record, however many ranges the player read"
    );
    Ok(())
}

/// Notes every progress value and status line the uploads show, as they change.
const WATCH_UPLOADS: &str = r#"
    window.seenProgress = [];
    window.seenStatus = [];
    new MutationObserver(() => {
        document.querySelectorAll('.upload progress').forEach((bar) => window.seenProgress.push(bar.value));
        document.querySelectorAll('.upload .status').forEach((line) => window.seenStatus.push(line.textContent));
    }).observe(document.getElementById('uploads'), { subtree: true, childList: true, attributes: true, characterData: true });
"#;

async fn uploads_show_progress_and_complete(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    site.account("admin", UserType::Admin).await;
    site.log_in(&chrome, "admin").await;
    let dir = tempfile::tempdir().unwrap();
    let movie_path = dir.path().join("Holiday.webm");
    std::fs::write(&movie_path, scenarios::content(24 << 20, 3)).unwrap();

    chrome.client.goto(&site.url("/admin")).await.unwrap();
    chrome.client.execute(WATCH_UPLOADS, vec![]).await.unwrap();
    let picker = chrome
        .client
        .find(Locator::Css("#movie-file"))
        .await
        .unwrap();
    picker
        .send_keys(&movie_path.display().to_string())
        .await
        .unwrap();
    chrome.click("#movie-upload button[type=submit]").await;
    chrome
        .until(
            "the upload to finish",
            Duration::from_secs(90),
            "return !!document.querySelector('.upload.done')",
        )
        .await;
    let seen = chrome
        .client
        .execute("return [window.seenProgress, window.seenStatus]", vec![])
        .await
        .unwrap();
    let progress: Vec<f64> = seen[0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 100.0),
        "a bar between 0 and 100: {progress:?}"
    );
    let status: Vec<&str> = seen[1]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        status
            .iter()
            .any(|s| s.contains("/s") && s.contains("left")),
        "speed and time left: {status:?}"
    );
    chrome.screenshots("upload").await;
    site.account("carol", UserType::User).await;
    chrome.client.goto(&site.url("/admin/users")).await.unwrap();
    chrome.screenshots("accounts").await;
    let viewer = site.account("viewer", UserType::User).await;
    let listed = site
        .server
        .netdisk
        .movies()
        .list(&viewer, Default::default())
        .await
        .unwrap();
    assert_eq!(listed.movies[0].name, "Holiday.webm");

    // Several personal files at once, each with its own bar; the page lists them after.
    chrome.client.goto(&site.url("/files")).await.unwrap();
    let paths: Vec<String> = ["notes.txt", "photo 照片.jpg"]
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let path = dir.path().join(name);
            std::fs::write(&path, scenarios::content(300_000 + n, n as u8)).unwrap();
            path.display().to_string()
        })
        .collect();
    chrome.pick_files("#file-picker", &paths).await;
    chrome
        .until(
            "both files listed",
            Duration::from_secs(60),
            "const list = document.getElementById('file-list'); return !!list && list.textContent.includes('notes.txt') && list.textContent.includes('photo 照片.jpg')",
        )
        .await;
    chrome.screenshots("files").await;
    Ok(())
}

async fn a_notice_appears_on_an_open_page(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    let admin = site.account("admin", UserType::Admin).await;
    let notices = site.server.netdisk.notices();
    notices
        .publish(&admin, "Welcome", "New movies every Friday.")
        .await
        .unwrap();
    site.account("alice", UserType::User).await;
    site.log_in(&chrome, "alice").await;
    chrome.client.goto(&site.url("/notices")).await.unwrap();
    chrome
        .client
        .execute("window.samePage = true", vec![])
        .await
        .unwrap();
    // Give the page's event stream a moment to connect before the notice is released.
    tokio::time::sleep(Duration::from_millis(700)).await;
    notices
        .publish(
            &admin,
            "Maintenance tonight",
            "The site rests from 02:00 to 03:00.",
        )
        .await
        .unwrap();
    chrome
        .until(
            "the notice on the open page",
            Duration::from_secs(10),
            "return document.getElementById('notice-list').firstElementChild.textContent.includes('Maintenance tonight') && !document.getElementById('live-notice').hidden",
        )
        .await;
    let same = chrome
        .client
        .execute("return window.samePage === true", vec![])
        .await
        .unwrap();
    assert_eq!(same.as_bool(), Some(true), "no reload happened");
    chrome.screenshots("notices").await;
    Ok(())
}

async fn a_chat_room_shows_history_and_live_messages(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    let bob = site.account("bob", UserType::User).await;
    let chat = site.server.netdisk.chat();
    chat.set_nickname(&bob, "Bob 🐻").await.unwrap();
    for text in [
        "Anyone watching the new movie tonight?",
        "大家好! 今晚一起看电影吗?",
        "<b>bold</b> stays text",
    ] {
        chat.say(&bob, netdisk_core::LOBBY, text).await.unwrap();
    }
    // Bob is in the lobby through another door while alice reads it.
    let bob_here = chat.arrive(&bob, netdisk_core::LOBBY).await.unwrap();
    site.account("alice", UserType::User).await;
    site.log_in(&chrome, "alice").await;
    chrome.client.goto(&site.url("/chat/lobby")).await.unwrap();
    chrome
        .until(
            "alice and bob listed as here",
            Duration::from_secs(10),
            "const here = [...document.querySelectorAll('#people li')].map((li) => li.textContent); return here.length === 2 && here.includes('Bob 🐻') && here.includes('alice')",
        )
        .await;
    chrome
        .until(
            "the history",
            Duration::from_secs(10),
            "return document.querySelectorAll('#messages .said').length === 3",
        )
        .await;
    chrome.fill("text", "Count me in!").await;
    chrome.click("#say button[type=submit]").await;
    chat.say(&bob, netdisk_core::LOBBY, "Great, 8 pm then.")
        .await
        .unwrap();
    chrome
        .until(
            "alice's and bob's new messages, live",
            Duration::from_secs(10),
            "const said = document.querySelectorAll('#messages .said'); return said.length === 5 && said[4].textContent.includes('8 pm')",
        )
        .await;
    let bold = chrome
        .client
        .execute(
            "return document.querySelectorAll('#messages b').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bold.as_i64(), Some(0), "HTML in a message is shown as text");
    chrome
        .until(
            "the avatars drawn",
            Duration::from_secs(5),
            "return [...document.querySelectorAll('#messages .avatar')].every((img) => img.complete && img.naturalWidth > 0)",
        )
        .await;
    chrome.screenshots("chat").await;
    drop(bob_here);
    chrome
        .until(
            "bob gone from the list when he leaves",
            Duration::from_secs(10),
            "return document.querySelectorAll('#people li').length === 1",
        )
        .await;
    Ok(())
}

backend_tests!(
    on [sqlite_memory]:
    a_chat_room_shows_history_and_live_messages,
    sign_up_log_out_and_log_in,
    a_movie_waits_then_plays,
    uploads_show_progress_and_complete,
    a_notice_appears_on_an_open_page,
    a_member_uploads_photos_with_progress_and_sees_them,
    a_follow_and_a_comment_reach_the_other_persons_open_page,
);
