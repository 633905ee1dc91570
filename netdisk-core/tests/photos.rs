//! The photo service on every backend: uploads checked by content and stored by content with
//! their variants; who may upload, edit and delete; tags; lists; reports; variants made again
//! after a crash; refused pictures leaving nothing behind. (What a picture's bytes become,
//! metadata and orientation included, is tested beside the code, in `photos/picture.rs`.)

mod support;

use std::time::Duration;

use bytes::Bytes;
use image::{ImageEncoder, RgbImage};
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{Photo, PhotoTag, PhotoVariant, Report};
use netdisk_core::{Caller, Netdisk, Role, UserType};
use support::{Env, env, env_with};

type Result = mini_orm::Result<()>;

/// A `width`×`height` JPEG whose colours depend on `seed` (different seeds, different bytes).
fn jpeg(width: u32, height: u32, seed: u8) -> Bytes {
    let picture = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x as u8).wrapping_add(seed), (y as u8) ^ seed, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&picture, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    Bytes::from(out)
}

async fn upload(env: &Env, who: &Caller, picture: Bytes) -> i64 {
    env.netdisk
        .photos()
        .upload(who, picture, "a photo")
        .await
        .unwrap()
}

/// The bytes of photo `id`'s picture `kind`, through the address its view gives.
async fn picture_bytes(netdisk: &Netdisk, id: i64, kind: &str) -> Vec<u8> {
    let view = netdisk.photos().photo(id).await.unwrap();
    let sha = match kind {
        "small" => view.small.sha256,
        "medium" => view.medium.sha256,
        _ => view.original.sha256,
    };
    let (content, _) = netdisk.photos().picture(id, kind, &sha).await.unwrap();
    let mut file = content.open_file().unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
    bytes
}

async fn an_upload_is_stored_with_its_variants(t: &TestDb) -> Result {
    let env = env(t).await;
    let ann = env.member("ann").await;
    let id = env
        .netdisk
        .photos()
        .upload(
            &ann,
            jpeg(1600, 1000, 1),
            "Lake <b>at</b> dawn\nsecond line",
        )
        .await
        .unwrap();
    let view = env.netdisk.photos().photo(id).await.unwrap();
    assert_eq!(view.owner, "ann");
    assert_eq!(view.description, "Lake <b>at</b> dawn\nsecond line");
    assert_eq!(view.format, "jpeg");
    assert_eq!((view.original.width, view.original.height), (1600, 1000));
    assert_eq!((view.medium.width, view.medium.height), (800, 500));
    assert_eq!((view.small.width, view.small.height), (400, 250));
    for kind in ["small", "medium", "original"] {
        let bytes = picture_bytes(&env.netdisk, id, kind).await;
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert!(decoded.width() >= 400, "{kind}");
    }
    // An address with another hash, or a kind that is no picture, is not found.
    let photos = env.netdisk.photos();
    for (kind, sha) in [
        ("small", view.medium.sha256.as_str()),
        ("original", "0".repeat(64).as_str()),
        ("../../etc", view.original.sha256.as_str()),
    ] {
        let missing = photos.picture(id, kind, sha).await.unwrap_err();
        assert_eq!(missing.code(), "not_found", "{kind}");
    }
    assert_eq!(env.stored_files().len(), 3, "the picture and two variants");
    Ok(())
}

async fn the_same_picture_twice_is_stored_once(t: &TestDb) -> Result {
    let env = env(t).await;
    let (ann, bob) = (env.member("ann").await, env.member("bob").await);
    let picture = jpeg(900, 600, 2);
    let first = upload(&env, &ann, picture.clone()).await;
    let second = upload(&env, &bob, picture).await;
    assert_ne!(first, second);
    assert_eq!(env.stored_files().len(), 3, "shared by both photos");
    let photos = env.netdisk.photos();
    photos.delete(&ann, first).await.unwrap();
    assert_eq!(env.stored_files().len(), 3, "still used by bob's");
    assert!(
        !picture_bytes(&env.netdisk, second, "small")
            .await
            .is_empty()
    );
    photos.delete(&bob, second).await.unwrap();
    assert_eq!(
        env.stored_files(),
        Vec::<String>::new(),
        "nothing uses them"
    );
    assert_eq!(PhotoVariant::query().count(&t.db).await?, 0);
    Ok(())
}

