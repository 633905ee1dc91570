//! The photo site in a browser: a member uploads two photos at once (a third file, not a
//! picture, is refused on the page before anything is sent), watches their progress, sees their
//! thumbnails, and opens one; someone follows a person and comments on her photo in one browser
//! while her notifications page, open in another, shows both without a reload. Screenshots of
//! the upload, photo, profile, Explore, comments and notifications pages.

use std::time::Duration;

use image::{ImageEncoder, RgbImage};
use mini_orm::testing::TestDb;
use netdisk_core::{NewAccount, UserType};

use super::{Result, Site, WATCH_UPLOADS, chrome};

/// A landscape of `width`×`height`: a sky fading to the horizon, a sun, hills; `seed` moves
/// the colours and the sun, so each seed is another picture.
pub fn landscape(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let hue = |base: f32| ((base + seed as f32 * 47.0) % 360.0) / 360.0;
    let sun = (
        width as f32 * (0.2 + 0.15 * (seed % 5) as f32),
        height as f32 * 0.35,
    );
    let picture = RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let hill = 0.62 + 0.08 * (fx * 6.0 + seed as f32).sin() + 0.05 * (fx * 17.0).cos();
        let (h, s, l) = if fy > hill {
            (hue(110.0), 0.45, 0.22 + 0.1 * (1.0 - fy))
        } else if ((x as f32 - sun.0).powi(2) + (y as f32 - sun.1).powi(2)).sqrt()
            < height as f32 * 0.08
        {
            (hue(40.0), 0.95, 0.75)
        } else {
            (hue(210.0), 0.6, 0.35 + 0.4 * fy)
        };
        image::Rgb(hsl(h, s, l))
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .write_image(&picture, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let h6 = h * 6.0;
    let x = c * (1.0 - (h6 % 2.0 - 1.0).abs());
    let (r, g, b) = match h6 as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

impl Site {
    /// A member of the photo site: `name` (password `<name>-pw`) with a confirmed address.
    pub async fn member(&self, name: &str) -> netdisk_core::Caller {
        let password = format!("{name}-pw");
        let address = format!("{name}@example.com");
        let accounts = self.server.netdisk.accounts();
        let account = NewAccount {
            name,
            password: &password,
            user_type: UserType::User,
            real_name: None,
            phone: None,
            address: None,
        };
        accounts
            .register_with_email(account, &address)
            .await
            .unwrap();
        let link = self.mailed_link(&address);
        accounts
            .confirm_email(&link["/confirm/".len()..])
            .await
            .unwrap();
        accounts.login(name, &password, None).await.unwrap().caller
    }
}

pub async fn a_member_uploads_photos_with_progress_and_sees_them(t: &TestDb) -> Result {
    let Some(chrome) = chrome::start().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    let photos = site.server.netdisk.photos();
    let (bob, cy) = (site.member("bob").await, site.member("cy").await);
    for (seed, (who, description, tags)) in [
        (&bob, "Morning on the ridge", "hills morning"),
        (&cy, "山间的日出", "日出 hills"),
        (&bob, "Blue hour", "evening"),
        (&cy, "", "sky"),
        (&bob, "Field notes", "hills"),
    ]
    .into_iter()
    .enumerate()
    {
        let picture = landscape(1600, 1000 + 100 * seed as u32, seed as u32 + 3);
        let id = photos
            .upload(who, picture.into(), description)
            .await
            .unwrap();
        photos.add_tags(who, id, tags).await.unwrap();
    }
    let ann = site.member("ann").await;
    site.log_in(&chrome, "ann").await;

    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (n, name) in ["Lake at dawn.jpg", "城市之夜.jpg"].iter().enumerate() {
        let path = dir.path().join(name);
        std::fs::write(&path, landscape(3000, 2000, 11 + n as u32)).unwrap();
        paths.push(path.display().to_string());
    }
    let not_a_photo = dir.path().join("notes.txt");
    std::fs::write(&not_a_photo, "just text").unwrap();
    paths.push(not_a_photo.display().to_string());

    chrome.client.goto(&site.url("/photos/new")).await.unwrap();
    chrome.client.execute(WATCH_UPLOADS, vec![]).await.unwrap();
    chrome.pick_files("#photo-picker", &paths).await;
    chrome
        .until(
            "both photos uploaded with their thumbnails shown, the text file refused",
            Duration::from_secs(60),
            "const done = [...document.querySelectorAll('.upload.done .thumb img')]; const failed = document.querySelectorAll('.upload.failed'); return done.length === 2 && done.every((img) => img.complete && img.naturalWidth > 0) && failed.length === 1",
        )
        .await;
    let refused = chrome
        .client
        .execute(
            "return document.querySelector('.upload.failed').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        refused
            .as_str()
            .unwrap()
            .contains("not a JPEG, PNG or WebP"),
        "{refused}"
    );
    let seen = chrome
        .client
        .execute("return window.seenStatus", vec![])
        .await
        .unwrap();
    let statuses: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        statuses.iter().any(|s| s.contains(" % of ")),
        "progress shown: {statuses:?}"
    );
    chrome.screenshots("photo-upload").await;

    let mine = photos.by_person("ann", None, 10).await.unwrap();
    assert_eq!(mine.photos.len(), 2);
    let lake = &mine.photos[1];
    let words = "The lake at dawn, before anyone was up.\nShot from the old pier.";
    photos.describe(&ann, lake.id, words).await.unwrap();
    chrome.click(".upload.done .thumb").await;
    chrome
        .until(
            "the photo's page with its picture",
            Duration::from_secs(10),
            "const img = document.querySelector('.photo-frame img'); return location.pathname.startsWith('/photos/') && !!img && img.complete && img.naturalWidth > 0",
        )
        .await;
    chrome
        .client
        .goto(&site.url(&format!("/photos/{}", lake.id)))
        .await
        .unwrap();
    chrome.click(".edit summary").await;
    chrome.fill("tags", "lake dawn 湖").await;
    chrome.click("form[action$='/tags'] button").await;
    chrome
        .until(
            "the tags shown",
            Duration::from_secs(10),
            "return document.querySelectorAll('.tags .tag').length === 3",
        )
        .await;
    chrome.screenshots("photo").await;

    for (path, name) in [("/people/bob", "profile"), ("/photos", "photos-explore")] {
        chrome.client.goto(&site.url(path)).await.unwrap();
        // Lazy pictures load as they come into view; for the screenshots, all of them now.
        let eager = "document.querySelectorAll('img[loading=lazy]').forEach((img) => { img.loading = 'eager'; })";
        chrome.client.execute(eager, vec![]).await.unwrap();
        chrome
            .until(
                "the thumbnails drawn",
                Duration::from_secs(30),
                "const imgs = [...document.querySelectorAll('.photo-tile img')]; return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0)",
            )
            .await;
        chrome.screenshots(name).await;
    }
    Ok(())
}

pub async fn a_follow_and_a_comment_reach_the_other_persons_open_page(t: &TestDb) -> Result {
    let Some((bob_chrome, ann_chrome)) = chrome::start_two().await else {
        return Ok(());
    };
    let site = Site::start(t, 0).await;
    let ann = site.member("ann").await;
    site.member("bob").await;
    let photos = site.server.netdisk.photos();
    let lake = photos
        .upload(&ann, landscape(1600, 1000, 21).into(), "Still water")
        .await
        .unwrap();
    site.log_in(&ann_chrome, "ann").await;
    site.log_in(&bob_chrome, "bob").await;

    // Ann looks at her notifications page; it stays open, never reloaded.
    ann_chrome
        .client
        .goto(&site.url("/notifications"))
        .await
        .unwrap();
    ann_chrome
        .client
        .execute("window.sameDocument = true", vec![])
        .await
        .unwrap();

    // Bob follows her from her page, then comments on her photo.
    bob_chrome
        .client
        .goto(&site.url("/people/ann"))
        .await
        .unwrap();
    bob_chrome.click("form[action$='/follow'] button").await;
    bob_chrome
        .until(
            "bob following ann",
            Duration::from_secs(10),
            "return !!document.querySelector(\"form[action$='/unfollow']\")",
        )
        .await;
    bob_chrome
        .client
        .goto(&site.url(&format!("/photos/{lake}")))
        .await
        .unwrap();
    bob_chrome
        .fill("body", "The reflection is perfect 👌")
        .await;
    bob_chrome.click("form.new-comment button").await;
    bob_chrome
        .until(
            "the comment shown",
            Duration::from_secs(10),
            "return [...document.querySelectorAll('.comment-list .body')].some((p) => p.textContent.includes('reflection'))",
        )
        .await;
    bob_chrome.screenshots("photo-comments").await;

    // Resting on ann's name shows her card, fetched as JSON: bob follows her.
    bob_chrome
        .client
        .execute(
            "document.querySelector('.photo-side [data-person]').dispatchEvent(new MouseEvent('mouseover', { bubbles: true }))",
            vec![],
        )
        .await
        .unwrap();
    bob_chrome
        .until(
            "ann's hover card",
            Duration::from_secs(10),
            "const card = document.querySelector('.hover-card'); return !!card && !card.hidden && card.textContent.includes('1 follower ·') && card.textContent.includes('Following ✓')",
        )
        .await;

    ann_chrome
        .until(
            "both notifications on ann's open page, with the unread count, without a reload",
            Duration::from_secs(15),
            "const items = [...document.querySelectorAll('#notification-list li')].map((li) => li.textContent); return window.sameDocument === true && items.some((t) => t.includes('bob followed you')) && items.some((t) => t.includes('bob commented on your photo')) && document.getElementById('unread').textContent === '2'",
        )
        .await;
    ann_chrome.screenshots("notifications").await;

    // Bob's home: the photos of the people he follows.
    bob_chrome
        .client
        .goto(&site.url("/photos/home"))
        .await
        .unwrap();
    bob_chrome
        .until(
            "ann's photo in bob's feed",
            Duration::from_secs(10),
            &format!("const img = document.querySelector('a[href=\"/photos/{lake}\"] img'); return !!img && img.complete && img.naturalWidth > 0"),
        )
        .await;
    bob_chrome.screenshots("photos-home").await;
    Ok(())
}
