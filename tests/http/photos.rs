//! The photo site at the HTTP door: uploads through the API (by a page, with the session
//! cookie, and by a script, with a token), pictures served immutable with their hash as
//! `ETag`, the pages (Explore, a photo, a person, a tag, the upload page) and their forms, the
//! JSON API; and what may not happen: pictures that are not, too large, from an unconfirmed
//! account or another site, another person's photo changed, markup in every name.

use image::{ImageEncoder, RgbImage};
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::UserType;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::{Value, json};

use crate::Result;
use crate::web::{Browser, Web, location};

/// A `width`×`height` JPEG whose colours depend on `seed`.
pub fn jpeg(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let picture = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x as u8).wrapping_add(seed), (y as u8) ^ seed, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&picture, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// Uploads `bytes` from a page of the site (the browser's session cookie, same origin).
async fn upload(browser: &Browser, bytes: Vec<u8>, content_type: &str) -> reqwest::Response {
    browser
        .http
        .post(browser.url("/api/photos"))
        .header(CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Uploads a JPEG that must be accepted; returns the photo as the API describes it.
async fn uploaded(browser: &Browser, seed: u8) -> Value {
    let answer = upload(browser, jpeg(1200, 800, seed), "image/jpeg").await;
    assert_eq!(answer.status(), 201);
    answer.json().await.unwrap()
}

async fn an_upload_answers_with_the_photo_and_its_pictures_are_immutable(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let photo = uploaded(&ann, 1).await;
    assert_eq!(photo["owner"], "ann");
    assert_eq!(photo["medium"]["width"], 800);
    assert_eq!(photo["small"]["width"], 400);
    let small = photo["urls"]["small"].as_str().unwrap().to_owned();
    let sha = photo["small"]["sha256"].as_str().unwrap();
    assert!(small.ends_with(sha));

    // Anyone may look; the answer may be kept for a year.
    let script = web.script();
    let answer = script.get(web.url(&small)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let headers = answer.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["etag"], format!("\"{sha}\""));
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = answer.bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 400);
    let again = script
        .get(web.url(&small))
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let head = script.head(web.url(&small)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], bytes.len().to_string());

    // Another hash, another kind, another photo: not found.
    let id = photo["id"].as_i64().unwrap();
    let other = "0".repeat(64);
    for path in [
        format!("/photos/{id}/small/{other}"),
        format!("/photos/{id}/secret/{sha}"),
        format!("/photos/{}/small/{sha}", id + 1),
        format!("/photos/{id}/small/..%2F..%2Fetc%2Fpasswd"),
    ] {
        let answer = script.get(web.url(&path)).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    Ok(())
}

async fn a_script_uploads_with_a_token_and_reads_the_lists(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    web.member("ann").await;
    let token = web.token("ann").await;
    let script = web.script();
    let answer = script
        .post(web.url("/api/photos?description=From%20a%20script"))
        .bearer_auth(&token)
        .body(jpeg(600, 600, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let photo: Value = answer.json().await.unwrap();
    let id = photo["id"].as_i64().unwrap();
    assert_eq!(photo["description"], "From a script");

    let tagged = script
        .post(web.url(&format!("/api/photos/{id}/tags")))
        .bearer_auth(&token)
        .json(&json!({"tags": "Lake 夕阳"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tagged.json::<Value>().await.unwrap()["tags"],
        json!(["lake", "夕阳"])
    );
    let patched = script
        .patch(web.url(&format!("/api/photos/{id}")))
        .bearer_auth(&token)
        .json(&json!({"description": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    for path in [
        "/api/people/ann/photos",
        "/api/tags/%E5%A4%95%E9%98%B3/photos",
        "/api/explore",
    ] {
        let answer = script.get(web.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let body: Value = answer.json().await.unwrap();
        let photos = body.get("photos").unwrap_or(&body);
        assert_eq!(photos[0]["id"], id, "{path}");
        assert_eq!(photos[0]["description"], "Changed");
    }
    let removed = script
        .delete(web.url(&format!("/api/photos/{id}/tags/LAKE")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        removed.json::<Value>().await.unwrap()["tags"],
        json!(["夕阳"])
    );
    let deleted = script
        .delete(web.url(&format!("/api/photos/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = script
        .get(web.url(&format!("/api/photos/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    Ok(())
}

async fn pictures_that_are_not_or_are_too_large_are_refused(t: &TestDb) -> Result {
    let web = Web::start_with(t, |config| config.photo_max_bytes = 200_000).await;
    let ann = web.member("ann").await;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec();
    let html = b"<!doctype html><script>alert(1)</script>".to_vec();
    let whole = jpeg(800, 600, 3);
    let cases = [
        ("svg", svg, "image/svg+xml", 400),
        ("html that says it is a JPEG", html, "image/jpeg", 400),
        ("zero bytes", Vec::new(), "image/jpeg", 400),
        (
            "truncated",
            whole[..whole.len() / 2].to_vec(),
            "image/jpeg",
            400,
        ),
        ("over the limit", vec![0xFF; 300_000], "image/jpeg", 413),
    ];
    for (what, bytes, content_type, status) in cases {
        let answer = upload(&ann, bytes, content_type).await;
        assert_eq!(answer.status(), status, "{what}");
    }
    let listed: Value = ann
        .get("/api/people/ann/photos")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["photos"], json!([]), "nothing was kept");
    assert_eq!(upload(&ann, whole, "image/jpeg").await.status(), 201);
    Ok(())
}

async fn only_confirmed_members_upload_and_only_from_the_site(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let picture = jpeg(300, 200, 4);
    // Not logged in.
    let answer = web
        .script()
        .post(web.url("/api/photos"))
        .body(picture.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    // Logged in, no confirmed address: the upload page says why, the upload is refused.
    let una = web.logged_in("una", UserType::User).await;
    let page = una.page("/photos/new").await;
    assert!(page.contains("You cannot upload photos yet"), "{page}");
    assert!(!page.contains("photo-picker"));
    assert_eq!(
        upload(&una, picture.clone(), "image/jpeg").await.status(),
        403
    );
    // A member, but the request comes from another site.
    let ann = web.member("ann").await;
    assert!(ann.page("/photos/new").await.contains("photo-picker"));
    let forged = ann
        .http
        .post(ann.url("/api/photos"))
        .header(ORIGIN, "http://evil.example")
        .body(picture)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    Ok(())
}

async fn the_pages_show_photos_with_every_name_escaped(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let photo = uploaded(&ann, 5).await;
    let id = photo["id"].as_i64().unwrap();
    let page = format!("/photos/{id}");
    let described = ann
        .form(
            &format!("{page}/describe"),
            &[("description", "<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(location(&described), page);
    let tagged = ann
        .form(&format!("{page}/tags"), &[("tags", "lake <img/onerror=x>")])
        .await;
    assert_eq!(tagged.status(), 303);

    let visitor = web.browser();
    let html = visitor.page(&page).await;
    assert!(!html.contains("<script>alert(1)") && !html.contains("<img/onerror"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(html.contains(photo["urls"]["medium"].as_str().unwrap()));
    assert!(html.contains("href=\"/tags/lake\""));
    assert!(!html.contains("Edit description"), "only the owner edits");
    assert!(ann.page(&page).await.contains("Edit description"));

    for listing in [
        "/photos",
        "/people/ann",
        "/tags/lake",
        "/tags/%3Cimg%2Fonerror%3Dx%3E",
    ] {
        let html = visitor.page(listing).await;
        assert!(
            html.contains(photo["urls"]["small"].as_str().unwrap()),
            "{listing}"
        );
        assert!(
            !html.contains("<script>alert(1)") && !html.contains("<img/onerror"),
            "{listing}"
        );
    }
    assert_eq!(visitor.get("/people/nobody").await.status(), 404);
    assert_eq!(visitor.get("/photos/999999").await.status(), 404);

    let removed = ann
        .form(&format!("{page}/tags/remove"), &[("tag", "lake")])
        .await;
    assert_eq!(removed.status(), 303);
    assert!(!visitor.page(&page).await.contains("href=\"/tags/lake\""));
    Ok(())
}

async fn another_persons_photo_is_refused_and_moderators_delete(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let bob = web.member("bob").await;
    let photo = uploaded(&ann, 6).await;
    let id = photo["id"].as_i64().unwrap();
    let page = format!("/photos/{id}");
    for (path, fields) in [
        (format!("{page}/describe"), vec![("description", "mine")]),
        (format!("{page}/tags"), vec![("tags", "stolen")]),
        (format!("{page}/tags/remove"), vec![("tag", "x")]),
        (format!("{page}/delete"), vec![]),
    ] {
        assert_eq!(bob.form(&path, &fields).await.status(), 403, "{path}");
    }
    let bob_token = web.token("bob").await;
    let api = web.script();
    let patch = api
        .patch(web.url(&format!("/api/photos/{id}")))
        .bearer_auth(&bob_token)
        .json(&json!({"description": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 403);
    let delete = api
        .delete(web.url(&format!("/api/photos/{id}")))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);

    // Bob reports it; an administrator makes him a moderator, and he deletes it.
    let reported = bob
        .form(&format!("{page}/report"), &[("reason", "not ann's")])
        .await;
    assert_eq!(location(&reported), format!("{page}?reported=1"));
    assert!(
        bob.page(&format!("{page}?reported=1"))
            .await
            .contains("the moderators will look")
    );
    web.account("root", UserType::Admin).await;
    let admin = web.token("root").await;
    let role = |who: &str, token: &str, role: &str| {
        api.put(web.url(&format!("/api/admin/users/{who}/role")))
            .bearer_auth(token)
            .json(&json!({ "role": role }))
            .send()
    };
    assert_eq!(
        role("ann", &bob_token, "locked").await.unwrap().status(),
        403
    );
    assert_eq!(role("bob", &admin, "emperor").await.unwrap().status(), 400);
    assert_eq!(
        role("bob", &admin, "moderator").await.unwrap().status(),
        200
    );
    assert!(bob.page(&page).await.contains("Delete photo"));
    let deleted = bob.form(&format!("{page}/delete"), &[]).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(bob.get(&page).await.status(), 404);
    Ok(())
}

async fn search_pages_and_api_find_photos_people_and_tags(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let ann = web.member("ann").await;
    let photo = uploaded(&ann, 7).await;
    let id = photo["id"].as_i64().unwrap();
    ann.form(
        &format!("/photos/{id}/describe"),
        &[("description", "湖边的日落 sunset")],
    )
    .await;
    ann.form(&format!("/photos/{id}/tags"), &[("tags", "lake")])
        .await;
    let visitor = web.browser();
    let small = photo["urls"]["small"].as_str().unwrap();
    assert!(
        visitor
            .page("/search?q=%E6%97%A5%E8%90%BD")
            .await
            .contains(small),
        "日落"
    );
    assert!(visitor.page("/search?q=SUNSET").await.contains(small));
    let people = visitor.page("/search?q=an&what=people").await;
    assert!(people.contains("href=\"/people/ann\""));
    let tags = visitor.page("/search?q=%23la&what=tags").await;
    assert!(tags.contains("href=\"/tags/lake\""));
    let hostile = visitor
        .page("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert!(!hostile.contains("<script>alert(1)"));
    assert!(hostile.contains("No photo matches"));
    let api: Value = visitor.json("/api/search?q=lake").await;
    assert_eq!(api["photos"][0]["id"], id);
    let api: Value = visitor.json("/api/search?q=ann&what=people").await;
    assert_eq!(api["people"], json!(["ann"]));
    let api: Value = visitor.json("/api/search?q=lak&what=tags").await;
    assert_eq!(api["tags"], json!([{"name": "lake", "photos": 1}]));
    Ok(())
}

backend_tests!(
    search_pages_and_api_find_photos_people_and_tags,
    an_upload_answers_with_the_photo_and_its_pictures_are_immutable,
    a_script_uploads_with_a_token_and_reads_the_lists,
    pictures_that_are_not_or_are_too_large_are_refused,
    only_confirmed_members_upload_and_only_from_the_site,
    the_pages_show_photos_with_every_name_escaped,
    another_persons_photo_is_refused_and_moderators_delete,
);
