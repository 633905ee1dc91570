//! Mail through a real SMTP server: Debian's `python3-aiosmtpd` (`python3 -m aiosmtpd`), started
//! by the test on a free port, prints each message it receives; the test signs up in the
//! browser, reads the confirmation link from what the server received, and follows it. Without
//! aiosmtpd the test says so and passes, unless `CI` is set, where it fails.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;

use crate::Result;
use crate::web::{Web, link_in, location};

/// A python3 that has aiosmtpd: the one on the PATH, or Debian's.
fn python_with_aiosmtpd() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// An aiosmtpd server of the test's own, and everything it printed so far.
struct SmtpServer {
    child: Child,
    port: u16,
    printed: Arc<Mutex<String>>,
}

impl SmtpServer {
    fn start(python: &str) -> SmtpServer {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut child = Command::new(python)
            .args(["-u", "-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let printed = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let mut printed = sink.lock().unwrap();
                printed.push_str(&line);
                printed.push('\n');
            }
        });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            child,
            port,
            printed,
        }
    }

    /// What the server printed once it shows `marker`, waiting up to 10 seconds.
    async fn wait_for(&self, marker: &str) -> String {
        let started = Instant::now();
        loop {
            let printed = self.printed.lock().unwrap().clone();
            if printed.contains(marker) {
                return printed;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the SMTP server received no {marker:?}; it printed:\n{printed}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn a_real_smtp_server_receives_the_link(t: &TestDb) -> Result {
    let Some(python) = python_with_aiosmtpd() else {
        let why = "python3 -m aiosmtpd is unavailable (apt-get install python3-aiosmtpd)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}, and CI is set: the SMTP test must run");
        }
        eprintln!("skipped the SMTP test: {why}");
        return Ok(());
    };
    let smtp = SmtpServer::start(python);
    let web = Web::start_with(t, |config| {
        config.smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port));
        config.site_url = "http://shop.example".into();
    })
    .await;
    let browser = web.browser();
    let signed_up = browser
        .form(
            "/signup",
            &[
                ("name", "ann"),
                ("email", "ann@example.com"),
                ("password", "pw"),
                ("confirm", "pw"),
            ],
        )
        .await;
    assert_eq!(signed_up.status(), 303);
    assert_eq!(location(&signed_up), "/check-mail");
    let received = smtp.wait_for("/confirm/").await;
    assert!(received.contains("To: ann@example.com"), "{received}");
    assert!(
        received.contains("http://shop.example/confirm/"),
        "{received}"
    );
    assert_eq!(web.mails(), 0, "nothing went to the outbox");

    let link = link_in(&received, "confirm");
    let confirmed = browser.page(&link).await;
    assert!(confirmed.contains("Address confirmed"), "{confirmed}");
    assert!(browser.page("/settings").await.contains("Confirmed"));
    Ok(())
}

backend_tests!(on [sqlite_memory]: a_real_smtp_server_receives_the_link);
