//! The photo site's pages: Explore (photos picked at random), the upload page (several photos
//! at once, picked or dropped, each with its own progress, through `POST /api/photos`), a
//! photo's page (the picture, its description and tags; its owner edits them, its owner or a
//! moderator deletes it, anyone logged in reports it), a person's photos and a tag's photos.
//! Anyone may look; the services decide who may change what.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::super::App;
use super::super::auth::{Member, QUERY_VALUE, Visitor};
use super::super::content::picture_url;
use super::super::failure;
use super::{Nav, human_size, render, see};
use crate::{Ability, Caller, Collected, CommentView, PersonCard, PhotoPage, PhotoView};

/// Photos on a page of a list.
const PAGE_SIZE: u64 = 24;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/photos", get(explore))
        .route("/photos/new", get(upload_page))
        .route("/photos/{id}", get(photo_page))
        .route("/photos/{id}/describe", post(describe))
        .route("/photos/{id}/tags", post(add_tags))
        .route("/photos/{id}/tags/remove", post(remove_tag))
        .route("/photos/{id}/delete", post(delete))
        .route("/photos/{id}/report", post(report))
        .route("/people/{name}", get(person_page))
        .route("/people/{name}/collection", get(collection_page))
        .route("/tags/{name}", get(tag_page))
}

/// The navigation of whoever is looking, in the photo section.
fn nav(visitor: Option<&Caller>) -> Nav {
    visitor.map_or_else(|| Nav::anonymous("photos"), |c| Nav::of(c, "photos"))
}

/// A tag and the address of its page.
struct TagLink {
    name: String,
    href: String,
}

impl TagLink {
    fn new(name: &str) -> TagLink {
        let encoded = percent_encoding::utf8_percent_encode(name, QUERY_VALUE);
        TagLink {
            name: name.to_owned(),
            href: format!("/tags/{encoded}"),
        }
    }
}

/// A photo in a grid: its small picture, linked to its page.
pub(super) struct Tile {
    pub id: i64,
    pub owner: String,
    pub src: String,
    pub width: i64,
    pub height: i64,
    pub alt: String,
}

impl From<&PhotoView> for Tile {
    fn from(photo: &PhotoView) -> Tile {
        let alt = match photo.description.is_empty() {
            true => format!("A photo by {}", photo.owner),
            false => photo.description.chars().take(120).collect(),
        };
        Tile {
            id: photo.id,
            owner: photo.owner.clone(),
            src: picture_url(photo.id, &photo.small),
            width: photo.small.width,
            height: photo.small.height,
            alt,
        }
    }
}

#[derive(Template)]
#[template(path = "photos.html")]
struct ExplorePage {
    nav: Nav,
    tiles: Vec<Tile>,
}

