//! E-mail addresses on accounts and the links mailed to them, on every backend: sign-up with an
//! address, confirmation, resend, password reset, change of address and of password; used,
//! expired and unknown links, addresses in use or ill-formed, a mail that cannot be sent, and a
//! database made before addresses existed. Mail goes to the outbox, where the tests read it.

mod support;

use std::time::Duration;

use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{AccountEmail, EmailToken, User};
use netdisk_core::{Caller, EmailStatus, ServiceError};
use support::{Env, account, env, env_with, link, outbox};

type Result = mini_orm::Result<()>;

async fn sign_up(env: &Env, name: &str, address: &str) -> Caller {
    env.netdisk
        .accounts()
        .register_with_email(account(name, netdisk_core::UserType::User), address)
        .await
        .unwrap();
    env.login(name).await
}

fn status(address: &str, confirmed: bool) -> Option<EmailStatus> {
    Some(EmailStatus {
        address: address.to_owned(),
        confirmed,
    })
}

async fn sign_up_mails_a_link_that_confirms_once(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "  Ann@Example.COM ").await;
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", false)
    );
    let refused = accounts.require_confirmed(&ann).await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");

    let mails = outbox(&env);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Confirm your e-mail address"));
    assert!(mails[0].contains("http://127.0.0.1:5000/confirm/"));
    let first = link(&env, "ann@example.com", "confirm");
    env.clock.advance(Duration::from_secs(60));
    accounts.resend_confirmation(&ann).await.unwrap();
    let second = link(&env, "ann@example.com", "confirm");
    assert_ne!(first, second, "each link is new");
    assert!(
        EmailToken::query()
            .all(&t.db)
            .await
            .unwrap()
            .iter()
            .all(|row| row.token_hash.len() == 64 && row.token_hash != first),
        "only hashes are stored"
    );

    assert_eq!(
        accounts.confirm_email(&second).await.unwrap(),
        "ann@example.com"
    );
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", true)
    );
    accounts.require_confirmed(&ann).await.unwrap();
    for used in [&second, &first] {
        let error = accounts.confirm_email(used).await.unwrap_err();
        assert!(error.to_string().contains("used already"), "{error}");
        assert_eq!(error.code(), "bad_request");
    }
    let again = accounts.resend_confirmation(&ann).await.unwrap_err();
    assert_eq!(again.code(), "bad_request", "confirmed already: {again}");
    for junk in ["", "x", &"0".repeat(32), "../../etc/passwd"] {
        let error = accounts.confirm_email(junk).await.unwrap_err();
        assert_eq!(error.code(), "bad_request", "{junk:?}");
    }

    // An account made at a TCP door has no address, and is not confirmed.
    let bob = env.user("bob").await;
    assert_eq!(accounts.email(&bob).await.unwrap(), None);
    assert_eq!(
        accounts.require_confirmed(&bob).await.unwrap_err().code(),
        "forbidden"
    );
    assert_eq!(
        accounts.resend_confirmation(&bob).await.unwrap_err().code(),
        "not_found"
    );
    Ok(())
}

async fn links_are_mailed_a_minute_apart_and_five_an_hour(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let too_soon = accounts.resend_confirmation(&ann).await.unwrap_err();
    assert_eq!(too_soon.code(), "too_fast");
    assert!(too_soon.to_string().contains("60 s"), "{too_soon}");
    // Another account is not slowed by ann's.
    sign_up(&env, "bob", "bob@example.com").await;
    assert_eq!(outbox(&env).len(), 2);
    // The sign-up's link and four more in an hour, a minute apart; then wait for the hour.
    for _ in 0..4 {
        env.clock.advance(Duration::from_secs(60));
        accounts.resend_confirmation(&ann).await.unwrap();
    }
    env.clock.advance(Duration::from_secs(60));
    let full = accounts.resend_confirmation(&ann).await.unwrap_err();
    assert_eq!(full.code(), "too_fast");
    assert!(full.to_string().contains("55 min"), "{full}");
    assert_eq!(outbox(&env).len(), 6);
    env.clock.advance(Duration::from_secs(55 * 60));
    accounts.resend_confirmation(&ann).await.unwrap();
    // A new address is a confirmation link too, limited the same way.
    let error = accounts
        .change_email(&ann, "pw", "ann@example.org")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "too_fast");

    // Reset links: a second request at once mails nothing and says nothing different.
    accounts
        .confirm_email(&link(&env, "ann@example.com", "confirm"))
        .await
        .unwrap();
    let mailed = outbox(&env).len();
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let first = link(&env, "ann@example.com", "reset");
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    assert_eq!(outbox(&env).len(), mailed + 1, "one reset mail");
    assert_eq!(
        EmailToken::query().count(&t.db).await?,
        2,
        "bob's and ann's"
    );
    accounts.check_reset_link(&first).await.unwrap();
    Ok(())
}

