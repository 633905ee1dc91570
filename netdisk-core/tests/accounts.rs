//! Registration, the admin sign-up policy, login and lockout, sessions, VIP: on every backend.

mod support;

use std::time::Duration;

use mini_orm::testing::{StatementLog, TestBackend, TestDb};
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Session, User};
use netdisk_core::{NewAccount, ServiceError, UserType};
use support::{account, env, env_with};

type Result = mini_orm::Result<()>;

async fn names_are_checked_and_unique(t: &TestDb) -> Result {
    let env = env(t).await;
    let nd = &env.netdisk;
    for bad in ["", &"x".repeat(33), "tab\there", "new\nline"] {
        let error = nd
            .accounts()
            .register(account(bad, UserType::User))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "bad_request", "{bad:?}: {error}");
    }
    // SQL, shell and path syntax is just a name, stored exactly as given.
    for odd in [
        "'; DROP TABLE user_info; --",
        "../../etc/passwd",
        "$(rm -rf ~)",
        "名前 ✓",
        &"é".repeat(32),
    ] {
        let profile = nd
            .accounts()
            .register(account(odd, UserType::User))
            .await
            .unwrap();
        assert_eq!(profile.username, odd);
    }
    let error = nd
        .accounts()
        .register(account("$(rm -rf ~)", UserType::User))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Conflict(_)), "{error}");
    Ok(())
}

async fn racing_registrations_of_one_name_have_one_winner(t: &TestDb) -> Result {
    let env = env(t).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let nd = env.netdisk.clone();
            tokio::spawn(async move {
                nd.accounts()
                    .register(account("contested", UserType::User))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| e.code() == "conflict")
    );
    Ok(())
}

async fn only_the_first_admin_signs_up_freely(t: &TestDb) -> Result {
    let env = env(t).await;
    let nd = &env.netdisk;
    nd.accounts()
        .register(account("first", UserType::Admin))
        .await
        .unwrap();
    let error = nd
        .accounts()
        .register(account("second", UserType::Admin))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "forbidden");
    nd.accounts()
        .register(account("plain", UserType::User))
        .await
        .unwrap();

    let open = env_with(t, |c| c.admin_signup_open = true).await;
    open.netdisk
        .accounts()
        .register(account("third", UserType::Admin))
        .await
        .unwrap();
    Ok(())
}

async fn racing_first_admins_have_one_winner(t: &TestDb) -> Result {
    let env = env(t).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let nd = env.netdisk.clone();
            tokio::spawn(async move {
                nd.accounts()
                    .register(account(&format!("admin{i}"), UserType::Admin))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(e) => assert_eq!(e.code(), "forbidden", "{e}"),
        }
    }
    assert_eq!(winners, 1);
    Ok(())
}

async fn unknown_name_wrong_password_and_wrong_type_get_one_answer(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let nd = &env.netdisk;
    let answers = [
        nd.accounts().login("nobody", "pw", None).await.unwrap_err(),
        nd.accounts()
            .login("alice", "wrong", None)
            .await
            .unwrap_err(),
        nd.accounts()
            .login("alice", "pw", Some(UserType::Admin))
            .await
            .unwrap_err(),
    ];
    for answer in &answers {
        assert!(
            matches!(answer, ServiceError::WrongCredentials),
            "{answer:?}"
        );
        assert_eq!(answer.to_string(), answers[0].to_string());
    }
    let ok = nd
        .accounts()
        .login("alice", "pw", Some(UserType::User))
        .await
        .unwrap();
    assert_eq!(ok.token.len(), 32);
    assert!(ok.token.bytes().all(|b| b.is_ascii_hexdigit()));
    Ok(())
}