async fn explore(State(app): State<App>, Visitor(visitor): Visitor) -> Response {
    let nav = nav(visitor.as_ref());
    match app.netdisk.photos().explore(PAGE_SIZE).await {
        Ok(photos) => render(&ExplorePage {
            nav,
            tiles: photos.iter().map(Tile::from).collect(),
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Template)]
#[template(path = "photo_new.html")]
struct UploadPage {
    nav: Nav,
    /// Why the caller may not upload, if they may not.
    refusal: Option<String>,
    max_bytes: u64,
    max_size: String,
}

async fn upload_page(State(app): State<App>, Member(caller): Member) -> Response {
    let refusal = app
        .netdisk
        .accounts()
        .require(&caller, Ability::Upload)
        .await
        .err()
        .map(|e| e.to_string());
    let max_bytes = app.netdisk.config().photo_max_bytes;
    render(&UploadPage {
        nav: Nav::of(&caller, "photos"),
        refusal,
        max_bytes,
        max_size: human_size(max_bytes),
    })
}

#[derive(Template)]
#[template(path = "photo.html")]
struct PhotoPageView {
    nav: Nav,
    photo: PhotoView,
    tags: Vec<TagLink>,
    original: String,
    medium: String,
    small: String,
    size: String,
    is_owner: bool,
    may_delete: bool,
    logged_in: bool,
    /// Just reported by the one looking.
    reported: bool,
    collected: Collected,
    comments: Vec<CommentView>,
    /// The one looking may delete any comment here (the owner, a moderator).
    moderates_comments: bool,
    /// The one looking, if logged in.
    me: String,
}

#[derive(Deserialize)]
struct PhotoQuery {
    reported: Option<u8>,
}

async fn photo_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(id): Path<i64>,
    Query(query): Query<PhotoQuery>,
) -> Response {
    let nav = nav(visitor.as_ref());
    let photo = match app.netdisk.photos().photo(id).await {
        Ok(photo) => photo,
        Err(error) => return failure::page(error, Some(nav)),
    };
    let is_owner = visitor.as_ref().is_some_and(|c| c.name() == photo.owner);
    let role = match &visitor {
        Some(caller) => app.netdisk.accounts().role(caller).await.ok(),
        None => None,
    };
    let social = app.netdisk.social();
    let (collected, comments) =
        match tokio::try_join!(social.collected(visitor.as_ref(), id), social.comments(id)) {
            Ok(found) => found,
            Err(error) => return failure::page(error, Some(nav)),
        };
    let moderates = role.is_some_and(|r| r.may(Ability::Moderate));
    render(&PhotoPageView {
        collected,
        comments,
        moderates_comments: is_owner || moderates,
        me: visitor
            .as_ref()
            .map_or_else(String::new, |c| c.name().to_owned()),
        tags: photo.tags.iter().map(|t| TagLink::new(t)).collect(),
        original: picture_url(photo.id, &photo.original),
        medium: picture_url(photo.id, &photo.medium),
        small: picture_url(photo.id, &photo.small),
        size: human_size(photo.size.max(0) as u64),
        may_delete: is_owner || moderates,
        logged_in: visitor.is_some(),
        reported: query.reported == Some(1),
        is_owner,
        nav,
        photo,
    })
}

#[derive(Deserialize)]
struct Description {
    description: String,
}

async fn describe(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<Description>,
) -> Response {
    let described = app
        .netdisk
        .photos()
        .describe(&caller, id, &form.description)
        .await;
    back_to_photo(described, &caller, id)
}

#[derive(Deserialize)]
struct Tags {
    tags: String,
}

async fn add_tags(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<Tags>,
) -> Response {
    let added = app.netdisk.photos().add_tags(&caller, id, &form.tags).await;
    back_to_photo(added.map(drop), &caller, id)
}

#[derive(Deserialize)]
struct TagName {
    tag: String,
}

async fn remove_tag(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<TagName>,
) -> Response {
    let removed = app
        .netdisk
        .photos()
        .remove_tag(&caller, id, &form.tag)
        .await;
    back_to_photo(removed.map(drop), &caller, id)
}

async fn delete(State(app): State<App>, Member(caller): Member, Path(id): Path<i64>) -> Response {
    match app.netdisk.photos().delete(&caller, id).await {
        Ok(()) => see(&format!("/people/{}", encoded(caller.name()))),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "photos"))),
    }
}

#[derive(Deserialize)]
struct Reason {
    reason: String,
}

async fn report(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<Reason>,
) -> Response {
    let reported = app.netdisk.photos().report(&caller, id, &form.reason).await;
    match reported {
        Ok(()) => see(&format!("/photos/{id}?reported=1")),
        Err(error) => failure::page(error, Some(Nav::of(&caller, "photos"))),
    }
}

/// After a change to photo `id`: its page again, or the error.
fn back_to_photo(result: crate::Result<()>, caller: &Caller, id: i64) -> Response {
    match result {
        Ok(()) => see(&format!("/photos/{id}")),
        Err(error) => failure::page(error, Some(Nav::of(caller, "photos"))),
    }
}

