//! Headless Chromium through chromedriver, as Debian packages them (`apt-get install -y
//! chromium chromium-driver`): the driver is started on a free port for each test, Chromium
//! with a fresh profile and the flags a shared machine needs. Where they are missing, a test
//! says so and skips; under `CI=true` a missing browser is a failure (CI installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One browser at a time: several Chromiums starting at once on a two-core machine starve each
/// other (a session request was reset while four started together).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many times a session is tried before the test fails.
const ATTEMPTS: usize = 3;

/// A browser session and the driver behind it; both go when this is dropped.
pub struct Chrome {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// The turn among tests (the first of a pair holds it for both).
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A headless Chromium, or `None` (with the reason printed) when it is not installed.
pub async fn start() -> Option<Chrome> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "browser test skipped: {} not found; install with `apt-get install -y chromium chromium-driver`",
            missing.join(" and ")
        );
        assert!(
            std::env::var("CI").is_err(),
            "{why} (CI must run the browser tests)"
        );
        eprintln!("{why}");
        return None;
    }
    let turn = ONE_AT_A_TIME.lock().await;
    Some(open(Some(turn)).await)
}

/// Two browsers with profiles of their own (two people at once), or `None` as [`start`].
pub async fn start_two() -> Option<(Chrome, Chrome)> {
    let first = start().await?;
    let second = open(None).await;
    Some((first, second))
}

/// A session, tried [`ATTEMPTS`] times.
async fn open(turn: Option<tokio::sync::MutexGuard<'static, ()>>) -> Chrome {
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        match session().await {
            Ok((client, driver, profile)) => {
                return Chrome {
                    client,
                    driver,
                    _profile: profile,
                    _turn: turn,
                };
            }
            Err(error) => failures.push(error),
        }
    }
    panic!("no Chromium session in {ATTEMPTS} attempts: {failures:?}");
}

/// Starts chromedriver on a free port and opens a session with a fresh profile.
async fn session() -> Result<(Client, Child, tempfile::TempDir), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("chromedriver does not start: {e}"))?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = driver.kill();
            return Err("chromedriver did not listen".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                "--window-size=1280,860",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let connected = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await;
    match connected {
        Ok(client) => Ok((client, driver, profile)),
        Err(error) => {
            let _ = driver.kill();
            let _ = driver.wait();
            Err(format!("{error:?}"))
        }
    }
}

/// Where the page is, and which of its pictures have not loaded (address, `complete`).
const PAGE_REPORT: &str = "return { url: location.href, unloaded: [...document.images].filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => [img.src, img.complete]) }";

impl Chrome {
    /// Waits until `script` (the body of a function) returns true, at most `limit`; a timeout
    /// names the page and its pictures that did not load.
    pub async fn until(&self, what: &str, limit: Duration, script: &str) {
        let started = Instant::now();
        loop {
            let value = self.client.execute(script, vec![]).await.unwrap();
            if value.as_bool() == Some(true) {
                return;
            }
            if started.elapsed() >= limit {
                let page = self.client.execute(PAGE_REPORT, vec![]).await;
                panic!("{what}: not within {limit:?}; the page: {page:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the field named `name`.
    pub async fn fill(&self, name: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!("[name='{name}']")))
            .await
            .unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Chooses the files at `paths` in the file input matching `css`, as a person picking them
    /// would (the input's `change` fires).
    pub async fn pick_files(&self, css: &str, paths: &[String]) {
        let picker = self.client.find(Locator::Css(css)).await.unwrap();
        picker.send_keys(&paths.join("\n")).await.unwrap();
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// The current path (and query).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Saves the page as `docs/screenshots/<name>-desktop.png` and `<name>-phone.png`.
    pub async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (width, height, suffix) in [(1280, 860, "desktop"), (390, 844, "phone")] {
            self.client.set_window_size(width, height).await.unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 860).await.unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
}