async fn repeated_failures_lock_the_account_until_it_expires(t: &TestDb) -> Result {
    let env = env_with(t, |c| {
        c.lockout_threshold = 3;
        c.lockout_secs = 600;
    })
    .await;
    env.register("alice", UserType::User).await;
    env.register("bob", UserType::User).await;
    let nd = &env.netdisk;
    for _ in 0..3 {
        assert!(matches!(
            nd.accounts().login("alice", "wrong", None).await,
            Err(ServiceError::WrongCredentials)
        ));
    }
    let locked = nd.accounts().login("alice", "pw", None).await.unwrap_err();
    assert_eq!(
        locked.code(),
        "locked",
        "even the right password is refused while locked"
    );
    nd.accounts()
        .login("bob", "pw", None)
        .await
        .expect("the lock is per account");
    env.clock.advance(Duration::from_secs(599));
    assert_eq!(
        nd.accounts()
            .login("alice", "pw", None)
            .await
            .unwrap_err()
            .code(),
        "locked"
    );
    env.clock.advance(Duration::from_secs(1));
    nd.accounts()
        .login("alice", "pw", None)
        .await
        .expect("the lock has expired");
    Ok(())
}

async fn a_success_resets_the_failure_count(t: &TestDb) -> Result {
    let env = env_with(t, |c| c.lockout_threshold = 3).await;
    env.register("alice", UserType::User).await;
    let nd = &env.netdisk;
    for _ in 0..2 {
        nd.accounts()
            .login("alice", "wrong", None)
            .await
            .unwrap_err();
    }
    nd.accounts().login("alice", "pw", None).await.unwrap();
    for _ in 0..2 {
        nd.accounts()
            .login("alice", "wrong", None)
            .await
            .unwrap_err();
    }
    nd.accounts()
        .login("alice", "pw", None)
        .await
        .expect("two failures after a success do not lock");
    Ok(())
}

async fn passwords_are_stored_as_argon2id_only(t: &TestDb) -> Result {
    let env = env(t).await;
    env.netdisk
        .accounts()
        .register(NewAccount {
            password: "s3cret-as-typed",
            ..account("alice", UserType::User)
        })
        .await
        .unwrap();
    let stored = User::query()
        .filter(User::NAME.eq("alice"))
        .first(&t.db)
        .await?
        .unwrap();
    assert!(
        stored
            .pwd_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1,data=Y2Fub25pY2Fs$"),
        "{}",
        stored.pwd_hash
    );
    assert!(!stored.pwd_hash.contains("s3cret"));
    Ok(())
}

async fn a_password_as_typed_and_its_md5_are_one_password_at_every_door(t: &TestDb) -> Result {
    let env = env(t).await;
    let accounts = env.netdisk.accounts();
    // Registered by an original Youku client (the hex MD5 of what was typed), and in a
    // browser (the text itself).
    let digest = support::md5_hex(b"s3cret");
    let youku = NewAccount::user("ann", &digest);
    accounts.register(youku).await.unwrap();
    accounts
        .register(NewAccount::user("bo", "typed"))
        .await
        .unwrap();
    for (name, password) in [
        ("ann", "s3cret".to_owned()),
        ("ann", digest),
        ("bo", "typed".to_owned()),
        ("bo", support::md5_hex(b"typed")),
    ] {
        let login = accounts.login(name, &password, None).await;
        assert!(login.is_ok(), "{name} with {password}");
    }
    let wrong = accounts
        .login("ann", &support::md5_hex(b"s3cret!"), None)
        .await;
    assert!(wrong.is_err());
    Ok(())
}

async fn sessions_end_on_logout(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let nd = &env.netdisk;
    let first = nd.accounts().login("alice", "pw", None).await.unwrap();
    let second = nd.accounts().login("alice", "pw", None).await.unwrap();
    assert_ne!(first.token, second.token);
    let caller = nd.accounts().authenticate(&first.token).await.unwrap();
    assert_eq!(caller.name(), "alice");
    nd.accounts().logout(&caller).await.unwrap();
    assert!(matches!(
        nd.accounts().authenticate(&first.token).await,
        Err(ServiceError::NotLoggedIn)
    ));
    nd.accounts()
        .authenticate(&second.token)
        .await
        .expect("other sessions go on");
    for bogus in ["", "short", &"0".repeat(32), &"g".repeat(32)] {
        assert!(
            matches!(
                nd.accounts().authenticate(bogus).await,
                Err(ServiceError::NotLoggedIn)
            ),
            "{bogus}"
        );
    }
    Ok(())
}