async fn an_address_in_use_is_a_conflict(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let taken = accounts
        .register_with_email(
            account("ann2", netdisk_core::UserType::User),
            "ANN@example.com",
        )
        .await
        .unwrap_err();
    assert!(matches!(taken, ServiceError::Conflict(_)), "{taken}");
    assert!(taken.to_string().contains("in use"), "{taken}");
    let names = User::query().filter(User::NAME.eq("ann2"));
    assert!(!names.exists(&t.db).await?, "no account was made");

    let bob = sign_up(&env, "bob", "bob@example.com").await;
    let error = accounts
        .change_email(&bob, "pw", "ann@example.com")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "conflict");
    // His own unconfirmed address: the link is mailed again (a minute after the last).
    env.clock.advance(Duration::from_secs(60));
    accounts
        .change_email(&bob, "pw", "bob@example.com")
        .await
        .unwrap();
    accounts
        .confirm_email(&link(&env, "bob@example.com", "confirm"))
        .await
        .unwrap();
    let own = accounts
        .change_email(&bob, "pw", "bob@example.com")
        .await
        .unwrap_err();
    assert_eq!(own.code(), "bad_request", "already bob's: {own}");

    // Two accounts ask for the same new address; the first to confirm gets it.
    let carl = sign_up(&env, "carl", "carl@example.com").await;
    env.clock.advance(Duration::from_secs(60));
    accounts
        .change_email(&ann, "pw", "shared@example.com")
        .await
        .unwrap();
    let anns = link(&env, "shared@example.com", "confirm");
    accounts
        .change_email(&carl, "pw", "shared@example.com")
        .await
        .unwrap();
    let carls = link(&env, "shared@example.com", "confirm");
    accounts.confirm_email(&carls).await.unwrap();
    let late = accounts.confirm_email(&anns).await.unwrap_err();
    assert_eq!(late.code(), "conflict");
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", false)
    );
    assert_eq!(
        accounts.email(&carl).await.unwrap(),
        status("shared@example.com", true)
    );
    Ok(())
}

async fn expired_links_change_nothing(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let token = link(&env, "ann@example.com", "confirm");
    env.clock.advance(Duration::from_secs(24 * 3600));
    let error = accounts.confirm_email(&token).await.unwrap_err();
    assert!(error.to_string().contains("expired"), "{error}");
    assert_eq!(error.code(), "bad_request");
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", false)
    );

    accounts.resend_confirmation(&ann).await.unwrap();
    accounts
        .confirm_email(&link(&env, "ann@example.com", "confirm"))
        .await
        .unwrap();
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let reset = link(&env, "ann@example.com", "reset");
    env.clock.advance(Duration::from_secs(3599));
    accounts.check_reset_link(&reset).await.unwrap();
    env.clock.advance(Duration::from_secs(1));
    let error = accounts
        .reset_password_by_link(&reset, "new")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("expired"), "{error}");
    env.netdisk
        .accounts()
        .login("ann", "pw", None)
        .await
        .unwrap();
    // A restart clears links that expired.
    env.reopen().await;
    assert!(EmailToken::query().all(&t.db).await?.is_empty());
    Ok(())
}

async fn ill_formed_addresses_are_refused(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let long = format!("{}@example.com", "a".repeat(250));
    for bad in [
        "",
        "   ",
        "no-at-sign",
        "two@@example.com",
        "spaces in@example.com",
        "<script>alert(1)</script>@example.com",
        "\"<b>bold</b>\"@example.com",
        "ann@example.com\r\nBcc: everyone@example.com",
        "ann@",
        "@example.com",
        &long,
    ] {
        let error = accounts
            .register_with_email(account("ann", netdisk_core::UserType::User), bad)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "bad_request", "{bad:?}: {error}");
        let error = accounts.request_password_reset(bad).await.unwrap_err();
        assert_eq!(error.code(), "bad_request", "{bad:?}: {error}");
    }
    assert!(
        User::query().all(&t.db).await?.is_empty(),
        "no account was made"
    );
    assert!(outbox(&env).is_empty());
    Ok(())
}

