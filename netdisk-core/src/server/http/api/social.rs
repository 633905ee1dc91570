//! The photo site's social JSON API: follow and unfollow, followers and following, the hover
//! card; collect and uncollect, a collection; comments and replies, deleting one, turning a
//! photo's comments off; the home feed; notifications (list, unread count, mark read). Live
//! notifications come on the page's event stream (`GET /notices/events`, event
//! `notification`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::super::auth::{ApiCaller, Visitor};
use super::photos::{Keyset, Reason, page_json};
use super::{answer, done, ok};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/people/{name}/follow", post(follow).delete(unfollow))
        .route("/people/{name}/card", get(card))
        .route("/people/{name}/followers", get(followers))
        .route("/people/{name}/following", get(following))
        .route("/people/{name}/collection", get(collection))
        .route("/photos/{id}/collect", post(collect).delete(uncollect))
        .route("/photos/{id}/comments", get(comments).post(comment))
        .route("/photos/{id}/comments-open", put(comments_open))
        .route("/comments/{id}", delete(delete_comment))
        .route("/comments/{id}/reports", post(report_comment))
        .route("/admin/reports", get(reports))
        .route("/home", get(home))
        .route("/notifications", get(notifications))
        .route("/notifications/unread", get(unread))
        .route("/notifications/read", post(mark_all_read))
        .route("/notifications/{id}/read", post(mark_read))
}

async fn follow(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(name): Path<String>,
) -> Response {
    done(app.netdisk.social().follow(&caller, &name).await)
}

async fn unfollow(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(name): Path<String>,
) -> Response {
    done(app.netdisk.social().unfollow(&caller, &name).await)
}

/// The hover card: anyone may ask; `followed_by_you` and `is_you` need the session.
async fn card(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(name): Path<String>,
) -> Response {
    ok(app.netdisk.social().card(visitor.as_ref(), &name).await)
}

async fn followers(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::service::MAX_PEOPLE_PAGE);
    ok(app.netdisk.social().followers(&name, limit).await)
}

async fn following(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::service::MAX_PEOPLE_PAGE);
    ok(app.netdisk.social().following(&name, limit).await)
}

async fn collection(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::MAX_PHOTO_PAGE);
    page_json(
        app.netdisk
            .social()
            .collection(&name, paging.before, limit)
            .await,
    )
}

async fn collect(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.social().collect(&caller, id).await)
}

async fn uncollect(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.social().uncollect(&caller, id).await)
}

async fn comments(State(app): State<App>, Path(id): Path<i64>) -> Response {
    ok(app.netdisk.social().comments(id).await)
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
    reply_to: Option<i64>,
}

async fn comment(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<NewComment>,
) -> Response {
    let social = app.netdisk.social();
    let made = social.comment(&caller, id, &body.body, body.reply_to).await;
    answer(StatusCode::CREATED, made.map(|id| json!({ "id": id })))
}

#[derive(Deserialize)]
struct Open {
    open: bool,
}

async fn comments_open(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<Open>,
) -> Response {
    done(
        app.netdisk
            .social()
            .set_comments_open(&caller, id, body.open)
            .await,
    )
}

async fn delete_comment(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.social().delete_comment(&caller, id).await)
}

async fn report_comment(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
    Json(body): Json<Reason>,
) -> Response {
    done(
        app.netdisk
            .social()
            .report_comment(&caller, id, &body.reason)
            .await,
    )
}

/// The moderators' dashboard as JSON: `{"counts", "photos", "comments"}`.
async fn reports(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    ok(app.netdisk.social().reports(&caller).await)
}

async fn home(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(crate::MAX_PHOTO_PAGE);
    page_json(
        app.netdisk
            .social()
            .home(&caller, paging.before, limit)
            .await,
    )
}

async fn notifications(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(paging): Query<Keyset>,
) -> Response {
    let limit = paging.limit.unwrap_or(50);
    ok(app
        .netdisk
        .social()
        .notifications(&caller, paging.before, limit)
        .await)
}

async fn unread(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    let unread = app.netdisk.social().unread(&caller).await;
    ok(unread.map(|unread| json!({ "unread": unread })))
}

async fn mark_read(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.social().mark_read(&caller, id).await)
}

async fn mark_all_read(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    let marked = app.netdisk.social().mark_all_read(&caller).await;
    ok(marked.map(|marked| json!({ "marked": marked })))
}
