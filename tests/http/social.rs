//! The photo site's social routes at the HTTP door: following (forms and API, the hover card),
//! collecting, comments and replies with their deletes, the feed, notifications (list, unread,
//! marked read) and their arrival on the page's event stream; markup in a comment stays text;
//! and what another person may not do.

use std::time::Duration;

use futures_util::StreamExt;
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::{Value, json};

use crate::Result;
use crate::photos::jpeg;
use crate::web::{Web, location};

async fn following_collecting_and_commenting_over_http(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let bob = web.member("bob").await;
    let uploaded: Value = ann
        .http
        .post(ann.url("/api/photos"))
        .body(jpeg(400, 300, 1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"].as_i64().unwrap();

    // Ann's page stream, open before anything happens.
    let mut events = ann.get("/notices/events").await.bytes_stream();

    let followed = bob.form("/people/ann/follow", &[]).await;
    assert_eq!(location(&followed), "/people/ann");
    assert!(bob.page("/people/ann").await.contains("Following ✓"));
    let card = bob.json("/api/people/ann/card").await;
    assert_eq!(card["followers"], 1);
    assert_eq!(card["followed_by_you"], true);
    let myself = ann.post_json("/api/people/ann/follow", &json!({})).await;
    assert_eq!(myself.status(), 400);

    assert_eq!(
        bob.form(&format!("/photos/{id}/collect"), &[])
            .await
            .status(),
        303
    );
    let commented = bob
        .form(
            &format!("/photos/{id}/comments"),
            &[("body", "<script>alert(1)</script> nice")],
        )
        .await;
    assert_eq!(location(&commented), format!("/photos/{id}#comments"));
    let comments = bob.json(&format!("/api/photos/{id}/comments")).await;
    let comment = comments[0]["id"].as_i64().unwrap();
    let replied = ann
        .post_json(
            &format!("/api/photos/{id}/comments"),
            &json!({"body": "thanks!", "reply_to": comment}),
        )
        .await;
    assert_eq!(replied.status(), 201);
    let page = web.browser().page(&format!("/photos/{id}")).await;
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62; nice"));
    assert!(page.contains("1 person collected this"));

    // The stream brought ann's three notifications as they happened.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("followed you")
        && seen.contains("collected your photo")
        && seen.contains("commented"))
    {
        let chunk = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: notification"), "{seen}");

    let unread = ann.json("/api/notifications/unread").await;
    assert_eq!(unread["unread"], 3);
    let listed = ann.json("/api/notifications").await;
    assert_eq!(listed[0]["text"], "bob commented on your photo");
    let first = listed[0]["id"].as_i64().unwrap();
    assert_eq!(
        bob.post_json(&format!("/api/notifications/{first}/read"), &json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        ann.post_json(&format!("/api/notifications/{first}/read"), &json!({}))
            .await
            .status(),
        200
    );
    assert_eq!(
        location(&ann.form("/notifications/read", &[]).await),
        "/notifications"
    );
    let unread = ann.json("/api/notifications/unread").await;
    assert_eq!(unread["unread"], 0);
    assert!(
        ann.page("/notifications")
            .await
            .contains("bob followed you")
    );
    let bobs = bob.json("/api/notifications").await;
    assert_eq!(bobs[0]["text"], "ann replied to your comment");

    // The feed, a collection; what bob may not do to ann's photo.
    let home = bob.json("/api/home").await;
    assert_eq!(home["photos"][0]["id"], id);
    assert!(
        bob.page("/photos/home")
            .await
            .contains(&format!("/photos/{id}"))
    );
    assert!(
        web.browser()
            .page("/people/bob/collection")
            .await
            .contains(&format!("/photos/{id}"))
    );
    let closed = bob
        .form(&format!("/photos/{id}/comments-open"), &[("open", "0")])
        .await;
    assert_eq!(closed.status(), 403);
    assert_eq!(
        ann.form(&format!("/photos/{id}/comments-open"), &[("open", "0")])
            .await
            .status(),
        303
    );
    let refused = bob
        .form(&format!("/photos/{id}/comments"), &[("body", "more")])
        .await;
    assert_eq!(refused.status(), 403);
    let deleted = ann
        .form(
            &format!("/comments/{comment}/delete"),
            &[("photo", &id.to_string())],
        )
        .await;
    assert_eq!(location(&deleted), format!("/photos/{id}#comments"));
    let unfollowed = bob.form("/people/ann/unfollow", &[]).await;
    assert_eq!(unfollowed.status(), 303);
    let home = bob.json("/api/home").await;
    assert_eq!(home["photos"], json!([]));
    Ok(())
}

async fn reports_reach_the_moderators_dashboard(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let bob = web.member("bob").await;
    let uploaded = ann
        .http
        .post(ann.url("/api/photos"))
        .body(jpeg(300, 200, 2))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let id = uploaded["id"].as_i64().unwrap();
    let posted = ann
        .post_json(
            &format!("/api/photos/{id}/comments"),
            &json!({"body": "buy cheap <pills>"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let comment = posted["id"].as_i64().unwrap();
    let reported = bob
        .form(
            &format!("/comments/{comment}/report"),
            &[("reason", "spam <b>!</b>"), ("photo", &id.to_string())],
        )
        .await;
    assert_eq!(
        location(&reported),
        format!("/photos/{id}?reported=1#comments")
    );
    bob.form(&format!("/photos/{id}/report"), &[("reason", "not hers")])
        .await;
    let again = bob
        .post_json(
            &format!("/api/comments/{comment}/reports"),
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(again.status(), 200);

    assert_eq!(bob.get("/admin/reports").await.status(), 403);
    assert_eq!(bob.get("/api/admin/reports").await.status(), 403);
    web.account("root", netdisk_core::UserType::Admin).await;
    let admin = web.logged_in_again("root").await;
    let page = admin.page("/admin/reports").await;
    assert!(
        page.contains("buy cheap &#60;pills&#62;")
            && page.contains("spam &#60;b&#62;!&#60;/b&#62;")
    );
    assert!(!page.contains("<pills>") && !page.contains("<b>!</b>"));
    let dashboard = admin.json("/api/admin/reports").await;
    assert_eq!(dashboard["counts"]["photo_reports"], 1);
    assert_eq!(dashboard["counts"]["comment_reports"], 1, "once per person");
    assert_eq!(dashboard["counts"]["comments"], 1);
    assert_eq!(
        dashboard["comments"][0]["reasons"],
        json!(["spam <b>!</b>"])
    );
    let deleted = admin
        .form(
            &format!("/comments/{comment}/delete"),
            &[("photo", &id.to_string())],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let dashboard = admin.json("/api/admin/reports").await;
    assert_eq!(
        dashboard["counts"]["comment_reports"], 0,
        "its reports went with it"
    );
    Ok(())
}

backend_tests!(
    following_collecting_and_commenting_over_http,
    reports_reach_the_moderators_dashboard,
);
