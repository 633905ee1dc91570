//! E-mail in the browser: sign up with an address and confirm it by the mailed link (read from
//! the outbox), send the link again, reset a forgotten password, change the address and the
//! password in the settings, and the same through the JSON API; used and expired links,
//! addresses in use, ill-formed or full of markup, and forms posted from another site.

use std::sync::Arc;
use std::time::Duration;

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use netdisk_core::clock::ManualClock;
use serde_json::{Value, json};

use crate::web::{Browser, Web, location};
use crate::{EPOCH, Result};

/// Signs up `name` (password `<name>-pw`) with `address` in a new browser, which is then
/// logged in.
async fn sign_up(web: &Web, name: &str, address: &str) -> Browser {
    let browser = web.browser();
    let password = format!("{name}-pw");
    let answer = browser
        .form(
            "/signup",
            &[
                ("name", name),
                ("email", address),
                ("password", &password),
                ("confirm", &password),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303, "sign-up of {name}");
    assert_eq!(location(&answer), "/check-mail");
    browser
}

async fn signing_up_mails_a_link_that_confirms_once(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = sign_up(&web, "ann", "Ann@Example.com").await;
    let waiting = ann.page("/check-mail").await;
    assert!(waiting.contains("Check your mail") && waiting.contains("ann@example.com"));
    assert!(ann.page("/settings").await.contains("Not confirmed"));

    // The link works in any browser, logged in or not, once.
    let link = web.mailed_link("ann@example.com", "confirm");
    let elsewhere = web.browser();
    let confirmed = elsewhere.page(&link).await;
    assert!(confirmed.contains("Address confirmed"), "{confirmed}");
    assert!(confirmed.contains("href=\"/login\""));
    let again = elsewhere.get(&link).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("used already"));
    assert!(
        ann.page("/check-mail")
            .await
            .contains("Your address is confirmed")
    );
    let settings = ann.page("/settings").await;
    assert!(settings.contains("Confirmed") && !settings.contains("Not confirmed"));
    assert_eq!(web.browser().get("/confirm/nonsense").await.status(), 400);

    // Settings and the waiting page are for people logged in.
    for page in ["/settings", "/check-mail"] {
        let away = web.browser().get(page).await;
        assert_eq!(away.status(), 303, "{page}");
    }
    Ok(())
}