fn encoded(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, QUERY_VALUE).to_string()
}

#[derive(Deserialize)]
struct Before {
    before: Option<i64>,
}

/// A person's photos, or a tag's: a title, a grid, and the link to older ones.
#[derive(Template)]
#[template(path = "photo_list.html")]
struct ListPage {
    nav: Nav,
    title: String,
    subtitle: String,
    /// The person's avatar, on a person's page.
    avatar: Option<String>,
    /// The person's counts and whether the one looking follows them, on a person's page.
    card: Option<PersonCard>,
    /// The person's name, on a person's page (for the follow form and the tabs).
    person: String,
    /// Which tab of a person's page: `photos` or `collection`.
    tab: &'static str,
    /// Whether the one looking is logged in.
    logged_in: bool,
    tiles: Vec<Tile>,
    older: Option<String>,
    empty: &'static str,
}

impl ListPage {
    fn new(nav: Nav, page: &PhotoPage, here: &str) -> ListPage {
        ListPage {
            nav,
            title: String::new(),
            subtitle: String::new(),
            avatar: None,
            card: None,
            person: String::new(),
            tab: "",
            logged_in: false,
            tiles: page.photos.iter().map(Tile::from).collect(),
            older: page.next.map(|next| format!("{here}?before={next}")),
            empty: "",
        }
    }
}

async fn person_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(name): Path<String>,
    Query(query): Query<Before>,
) -> Response {
    let photos = app
        .netdisk
        .photos()
        .by_person(&name, query.before, PAGE_SIZE)
        .await;
    person_tab(&app, visitor, name, "photos", photos).await
}

async fn collection_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(name): Path<String>,
    Query(query): Query<Before>,
) -> Response {
    let social = app.netdisk.social();
    let collected = social.collection(&name, query.before, PAGE_SIZE).await;
    person_tab(&app, visitor, name, "collection", collected).await
}

/// A person's page, on tab `tab` (`photos` or `collection`) showing `page`.
async fn person_tab(
    app: &App,
    visitor: Option<Caller>,
    name: String,
    tab: &'static str,
    page: crate::Result<PhotoPage>,
) -> Response {
    let nav = nav(visitor.as_ref());
    let card = app.netdisk.social().card(visitor.as_ref(), &name).await;
    let (page, card) = match (page, card) {
        (Ok(page), Ok(card)) => (page, card),
        (Err(error), _) | (_, Err(error)) => return failure::page(error, Some(nav)),
    };
    let mut here = format!("/people/{}", encoded(&name));
    if tab == "collection" {
        here.push_str("/collection");
    }
    let mut list = ListPage::new(nav, &page, &here);
    let some = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    list.subtitle = format!(
        "{} · {} · following {}",
        some(card.photos, "photo"),
        some(card.followers, "follower"),
        card.following
    );
    list.avatar = Some(format!("/avatars/{}", encoded(&name)));
    list.empty = match tab {
        "collection" => "Nothing collected yet.",
        _ => "No photos yet.",
    };
    list.logged_in = visitor.is_some();
    list.card = Some(card);
    list.tab = tab;
    list.person = encoded(&name);
    list.title = name;
    render(&list)
}

async fn tag_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(name): Path<String>,
    Query(query): Query<Before>,
) -> Response {
    let nav = nav(visitor.as_ref());
    match app
        .netdisk
        .photos()
        .tagged(&name, query.before, PAGE_SIZE)
        .await
    {
        Ok(page) => {
            let tag = name.trim_start_matches('#').to_lowercase();
            let here = TagLink::new(&tag).href;
            let mut list = ListPage::new(nav, &page, &here);
            list.subtitle = "Photos with this tag, newest first".to_owned();
            list.empty = "No photo has this tag.";
            list.title = format!("#{tag}");
            render(&list)
        }
        Err(error) => failure::page(error, Some(nav)),
    }
}
