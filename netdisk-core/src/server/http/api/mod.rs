//! The JSON API under `/api/`: what a script or a phone app uses, the same operations as the
//! pages (`docs/http-api.md` describes every route). A client logs in with `POST /api/login`
//! and sends the token back as `Authorization: Bearer <token>`; a browser's session cookie
//! works too (with the same-origin rule for writes). Errors are `{"error": code, "message":
//! text}` with the status that fits (see `failure`).

mod email;
mod photos;
mod social;
mod uploads;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::App;
use super::auth::{ApiCaller, Visitor};
use super::failure;
use crate::{MovieKind, MovieQuery, NewAccount, Result};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/signup", post(signup))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/vip", post(buy_vip))
        .route("/movies", get(movies))
        .route("/movies/{id}", get(movie).delete(delete_movie))
        .route("/movies/{id}/viewings", post(start_viewing))
        .route("/records", get(records))
        .route("/notices", get(notices).post(release_notice))
        .route("/files", get(files))
        .route("/files/{id}", delete(delete_file))
        .route("/chat/rooms", get(chat_rooms))
        .merge(uploads::routes())
        .merge(photos::routes())
        .merge(social::routes())
        .merge(email::routes())
}

/// A service's answer as JSON, or its error.
fn answer<T: Serialize>(status: StatusCode, result: Result<T>) -> Response {
    match result {
        Ok(value) => (status, Json(value)).into_response(),
        Err(error) => failure::api(error),
    }
}

fn ok<T: Serialize>(result: Result<T>) -> Response {
    answer(StatusCode::OK, result)
}

/// An operation's success with nothing to tell (`{}`), or its error.
fn done(result: Result<()>) -> Response {
    ok(result.map(|()| json!({})))
}

#[derive(Deserialize)]
struct Credentials {
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct Signup {
    name: String,
    password: String,
    /// With an address, a link to confirm it is mailed there.
    email: Option<String>,
}

async fn signup(State(app): State<App>, Json(body): Json<Signup>) -> Response {
    let account = NewAccount::user(&body.name, &body.password);
    let accounts = app.netdisk.accounts();
    let registered = match body.email.as_deref() {
        Some(email) => accounts.register_with_email(account, email).await,
        None => accounts.register(account).await,
    };
    answer(StatusCode::CREATED, registered)
}

async fn login(State(app): State<App>, Json(body): Json<Credentials>) -> Response {
    let outcome = app
        .netdisk
        .accounts()
        .login(&body.name, &body.password, None)
        .await;
    ok(outcome.map(|o| json!({ "token": o.token, "profile": o.profile })))
}

async fn logout(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    done(app.netdisk.accounts().logout(&caller).await)
}

async fn me(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    ok(app.netdisk.accounts().profile(&caller).await)
}

async fn buy_vip(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    ok(app
        .netdisk
        .accounts()
        .buy_vip(&caller)
        .await
        .map(|is_vip| json!({ "is_vip": is_vip })))
}

#[derive(Deserialize)]
struct MoviesQuery {
    kind: Option<String>,
    q: Option<String>,
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn movies(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<MoviesQuery>,
) -> Response {
    let kind = match query.kind.as_deref() {
        None | Some("all") => MovieKind::All,
        Some("free") => MovieKind::Free,
        Some("charged") => MovieKind::Charged,
        Some(_) => {
            let refused = crate::ServiceError::BadRequest("kind is all, free or charged".into());
            return failure::api(refused);
        }
    };
    let query = MovieQuery {
        kind: Some(kind),
        keyword: query.q.as_deref(),
        offset: query.offset,
        limit: query.limit,
    };
    let list = app.netdisk.movies().list(&caller, query).await;
    ok(list.map(|list| {
        let movies: Vec<_> = list
            .movies
            .iter()
            .map(|m| json!({ "id": m.id, "name": m.name, "is_free": m.is_free }))
            .collect();
        json!({ "movies": movies, "total": list.total })
    }))
}

async fn movie(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    let movies = app.netdisk.movies();
    let found = match movies.get(&caller, id).await {
        Ok(movie) => movies
            .terms(&caller, &movie)
            .await
            .map(|terms| (movie, terms)),
        Err(error) => Err(error),
    };
    ok(found.map(|(m, (wait_secs, price))| {
        json!({
            "id": m.id, "name": m.name, "is_free": m.is_free, "size": m.size,
            "md5": m.file_md5, "upload_time": m.upload_time,
            "wait_secs": wait_secs, "price": price,
        })
    }))
}

async fn delete_movie(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.movies().delete(&caller, id).await)
}

async fn start_viewing(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    let viewing = app.netdisk.movies().start_viewing(&caller, id).await;
    answer(
        StatusCode::CREATED,
        viewing.map(|v| {
            json!({
                "token": v.token,
                "wait_secs": v.wait_secs,
                "price": v.price,
                "content": format!("/viewings/{}/content", v.token),
            })
        }),
    )
}

#[derive(Deserialize)]
struct Paging {
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn records(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(page): Query<Paging>,
) -> Response {
    let records = app
        .netdisk
        .movies()
        .records(&caller, page.offset, page.limit)
        .await;
    ok(records.map(|records| records.to_vec()))
}

async fn notices(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Query(page): Query<Paging>,
) -> Response {
    let notices = app
        .netdisk
        .notices()
        .list(&caller, page.offset, page.limit)
        .await;
    ok(notices.map(|notices| notices.to_vec()))
}

#[derive(Deserialize)]
struct NewNotice {
    title: String,
    content: String,
}

async fn release_notice(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Json(body): Json<NewNotice>,
) -> Response {
    let published = app
        .netdisk
        .notices()
        .publish(&caller, &body.title, &body.content)
        .await;
    answer(StatusCode::CREATED, published.map(|id| json!({ "id": id })))
}

async fn files(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    let files = app.netdisk.files().list(&caller).await;
    ok(files.map(|files| {
        files
            .into_iter()
            .map(|f| {
                json!({
                    "id": f.id, "name": f.name, "size": f.size, "md5": f.md5,
                    "upload_time": f.upload_time,
                    "content": format!("/files/{}/content", f.id),
                })
            })
            .collect::<Vec<_>>()
    }))
}

async fn delete_file(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<i64>,
) -> Response {
    done(app.netdisk.files().delete(&caller, id).await)
}

/// The chat rooms the caller may enter (a guest: the public ones), the lobby first.
async fn chat_rooms(State(app): State<App>, Visitor(visitor): Visitor) -> Response {
    ok(app.netdisk.chat().rooms(visitor.as_ref()).await)
}