async fn sign_up_refuses_bad_and_taken_addresses(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    sign_up(&web, "ann", "ann@example.com").await;
    let browser = web.browser();
    let attempt = async |address: &str| {
        let answer = browser
            .form(
                "/signup",
                &[
                    ("name", "bob"),
                    ("email", address),
                    ("password", "pw"),
                    ("confirm", "pw"),
                ],
            )
            .await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    };
    let (status, page) = attempt("").await;
    assert_eq!(status, 400);
    assert!(page.contains("give your e-mail address"), "{page}");
    let (status, page) = attempt("ANN@example.com").await;
    assert_eq!(status, 409);
    assert!(page.contains("in use by another account") && page.contains("value=\"bob\""));
    for bad in [
        "not-an-address",
        "ann@",
        "<script>alert(1)</script>@example.com",
    ] {
        let (status, page) = attempt(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(!page.contains("<script>alert"), "the address is escaped");
    }
    let (status, page) = attempt("\"<img src=x onerror=alert(1)>\"@example.com").await;
    assert_eq!(status, 400);
    assert!(!page.contains("<img src=x"), "the address is escaped");
    assert!(page.contains("&#60;img src=x"), "{page}");
    assert_eq!(web.mails(), 1, "only ann's mail");
    // The name stays free after every refusal.
    sign_up(&web, "bob", "bob@example.com").await;
    Ok(())
}

async fn the_link_is_sent_again_and_forms_come_from_the_site(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |_| {}).await;
    let ann = sign_up(&web, "ann", "ann@example.com").await;
    let first = web.mailed_link("ann@example.com", "confirm");
    // A link a minute at most (and five an hour).
    let too_soon = ann.form("/settings/resend", &[]).await;
    assert_eq!(too_soon.status(), 429);
    assert_eq!(too_soon.headers()["retry-after"], "60");
    assert!(too_soon.text().await.unwrap().contains("try again in 60 s"));
    assert_eq!(web.mails(), 1);
    clock.advance(Duration::from_secs(60));
    let resent = ann.form("/settings/resend", &[]).await;
    assert_eq!(resent.status(), 200);
    assert!(
        resent
            .text()
            .await
            .unwrap()
            .contains("A new link is on its way")
    );
    let second = web.mailed_link("ann@example.com", "confirm");
    assert_ne!(first, second);
    assert_eq!(web.mails(), 2);

    // Another site's forms (no Origin of ours) change nothing.
    let forged = web
        .script()
        .post(web.url("/forgot"))
        .form(&[("address", "ann@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let forged = web
        .script()
        .post(web.url("/settings/resend"))
        .header("cookie", "netdisk_session=whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(web.mails(), 2);

    ann.get(&second).await;
    let done = ann.form("/settings/resend", &[]).await;
    assert_eq!(done.status(), 400, "confirmed already");
    // An account made at a TCP door has no address to send to.
    let bob = web.logged_in("bob", UserType::User).await;
    assert_eq!(bob.form("/settings/resend", &[]).await.status(), 404);
    assert!(
        bob.page("/check-mail")
            .await
            .contains("No e-mail address yet")
    );
    Ok(())
}

async fn a_forgotten_password_is_reset_by_the_mailed_link(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = sign_up(&web, "ann", "ann@example.com").await;
    ann.get(&web.mailed_link("ann@example.com", "confirm"))
        .await;
    let visitor = web.browser();
    assert!(visitor.page("/login").await.contains("href=\"/forgot\""));
    assert!(visitor.page("/forgot").await.contains("name=\"address\""));
    let ask = async |address: &str| {
        let answer = visitor.form("/forgot", &[("address", address)]).await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    };
    let known = ask("ann@example.com").await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!(known.0, 200);
    assert_eq!(
        known, unknown,
        "nobody learns which addresses have accounts"
    );
    assert_eq!(ask("no address").await.0, 400);
    assert_eq!(web.mails(), 2, "the sign-up's and one reset");

    let link = web.mailed_link("ann@example.com", "reset");
    assert!(visitor.page(&link).await.contains("Set a new password"));
    let differ = visitor
        .form(&link, &[("password", "n3w"), ("again", "other")])
        .await;
    assert_eq!(differ.status(), 400);
    assert!(
        differ
            .text()
            .await
            .unwrap()
            .contains("the two passwords differ")
    );
    let reset = visitor
        .form(&link, &[("password", "n3w"), ("again", "n3w")])
        .await;
    assert_eq!(reset.status(), 200);
    assert!(reset.text().await.unwrap().contains("Password changed"));

    assert_eq!(
        ann.get("/movies").await.status(),
        303,
        "ann's session ended"
    );
    let old = visitor
        .form("/login", &[("name", "ann"), ("password", "ann-pw")])
        .await;
    assert_eq!(old.status(), 401);
    let new = visitor
        .form("/login", &[("name", "ann"), ("password", "n3w")])
        .await;
    assert_eq!(new.status(), 303);
    // Used: the page and the form both refuse, and change nothing.
    assert_eq!(visitor.get(&link).await.status(), 400);
    let reused = visitor
        .form(&link, &[("password", "evil"), ("again", "evil")])
        .await;
    assert_eq!(reused.status(), 400);
    assert!(reused.text().await.unwrap().contains("used already"));
    let still = web.browser();
    let login = still
        .form("/login", &[("name", "ann"), ("password", "n3w")])
        .await;
    assert_eq!(login.status(), 303);
    Ok(())
}

async fn an_expired_reset_link_changes_nothing(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |_| {}).await;
    let ann = sign_up(&web, "ann", "ann@example.com").await;
    let confirm = web.mailed_link("ann@example.com", "confirm");
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    let late = ann.get(&confirm).await;
    assert_eq!(late.status(), 400);
    assert!(late.text().await.unwrap().contains("expired"));
    let ann = web.logged_in_again("ann").await; // the session expired meanwhile
    assert_eq!(ann.form("/settings/resend", &[]).await.status(), 200);
    ann.get(&web.mailed_link("ann@example.com", "confirm"))
        .await;

    let visitor = web.browser();
    visitor
        .form("/forgot", &[("address", "ann@example.com")])
        .await;
    let link = web.mailed_link("ann@example.com", "reset");
    clock.advance(Duration::from_secs(3600));
    let page = visitor.get(&link).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("expired"));
    let posted = visitor
        .form(&link, &[("password", "n3w"), ("again", "n3w")])
        .await;
    assert_eq!(posted.status(), 400);
    let login = visitor
        .form("/login", &[("name", "ann"), ("password", "ann-pw")])
        .await;
    assert_eq!(login.status(), 303, "the password is unchanged");
    Ok(())
}

async fn the_settings_change_the_address_and_the_password(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |_| {}).await;
    let ann = sign_up(&web, "ann", "ann@example.com").await;
    sign_up(&web, "bob", "bob@example.com").await;
    let change = async |address: &str, password: &str| {
        let answer = ann
            .form(
                "/settings/email",
                &[("address", address), ("password", password)],
            )
            .await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    };
    let (status, page) = change("new@example.com", "wrong").await;
    assert_eq!(status, 403);
    assert!(page.contains("the current password is wrong"));
    assert_eq!(change("bob@example.com", "ann-pw").await.0, 409);
    let (status, page) = change("o'brien&co@example.com", "ann-pw").await;
    assert_eq!(status, 429, "a minute after the sign-up's link");
    assert!(page.contains("try again in 60 s"), "{page}");
    clock.advance(Duration::from_secs(60));
    let (status, page) = change("o'brien&co@example.com", "ann-pw").await;
    assert_eq!(status, 200);
    assert!(page.contains("your address changes when you follow it"));
    assert!(
        page.contains("ann@example.com"),
        "the old address holds until then"
    );
    ann.get(&web.mailed_link("o'brien&co@example.com", "confirm"))
        .await;
    let settings = ann.page("/settings").await;
    assert!(
        settings.contains("o&#39;brien&#38;co@example.com"),
        "{settings}"
    );
    assert!(!settings.contains("ann@example.com"));

    let password = async |current: &str, new: &str, again: &str| {
        let fields = [("current", current), ("password", new), ("again", again)];
        let answer = ann.form("/settings/password", &fields).await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    };
    let elsewhere = web.logged_in_again("ann").await;
    assert_eq!(password("wrong", "n3w", "n3w").await.0, 403);
    let (status, page) = password("ann-pw", "n3w", "other").await;
    assert_eq!(status, 400);
    assert!(page.contains("the two new passwords differ"));
    let (status, page) = password("ann-pw", "n3w", "n3w").await;
    assert_eq!(status, 200);
    assert!(page.contains("Your password is changed"));
    assert_eq!(
        ann.get("/settings").await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(
        elsewhere.get("/settings").await.status(),
        303,
        "the other ended"
    );
    let login = web
        .browser()
        .form("/login", &[("name", "ann"), ("password", "n3w")])
        .await;
    assert_eq!(login.status(), 303);
    Ok(())
}

async fn the_json_api_does_the_same(t: &TestDb) -> Result {
    let clock = Arc::new(ManualClock::new(EPOCH));
    let web = Web::start_clocked(t, clock.clone(), |_| {}).await;
    let script = web.script();
    let post = async |path: &str, token: Option<&str>, body: Value| {
        let mut request = script.post(web.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json::<Value>().await.unwrap())
    };
    let body = json!({"name": "ann", "password": "ann-pw", "email": "ann@example.com"});
    assert_eq!(post("/api/signup", None, body.clone()).await.0, 201);
    let (status, taken) = post(
        "/api/signup",
        None,
        json!({"name": "bob", "password": "x", "email": "ANN@example.com"}),
    )
    .await;
    assert_eq!((status, taken["error"].as_str()), (409, Some("conflict")));
    let token = web.token("ann").await;
    let email = async || {
        let answer = script
            .get(web.url("/api/me/email"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        answer.json::<Value>().await.unwrap()
    };
    assert_eq!(
        email().await,
        json!({"address": "ann@example.com", "confirmed": false})
    );
    let (status, too_soon) = post("/api/me/email/resend", Some(&token), json!({})).await;
    assert_eq!(
        (status, too_soon["error"].as_str()),
        (429, Some("too_fast"))
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        post("/api/me/email/resend", Some(&token), json!({}))
            .await
            .0,
        202
    );
    let link = web.mailed_link("ann@example.com", "confirm");
    let confirm_token = json!({"token": link.trim_start_matches("/confirm/")});
    let (status, confirmed) = post("/api/confirm", None, confirm_token.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(confirmed["address"], "ann@example.com");
    assert_eq!(email().await["confirmed"], true);
    let (status, reused) = post("/api/confirm", None, confirm_token).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("bad_request"))
    );

    let wrong = json!({"address": "new@example.com", "password": "nope"});
    assert_eq!(post("/api/me/email", Some(&token), wrong).await.0, 403);
    let right = json!({"address": "new@example.com", "password": "ann-pw"});
    assert_eq!(post("/api/me/email", Some(&token), right).await.0, 202);
    assert_eq!(
        email().await["address"],
        "ann@example.com",
        "until confirmed"
    );

    let forgot = json!({"address": "ann@example.com"});
    assert_eq!(post("/api/password/forgot", None, forgot).await.0, 202);
    let nobody = json!({"address": "nobody@example.com"});
    assert_eq!(post("/api/password/forgot", None, nobody).await.0, 202);
    let reset = web.mailed_link("ann@example.com", "reset");
    let reset = json!({"token": reset.trim_start_matches("/reset/"), "password": "n3w"});
    assert_eq!(
        post("/api/password/reset", None, reset.clone()).await.0,
        200
    );
    assert_eq!(
        post("/api/password/reset", None, reset).await.0,
        400,
        "used"
    );
    let ended = script
        .get(web.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 401, "the reset ended the session");

    let login = json!({"name": "ann", "password": "n3w"});
    let (_, session) = post("/api/login", None, login).await;
    let token = session["token"].as_str().unwrap();
    let change = json!({"current": "wrong", "password": "n4w"});
    assert_eq!(post("/api/me/password", Some(token), change).await.0, 403);
    let change = json!({"current": "n3w", "password": "n4w"});
    assert_eq!(post("/api/me/password", Some(token), change).await.0, 200);
    Ok(())
}

backend_tests!(
    the_json_api_does_the_same,
    signing_up_mails_a_link_that_confirms_once,
    sign_up_refuses_bad_and_taken_addresses,
    the_link_is_sent_again_and_forms_come_from_the_site,
    a_forgotten_password_is_reset_by_the_mailed_link,
    an_expired_reset_link_changes_nothing,
    the_settings_change_the_address_and_the_password,
);