async fn a_forgotten_password_is_reset_by_mail(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let session = accounts.login("ann", "pw", None).await.unwrap().token;
    // Unknown and unconfirmed addresses get the same answer, and no mail.
    accounts
        .request_password_reset("nobody@example.com")
        .await
        .unwrap();
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    assert_eq!(outbox(&env).len(), 1, "only the sign-up's mail");
    accounts
        .confirm_email(&link(&env, "ann@example.com", "confirm"))
        .await
        .unwrap();

    accounts
        .request_password_reset("Ann@Example.com")
        .await
        .unwrap();
    let earlier = link(&env, "ann@example.com", "reset");
    env.clock.advance(Duration::from_secs(60));
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let token = link(&env, "ann@example.com", "reset");
    accounts.check_reset_link(&token).await.unwrap();
    let empty = accounts
        .reset_password_by_link(&token, "")
        .await
        .unwrap_err();
    assert_eq!(empty.code(), "bad_request");
    accounts.check_reset_link(&token).await.unwrap(); // a refused password used nothing

    accounts
        .reset_password_by_link(&token, "n3w")
        .await
        .unwrap();
    let ended = accounts.authenticate(&session).await.unwrap_err();
    assert_eq!(
        ended.code(),
        "not_logged_in",
        "the account's sessions ended"
    );
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", true)
    );
    assert_eq!(
        accounts.login("ann", "pw", None).await.unwrap_err().code(),
        "not_logged_in"
    );
    accounts.login("ann", "n3w", None).await.unwrap();
    for used in [&token, &earlier] {
        let error = accounts
            .reset_password_by_link(used, "again")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "bad_request", "{error}");
        assert_eq!(
            accounts.check_reset_link(used).await.unwrap_err().code(),
            "bad_request"
        );
    }
    accounts.login("ann", "n3w", None).await.unwrap();
    // A confirmation link is no reset link, nor the other way round.
    accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let reset = link(&env, "ann@example.com", "reset");
    assert_eq!(
        accounts.confirm_email(&reset).await.unwrap_err().code(),
        "bad_request"
    );
    accounts
        .reset_password_by_link(&reset, "n4w")
        .await
        .unwrap();
    Ok(())
}

async fn a_new_address_counts_once_confirmed(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let old_link = link(&env, "ann@example.com", "confirm");
    let wrong = accounts
        .change_email(&ann, "not-pw", "new@example.com")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "forbidden");
    assert_eq!(outbox(&env).len(), 1, "no mail for a wrong password");

    env.clock.advance(Duration::from_secs(60));
    accounts
        .change_email(&ann, "pw", "New@Example.com")
        .await
        .unwrap();
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("ann@example.com", false)
    );
    let token = link(&env, "new@example.com", "confirm");
    assert_eq!(
        accounts.confirm_email(&token).await.unwrap(),
        "new@example.com"
    );
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("new@example.com", true)
    );
    // The old address's link no longer brings it back.
    assert_eq!(
        accounts.confirm_email(&old_link).await.unwrap_err().code(),
        "bad_request"
    );
    assert_eq!(
        accounts.email(&ann).await.unwrap(),
        status("new@example.com", true)
    );
    // The old address is free again.
    sign_up(&env, "bob", "ann@example.com").await;

    // An account without an address adds one the same way.
    let carl = env.user("carl").await;
    accounts
        .change_email(&carl, "pw", "carl@example.com")
        .await
        .unwrap();
    accounts
        .confirm_email(&link(&env, "carl@example.com", "confirm"))
        .await
        .unwrap();
    assert_eq!(
        accounts.email(&carl).await.unwrap(),
        status("carl@example.com", true)
    );
    Ok(())
}

