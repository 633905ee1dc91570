//! The photo site's social side on every backend: following (idempotent, never oneself),
//! collecting, comments and replies (closed by the owner, deleted by whom may), the home feed,
//! and notifications: stored, counted, marked read, and pushed live to a subscriber on another
//! server process.

mod support;

use std::time::Duration;

use bytes::Bytes;
use image::{ImageEncoder, RgbImage};
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Collect, Comment, Notification};
use netdisk_core::{Caller, NotificationKind, Role};
use support::{Env, env, env_with};

type Result = mini_orm::Result<()>;

fn jpeg(seed: u8) -> Bytes {
    let picture = RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(&picture, 120, 80, image::ExtendedColorType::Rgb8)
        .unwrap();
    Bytes::from(out)
}

async fn photo(env: &Env, who: &Caller, seed: u8) -> i64 {
    env.netdisk
        .photos()
        .upload(who, jpeg(seed), "")
        .await
        .unwrap()
}

/// The kinds and actors of `who`'s notifications, newest first.
async fn told(env: &Env, who: &Caller) -> Vec<(NotificationKind, String)> {
    let social = env.netdisk.social();
    let all = social.notifications(who, None, 100).await.unwrap();
    all.into_iter().map(|n| (n.kind, n.actor)).collect()
}