async fn sessions_end_after_the_idle_time_and_use_keeps_them(t: &TestDb) -> Result {
    let env = env_with(t, |c| c.session_idle_secs = 600).await;
    env.register("alice", UserType::User).await;
    let nd = &env.netdisk;
    let kept = nd
        .accounts()
        .login("alice", "pw", None)
        .await
        .unwrap()
        .token;
    let idle = nd
        .accounts()
        .login("alice", "pw", None)
        .await
        .unwrap()
        .token;
    for _ in 0..3 {
        env.clock.advance(Duration::from_secs(400));
        nd.accounts()
            .authenticate(&kept)
            .await
            .expect("used within the idle time");
    }
    assert!(matches!(
        nd.accounts().authenticate(&idle).await,
        Err(ServiceError::NotLoggedIn)
    ));
    Ok(())
}

async fn sessions_survive_a_restart_and_are_shared_by_servers(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let token = env
        .netdisk
        .accounts()
        .login("alice", "pw", None)
        .await
        .unwrap()
        .token;
    let other = env.reopen().await;
    let caller = other.accounts().authenticate(&token).await.unwrap();
    other.accounts().logout(&caller).await.unwrap();
    assert!(
        env.netdisk.accounts().authenticate(&token).await.is_err(),
        "a logout on one server ends it on all"
    );
    Ok(())
}

async fn buying_vip_is_idempotent_and_for_users_only(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let user = env.user("alice").await;
    let nd = &env.netdisk;
    assert!(nd.accounts().buy_vip(&user).await.unwrap());
    assert!(nd.accounts().buy_vip(&user).await.unwrap());
    assert!(nd.accounts().profile(&user).await.unwrap().is_vip);
    assert_eq!(
        nd.accounts().buy_vip(&admin).await.unwrap_err().code(),
        "forbidden"
    );
    Ok(())
}

