//! The administrators' accounts page: add a user (the password typed twice and matching, a
//! taken name refused), lock and unlock (a locked account logs in at no door, its sessions end),
//! reset a password (the old one stops working), grant and revoke making chat rooms; and a user
//! is refused every one of these.

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;

use crate::Result;
use crate::scenarios::login;
use crate::web::{Web, location};

async fn an_admin_manages_accounts(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let admin = web.logged_in("admin", UserType::Admin).await;
    let differ = admin
        .form(
            "/admin/users",
            &[("name", "carol"), ("password", "a"), ("again", "b")],
        )
        .await;
    assert_eq!(differ.status(), 400);
    assert!(
        differ
            .text()
            .await
            .unwrap()
            .contains("the two passwords differ")
    );
    let added = admin
        .form(
            "/admin/users",
            &[
                ("name", "carol"),
                ("password", "carol-pw"),
                ("again", "carol-pw"),
            ],
        )
        .await;
    assert_eq!(location(&added), "/admin/users");
    let taken = admin
        .form(
            "/admin/users",
            &[("name", "carol"), ("password", "x"), ("again", "x")],
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert!(taken.text().await.unwrap().contains("this name is taken"));
    let carol = web.logged_in_again("carol").await;
    assert!(
        admin
            .page("/admin/users")
            .await
            .contains("<strong>carol</strong>")
    );

    // Roles on the photo site: the page sets them; a role that is not one is refused.
    let moderator = admin
        .form("/admin/users/carol/role", &[("role", "moderator")])
        .await;
    assert_eq!(location(&moderator), "/admin/users");
    let caller = web.caller("carol").await;
    let accounts = web.server.netdisk.accounts();
    assert_eq!(
        accounts.role(&caller).await.unwrap(),
        netdisk_core::Role::Moderator
    );
    assert!(
        admin
            .page("/admin/users")
            .await
            .contains("<option value=\"moderator\" selected>")
    );
    let emperor = admin
        .form("/admin/users/carol/role", &[("role", "emperor")])
        .await;
    assert_eq!(emperor.status(), 400);
    let administrator = admin
        .form("/admin/users/carol/role", &[("role", "administrator")])
        .await;
    assert_eq!(
        administrator.status(),
        403,
        "that role comes with an admin account"
    );

    // A lock ends carol's session and keeps her out of every door.
    let locked = admin.form("/admin/users/carol/lock", &[]).await;
    assert_eq!(location(&locked), "/admin/users");
    assert_eq!(
        carol.get("/movies").await.status(),
        303,
        "her session ended"
    );
    let again = web
        .browser()
        .form("/login", &[("name", "carol"), ("password", "carol-pw")])
        .await;
    assert_eq!(again.status(), 403);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("locked by an administrator")
    );
    let mut youku = web.server.youku().await;
    assert_eq!(
        youku.call(login("carol", "carol-pw", "user")).await["code"],
        "forbidden"
    );
    assert!(admin.page("/admin/users").await.contains("Locked"));
    let myself = admin.form("/admin/users/admin/lock", &[]).await;
    assert_eq!(myself.status(), 403);
    admin.form("/admin/users/carol/unlock", &[]).await;
    let carol = web.logged_in_again("carol").await;

    // A new password: the old one stops working, and so does the session.
    let reset = admin
        .form("/admin/users/carol/password", &[("password", "fresh")])
        .await;
    assert_eq!(location(&reset), "/admin/users");
    assert_eq!(carol.get("/movies").await.status(), 303);
    let old = web
        .browser()
        .form("/login", &[("name", "carol"), ("password", "carol-pw")])
        .await;
    assert_eq!(old.status(), 401);
    let fresh = web
        .browser()
        .form("/login", &[("name", "carol"), ("password", "fresh")])
        .await;
    assert_eq!(fresh.status(), 303);

    // Making rooms.
    admin.form("/admin/users/carol/grant", &[]).await;
    assert!(
        admin
            .page("/admin/users")
            .await
            .contains("May make rooms ✓")
    );
    admin.form("/admin/users/carol/revoke", &[]).await;
    assert!(
        !admin
            .page("/admin/users")
            .await
            .contains("May make rooms ✓")
    );
    assert_eq!(
        admin.form("/admin/users/nobody/lock", &[]).await.status(),
        404
    );
    Ok(())
}

async fn users_are_refused_the_accounts_page(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.account("admin", UserType::Admin).await;
    let user = web.logged_in("eve", UserType::User).await;
    assert_eq!(user.get("/admin/users").await.status(), 403);
    for action in ["lock", "unlock", "grant", "revoke"] {
        let refused = user
            .form(&format!("/admin/users/admin/{action}"), &[])
            .await;
        assert_eq!(refused.status(), 403, "{action}");
    }
    let reset = user
        .form("/admin/users/admin/password", &[("password", "mine now")])
        .await;
    assert_eq!(reset.status(), 403);
    let add = user
        .form(
            "/admin/users",
            &[("name", "x"), ("password", "x"), ("again", "x")],
        )
        .await;
    assert_eq!(add.status(), 403);
    let admin = web.logged_in_again("admin").await;
    assert!(
        !admin
            .page("/admin/users")
            .await
            .contains("<strong>x</strong>")
    );
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    an_admin_manages_accounts,
    users_are_refused_the_accounts_page,
);