async fn following_is_idempotent_and_never_oneself(t: &TestDb) -> Result {
    let env = env(t).await;
    let social = env.netdisk.social();
    let (ann, bob, cy) = (
        env.member("ann").await,
        env.member("bob").await,
        env.member("cy").await,
    );
    social.follow(&ann, "bob").await.unwrap();
    social.follow(&ann, "bob").await.unwrap();
    social.follow(&cy, "bob").await.unwrap();
    social.follow(&bob, "ann").await.unwrap();
    assert_eq!(
        social.follow(&ann, "ann").await.unwrap_err().code(),
        "bad_request"
    );
    assert_eq!(
        social.follow(&ann, "nobody").await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(social.followers("bob", 10).await.unwrap(), ["cy", "ann"]);
    assert_eq!(social.following("ann", 10).await.unwrap(), ["bob"]);
    assert_eq!(
        told(&env, &bob).await,
        [
            (NotificationKind::Follow, "cy".to_owned()),
            (NotificationKind::Follow, "ann".to_owned())
        ],
        "once per follower, however often pressed"
    );
    photo(&env, &bob, 1).await;
    let card = social.card(Some(&ann), "bob").await.unwrap();
    assert_eq!(
        (
            card.photos,
            card.followers,
            card.following,
            card.followed_by_you,
            card.is_you
        ),
        (1, 2, 1, true, false)
    );
    assert!(!social.card(None, "bob").await.unwrap().followed_by_you);
    assert!(social.card(Some(&bob), "bob").await.unwrap().is_you);

    social.unfollow(&ann, "bob").await.unwrap();
    social.unfollow(&ann, "bob").await.unwrap();
    assert_eq!(social.followers("bob", 10).await.unwrap(), ["cy"]);

    // Unconfirmed: may look, not follow. Locked by role: may still follow.
    let tcp = env.user("tcp").await;
    assert_eq!(
        social.follow(&tcp, "bob").await.unwrap_err().code(),
        "forbidden"
    );
    let admin = env.admin().await;
    env.netdisk
        .accounts()
        .set_role(&admin, "cy", Role::Locked)
        .await
        .unwrap();
    social.follow(&cy, "ann").await.unwrap();
    Ok(())
}

async fn collections_tell_the_owner_once_and_page_newest_first(t: &TestDb) -> Result {
    let env = env(t).await;
    let social = env.netdisk.social();
    let (ann, bob) = (env.member("ann").await, env.member("bob").await);
    let mut photos = Vec::new();
    for seed in 0..3 {
        photos.push(photo(&env, &bob, seed).await);
    }
    for id in &photos {
        social.collect(&ann, *id).await.unwrap();
    }
    social.collect(&ann, photos[0]).await.unwrap();
    let own = photo(&env, &ann, 9).await;
    social.collect(&ann, own).await.unwrap();
    assert_eq!(told(&env, &bob).await.len(), 3, "once per photo");
    assert!(told(&env, &ann).await.is_empty(), "not told of oneself");
    let collected = social.collected(Some(&ann), photos[1]).await.unwrap();
    assert_eq!((collected.count, collected.by_you), (1, true));

    let first = social.collection("ann", None, 2).await.unwrap();
    let ids: Vec<i64> = first.photos.iter().map(|p| p.id).collect();
    assert_eq!(ids, [own, photos[2]], "the latest collected first");
    let rest = social.collection("ann", first.next, 2).await.unwrap();
    let ids: Vec<i64> = rest.photos.iter().map(|p| p.id).collect();
    assert_eq!(ids, [photos[1], photos[0]]);
    social.uncollect(&ann, photos[1]).await.unwrap();
    assert_eq!(
        social
            .collection("ann", None, 10)
            .await
            .unwrap()
            .photos
            .len(),
        3
    );
    assert_eq!(
        social.collect(&ann, 999_999).await.unwrap_err().code(),
        "not_found"
    );
    Ok(())
}

async fn comments_and_replies_tell_the_right_people(t: &TestDb) -> Result {
    let env = env(t).await;
    let social = env.netdisk.social();
    let (ann, bob, cy) = (
        env.member("ann").await,
        env.member("bob").await,
        env.member("cy").await,
    );
    let id = photo(&env, &ann, 1).await;
    let first = social
        .comment(&bob, id, "<b>Lovely</b> light", None)
        .await
        .unwrap();
    let reply = social
        .comment(&cy, id, "Agreed!\nSecond line", Some(first))
        .await
        .unwrap();
    let owners = social.comment(&ann, id, "Thanks", None).await.unwrap();
    social
        .comment(&bob, id, "You're welcome", Some(owners))
        .await
        .unwrap();
    // Ann: bob's and cy's comments, and bob's reply to her (once, as a reply).
    let kinds: Vec<NotificationKind> = told(&env, &ann).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            NotificationKind::Reply,
            NotificationKind::Comment,
            NotificationKind::Comment
        ]
    );
    assert_eq!(
        told(&env, &bob).await,
        [(NotificationKind::Reply, "cy".to_owned())]
    );

    let shown = social.comments(id).await.unwrap();
    assert_eq!(shown.len(), 4);
    assert_eq!(shown[0].body, "<b>Lovely</b> light", "kept as text");
    assert_eq!(shown[1].replied_to, Some(first));
    assert_eq!(shown[1].replied_to_author.as_deref(), Some("bob"));

    // Limits, a reply to another photo's comment, a closed photo.
    for (body, code) in [("", "bad_request"), (&*"x".repeat(1001), "bad_request")] {
        assert_eq!(
            social
                .comment(&bob, id, body, None)
                .await
                .unwrap_err()
                .code(),
            code
        );
    }
    let other = photo(&env, &bob, 2).await;
    let stray = social
        .comment(&cy, other, "hi", Some(first))
        .await
        .unwrap_err();
    assert_eq!(stray.code(), "not_found");
    assert_eq!(
        social
            .set_comments_open(&bob, id, false)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    social.set_comments_open(&ann, id, false).await.unwrap();
    let closed = social.comment(&bob, id, "more", None).await.unwrap_err();
    assert_eq!(closed.code(), "forbidden");
    social.set_comments_open(&ann, id, true).await.unwrap();
    social.comment(&bob, id, "more", None).await.unwrap();

    // A locked role may not comment.
    let admin = env.admin().await;
    let accounts = env.netdisk.accounts();
    accounts.set_role(&admin, "cy", Role::Locked).await.unwrap();
    assert_eq!(
        social.comment(&cy, id, "x", None).await.unwrap_err().code(),
        "forbidden"
    );

    // Deleting: the author, the photo's owner, a moderator; nobody else.
    assert_eq!(
        social.delete_comment(&cy, first).await.unwrap_err().code(),
        "forbidden"
    );
    social.delete_comment(&bob, first).await.unwrap();
    social.delete_comment(&ann, reply).await.unwrap();
    accounts
        .set_role(&admin, "cy", Role::Moderator)
        .await
        .unwrap();
    social.delete_comment(&cy, owners).await.unwrap();
    let left = social.comments(id).await.unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].replied_to_author, None, "its comment was deleted");
    assert!(
        told(&env, &bob).await.is_empty(),
        "the reply's notification went with it"
    );
    Ok(())
}