/// A session found in the database is trusted from memory for a moment: a request right after
/// another runs no statement to authenticate, and once the moment has passed the session is
/// looked up again.
async fn a_session_is_looked_up_once_then_trusted_for_a_moment(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let accounts = env.netdisk.accounts();
    let token = accounts.login("alice", "pw", None).await.unwrap().token;
    let log = StatementLog::start();
    accounts.authenticate(&token).await.unwrap();
    let first = log.statements().len();
    assert!(first >= 2, "the session and its account are read: {first}");
    accounts.authenticate(&token).await.unwrap();
    assert_eq!(
        log.statements().len(),
        first,
        "the second request reads nothing"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    accounts.authenticate(&token).await.unwrap();
    assert_eq!(log.statements().len(), 2 * first, "looked up again later");
    Ok(())
}

/// Two server processes on one database: a logout through one is honoured by the other within
/// a second, although the other had the session in memory.
async fn a_logout_on_one_server_is_honoured_by_the_other_within_a_second(t: &TestDb) -> Result {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let here = env.netdisk.accounts();
    let other = env.reopen().await;
    let token = here.login("alice", "pw", None).await.unwrap().token;
    other.accounts().authenticate(&token).await.unwrap();
    let caller = here.authenticate(&token).await.unwrap();
    here.logout(&caller).await.unwrap();
    let logged_out = std::time::Instant::now();
    while other.accounts().authenticate(&token).await.is_ok() {
        assert!(
            logged_out.elapsed() < Duration::from_secs(1),
            "the other server still accepts the session a second after the logout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(
        here.authenticate(&token).await,
        Err(ServiceError::NotLoggedIn)
    ));
    Ok(())
}

backend_tests!(
    a_session_is_looked_up_once_then_trusted_for_a_moment,
    a_logout_on_one_server_is_honoured_by_the_other_within_a_second,
    names_are_checked_and_unique,
    racing_registrations_of_one_name_have_one_winner,
    only_the_first_admin_signs_up_freely,
    racing_first_admins_have_one_winner,
    unknown_name_wrong_password_and_wrong_type_get_one_answer,
    repeated_failures_lock_the_account_until_it_expires,
    a_success_resets_the_failure_count,
    passwords_are_stored_as_argon2id_only,
    a_password_as_typed_and_its_md5_are_one_password_at_every_door,
    sessions_end_on_logout,
    sessions_end_after_the_idle_time_and_use_keeps_them,
    sessions_survive_a_restart_and_are_shared_by_servers,
    buying_vip_is_idempotent_and_for_users_only,
);

/// Sessions that come due for a `last_seen` write at the same time are written together: eight
/// sessions due while the database's writer is busy cost two UPDATEs (the first comer's, then
/// one for the seven that queued behind it), not eight, and each `authenticate` returns only
/// once its session is written.
#[tokio::test]
async fn sessions_due_together_are_touched_in_one_write() {
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let (env, tokens) = sessions_due_for_a_touch(&t, 8).await;
    // Sees every task: the test's runtime runs them all on this thread.
    let log = StatementLog::start();

    let busy = t.db.begin().await.unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for token in tokens {
        let netdisk = env.netdisk.clone();
        requests.spawn(async move { netdisk.accounts().authenticate(&token).await });
    }
    for _ in 0..10 {
        tokio::task::yield_now().await; // every request reaches its wait for the writer
    }
    busy.commit().await.unwrap();
    while let Some(request) = requests.join_next().await {
        request.unwrap().expect("the session is valid");
    }

    let statements = log.statements();
    let updates = statements
        .iter()
        .filter(|sql| sql.starts_with("UPDATE") && sql.contains("last_seen"))
        .count();
    assert_eq!(updates, 2, "{statements:#?}");
    assert_all_touched(&t).await;
}

/// The request writing a group can be cancelled (its client gone) while it waits: the group's
/// sessions, its own among them, are then written by the next request of the group.
#[tokio::test]
async fn a_cancelled_touch_leaves_its_group_to_the_others() {
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let (env, mut tokens) = sessions_due_for_a_touch(&t, 4).await;
    let busy = t.db.begin().await.unwrap();
    let first = tokens.pop().unwrap();
    let netdisk = env.netdisk.clone();
    let cancelled = tokio::spawn(async move { netdisk.accounts().authenticate(&first).await });
    tokio::task::yield_now().await; // it takes the turn and waits for the writer
    let mut requests = tokio::task::JoinSet::new();
    for token in tokens {
        let netdisk = env.netdisk.clone();
        requests.spawn(async move { netdisk.accounts().authenticate(&token).await });
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    cancelled.abort();
    assert!(cancelled.await.unwrap_err().is_cancelled());
    busy.commit().await.unwrap();
    while let Some(request) = requests.join_next().await {
        request.unwrap().expect("the session is valid");
    }
    assert_all_touched(&t).await;
}

/// `count` sessions of one user, all due for a `last_seen` write, and their tokens.
async fn sessions_due_for_a_touch(t: &TestDb, count: usize) -> (support::Env, Vec<String>) {
    let env = env(t).await;
    env.register("alice", UserType::User).await;
    let mut tokens = Vec::new();
    for _ in 0..count {
        tokens.push(
            env.netdisk
                .accounts()
                .login("alice", "pw", None)
                .await
                .unwrap()
                .token,
        );
    }
    env.clock.advance(Duration::from_secs(120));
    (env, tokens)
}

async fn assert_all_touched(t: &TestDb) {
    let now = support::START + 120;
    for session in Session::query().all(&t.db).await.unwrap() {
        assert_eq!(session.last_seen, now, "every session is written");
    }
}
