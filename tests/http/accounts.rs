//! Signing up, logging in and out in a browser: the session cookie, the same accounts and
//! lockout as the TCP doors, one generic failure, and a `next` that never leaves the site.

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;

use crate::Result;
use crate::scenarios::login;
use crate::web::{Web, location};

async fn sign_up_log_out_and_log_in_with_a_session_cookie(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let browser = web.browser();
    let away = browser.get("/movies?kind=free").await;
    assert_eq!(away.status(), 303);
    assert_eq!(location(&away), "/login?next=/movies%3Fkind%3Dfree");

    let signed_up = browser
        .form(
            "/signup",
            &[
                ("name", "alice"),
                ("email", "alice@example.com"),
                ("password", "pw1"),
                ("confirm", "pw1"),
            ],
        )
        .await;
    assert_eq!(signed_up.status(), 303);
    let cookie = signed_up.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("netdisk_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let movies = browser.page("/movies").await;
    assert!(
        movies.contains(">alice</span>"),
        "the page shows who is logged in"
    );

    // The same account works at the Youku door.
    let mut youku = web.server.youku().await;
    assert_eq!(
        youku.call(login("alice", "pw1", "user")).await["flag"],
        true
    );

    let out = browser.form("/logout", &[]).await;
    assert_eq!(location(&out), "/login");
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(browser.get("/movies").await.status(), 303, "logged out");

    let back = browser
        .form(
            "/login",
            &[("name", "alice"), ("password", "pw1"), ("next", "/notices")],
        )
        .await;
    assert_eq!((back.status().as_u16(), location(&back)), (303, "/notices"));
    assert_eq!(browser.get("/notices").await.status(), 200);

    // Behind a TLS proxy, the cookie is Secure.
    let proxied = web
        .browser()
        .http
        .post(web.url("/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("name", "alice"), ("password", "pw1")])
        .send()
        .await
        .unwrap();
    assert!(
        proxied.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );
    Ok(())
}

async fn sign_up_refusals_keep_the_name_and_say_why(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("taken", UserType::User).await;
    let browser = web.browser();
    let differ = browser
        .form(
            "/signup",
            &[
                ("name", "bob"),
                ("email", "bob@example.com"),
                ("password", "a"),
                ("confirm", "b"),
            ],
        )
        .await;
    assert_eq!(differ.status(), 400);
    let page = differ.text().await.unwrap();
    assert!(page.contains("the two passwords differ") && page.contains("value=\"bob\""));
    let taken = browser
        .form(
            "/signup",
            &[
                ("name", "taken"),
                ("email", "taken@example.com"),
                ("password", "a"),
                ("confirm", "a"),
            ],
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert!(taken.text().await.unwrap().contains("this name is taken"));
    Ok(())
}

async fn failed_logins_say_one_thing_and_lock_the_account(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.lockout_threshold = 3).await;
    web.account("alice", UserType::User).await;
    let browser = web.browser();
    let attempt = async |name: &str, password: &str| {
        let answer = browser
            .form("/login", &[("name", name), ("password", password)])
            .await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    };
    let (wrong_status, wrong) = attempt("alice", "guess").await;
    let (unknown_status, unknown) = attempt("nobody", "guess").await;
    assert_eq!((wrong_status, unknown_status), (401, 401));
    assert!(wrong.contains("wrong name, password or account type"));
    assert_eq!(
        wrong.replace("alice", "NAME"),
        unknown.replace("nobody", "NAME"),
        "an unknown name and a wrong password read the same"
    );
    attempt("alice", "guess").await;
    attempt("alice", "guess").await;
    let (locked_status, locked) = attempt("alice", "alice-pw").await;
    assert_eq!(locked_status, 429, "{locked}");
    assert!(locked.contains("locked until"));
    Ok(())
}

async fn next_never_leaves_the_site(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("alice", UserType::User).await;
    for (next, to) in [
        ("/files", "/files"),
        ("//evil.example/x", "/movies"),
        ("https://evil.example", "/movies"),
        ("/\\evil.example", "/movies"),
        ("javascript:alert(1)", "/movies"),
    ] {
        let browser = web.browser();
        let page = browser
            .page(&format!("/login?next={}", urlencode(next)))
            .await;
        assert!(
            !page.contains("evil.example"),
            "the form never carries an outside next"
        );
        let answer = browser
            .form(
                "/login",
                &[("name", "alice"), ("password", "alice-pw"), ("next", next)],
            )
            .await;
        assert_eq!(location(&answer), to, "next = {next}");
    }
    Ok(())
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

backend_tests!(
    on [sqlite_memory, mysql]:
    sign_up_log_out_and_log_in_with_a_session_cookie,
    sign_up_refusals_keep_the_name_and_say_why,
    failed_logins_say_one_thing_and_lock_the_account,
    next_never_leaves_the_site,
);