async fn a_password_change_needs_the_current_password(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    sign_up(&env, "ann", "ann@example.com").await;
    let here = accounts.login("ann", "pw", None).await.unwrap();
    let ann = here.caller;
    let elsewhere = accounts.login("ann", "pw", None).await.unwrap().token;
    let wrong = accounts
        .change_password(&ann, "nope", "n3w")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "forbidden");
    let empty = accounts.change_password(&ann, "pw", "").await.unwrap_err();
    assert_eq!(empty.code(), "bad_request");
    accounts.login("ann", "pw", None).await.unwrap();

    accounts.change_password(&ann, "pw", "n3w").await.unwrap();
    accounts.authenticate(&here.token).await.unwrap(); // this session goes on
    let other = accounts.authenticate(&elsewhere).await.unwrap_err();
    assert_eq!(other.code(), "not_logged_in", "the other session ended");
    assert!(accounts.login("ann", "pw", None).await.is_err());
    accounts.login("ann", "n3w", None).await.unwrap();
    Ok(())
}

async fn guessing_the_current_password_locks_the_account(t: &TestDb) -> Result {
    let env = env_with(t, |config| config.lockout_threshold = 3).await;
    let accounts = env.netdisk.accounts();
    let ann = sign_up(&env, "ann", "ann@example.com").await;
    let wrong = accounts
        .change_password(&ann, "guess", "x")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "forbidden");
    accounts.change_password(&ann, "pw", "pw").await.unwrap(); // the run of failures ends
    for guess in ["a", "b", "c"] {
        let error = accounts
            .change_email(&ann, guess, "x@example.com")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "forbidden", "{guess}");
    }
    let locked = accounts
        .change_password(&ann, "pw", "n3w")
        .await
        .unwrap_err();
    assert_eq!(locked.code(), "locked", "{locked}");
    assert_eq!(
        accounts.login("ann", "pw", None).await.unwrap_err().code(),
        "locked"
    );
    env.clock.advance(Duration::from_secs(15 * 60));
    accounts.change_password(&ann, "pw", "n3w").await.unwrap();
    Ok(())
}

async fn a_mail_that_cannot_be_sent_leaves_nothing(t: &TestDb) -> Result {
    // An SMTP port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let env = env_with(t, |config| {
        config.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    let accounts = env.netdisk.accounts();
    let error = accounts
        .register_with_email(
            account("ann", netdisk_core::UserType::User),
            "ann@example.com",
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Mail(_)), "{error}");
    assert!(error.to_string().contains("nothing was changed"), "{error}");
    assert!(
        User::query().all(&t.db).await?.is_empty(),
        "the account was undone"
    );
    assert!(AccountEmail::query().all(&t.db).await?.is_empty());
    assert!(EmailToken::query().all(&t.db).await?.is_empty());

    // The name and the address are free; without the mail the account is made as at a TCP door.
    env.register("ann", netdisk_core::UserType::User).await;
    let ann = env.login("ann").await;
    let error = accounts
        .change_email(&ann, "pw", "ann@example.com")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "mail_failed");
    let mut confirmed = AccountEmail {
        id: 0,
        user_id: ann.user_id(),
        address: "ann@example.com".into(),
        confirmed_at: Some(support::START),
    };
    confirmed.save(&t.db).await?;
    let error = accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "mail_failed");
    assert!(
        EmailToken::query().all(&t.db).await?.is_empty(),
        "no link without its mail"
    );
    Ok(())
}

async fn a_database_made_before_addresses_works(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("old", netdisk_core::UserType::User).await;
    // As it was before this version: no address tables.
    t.db.drop_table::<EmailToken>().await?;
    t.db.drop_table::<AccountEmail>().await?;
    let netdisk = env.reopen().await;
    let accounts = netdisk.accounts();
    let old = accounts.login("old", "pw", None).await.unwrap().caller;
    assert_eq!(accounts.email(&old).await.unwrap(), None);
    accounts
        .change_email(&old, "pw", "old@example.com")
        .await
        .unwrap();
    accounts
        .confirm_email(&link(&env, "old@example.com", "confirm"))
        .await
        .unwrap();
    assert_eq!(
        accounts.email(&old).await.unwrap(),
        status("old@example.com", true)
    );
    Ok(())
}

backend_tests!(
    sign_up_mails_a_link_that_confirms_once,
    links_are_mailed_a_minute_apart_and_five_an_hour,
    an_address_in_use_is_a_conflict,
    expired_links_change_nothing,
    ill_formed_addresses_are_refused,
    a_forgotten_password_is_reset_by_mail,
    a_new_address_counts_once_confirmed,
    a_password_change_needs_the_current_password,
    guessing_the_current_password_locks_the_account,
    a_mail_that_cannot_be_sent_leaves_nothing,
    a_database_made_before_addresses_works,
);