async fn refused_pictures_leave_nothing_behind(t: &TestDb) -> Result {
    let env = env_with(t, |config| {
        config.photo_max_bytes = 64 * 1024;
        config.photo_max_pixels = 1_000_000;
    })
    .await;
    let ann = env.member("ann").await;
    let photos = env.netdisk.photos();
    let whole = jpeg(600, 400, 3);
    let bomb = {
        // A PNG header that declares 50 000 × 50 000 pixels, and nothing else.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&50_000u32.to_be_bytes());
        png.extend_from_slice(&50_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        png
    };
    let cases: [(&str, Bytes, &str); 6] = [
        ("empty", Bytes::new(), "bad_request"),
        (
            "svg",
            Bytes::from_static(b"<svg onload='alert(1)'/>"),
            "bad_request",
        ),
        (
            "html named .jpg",
            Bytes::from_static(b"<html><script>x</script>"),
            "bad_request",
        ),
        ("truncated", whole.slice(..whole.len() / 2), "bad_request"),
        ("bomb", Bytes::from(bomb), "bad_request"),
        (
            "over the limit",
            Bytes::from(vec![0xFF; 65 * 1024]),
            "too_large",
        ),
    ];
    for (what, bytes, code) in cases {
        let refused = photos.upload(&ann, bytes, "").await.unwrap_err();
        assert_eq!(refused.code(), code, "{what}: {refused}");
    }
    assert_eq!(Photo::query().count(&t.db).await?, 0);
    assert_eq!(env.stored_files(), Vec::<String>::new());
    // The service goes on.
    upload(&env, &ann, whole).await;
    Ok(())
}

async fn only_confirmed_members_with_the_role_upload(t: &TestDb) -> Result {
    let env = env(t).await;
    let photos = env.netdisk.photos();
    let accounts = env.netdisk.accounts();
    let picture = jpeg(300, 200, 4);

    // Signed up, not confirmed; and an account from a TCP door, with no address.
    accounts
        .register_with_email(support::account("una", UserType::User), "una@example.com")
        .await
        .unwrap();
    let unconfirmed = env.login("una").await;
    let no_address = env.user("tcp").await;
    for who in [&unconfirmed, &no_address] {
        let refused = photos.upload(who, picture.clone(), "").await.unwrap_err();
        assert_eq!(refused.code(), "forbidden");
        assert!(refused.to_string().contains("confirm"), "{refused}");
    }

    // Locked by role: may not upload; a user may not set roles; an administrator may.
    let admin = env.admin().await;
    let ann = env.member("ann").await;
    let bob = env.member("bob").await;
    let refused = accounts
        .set_role(&ann, "bob", Role::Locked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    accounts
        .set_role(&admin, "bob", Role::Locked)
        .await
        .unwrap();
    assert_eq!(accounts.role(&bob).await.unwrap(), Role::Locked);
    let refused = photos.upload(&bob, picture.clone(), "").await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert!(refused.to_string().contains("may not upload"), "{refused}");
    accounts.set_role(&admin, "bob", Role::User).await.unwrap();
    upload(&env, &bob, picture).await;

    // Administrators are the admin accounts.
    assert_eq!(accounts.role(&admin).await.unwrap(), Role::Administrator);
    let refused = accounts
        .set_role(&admin, "ann", Role::Administrator)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    let listed = accounts.accounts(&admin).await.unwrap();
    let bob_row = listed.iter().find(|a| a.name == "bob").unwrap();
    assert_eq!(bob_row.role, Role::User);
    Ok(())
}

async fn only_the_owner_edits_and_the_owner_or_a_moderator_deletes(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let (ann, bob, mod_) = (
        env.member("ann").await,
        env.member("bob").await,
        env.member("mo").await,
    );
    env.netdisk
        .accounts()
        .set_role(&admin, "mo", Role::Moderator)
        .await
        .unwrap();
    let photos = env.netdisk.photos();
    let id = upload(&env, &ann, jpeg(500, 300, 5)).await;
    let refusals = [
        photos.describe(&bob, id, "mine now").await.unwrap_err(),
        photos.add_tags(&bob, id, "stolen").await.unwrap_err(),
        photos.remove_tag(&bob, id, "x").await.unwrap_err(),
        photos.delete(&bob, id).await.unwrap_err(),
        photos.describe(&mod_, id, "moderated").await.unwrap_err(),
    ];
    for refused in refusals {
        assert_eq!(refused.code(), "forbidden", "{refused}");
    }
    assert_eq!(photos.photo(id).await.unwrap().description, "a photo");
    photos.describe(&ann, id, "  new words ").await.unwrap();
    assert_eq!(photos.photo(id).await.unwrap().description, "new words");
    let refused = photos
        .describe(&ann, id, &"x".repeat(501))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "bad_request");
    photos.delete(&mod_, id).await.unwrap();
    assert_eq!(photos.photo(id).await.unwrap_err().code(), "not_found");
    assert_eq!(
        photos.delete(&ann, id).await.unwrap_err().code(),
        "not_found"
    );
    Ok(())
}

async fn tags_are_added_removed_and_browsed(t: &TestDb) -> Result {
    let env = env(t).await;
    let ann = env.member("ann").await;
    let photos = env.netdisk.photos();
    let older = upload(&env, &ann, jpeg(300, 200, 6)).await;
    let newer = upload(&env, &ann, jpeg(300, 200, 7)).await;
    let tags = photos
        .add_tags(&ann, older, "#Lake sunset lake")
        .await
        .unwrap();
    assert_eq!(tags, ["lake", "sunset"]);
    photos.add_tags(&ann, newer, "lake <script>").await.unwrap();
    let tags = photos.add_tags(&ann, older, "夕阳 SUNSET").await.unwrap();
    assert_eq!(tags, ["lake", "sunset", "夕阳"]);
    assert_eq!(photos.photo(older).await.unwrap().tags, tags);

    let lake = photos.tagged("LAKE", None, 1).await.unwrap();
    assert_eq!(lake.photos[0].id, newer, "newest first");
    let rest = photos.tagged("lake", lake.next, 1).await.unwrap();
    assert_eq!(rest.photos[0].id, older);
    let end = photos.tagged("lake", rest.next, 1).await.unwrap();
    assert!(end.photos.is_empty() && end.next.is_none());
    assert!(
        photos
            .tagged("nobody-uses-this", None, 10)
            .await
            .unwrap()
            .photos
            .is_empty()
    );
    assert_eq!(
        photos
            .tagged("<script>", None, 10)
            .await
            .unwrap()
            .photos
            .len(),
        1
    );

    let tags = photos.remove_tag(&ann, older, "#Lake").await.unwrap();
    assert_eq!(tags, ["sunset", "夕阳"]);
    assert_eq!(
        photos.tagged("lake", None, 10).await.unwrap().photos.len(),
        1
    );

    // Thousands of tags, at once or one by one: refused past twenty, nothing half-done.
    let thousands: String = (0..3000).map(|i| format!("t{i} ")).collect();
    let refused = photos.add_tags(&ann, newer, &thousands).await.unwrap_err();
    assert_eq!(refused.code(), "bad_request");
    for i in 0..18 {
        photos
            .add_tags(&ann, newer, &format!("n{i}"))
            .await
            .unwrap();
    }
    let refused = photos.add_tags(&ann, newer, "one more").await.unwrap_err();
    assert!(refused.to_string().contains("at most 20"), "{refused}");
    assert_eq!(photos.photo(newer).await.unwrap().tags.len(), 20);
    assert_eq!(
        PhotoTag::query()
            .filter(PhotoTag::PHOTO_ID.eq(newer))
            .count(&t.db)
            .await?,
        20
    );
    Ok(())
}

async fn a_persons_photos_page_newest_first_and_explore_picks_some(t: &TestDb) -> Result {
    let env = env(t).await;
    let (ann, bob) = (env.member("ann").await, env.member("bob").await);
    let mut mine = Vec::new();
    for seed in 0..5 {
        mine.push(upload(&env, &ann, jpeg(200, 100, 10 + seed)).await);
    }
    upload(&env, &bob, jpeg(200, 100, 20)).await;
    let photos = env.netdisk.photos();
    let first = photos.by_person("ann", None, 3).await.unwrap();
    let second = photos.by_person("ann", first.next, 3).await.unwrap();
    let ids: Vec<i64> = first
        .photos
        .iter()
        .chain(&second.photos)
        .map(|p| p.id)
        .collect();
    mine.reverse();
    assert_eq!(ids, mine);
    assert_eq!(second.next, None);
    assert_eq!(
        photos
            .by_person("nobody", None, 3)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    let picked = photos.explore(4).await.unwrap();
    assert_eq!(picked.len(), 4);
    let mut ids: Vec<i64> = picked.iter().map(|p| p.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each photo once");
    assert_eq!(photos.explore(50).await.unwrap().len(), 6, "all there are");
    Ok(())
}

async fn reports_reach_the_moderators_once_per_person(t: &TestDb) -> Result {
    let env = env(t).await;
    let admin = env.admin().await;
    let (ann, bob, cy) = (
        env.member("ann").await,
        env.member("bob").await,
        env.member("cy").await,
    );
    let photos = env.netdisk.photos();
    let quiet = upload(&env, &ann, jpeg(200, 100, 30)).await;
    let loud = upload(&env, &ann, jpeg(200, 100, 31)).await;
    photos.report(&bob, loud, "spam").await.unwrap();
    photos.report(&bob, loud, "spam again").await.unwrap();
    photos.report(&cy, loud, "rude").await.unwrap();
    photos.report(&cy, quiet, "meh").await.unwrap();
    assert_eq!(
        photos.report(&cy, 999_999, "x").await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(photos.reported(&bob).await.unwrap_err().code(), "forbidden");
    let reported = photos.reported(&admin).await.unwrap();
    let counts: Vec<(i64, u64)> = reported.iter().map(|r| (r.photo.id, r.reports)).collect();
    assert_eq!(counts, [(loud, 2), (quiet, 1)]);
    photos.delete(&ann, loud).await.unwrap();
    assert_eq!(
        Report::query().count(&t.db).await?,
        1,
        "its reports went with it"
    );
    Ok(())
}

async fn missing_variants_are_made_again_at_start(t: &TestDb) -> Result {
    let env = env(t).await;
    let ann = env.member("ann").await;
    let id = upload(&env, &ann, jpeg(1000, 500, 40)).await;
    // As if the server had stopped between storing the photo and its variants.
    PhotoVariant::query().delete(&t.db).await?;
    let view = env.netdisk.photos().photo(id).await.unwrap();
    assert_eq!(view.small, view.original, "the original stands in");

    let restarted = env.reopen().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let view = restarted.photos().photo(id).await.unwrap();
        if view.small.kind == "small" && view.medium.kind == "medium" {
            assert_eq!((view.small.width, view.medium.width), (400, 800));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "variants never made"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        restarted.photos().remake_missing_variants().await.unwrap(),
        0
    );
    Ok(())
}

async fn search_finds_photos_people_and_tags_in_any_language(t: &TestDb) -> Result {
    let env = env(t).await;
    let (ann, annabel, joanna) = (
        env.member("ann").await,
        env.member("annabel").await,
        env.member("JoAnna").await,
    );
    let photos = env.netdisk.photos();
    let lake = photos
        .upload(&ann, jpeg(300, 200, 50), "Sunset over the lake")
        .await
        .unwrap();
    let city = photos
        .upload(&annabel, jpeg(300, 200, 51), "城市的夜晚")
        .await
        .unwrap();
    let both = photos
        .upload(&joanna, jpeg(300, 200, 52), "Lake at sunset")
        .await
        .unwrap();
    photos.add_tags(&annabel, city, "night 夕阳").await.unwrap();

    let ids =
        |found: Vec<netdisk_core::PhotoView>| found.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let found = ids(photos.search_photos("lake sunset", 0).await.unwrap());
    assert_eq!(
        found,
        [both, lake],
        "both words, the newest first among equals"
    );
    photos.add_tags(&ann, lake, "lakes sunset").await.unwrap();
    assert_eq!(ids(photos.search_photos("夜晚", 0).await.unwrap()), [city]);
    assert_eq!(
        ids(photos.search_photos("夕阳", 0).await.unwrap()),
        [city],
        "by a tag"
    );
    photos.describe(&ann, lake, "Morning").await.unwrap();
    assert_eq!(
        ids(photos.search_photos("over", 0).await.unwrap()),
        Vec::<i64>::new(),
        "a new description"
    );
    assert!(photos.search_photos("   ", 0).await.unwrap().is_empty());
    assert!(
        photos
            .search_photos(&"x".repeat(10_000), 0)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        photos.search_people("ann", 0).await.unwrap(),
        ["ann", "annabel", "JoAnna"]
    );
    assert_eq!(
        photos.search_people("ANN", 0).await.unwrap(),
        ["ann", "annabel", "JoAnna"],
        "whatever the case"
    );
    assert_eq!(
        photos.search_people("%", 0).await.unwrap(),
        Vec::<String>::new(),
        "LIKE syntax is text"
    );
    let tags = photos.search_tags("#lake", 0).await.unwrap();
    let found: Vec<(&str, u64)> = tags.iter().map(|t| (t.name.as_str(), t.photos)).collect();
    assert_eq!(found, [("lakes", 1)]);
    Ok(())
}

backend_tests!(
    search_finds_photos_people_and_tags_in_any_language,
    an_upload_is_stored_with_its_variants,
    the_same_picture_twice_is_stored_once,
    refused_pictures_leave_nothing_behind,
    only_confirmed_members_with_the_role_upload,
    only_the_owner_edits_and_the_owner_or_a_moderator_deletes,
    tags_are_added_removed_and_browsed,
    a_persons_photos_page_newest_first_and_explore_picks_some,
    reports_reach_the_moderators_once_per_person,
    missing_variants_are_made_again_at_start,
);
