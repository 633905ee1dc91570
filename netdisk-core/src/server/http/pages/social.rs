//! The photo site's social pages and forms: following people, collecting photos, comments and
//! replies, the home feed of the people one follows, and one's notifications (which also
//! arrive live on every open page, on the page's event stream).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::super::App;
use super::super::auth::{Member, QUERY_VALUE};
use super::super::failure;
use super::photos::Tile;
use super::{Nav, render, see};
use crate::{Caller, NotificationView};

/// Photos on a page of the home feed.
const PAGE_SIZE: u64 = 24;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/photos/home", get(home))
        .route("/photos/{id}/collect", post(collect))
        .route("/photos/{id}/uncollect", post(uncollect))
        .route("/photos/{id}/comments", post(comment))
        .route("/photos/{id}/comments-open", post(comments_open))
        .route("/comments/{id}/delete", post(delete_comment))
        .route("/people/{name}/follow", post(follow))
        .route("/people/{name}/unfollow", post(unfollow))
        .route("/notifications", get(notifications_page))
        .route("/notifications/read", post(mark_all_read))
}

/// After a form: back to `to`, or the error as a page.
fn back(result: crate::Result<()>, caller: &Caller, to: &str) -> Response {
    match result {
        Ok(()) => see(to),
        Err(error) => failure::page(error, Some(Nav::of(caller, "photos"))),
    }
}

fn person_page(name: &str) -> String {
    format!(
        "/people/{}",
        percent_encoding::utf8_percent_encode(name, QUERY_VALUE)
    )
}

#[derive(Template)]
#[template(path = "photo_home.html")]
struct HomePage {
    nav: Nav,
    tiles: Vec<Tile>,
    older: Option<String>,
}

#[derive(Deserialize)]
struct Before {
    before: Option<i64>,
}

async fn home(
    State(app): State<App>,
    Member(caller): Member,
    Query(query): Query<Before>,
) -> Response {
    let nav = Nav::of(&caller, "photos");
    match app
        .netdisk
        .social()
        .home(&caller, query.before, PAGE_SIZE)
        .await
    {
        Ok(page) => render(&HomePage {
            nav,
            tiles: page.photos.iter().map(Tile::from).collect(),
            older: page.next.map(|next| format!("/photos/home?before={next}")),
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn collect(State(app): State<App>, Member(caller): Member, Path(id): Path<i64>) -> Response {
    let collected = app.netdisk.social().collect(&caller, id).await;
    back(collected, &caller, &format!("/photos/{id}"))
}

async fn uncollect(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
) -> Response {
    let uncollected = app.netdisk.social().uncollect(&caller, id).await;
    back(uncollected, &caller, &format!("/photos/{id}"))
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
    /// The comment answered, for a reply (empty for none).
    #[serde(default)]
    reply_to: String,
}

async fn comment(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<NewComment>,
) -> Response {
    let reply_to = form.reply_to.parse::<i64>().ok();
    let made = app
        .netdisk
        .social()
        .comment(&caller, id, &form.body, reply_to)
        .await;
    back(made.map(drop), &caller, &format!("/photos/{id}#comments"))
}

#[derive(Deserialize)]
struct Open {
    open: u8,
}

async fn comments_open(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<Open>,
) -> Response {
    let set = app
        .netdisk
        .social()
        .set_comments_open(&caller, id, form.open == 1)
        .await;
    back(set, &caller, &format!("/photos/{id}#comments"))
}

#[derive(Deserialize)]
struct OnPhoto {
    photo: i64,
}

async fn delete_comment(
    State(app): State<App>,
    Member(caller): Member,
    Path(id): Path<i64>,
    Form(form): Form<OnPhoto>,
) -> Response {
    let deleted = app.netdisk.social().delete_comment(&caller, id).await;
    back(
        deleted,
        &caller,
        &format!("/photos/{}#comments", form.photo),
    )
}

async fn follow(
    State(app): State<App>,
    Member(caller): Member,
    Path(name): Path<String>,
) -> Response {
    let followed = app.netdisk.social().follow(&caller, &name).await;
    back(followed, &caller, &person_page(&name))
}

async fn unfollow(
    State(app): State<App>,
    Member(caller): Member,
    Path(name): Path<String>,
) -> Response {
    let unfollowed = app.netdisk.social().unfollow(&caller, &name).await;
    back(unfollowed, &caller, &person_page(&name))
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Nav,
    notifications: Vec<NotificationView>,
    unread: usize,
}

async fn notifications_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "notifications");
    match app.netdisk.social().notifications(&caller, None, 100).await {
        Ok(notifications) => render(&NotificationsPage {
            nav,
            unread: notifications.iter().filter(|n| !n.read).count(),
            notifications,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn mark_all_read(State(app): State<App>, Member(caller): Member) -> Response {
    let marked = app.netdisk.social().mark_all_read(&caller).await;
    back(marked.map(drop), &caller, "/notifications")
}