async fn home_shows_the_followed_and_mine_newest_first(t: &TestDb) -> Result {
    let env = env(t).await;
    let social = env.netdisk.social();
    let (ann, bob, cy) = (
        env.member("ann").await,
        env.member("bob").await,
        env.member("cy").await,
    );
    let b1 = photo(&env, &bob, 1).await;
    let c1 = photo(&env, &cy, 2).await;
    let a1 = photo(&env, &ann, 3).await;
    let b2 = photo(&env, &bob, 4).await;
    social.follow(&ann, "bob").await.unwrap();
    let first = social.home(&ann, None, 2).await.unwrap();
    let rest = social.home(&ann, first.next, 2).await.unwrap();
    let ids: Vec<i64> = first
        .photos
        .iter()
        .chain(&rest.photos)
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [b2, a1, b1], "not cy's {c1}");
    assert_eq!(rest.next, None);
    social.unfollow(&ann, "bob").await.unwrap();
    let ids: Vec<i64> = social
        .home(&ann, None, 10)
        .await
        .unwrap()
        .photos
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [a1]);
    Ok(())
}

async fn notifications_are_counted_marked_and_pushed_to_other_processes(t: &TestDb) -> Result {
    let env = env_with(t, |config| config.pubsub_check_ms = 100).await;
    let (ann, bob) = (env.member("ann").await, env.member("bob").await);
    let other_process = env.reopen().await;
    let mut live = other_process
        .social()
        .live_notifications(&ann)
        .await
        .unwrap();

    let social = env.netdisk.social();
    let id = photo(&env, &ann, 1).await;
    social.follow(&bob, "ann").await.unwrap();
    social.collect(&bob, id).await.unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pushed.kind, pushed.text.as_str()),
        (NotificationKind::Follow, "bob followed you")
    );
    let pushed = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed.kind, NotificationKind::Collect);
    assert_eq!(pushed.photo_id, Some(id));

    assert_eq!(social.unread(&ann).await.unwrap(), 2);
    social.mark_read(&ann, pushed.id).await.unwrap();
    assert_eq!(social.unread(&ann).await.unwrap(), 1);
    assert_eq!(
        social.mark_read(&bob, pushed.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(social.mark_all_read(&ann).await.unwrap(), 1);
    assert_eq!(social.unread(&ann).await.unwrap(), 0);
    let listed = social.notifications(&ann, None, 10).await.unwrap();
    assert!(listed.iter().all(|n| n.read));
    Ok(())
}

async fn a_deleted_photo_takes_its_comments_collections_and_notifications(t: &TestDb) -> Result {
    let env = env(t).await;
    let social = env.netdisk.social();
    let (ann, bob) = (env.member("ann").await, env.member("bob").await);
    let id = photo(&env, &ann, 1).await;
    social.collect(&bob, id).await.unwrap();
    social.comment(&bob, id, "nice", None).await.unwrap();
    env.netdisk.photos().delete(&ann, id).await.unwrap();
    assert_eq!(Comment::query().count(&t.db).await?, 0);
    assert_eq!(Collect::query().count(&t.db).await?, 0);
    assert_eq!(Notification::query().count(&t.db).await?, 0);
    assert!(
        social
            .collection("bob", None, 10)
            .await
            .unwrap()
            .photos
            .is_empty()
    );
    assert_eq!(
        social
            .comment(&bob, id, "x", None)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    Ok(())
}

backend_tests!(
    following_is_idempotent_and_never_oneself,
    collections_tell_the_owner_once_and_page_newest_first,
    comments_and_replies_tell_the_right_people,
    home_shows_the_followed_and_mine_newest_first,
    notifications_are_counted_marked_and_pushed_to_other_processes,
    a_deleted_photo_takes_its_comments_collections_and_notifications,
);
